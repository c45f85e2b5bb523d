"""Grid RNN answers: ``csc421-hw4/2a..2c``, ``rnn-cnn-hw/4.1..4.3``, ``cmsc25500-midterm/6a..6e``.

Result keys (formulas are SymPy objects in the catalogue's symbols):

* ``csc421-hw4/2a``: ``weights``, ``ops`` (minimum: products with the zero boundary states
  skipped), ``ops_dense`` (every product performed), ``ops_leading``, ``convention``.
* ``2b``: ``steps`` (formula in ``G``), ``steps_by_G`` (longest path of the dependency graph,
  per ``G``), ``schedule`` (text), ``explanation``.
* ``2c``: ``advantage``, ``disadvantage``, ``numbers`` (a concrete comparison).
* ``rnn-cnn-hw/4.1``: ``connections`` (exact, for ``H, W > (k-1)/2``), ``connections_interior``,
  ``connections_order``, ``training_steps``, ``generation_steps_raster``,
  ``generation_steps_min`` (wavefront; for ``W >= (k+1)/2``), ``explanation``.
* ``4.2``: ``connections``, ``connections_order``, ``weights``, ``steps``, ``explanation``.
* ``4.3``: ``sizes`` (the concrete instance), ``pixelcnn`` and ``mdrnn`` (numbers),
  ``comparison`` (text per aspect).
* ``cmsc25500-midterm/6a``: ``pseudocode``, ``equations``, ``implementation``.
* ``6b``: ``pseudocode``, ``implementation``, ``complex_step_error``, ``central_error``.
* ``6c``: ``receptive_field_size`` (formula in ``i, j``, 0-based), ``receptive_field``,
  ``scalars`` (times ``C``).
* ``6d``: ``flops``, ``flops_min``, ``conv3x3_flops``, ``ratio``, ``sequential_steps``,
  ``convention``.
* ``6e``: ``pros``, ``cons``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import sympy as sp

from derive.answers import Answer, problem
from derive.checking import Check, relative_error
from derive.cnn.accounting import account
from derive.cnn.bruteforce import naive_counts
from derive.grid import image_rnn, mdrnn, pixelcnn
from derive.grid.dag import ancestors, earliest_steps, longest_path
from derive.grid.fit import fit, multilinear_basis

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


def _latex(expr: sp.Expr) -> str:
    return sp.latex(expr)


# ---------------------------------------------------------------- csc421-hw4/2

def agree(name: str, against: str, formula: sp.Expr, samples: list) -> Check:
    """A claimed formula against measured ``(point, value)`` samples: exact on every one."""
    for point, value in samples:
        claimed = formula.subs(point)
        if claimed != value:
            where = " ".join(f"{v}={n}" for v, n in point.items())
            return Check.exact(name, against, False, f"at {where}: formula {claimed}, "
                               f"measured {value}")
    return Check.exact(name, against, True, f"{formula} matches all {len(samples)} samples")


MDRNN_COUNT_SIZES = ((1, 1, 1), (2, 3, 2), (3, 2, 3), (4, 1, 2))


@functools.cache
def _mdrnn_counts() -> tuple[list, list, list]:
    """Counted operations (minimum, dense) and weights read, on small sizes."""
    minimum, dense, weights = [], [], []
    for g, dd, h in MDRNN_COUNT_SIZES:
        point = {G: g, D: dd, H: h}
        minimum.append((point, mdrnn.naive_ops(g, dd, h)[0]))
        count, read = mdrnn.naive_ops(g, dd, h, dense=True)  # the dense run reads every weight
        dense.append((point, count))
        weights.append((point, read))
    return minimum, dense, weights


def ops_checks(ops: sp.Expr, dense: sp.Expr, weights: sp.Expr) -> list[Check]:
    """Claimed operation and weight counts against the instrumented naive MDRNN."""
    minimum_s, dense_s, weights_s = _mdrnn_counts()
    return [agree("operations (minimum)", "instrumented naive loops", ops, minimum_s),
            agree("operations (dense)", "instrumented naive loops", dense, dense_s),
            agree("weights", "weights read by the naive loops", weights, weights_s)]


@problem("csc421-hw4/2a")
def answer_2a(pid: str) -> Answer:
    weights, ops, dense = mdrnn.weights_formula(), mdrnn.ops_formula(), mdrnn.ops_formula(True)
    checks = ops_checks(ops, dense, weights)
    convention = ("W^T v with W of shape m x n costs n(2m - 1) (m multiplications and m - 1 "
                  "additions per output), adding two H-vectors H, phi one operation per "
                  "element. The minimum count skips the products with the zero states "
                  "h^(0,j), h^(i,0); the dense count performs them.")
    results = {"weights": weights, "ops": ops, "ops_dense": dense,
               "ops_leading": sp.expand(G**2 * (2 * D * H + 4 * H**2)), "convention": convention}
    text = (f"Weights: W_in is D x H, W_W and W_N are H x H: {weights}.\n"
            f"Operations ({convention})\n  per cell with both neighbours: 2DH + 4H^2 "
            f"(= H(2D-1) + 2H(2H-1) + 2H additions + H phi)\n"
            f"  minimum: {ops} = 2DHG^2 + 4H^2 G(G-1)\n  dense:   {dense}\n"
            "i.e. O(G^2 H (D + H)).")
    latex = (
        "$W_{\\mathrm{in}}\\in\\mathbb{R}^{D\\times H}$ and $W_W, W_N\\in\\mathbb{R}^{H\\times H}$:"
        f" \\[ \\#\\text{{weights}} = {_latex(weights)}. \\]"
        " Convention: $W^\\top v$ with $W\\in\\mathbb{R}^{m\\times n}$ costs $n(2m-1)$ "
        "operations, a vector addition $H$, $\\phi$ one per element. A cell with both "
        "neighbours costs $H(2D-1) + 2H(2H-1) + 2H + H = 2DH + 4H^2$. Skipping the products "
        "with the zero boundary states,"
        f" \\[ \\#\\text{{ops}} = {_latex(ops)} = 2DHG^2 + 4H^2G(G-1), \\]"
        f" and ${_latex(dense)}$ if every product is performed: $O(G^2H(D+H))$."
    )
    return Answer(pid, results, text, latex, checks)


@functools.cache
def _grid_samples() -> tuple[list, list]:
    """Longest paths of the G x G grid graph: G = 1..8 (fitted) and G = 13 (held out)."""
    fitted = [({G: g}, longest_path(mdrnn.grid_graph(g, g))[0]) for g in range(1, 9)]
    return fitted, [({G: 13}, longest_path(mdrnn.grid_graph(13, 13))[0])]


def steps_checks(formula: sp.Expr) -> list[Check]:
    """A claimed step count against the longest paths, and the anti-diagonal schedule."""
    fitted, held_out = _grid_samples()
    step = earliest_steps(mdrnn.grid_graph(6, 6))
    anti = all(s == i + j - 1 for (_, i, j), s in step.items())
    return [
        agree("steps, G = 1..8", "longest path of the dependency graph", formula, fitted),
        agree("steps, held-out G = 13", "longest path of the dependency graph", formula,
              held_out),
        Check.exact("earliest step of cell (i, j) is i + j - 1 (G = 6)", "DAG levels", anti,
                    "every cell is ready exactly on its anti-diagonal" if anti else "differs"),
    ]


@functools.cache
def _mdrnn_steps() -> tuple[sp.Expr, dict[int, int], list[Check]]:
    fitted, _ = _grid_samples()
    formula, _ = fit(fitted, [sp.Integer(1), G])
    return formula, {p[G]: n for p, n in fitted}, steps_checks(formula)


@problem("csc421-hw4/2b")
def answer_2b(pid: str) -> Answer:
    formula, by_g, checks = _mdrnn_steps()
    explanation = (
        "h^(i,j) needs h^(i-1,j) and h^(i,j-1), so the dependency graph is the G x G grid "
        "with edges east and south. With unlimited parallel products a cell can be computed "
        "one step after its last predecessor; the earliest step of cell (i, j) is i + j - 1, "
        "so all cells of one anti-diagonal i + j = const are computed together, and the "
        f"minimum number of steps is the longest path, {formula} (the number of "
        "anti-diagonals). The input products W_in^T x are independent of h and are done "
        "within (or before) each cell's step.")
    results = {"steps": formula, "steps_by_G": by_g,
               "schedule": "step s computes every h^(i,j) with i + j - 1 = s",
               "explanation": explanation}
    table = ", ".join(f"G={g}: {n}" for g, n in by_g.items())
    text = f"{explanation}\nLongest paths: {table}."
    latex = (
        "$h^{(i,j)}$ needs $h^{(i-1,j)}$ and $h^{(i,j-1)}$. With unlimited parallel "
        "matrix-vector products a cell is computed one step after its last predecessor, so "
        "cell $(i,j)$ is ready at step $i+j-1$: each anti-diagonal $i+j=\\text{const}$ is one "
        "step and the minimum number of steps is the longest path of the dependency graph,"
        f" \\[ {_latex(formula)}. \\] Longest paths computed on the graph: {table}."
    )
    return Answer(pid, results, text, latex, checks)


@problem("csc421-hw4/2c")
def answer_2c(pid: str) -> Answer:
    formula, _, checks = _mdrnn_steps()
    g, layers = 32, 5
    conv_context = (2 * layers + 1) ** 2
    numbers = {"G": g, "mdrnn_steps": int(formula.subs(G, g)),
               "mdrnn_context_of_last_cell": g * g, "conv_layers": layers,
               "conv_steps": layers, "conv_context_3x3": conv_context}
    advantage = (
        "Context: h^(i,j) depends on every input x^(i',j') with i' <= i, j' <= j, a region "
        f"that grows with the image (all {g * g} pixels for the last cell of a {g} x {g} grid) "
        f"with a fixed number of weights, whereas a conv net's receptive field grows only "
        f"linearly with depth ({conv_context} pixels after {layers} 3x3 layers).")
    disadvantage = (
        f"Sequential computation: {numbers['mdrnn_steps']} dependent steps on a {g} x {g} grid "
        f"(2G - 1), against {layers} for a {layers}-layer conv net whose every layer is one "
        "parallel step; long recurrent paths also make gradients vanish or explode, and "
        "the context is one-sided (north-west only).")
    text = f"Advantage: {advantage}\nDisadvantage: {disadvantage}"
    latex = (f"\\textbf{{Advantage.}} {advantage}\n\n\\textbf{{Disadvantage.}} {disadvantage}"
             ).replace("<=", "$\\le$").replace(" x ", " $\\times$ ").replace("^(i,j)", "$^{(i,j)}$"
             ).replace("^(i',j')", "$^{(i',j')}$")
    return Answer(pid, {"advantage": advantage, "disadvantage": disadvantage,
                        "numbers": numbers}, text, latex, checks)


# ---------------------------------------------------------------- rnn-cnn-hw/4

@functools.cache
def _pixelcnn_samples() -> dict[str, list]:
    """Enumerated connections and longest paths (training, generation, raster order)."""
    samples: dict[str, list] = {"connections": [], "training": [], "generation": [],
                                "raster": [], "generation_held_out": []}
    for hh, ww, dd, kk in ((5, 6, 2, 3), (7, 9, 3, 5), (8, 5, 3, 7), (4, 4, 1, 3)):
        samples["connections"].append(({Hs: hh, Ws: ww, d: dd, k: kk},
                                       pixelcnn.connections(hh, ww, dd, kk)))
    for hh in (2, 3, 4, 5):
        for ww in (6, 7, 9):
            for dd in (1, 2, 3):
                for kk in (3, 5):
                    point = {Hs: hh, Ws: ww, d: dd, k: kk}
                    graph = pixelcnn.generation_graph(hh, ww, dd, kk)
                    samples["generation"].append(
                        (point, longest_path(graph, pixelcnn.step_weight)[0]))
                    samples["training"].append((point, longest_path(
                        pixelcnn.training_graph(hh, ww, dd, kk), pixelcnn.step_weight)[0]))
    for hh, ww, dd, kk in ((2, 3, 1, 3), (3, 3, 2, 3), (2, 4, 3, 5), (3, 4, 2, 3)):
        graph = pixelcnn.generation_graph(hh, ww, dd, kk)
        order = sorted((i, j) for (kind, i, j) in graph if kind == "x")
        for before, after in zip(order, order[1:], strict=False):  # one pixel at a time
            graph[1, *after] = [*graph[1, *after], ("x", *before)]
        samples["raster"].append(({Hs: hh, Ws: ww, d: dd, k: kk},
                                  longest_path(graph, pixelcnn.step_weight)[0]))
    for held in ((6, 11, 4, 7), (7, 8, 2, 3)):
        samples["generation_held_out"].append((
            dict(zip((Hs, Ws, d, k), held, strict=True)),
            longest_path(pixelcnn.generation_graph(*held), pixelcnn.step_weight)[0]))
    return samples


def pixelcnn_checks(results: dict) -> list[Check]:
    """Claimed PixelCNN connections and step counts against enumeration and longest paths."""
    samples = _pixelcnn_samples()
    return [
        agree("connections", "enumeration of masked taps inside the image",
              results["connections"], samples["connections"]),
        agree("training steps", "longest path (training graph)", results["training_steps"],
              samples["training"]),
        agree("generation steps (wavefront)", "longest path (generation graph)",
              results["generation_steps_min"], samples["generation"]),
        agree("generation steps, held-out sizes", "longest path (generation graph)",
              results["generation_steps_min"], samples["generation_held_out"]),
        agree("generation steps, raster order", "longest path with raster-order edges",
              results["generation_steps_raster"], samples["raster"]),
    ]


@functools.cache
def _pixelcnn_results() -> tuple[dict, list[Check]]:
    samples = _pixelcnn_samples()
    basis = multilinear_basis([Hs, Ws, d, k])
    results = {
        "connections": pixelcnn.connections_formula(),
        "connections_interior": pixelcnn.connections_leading(),
        "connections_order": d * k**2 * Hs * Ws,
        "training_steps": fit(samples["training"], basis)[0],
        "generation_steps_raster": fit(samples["raster"],
                                       [Hs * Ws * d, Hs * Ws, d, sp.Integer(1)])[0],
        "generation_steps_min": fit(samples["generation"], basis)[0],
    }
    return results, pixelcnn_checks(results)


@problem("rnn-cnn-hw/4.1")
def answer_4_1(pid: str) -> Answer:
    results, checks = _pixelcnn_results()
    results = dict(results)
    explanation = (
        "Connections (one feature map per layer; times c^2 for c maps): a k x k mask A filter "
        "has (k^2 - 1)/2 taps, a mask B filter (k^2 + 1)/2, so away from the borders there "
        f"are {results['connections_interior']} connections: O(d k^2 H W). "
        "Training (all pixels known): every layer is one parallel step, "
        f"{results['training_steps']} sequential steps (longest path of the dependency "
        "graph). Generation: pixel (i, j) "
        "is sampled from the last layer at (i, j); sampling one pixel at a time in raster "
        f"order takes {results['generation_steps_raster']} steps, O(d H W). The dependency "
        "graph's longest path is shorter, "
        f"{results['generation_steps_min']} = d(W + (H-1)(k+1)/2): pixel (i, j) depends on the "
        "row above only up to column j + (k-1)/2, so rows can be generated as a skewed "
        "wavefront (valid for W >= (k+1)/2).")
    results["explanation"] = explanation
    text = explanation
    latex = (
        "One feature map per layer (multiply by $c^2$ for $c$ maps). A mask A filter has "
        "$(k^2-1)/2$ taps and a mask B filter $(k^2+1)/2$. Counting only connections inside "
        "the image (exact for $H, W > (k-1)/2$):"
        f" \\[ {_latex(results['connections'])}, \\]"
        f" which away from the borders is ${_latex(results['connections_interior'])}$, i.e. "
        "$O(d k^2 H W)$. Minimum sequential operations (longest paths of the dependency "
        f"graphs, fitted over many sizes): training ${_latex(results['training_steps'])}$ "
        "(each layer is one parallel step); generation one pixel at a time in raster order "
        f"${_latex(results['generation_steps_raster'])}$, i.e.\\ $O(dHW)$. A wavefront "
        "schedule does better, because pixel $(i,j)$ depends on the row above only up to "
        "column $j + (k-1)/2$:"
        f" \\[ {_latex(results['generation_steps_min'])} \\quad (W \\ge (k+1)/2). \\]"
    )
    return Answer(pid, results, text, latex, checks)


@functools.cache
def _stack_samples() -> dict[str, list]:
    """Longest paths of d stacked grid graphs, and their connections counted edge by edge."""
    steps = [({Hs: hh, Ws: ww, d: dd}, longest_path(mdrnn.grid_graph(hh, ww, dd))[0])
             for hh in (1, 2, 3, 5) for ww in (1, 2, 4, 6) for dd in (1, 2, 3, 4)]
    held_out = [({Hs: 7, Ws: 9, d: 5}, longest_path(mdrnn.grid_graph(7, 9, 5))[0])]
    connections = [({Hs: hh, Ws: ww, d: dd, k: kk}, mdrnn.connections(hh, ww, dd, kk))
                   for hh, ww, dd, kk in ((3, 4, 2, 2), (5, 2, 3, 3))]
    return {"steps": steps, "held_out": held_out, "connections": connections}


def stack_checks(results: dict) -> list[Check]:
    """Claimed d-layer MDRNN counts against longest paths and edge enumeration."""
    samples = _stack_samples()
    return [
        agree("sequential steps", "longest path of the dependency graph", results["steps"],
              samples["steps"]),
        agree("sequential steps, held-out H=7 W=9 d=5", "longest path of the dependency graph",
              results["steps"], samples["held_out"]),
        agree("connections", "edges of the dependency graph times k^2",
              results["connections"], samples["connections"]),
    ]


@functools.cache
def _mdrnn_stack_results() -> tuple[dict, list[Check]]:
    samples = _stack_samples()
    results = {"connections": sp.expand(d * k**2 * (3 * Hs * Ws - Hs - Ws)),
               "connections_order": d * k**2 * Hs * Ws, "weights": 3 * d * k**2,
               "steps": fit(samples["steps"], multilinear_basis([Hs, Ws, d]))[0]}
    return results, stack_checks(results)


@problem("rnn-cnn-hw/4.2")
def answer_4_2(pid: str) -> Answer:
    results, checks = _mdrnn_stack_results()
    results = dict(results)
    explanation = (
        "Each layer has W_in, W_W, W_N of k x k: 3 d k^2 weights. Every cell of every layer "
        "receives k^2 input connections and k^2 from each existing west/north neighbour: "
        f"{results['connections']} connections, O(d k^2 H W). Cell (l, i, j) depends on "
        "(l, i-1, j), (l, i, j-1) and (l-1, i, j); layers are pipelined (layer l starts at "
        "(1, 1) as soon as layer l-1 has finished it), so the minimum number of sequential "
        f"steps is the longest path of that graph: {results['steps']}.")
    results["explanation"] = explanation
    latex = (
        "Each layer has $W_{\\mathrm{in}}, W_W, W_N\\in\\mathbb{R}^{k\\times k}$: $3dk^2$ "
        "weights. Every cell receives $k^2$ input connections and $k^2$ from each existing "
        f"west and north neighbour: \\[ {_latex(results['connections'])} = O(dk^2HW). \\] "
        "Cell $(l,i,j)$ depends on $(l,i-1,j)$, $(l,i,j-1)$ and $(l-1,i,j)$; the layers are "
        "pipelined, and the longest path of this graph (computed for many sizes, fitted "
        f"exactly and checked on held-out sizes) is \\[ {_latex(results['steps'])}. \\]"
    )
    return Answer(pid, results, explanation, latex, checks)


@problem("rnn-cnn-hw/4.3")
def answer_4_3(pid: str) -> Answer:
    pix, pix_checks = _pixelcnn_results()
    md, md_checks = _mdrnn_stack_results()
    hh, ww, dd, kernel, c = 32, 32, 8, 5, 64
    point = {Hs: hh, Ws: ww, d: dd, k: kernel}
    # every layer maps c feature maps to c (the image embedded in c channels), no biases
    taps = len(pixelcnn.taps(kernel, "A")) + (dd - 1) * len(pixelcnn.taps(kernel, "B"))
    # context: how many earlier pixels (raster order) an output sees, from the graphs
    pix_graph = pixelcnn.training_graph(hh, ww, dd, kernel)
    md_graph = mdrnn.grid_graph(hh, ww, dd)

    def pix_context(i: int, j: int) -> int:  # 0-based pixel
        return sum(1 for n in ancestors(pix_graph, (dd, i, j)) if n[0] == "x")

    def md_context(i: int, j: int) -> int:  # inputs shifted by one: the pixel itself excluded
        cells = ancestors(md_graph, (dd, i + 1, j + 1)) | {(dd, i + 1, j + 1)}
        return sum(1 for n in cells if n[0] == 1) - 1

    mid = (hh // 2, ww // 2)
    causal_mid = mid[0] * ww + mid[1]
    numbers = {
        "pixelcnn": {
            "parameters": taps * c * c,
            "connections": int(pix["connections"].subs(point)) * c * c,
            "training_steps": int(pix["training_steps"].subs(point)),
            "generation_steps_raster": int(pix["generation_steps_raster"].subs(point)),
            "generation_steps_min": int(pix["generation_steps_min"].subs(point)),
            "context_of_last_pixel": pix_context(hh - 1, ww - 1),
            "context_of_middle_pixel": pix_context(*mid),
            "activations_stored": dd * hh * ww * c,
        },
        "mdrnn": {
            "parameters": int(md["weights"].subs({d: dd, k: c})),
            "connections": int(md["connections"].subs({Hs: hh, Ws: ww, d: dd, k: c})),
            "training_steps": int(md["steps"].subs(point)),
            "context_of_last_pixel": md_context(hh - 1, ww - 1),
            "context_of_middle_pixel": md_context(*mid),
            "activations_stored": dd * hh * ww * c,
        },
    }
    p, m = numbers["pixelcnn"], numbers["mdrnn"]
    comparison = {
        "compute": (f"Same order, O(d c^2 H W) connections: {p['connections']:,d} for the "
                    f"PixelCNN ({kernel}x{kernel} masked kernels) and {m['connections']:,d} "
                    "for the MDRNN with the same width."),
        "memory": (f"Both store every activation for backpropagation ({p['activations_stored']:,d}"
                   f" values); parameters {p['parameters']:,d} (PixelCNN, grows with k^2) vs "
                   f"{m['parameters']:,d} (MDRNN, 3 d c^2). In generation a PixelCNN recomputes "
                   "windows, an MDRNN carries its state."),
        "parallelism": (f"Training: {p['training_steps']} sequential steps for the PixelCNN "
                        f"(d) against {m['training_steps']} for the MDRNN (H + W + d - 2). "
                        f"Generation is sequential for both ({p['generation_steps_raster']:,d} "
                        "layer evaluations one pixel at a time; "
                        f"{p['generation_steps_min']:,d} for a PixelCNN wavefront)."),
        "context": (f"Pixel {mid} (0-based) has {causal_mid} predecessors in raster order; it "
                    f"sees {p['context_of_middle_pixel']} through the PixelCNN (a field growing "
                    "by (k-1)/2 per layer, with a blind spot up-right) and "
                    f"{m['context_of_middle_pixel']} through the MDRNN (every pixel above and "
                    "to the left, however far: unbounded, but blind to the up-right region). "
                    f"The last pixel sees {p['context_of_last_pixel']} and "
                    f"{m['context_of_last_pixel']} of its {hh * ww - 1} predecessors."),
    }
    sizes = {"H": hh, "W": ww, "d": dd, "pixelcnn_kernel": kernel, "channels": c,
             "middle_pixel": list(mid)}
    results = {"sizes": sizes, **numbers, "comparison": comparison}
    text = (f"Instance: {hh} x {ww} image, d = {dd} layers, {c} channels, PixelCNN kernels "
            f"{kernel} x {kernel}; every layer maps {c} channels to {c}, no biases.\n"
            + "\n".join(f"{a}: {t}" for a, t in comparison.items()))
    rows = [("parameters", "parameters"), ("connections", "connections"),
            ("training steps", "training_steps"),
            ("context of the middle pixel", "context_of_middle_pixel"),
            ("context of the last pixel", "context_of_last_pixel")]
    body = "\n".join(f"{label} & {p[key]:,d} & {m[key]:,d} \\\\".replace(",", "{,}")
                     for label, key in rows)
    latex = (
        f"Instance: a ${hh}\\times{ww}$ image, $d={dd}$ layers, {c} channels, PixelCNN "
        f"kernels ${kernel}\\times{kernel}$; every layer maps {c} channels to {c}, no biases."
        "\n\\begin{center}\\begin{tabular}{lrr}"
        "\\toprule & PixelCNN & MDRNN \\\\ \\midrule\n" + body +
        "\n\\bottomrule\\end{tabular}\\end{center}\n" +
        "\n\n".join(f"\\textbf{{{a.capitalize()}.}} {t}" for a, t in comparison.items()
                    ).replace(",", "{,}").replace("^2", "$^2$")
    )
    return Answer(pid, results, text, latex, pix_checks + md_checks)


# ---------------------------------------------------------------- cmsc25500-midterm/6

FORWARD_PSEUDOCODE = """\
forward(X):                        # X: (B, H, W, C)
    hA = zeros(B, H, C)            # one RNN A state per row
    for j in 0 .. W-1:             # all rows at once
        hA = tanh(hA @ W_hh_A^T + X[:, :, j] @ W_xh_A^T)
        Y[:, :, j] = hA
    hB = zeros(B, W, C)            # one RNN B state per column
    for i in 0 .. H-1:             # all columns at once
        hB = tanh(hB @ W_hh_B^T + Y[:, i] @ W_yh_B^T)
        HB[:, i] = hB
    return HB"""

BACKWARD_PSEUDOCODE = """\
backward(X, G):                    # G = dL/dH^B, (B, H, W, C)
    Y, HB = forward(X)
    carry = zeros(B, W, C)
    for i in H-1 .. 0:             # BPTT of RNN B, all columns at once
        a = (G[:, i] + carry) * (1 - HB[:, i]^2)        # through tanh
        dW_hh_B += sum_b,j a^T HB[:, i-1]    (HB[:, -1] = 0)
        dW_yh_B += sum_b,j a^T Y[:, i]
        dY[:, i] = a @ W_yh_B
        carry = a @ W_hh_B
    carry = zeros(B, H, C)
    for j in W-1 .. 0:             # BPTT of RNN A, all rows at once
        a = (dY[:, :, j] + carry) * (1 - Y[:, :, j]^2)
        dW_hh_A += sum_b,i a^T Y[:, :, j-1]  (Y[:, :, -1] = 0)
        dW_xh_A += sum_b,i a^T X[:, :, j]
        dX[:, :, j] = a @ W_xh_A
        carry = a @ W_hh_A
    return dX, dW_hh_A, dW_xh_A, dW_hh_B, dW_yh_B"""


def _scan_reference(x: np.ndarray, params: dict) -> np.ndarray:
    """One sequence at a time (no vectorisation): the check of the vectorised forward."""
    batch, rows, cols, c = x.shape
    ya = np.zeros_like(x)
    for b in range(batch):
        for i in range(rows):
            h = np.zeros(c)
            for j in range(cols):
                h = np.tanh(params["W_hh_A"] @ h + params["W_xh_A"] @ x[b, i, j])
                ya[b, i, j] = h
    out = np.zeros_like(x)
    for b in range(batch):
        for j in range(cols):
            h = np.zeros(c)
            for i in range(rows):
                h = np.tanh(params["W_hh_B"] @ h + params["W_yh_B"] @ ya[b, i, j])
                out[b, i, j] = h
    return out


def _verbatim(code: str) -> str:
    return "\\begin{verbatim}\n" + code + "\n\\end{verbatim}"


@problem("cmsc25500-midterm/6a")
def answer_6a(pid: str) -> Answer:
    x, params, _ = image_rnn.random_instance(2, 3, 4, 3, seed=1)
    _, hb = image_rnn.forward(x, params)
    err = relative_error(hb, _scan_reference(x, params))
    checks = [Check("vectorised forward (B=2, H=3, W=4, C=3)",
                    "one-sequence-at-a-time scan", err, 1e-14)]
    equations = ("hA[i,j] = tanh(W_hh^A hA[i,j-1] + W_xh^A x[i,j]), hA[i,-1] = 0; Y = H^A; "
                 "hB[i,j] = tanh(W_hh^B hB[i-1,j] + W_yh^B y[i,j]), hB[-1,j] = 0")
    results = {"equations": equations, "pseudocode": FORWARD_PSEUDOCODE,
               "implementation": "derive.grid.image_rnn.forward"}
    text = (f"{equations}\nRNN A left to right along every row, RNN B top to bottom along every"
            f" column; each scan step is vectorised over the batch and all rows (columns).\n\n"
            f"{FORWARD_PSEUDOCODE}")
    latex = (
        "RNN A runs left to right along every row, RNN B top to bottom along every column:"
        " \\[ h^A_{i,j} = \\tanh(W^A_{hh} h^A_{i,j-1} + W^A_{xh} x_{i,j}),\\quad "
        "Y = H^A,\\quad h^B_{i,j} = \\tanh(W^B_{hh} h^B_{i-1,j} + W^B_{yh} y_{i,j}), \\] "
        "with zero initial states. Each step of a scan is one batched product over all rows "
        "(columns):\n" + _verbatim(FORWARD_PSEUDOCODE))
    return Answer(pid, results, text, latex, checks)


def gradient_checks(backward: Callable[..., dict] = image_rnn.backward) -> list[Check]:
    """``backward`` against complex-step (every entry) and central differences."""
    x, params, upstream = image_rnn.random_instance(2, 3, 4, 2, seed=3)
    grads = backward(x, params, upstream)
    step = 1e-30
    names = [*image_rnn.PARAMS, "X"]
    complex_err = central_err = 0.0
    for name in names:
        base = x if name == "X" else params[name]
        cs, cd = np.zeros(base.shape), np.zeros(base.shape)
        for idx in np.ndindex(base.shape):
            moved = {n: v.astype(complex) for n, v in params.items()}
            xc = x.astype(complex)
            target = xc if name == "X" else moved[name]
            target[idx] += 1j * step
            cs[idx] = np.sum(upstream * image_rnn.forward(xc, moved)[1]).imag / step
            values = []
            for sign in (1, -1):
                real = {n: v.copy() for n, v in params.items()}
                xr = x.copy()
                (xr if name == "X" else real[name])[idx] += sign * 1e-6
                values.append(np.sum(upstream * image_rnn.forward(xr, real)[1]))
            cd[idx] = (values[0] - values[1]) / 2e-6
        complex_err = max(complex_err, relative_error(grads[name], cs))
        central_err = max(central_err, relative_error(grads[name], cd))
    return [
        Check("backward, all 5 gradients (B=2, H=3, W=4, C=2)", "complex-step, h = 1e-30",
              complex_err, 1e-12),
        Check("backward, all 5 gradients (B=2, H=3, W=4, C=2)", "central differences, h = 1e-6",
              central_err, 1e-7),
    ]


@problem("cmsc25500-midterm/6b")
def answer_6b(pid: str) -> Answer:
    checks = gradient_checks()
    results = {"pseudocode": BACKWARD_PSEUDOCODE,
               "implementation": "derive.grid.image_rnn.backward",
               "complex_step_error": checks[0].error, "central_error": checks[1].error}
    text = ("Backpropagate through RNN B first (bottom to top along every column), whose input "
            "gradient is the upstream gradient of Y = H^A, then through RNN A (right to left "
            "along every row).\n\n" + BACKWARD_PSEUDOCODE)
    latex = (
        "With $a = \\overline{\\text{pre}}$ the gradient through $\\tanh$, "
        "$\\overline{h^B_{i,j}} = G_{i,j} + (W^B_{hh})^\\top a^B_{i+1,j}$, "
        "$a^B_{i,j} = \\overline{h^B_{i,j}} \\odot (1 - (h^B_{i,j})^2)$, "
        "$\\overline{y_{i,j}} = (W^B_{yh})^\\top a^B_{i,j}$; then "
        "$\\overline{h^A_{i,j}} = \\overline{y_{i,j}} + (W^A_{hh})^\\top a^A_{i,j+1}$, "
        "$a^A_{i,j} = \\overline{h^A_{i,j}}\\odot(1-(h^A_{i,j})^2)$, "
        "$\\overline{x_{i,j}} = (W^A_{xh})^\\top a^A_{i,j}$, and each weight gradient sums "
        "$a\\,(\\text{its input})^\\top$ over batch, rows and columns:\n"
        + _verbatim(BACKWARD_PSEUDOCODE))
    return Answer(pid, results, text, latex, checks)


FIELD_SIZE = (4, 5, 2)  # rows, columns, channels of the perturbed instance


@functools.cache
def _image_fields() -> np.ndarray:
    return image_rnn.perturbation_fields(*FIELD_SIZE)


def receptive_checks(size: sp.Expr) -> list[Check]:
    """A claimed receptive-field size of output (i, j) (0-based) against perturbation; and
    the field's shape: exactly the inputs above-left of (i, j)."""
    rows, cols, c = FIELD_SIZE
    dep = _image_fields()
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    samples = [({i: a, j: b}, int(dep[a, b].sum())) for a in range(rows) for b in range(cols)]
    shape_bad = []
    for a in range(rows):
        for b in range(cols):
            expected = np.zeros((rows, cols), dtype=bool)
            expected[: a + 1, : b + 1] = True
            if not np.array_equal(dep[a, b], expected):
                shape_bad.append((a, b))
    return [
        agree(f"receptive field size, every output ({rows} x {cols}, C = {c})",
              "perturbation of every input location", size, samples),
        Check.exact(f"receptive field region, every output ({rows} x {cols}, C = {c})",
                    "perturbation of every input location", not shape_bad,
                    f"differs at {shape_bad}" if shape_bad else
                    "each output depends exactly on the inputs above-left of it"),
    ]


@problem("cmsc25500-midterm/6c")
def answer_6c(pid: str) -> Answer:
    size, region = image_rnn.receptive_field_formula()
    checks = receptive_checks(size)
    results = {"receptive_field_size": size, "receptive_field": region,
               "scalars": size * sp.Symbol("C", positive=True, integer=True)}
    text = (f"Output (i, j) (0-based) depends on X at {region}: (i+1)(j+1) locations, "
            "(i+1)(j+1)C scalars. RNN A carries x[i', 0..j] into hA[i', j]; RNN B carries "
            "hA[0..i, j] into hB[i, j]. The field is one-sided: nothing below or to the right.")
    latex = (
        "$h^A_{i',j}$ depends on $x_{i',0..j}$ and $h^B_{i,j}$ on $y_{0..i,j} = h^A_{0..i,j}$, "
        "so output $(i,j)$ (0-based) sees $\\{(i',j') : i'\\le i,\\ j'\\le j\\}$,"
        f" \\[ {_latex(size)} \\text{{ locations}},\\quad (i+1)(j+1)C \\text{{ scalars}}, \\]"
        " confirmed by perturbing every input location. The field is one-sided.")
    return Answer(pid, results, text, latex, checks)


@functools.cache
def _image_counts() -> dict[str, list]:
    hs, ws, cs = image_rnn.Hs, image_rnn.Ws, image_rnn.Cs
    sizes = ((2, 3, 2), (3, 2, 3), (1, 1, 1))
    counts: dict[str, list] = {
        "dense": [({hs: a, ws: b, cs: c}, image_rnn.naive_flops(a, b, c)) for a, b, c in sizes],
        "minimum": [({hs: a, ws: b, cs: c}, image_rnn.naive_flops(a, b, c, dense=False))
                    for a, b, c in sizes],
        "conv": [],
    }
    for a, b, c in ((4, 5, 3), (3, 3, 2)):
        table = account(f"conv {c} 3x3 same", (a, b, c))
        counts["conv"].append(({hs: a, ws: b, cs: c},
                               naive_counts(table.layers, (a, b, c))[0]["flops"]))
    return counts


def flops_checks(dense: sp.Expr, minimum: sp.Expr, conv: sp.Expr) -> list[Check]:
    """Claimed FLOP formulas against instrumented naive loops (module and 3x3 conv)."""
    counts = _image_counts()
    return [agree("module FLOPs (dense)", "instrumented naive loops", dense, counts["dense"]),
            agree("module FLOPs (minimum)", "instrumented naive loops", minimum,
                  counts["minimum"]),
            agree("3x3 conv FLOPs", "instrumented naive conv loops", conv, counts["conv"])]


@problem("cmsc25500-midterm/6d")
def answer_6d(pid: str) -> Answer:
    hs, ws = image_rnn.Hs, image_rnn.Ws
    dense, minimum = image_rnn.flops_formula(), image_rnn.flops_formula(dense=False)
    conv = image_rnn.conv3x3_flops_formula()
    ratio = sp.simplify(dense / conv)
    checks = flops_checks(dense, minimum, conv)
    convention = ("A C x C matrix-vector product costs C(2C - 1), a vector addition C, tanh "
                  "one per element; the conv counts 2 * 9C per output (with bias, padded "
                  "positions included).")
    results = {"flops": dense, "flops_min": minimum, "conv3x3_flops": conv, "ratio": ratio,
               "sequential_steps": hs + ws, "convention": convention}
    text = (f"{convention}\nEach RNN step: two products 2C(2C-1), one addition C, tanh C: 4C^2;"
            f" H W steps per RNN, two RNNs: {dense} (skipping the products with the zero "
            f"initial states: {minimum}). A 3x3 conv with C in and out channels: {conv}. "
            f"Ratio {ratio}: the module costs under half the conv's FLOPs, but runs W + H "
            f"sequential steps where the conv runs one.")
    latex = (
        "Convention: a $C\\times C$ matrix-vector product costs $C(2C-1)$, a vector addition "
        "$C$, $\\tanh$ one per element. A step costs $2C(2C-1) + C + C = 4C^2$; each RNN takes "
        f"$HW$ steps: \\[ \\text{{FLOPs}} = {_latex(dense)} \\quad "
        f"({_latex(minimum)} \\text{{ skipping products with zero initial states}}). \\] "
        f"A $3\\times3$ conv with $C$ input and output channels and bias: ${_latex(conv)}$; "
        f"ratio ${_latex(ratio)}$. The module is cheaper but needs $H+W$ sequential steps.")
    return Answer(pid, results, text, latex, checks)


@problem("cmsc25500-midterm/6e")
def answer_6e(pid: str) -> Answer:
    ratio = sp.simplify(image_rnn.flops_formula() / image_rnn.conv3x3_flops_formula())
    rows, cols, _ = FIELD_SIZE
    largest = int(_image_fields()[rows - 1, cols - 1].sum())
    pros = [
        f"Global context in one layer: output (i, j) sees (i+1)(j+1) input locations (all "
        f"{largest} of a {rows} x {cols} input for the last one) against 9 for a 3x3 conv.",
        f"Fewer FLOPs ({ratio} of a 3x3 conv with C channels) and fewer weights (4C^2 against "
        "9C^2 + C).",
    ]
    cons = [
        "Sequential: W + H dependent steps (RNN A then RNN B) where a conv is one parallel step.",
        "One-sided, position-dependent context: nothing below or right of (i, j) is seen, and "
        "the field depends on the distance to the top-left border (no translation "
        "equivariance); running the RNNs in the four directions fixes the first at 4x the cost.",
        "Long recurrent paths make gradients vanish or explode across the image.",
    ]
    checks = [Check.exact("receptive field of the last output", "perturbation",
                          largest == rows * cols, f"{largest} of {rows * cols} locations")]
    text = "Pros:\n" + "\n".join(f"- {p}" for p in pros) + "\nCons:\n" + "\n".join(
        f"- {c_}" for c_ in cons)

    def tex(s: str) -> str:
        return (s.replace("^2", "$^2$").replace(" x ", " $\\times$ ").replace("3x3", "$3\\times3$")
                .replace("4x", "$4\\times$"))

    latex = ("\\textbf{Pros.}\n\\begin{itemize}\n" + "\n".join(f"\\item {tex(p)}" for p in pros)
             + "\n\\end{itemize}\n\\textbf{Cons.}\n\\begin{itemize}\n"
             + "\n".join(f"\\item {tex(c_)}" for c_ in cons) + "\n\\end{itemize}")
    return Answer(pid, {"pros": pros, "cons": cons}, text, latex, checks)
