"""Grid RNN answers: ``csc421-hw4/2a..2c``, ``rnn-cnn-hw/4.1..4.3``, ``cmsc25500-midterm/6a..6e``.

Result keys (formulas are SymPy objects in the catalogue's symbols):

* ``csc421-hw4/2a``: ``weights``, ``ops`` (minimum: products with the zero boundary states
  skipped), ``ops_dense`` (every product performed), ``ops_leading``, ``convention``.
* ``2b``: ``steps`` (formula in ``G``), ``steps_by_G`` (longest path of the dependency graph,
  per ``G``), ``schedule`` (text), ``explanation``.
* ``2c``: ``advantage``, ``disadvantage``, ``numbers`` (a concrete comparison).
* ``rnn-cnn-hw/4.1``: ``connections`` (exact, for ``H, W > (k-1)/2``), ``connections_grouped``
  (and ``connections_grouped_latex``), ``connections_interior``,
  ``connections_order``, ``training_steps``, ``generation_steps_raster``,
  ``generation_steps_min`` (wavefront; for ``W >= (k+1)/2``), ``explanation``.
* ``4.2``: ``connections``, ``connections_order``, ``weights``, ``steps``,
  ``generation_steps`` (anti-diagonal wavefront), ``explanation``.
* ``4.3``: ``sizes`` (the concrete instance), ``pixelcnn`` and ``mdrnn`` (numbers),
  ``comparison`` (text per aspect).
* ``cmsc25500-midterm/6a``: ``source`` (of the checked forward), ``equations``,
  ``implementation``.
* ``6b``: ``source`` (of the checked backward), ``implementation``, ``complex_step_error``,
  ``central_error``.
* ``6c``: ``receptive_field_size`` (formula in ``i, j``, 0-based), ``receptive_field``,
  ``scalars`` (times ``C``).
* ``6d``: ``flops``, ``flops_min``, ``conv3x3_flops``, ``ratio``, ``sequential_steps``,
  ``convention``.
* ``6e``: ``pros``, ``cons``.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable

import numpy as np
import sympy as sp

from derive.answers import Answer, problem
from derive.checks.check import Check, counted, relative_error
from derive.printing.figures import tikz_graph
from derive.topics.cnn.accounting import account
from derive.topics.cnn.bruteforce import naive_counts
from derive.topics.grid import conv, image_rnn, mdrnn, pixelcnn
from derive.topics.grid.dag import ancestors, earliest_steps, longest_path
from derive.topics.grid.fit import fit, multilinear_basis

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


def _latex(expr: sp.Expr) -> str:
    return sp.latex(expr)


# ---------------------------------------------------------------- shared checks

def _plain(expr: sp.Expr) -> str:
    """A formula for plain text: ``3dk^2``, ``(i + 1)(j + 1)`` (every symbol is one letter)."""
    return str(expr).replace("**", "^").replace("*", "")


def _num(n: int) -> str:
    """An integer for math mode, thousands separated: ``98{,}304``."""
    return f"{n:,d}".replace(",", "{,}")


def _point(point: dict) -> str:
    return ", ".join(f"{v} = {n}" for v, n in point.items())


def _tuples(samples: list) -> str:
    """The sample points in words: a full grid by its axes, a few points one by one."""
    names = list(samples[0][0])
    axes = {v: sorted({p[v] for p, _ in samples}) for v in names}
    if len(samples) > 4 and sp.prod([len(a) for a in axes.values()]) == len(samples):
        return ", ".join(f"{v} in {{{', '.join(map(str, a))}}}" for v, a in axes.items())
    if len(samples) > 4:
        return ""
    if len(names) == 1:
        return f"{names[0]} = " + ", ".join(str(p[names[0]]) for p, _ in samples)
    values = ", ".join("(" + ", ".join(str(n) for n in p.values()) + ")" for p, _ in samples)
    return f"({', '.join(map(str, names))}) = {values}"


def agree(name: str, against: str, formula: sp.Expr, samples: list, where: str = "",
          unit: str = "size") -> Check:
    """A claimed formula against measured ``(point, value)`` samples: exact on every one.
    ``where`` describes the samples (default: they are listed), ``unit`` names one."""
    for point, value in samples:
        claimed = formula.subs(point)
        if claimed != value:
            return Check.exact(name, against, False, f"at {_point(point)}: the formula gives "
                               f"{claimed}, measured {value}")
    where = where or _tuples(samples)
    return Check.exact(name, against, True, f"equal at {counted(len(samples), unit)}"
                       + (f": {where}" if where else ""))


def grid_samples(grid: dict[sp.Symbol, tuple[int, ...]], measure: Callable[..., int]) -> list:
    """``(point, measure(*values))`` on the full grid of ``grid``'s values."""
    return [(dict(zip(grid, values, strict=True)), measure(*values))
            for values in itertools.product(*grid.values())]


def agree_on_grid(name: str, against: str, formula: sp.Expr, grid: dict, samples: list,
                  held_out: list = ()) -> Check:
    """A claimed polynomial against counts on a full grid of sizes (and held-out sizes). On a
    grid with n values of a variable, agreement decides every polynomial of degree < n in it;
    a claim of higher degree is refused as undecided."""
    for v, values in grid.items():
        try:
            degree = sp.degree(sp.expand(formula), v)
        except sp.PolynomialError:
            return Check.exact(name, against, False, f"not a polynomial in {v}: a grid of "
                               "sizes cannot decide it")
        if degree >= len(values):
            return Check.exact(name, against, False, f"degree {degree} in {v}: "
                               f"{counted(len(values), 'value')} of {v} cannot decide it")
    check = agree(name, against, formula, [*samples, *held_out])
    if not check.passed:
        return check
    axes = ", ".join(f"{v} in {{{', '.join(map(str, vals))}}}" for v, vals in grid.items())
    degrees = ", ".join(f"{len(vals) - 1} in {v}" for v, vals in grid.items())
    extra = f", and at {counted(len(held_out), 'held-out size')}" if held_out else ""
    return Check.exact(name, against, True, f"equal at all {len(samples)} sizes {axes}, which "
                       f"decide every polynomial of degree up to {degrees}{extra}")


def claim(name: str, against: str, claimed: int, measured: int) -> Check:
    """One number of an answer against its measurement."""
    return Check.exact(name, against, claimed == measured,
                       f"claimed {claimed}, measured {measured}")


# ---------------------------------------------------------------- csc421-hw4/2

MDRNN_GRID = {G: (1, 2, 3, 4), D: (1, 2, 3), H: (1, 2, 3)}


@functools.cache
def _mdrnn_counts() -> tuple[list, list, list]:
    """Counted operations (minimum, dense) and weights read, on a grid of small sizes."""
    minimum = grid_samples(MDRNN_GRID, lambda g, dd, h: mdrnn.naive_ops(g, dd, h)[0])
    dense = grid_samples(MDRNN_GRID, lambda g, dd, h: mdrnn.naive_ops(g, dd, h, dense=True)[0])
    # the dense run reads every weight
    weights = grid_samples(MDRNN_GRID, lambda g, dd, h: mdrnn.naive_ops(g, dd, h, dense=True)[1])
    return minimum, dense, weights


def ops_checks(ops: sp.Expr, dense: sp.Expr, weights: sp.Expr) -> list[Check]:
    """Claimed operation and weight counts against the instrumented naive MDRNN."""
    minimum_s, dense_s, weights_s = _mdrnn_counts()
    return [agree_on_grid("operations (minimum)", "instrumented naive loops", ops, MDRNN_GRID,
                          minimum_s),
            agree_on_grid("operations (dense)", "instrumented naive loops", dense, MDRNN_GRID,
                          dense_s),
            agree_on_grid("weights", "weights read by the naive loops", weights, MDRNN_GRID,
                          weights_s)]


@problem("csc421-hw4/2a")
def answer_2a(pid: str) -> Answer:
    weights, ops, dense = mdrnn.weights_formula(), mdrnn.ops_formula(), mdrnn.ops_formula(True)
    checks = ops_checks(ops, dense, weights)
    convention = ("W^T v with W of shape m x n costs n(2m - 1) (m multiplications and m - 1 "
                  "additions per output), adding two H-vectors H, phi one operation per "
                  "element. The minimum count skips the products with the zero states "
                  "h^(0,j), h^(i,0); the dense count performs them.")
    grouped = 2 * D * H * G**2 + 4 * H**2 * G * (G - 1)
    results = {"weights": weights, "ops": ops, "ops_dense": dense,
               "ops_leading": sp.expand(G**2 * (2 * D * H + 4 * H**2)), "convention": convention}
    text = (f"Weights: W_in is D x H, W_W and W_N are H x H: {_plain(weights)}.\n"
            f"Operations ({convention})\n  per cell with both neighbours: 2DH + 4H^2 "
            f"(= H(2D-1) + 2H(2H-1) + 2H additions + H phi)\n"
            f"  minimum: {_plain(ops)} = {_plain(grouped)}\n  dense:   {_plain(dense)}\n"
            "i.e. O(G^2 H (D + H)).")
    latex = (
        "$W_{\\mathrm{in}}\\in\\mathbb{R}^{D\\times H}$ and $W_W, W_N\\in\\mathbb{R}^{H\\times H}$:"
        f" \\[ \\#\\text{{weights}} = {_latex(weights)}. \\]"
        " Convention: $W^\\top v$ with $W\\in\\mathbb{R}^{m\\times n}$ costs $n(2m-1)$ "
        "operations, a vector addition $H$, $\\phi$ one per element. A cell with both "
        "neighbours costs $H(2D-1) + 2H(2H-1) + 2H + H = 2DH + 4H^2$. Skipping the products "
        "with the zero boundary states,"
        f" \\[ \\#\\text{{ops}} = {_latex(ops)} = {_latex(grouped)}, \\]"
        f" and ${_latex(dense)}$ if every product is performed: $O(G^2H(D+H))$."
    )
    same = sp.expand(grouped - ops) == 0  # the grouped form printed must be the count
    checks.append(Check.exact("grouped form of the minimum count", "expansion of both", same,
                              "the difference expands to 0" if same else "they differ"))
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
        agree("steps, G = 1, ..., 8", "longest path of the dependency graph", formula, fitted,
              "G = 1, ..., 8"),
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


FIGURE_GRID = 4  # the MDRNN drawn in 2b's figure: a 4 x 4 grid


def mdrnn_figure(size: int = FIGURE_GRID) -> tuple[str, list[tuple]]:
    """The MDRNN's dependency graph on a ``size x size`` grid, drawn from ``grid_graph``:
    each cell labelled with its state and the step at which it is ready. Returns the TikZ
    picture and the edges drawn (the test compares them with the graph)."""
    preds = mdrnn.grid_graph(size, size)
    step = earliest_steps(preds)
    nodes = {f"c{i}{j}": (rf"\shortstack{{$h^{{({i},{j})}}$\\{{\scriptsize step "
                          rf"{step[1, i, j]}}}}}", 1.9 * j, -1.6 * i)
             for (_, i, j) in preds}
    edges = [(f"c{pi}{pj}", f"c{i}{j}") for (_, i, j), before in preds.items()
             for (_, pi, pj) in before]
    return tikz_graph(nodes, edges, scale=0.8), edges


@problem("csc421-hw4/2b")
def answer_2b(pid: str) -> Answer:
    formula, by_g, checks = _mdrnn_steps()
    explanation = (
        "h^(i,j) needs h^(i-1,j) and h^(i,j-1), so the dependency graph is the G x G grid "
        "with edges east and south. With unlimited parallel products a cell can be computed "
        "one step after its last predecessor; the earliest step of cell (i, j) is i + j - 1, "
        "so all cells of one anti-diagonal i + j = const are computed together, and the "
        f"minimum number of steps is the longest path, {_plain(formula)} (the number of "
        "anti-diagonals). The input products W_in^T x are independent of h and are done "
        "within (or before) each cell's step.")
    results = {"steps": formula, "steps_by_G": by_g,
               "schedule": "step s computes every h^(i,j) with i + j - 1 = s",
               "explanation": explanation}
    table = ", ".join(f"G={g}: {n}" for g, n in by_g.items())
    table_tex = ",\\ ".join(f"$G={g}$: ${n}$" for g, n in by_g.items())
    text = f"{explanation}\nLongest paths: {table}."
    latex = (
        "$h^{(i,j)}$ needs $h^{(i-1,j)}$ and $h^{(i,j-1)}$. With unlimited parallel "
        "matrix-vector products a cell is computed one step after its last predecessor, so "
        "cell $(i,j)$ is ready at step $i+j-1$: each anti-diagonal $i+j=\\text{const}$ is one "
        "step and the minimum number of steps is the longest path of the dependency graph,"
        f" \\[ {_latex(formula)}. \\] Longest paths computed on the graph: {table_tex}."
    )
    figure, _ = mdrnn_figure()
    caption = (f"the MDRNN's dependency graph on a {FIGURE_GRID} by {FIGURE_GRID} grid, each "
               "cell with the step at which it can be computed")
    return Answer(pid, results, text, latex, checks, figures={caption: figure})


CSC_GRID, CSC_LAYERS, CSC_KERNEL = 32, 5, 3  # the concrete comparison of 2c


def conv_comparison_claims(steps: sp.Expr) -> dict[str, int]:
    """2c's numbers from the formulas: the MDRNN's steps (2b), the last cell's context (cell
    (i, j) sees the i j inputs above-left of it), and a conv stack's L steps and
    (1 + L(k - 1))^2 receptive field."""
    i, j, layers, kern = sp.symbols("i j L k", positive=True, integer=True)
    g, n, kk = CSC_GRID, CSC_LAYERS, CSC_KERNEL
    return {"mdrnn_steps": int(steps.subs(G, g)),
            "mdrnn_context_of_last_cell": int((i * j).subs({i: g, j: g})),
            "conv_steps": int(layers.subs(layers, n)),
            "conv_context": int(((1 + layers * (kern - 1)) ** 2).subs({layers: n, kern: kk}))}


def conv_comparison_checks(numbers: dict[str, int]) -> list[Check]:
    """Each number of 2c against the dependency graphs of the two networks."""
    g, n, kk = CSC_GRID, CSC_LAYERS, CSC_KERNEL
    md = mdrnn.grid_graph(g, g)
    cnn = conv.stack_graph(g, g, n, kk)
    centre = (n, g // 2, g // 2)
    return [
        claim(f"MDRNN sequential steps, {g} by {g} grid", "longest path of the grid graph",
              numbers["mdrnn_steps"], longest_path(md)[0]),
        claim(f"MDRNN context of the last cell, {g} by {g} grid",
              "inputs of the cell and its ancestors", numbers["mdrnn_context_of_last_cell"],
              len(ancestors(md, (1, g, g))) + 1),
        claim(f"conv net sequential steps, {n} layers", "longest path of the conv graph",
              numbers["conv_steps"], longest_path(cnn, conv.step_weight)[0]),
        claim(f"conv net context of a central pixel, {n} layers {kk} by {kk}",
              "input ancestors in the conv graph", numbers["conv_context"],
              sum(1 for node in ancestors(cnn, centre) if node[0] == "x")),
    ]


@problem("csc421-hw4/2c")
def answer_2c(pid: str) -> Answer:
    formula, _, _ = _mdrnn_steps()
    numbers = conv_comparison_claims(formula)
    checks = conv_comparison_checks(numbers)
    g, n = CSC_GRID, CSC_LAYERS
    md_steps, md_ctx = numbers["mdrnn_steps"], numbers["mdrnn_context_of_last_cell"]
    advantage = (
        "Context: h^(i,j) depends on every input x^(i',j') with i' <= i and j' <= j, a region "
        f"that grows with the image (all {md_ctx:,d} pixels for the last cell of a {g} x {g} "
        "grid) with a fixed number of weights, whereas the width of a conv net's receptive "
        f"field grows only linearly with depth ({numbers['conv_context']} pixels after {n} "
        "layers of 3 x 3 convolutions).")
    disadvantage = (
        f"Sequential computation: {md_steps} dependent steps on a {g} x {g} grid (2G - 1), "
        f"against {numbers['conv_steps']} for a {n}-layer conv net, each of whose layers is "
        "one parallel step; long recurrent paths also make gradients vanish or explode, and "
        "the context is one-sided (north-west only).")
    text = f"Advantage: {advantage}\nDisadvantage: {disadvantage}"
    latex = (
        "\\textbf{Advantage.} Context: $h^{(i,j)}$ depends on every input $x^{(i',j')}$ with "
        "$i'\\le i$ and $j'\\le j$, a region that grows with the image (all "
        f"${_num(md_ctx)}$ pixels for the last cell of a ${g}\\times{g}$ grid) with a fixed "
        "number of weights, whereas the width of a conv net's receptive field grows only "
        f"linearly with depth, $2L + 1$: ${numbers['conv_context']}$ pixels after $L = {n}$ "
        "layers of $3\\times3$ convolutions.\n\n"
        f"\\textbf{{Disadvantage.}} Sequential computation: ${_latex(formula)} = {md_steps}$ "
        f"dependent steps on a ${g}\\times{g}$ grid, against ${numbers['conv_steps']}$ for a "
        f"{n}-layer conv net, each of whose layers is one parallel step. Long recurrent paths "
        "also make gradients vanish or explode, and the context is one-sided (north-west "
        "only).")
    return Answer(pid, {"advantage": advantage, "disadvantage": disadvantage,
                        "numbers": numbers}, text, latex, checks)


# ---------------------------------------------------------------- rnn-cnn-hw/4

# k odd (the masks need a centre); H, W > (k - 1)/2 for every k of the grid
PIXELCNN_GRID = {Hs: (6, 7, 8), Ws: (6, 7, 8), d: (1, 2, 3), k: (3, 5, 7, 9, 11)}
PIXELCNN_HELD_OUT = ((5, 6, 2, 3), (9, 13, 4, 7), (4, 4, 1, 3))


@functools.cache
def _pixelcnn_samples() -> dict[str, list]:
    """Enumerated connections and longest paths (training, generation, raster order)."""
    samples: dict[str, list] = {
        "connections": grid_samples(PIXELCNN_GRID, pixelcnn.connections),
        "connections_held_out": [(dict(zip((Hs, Ws, d, k), size, strict=True)),
                                  pixelcnn.connections(*size)) for size in PIXELCNN_HELD_OUT],
        "training": [], "generation": [], "raster": [], "generation_held_out": []}
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
        graph = pixelcnn.raster_generation_graph(hh, ww, dd, kk)
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
    same = sp.expand(results["connections_grouped"] - results["connections"]) == 0
    return [
        agree_on_grid("connections", "enumeration of masked taps inside the image",
                      results["connections"], PIXELCNN_GRID, samples["connections"],
                      samples["connections_held_out"]),
        agree("training steps", "longest path (training graph)", results["training_steps"],
              samples["training"]),
        agree("generation steps (wavefront)", "longest path (generation graph)",
              results["generation_steps_min"], samples["generation"]),
        agree("generation steps, held-out sizes", "longest path (generation graph)",
              results["generation_steps_min"], samples["generation_held_out"]),
        agree("generation steps, raster order", "longest path with raster-order edges",
              results["generation_steps_raster"], samples["raster"]),
        Check.exact("grouped form of the connections", "expansion of both", same,
                    "the difference expands to 0" if same else "they differ"),
    ]


def grouped_connections(formula: sp.Expr) -> tuple[sp.Expr, str]:
    """The connection count grouped by how it depends on the image, ``[a HW - b(H + W) + c]/q``,
    each coefficient with its powers of ``k^2 - 1`` pulled out: as SymPy (unevaluated) and
    as LaTeX."""
    expanded = sp.expand(formula)
    denom = sp.ilcm(*(sp.fraction(c)[1] for c in sp.Poly(expanded, Hs, Ws, d, k).coeffs()))
    poly = sp.Poly(sp.expand(expanded * denom), Hs, Ws)
    c_hw, c_h, c_w, c_0 = (poly.coeff_monomial(m) for m in (Hs * Ws, Hs, Ws, 1))
    if sp.expand(c_h - c_w) != 0 or set(poly.monoms()) - {(1, 1), (1, 0), (0, 1), (0, 0)}:
        raise ValueError("the count is not of the form a HW + b(H + W) + c")
    u = k**2 - 1

    def split(c: sp.Expr, image: str) -> tuple[sp.Expr, str]:
        """``c`` as ``number * image * rest * u^power``."""
        power = 0
        while sp.rem(sp.Poly(c, k), sp.Poly(u, k)).is_zero:
            c, power = sp.cancel(c / u), power + 1
        number, rest = sp.factor(c).as_coeff_Mul()
        parts = [f"{number}" if number != 1 else "", image,
                 "" if rest == 1 else rf"\left({sp.latex(rest)}\right)" if rest.is_Add
                 else sp.latex(rest)]
        if power:
            parts.append(r"\left(k^{2} - 1\right)" + (f"^{{{power}}}" if power > 1 else ""))
        expr = sp.Mul(number, rest, *([sp.Pow(u, power, evaluate=False)] if power > 1 else
                                       [u] * power), evaluate=False)
        return expr, " ".join(p for p in parts if p)

    (e_hw, t_hw), (e_h, t_h), (e_0, t_0) = split(c_hw, "HW"), split(-c_h, "(H + W)"), split(
        c_0, "")
    grouped = sp.Mul(sp.Add(sp.Mul(Hs * Ws, e_hw, evaluate=False),
                            -sp.Mul(Hs + Ws, e_h, evaluate=False), e_0, evaluate=False),
                     sp.Rational(1, denom), evaluate=False)
    return grouped, rf"\frac{{{t_hw} - {t_h} + {t_0}}}{{{denom}}}"


@functools.cache
def _pixelcnn_results() -> tuple[dict, list[Check]]:
    samples = _pixelcnn_samples()
    basis = multilinear_basis([Hs, Ws, d, k])
    connections = pixelcnn.connections_formula()
    grouped, grouped_tex = grouped_connections(connections)
    results = {
        "connections": connections,
        "connections_grouped": grouped,
        "connections_grouped_latex": grouped_tex,
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
        f"are {_plain(results['connections_interior'])} connections: O(d k^2 H W). "
        "Training (all pixels known): every layer is one parallel step, "
        f"{_plain(results['training_steps'])} sequential steps (longest path of the dependency "
        "graph). Generation: pixel (i, j) "
        "is sampled from the last layer at (i, j); sampling one pixel at a time in raster "
        f"order takes {_plain(results['generation_steps_raster'])} steps, O(d H W). The "
        "dependency graph's longest path is shorter, "
        f"{_plain(results['generation_steps_min'])}: pixel (i, j) depends on the row above "
        "only up to column j + (k-1)/2, so rows can be generated as a skewed wavefront "
        "(valid for W >= (k+1)/2).")
    results["explanation"] = explanation
    latex = (
        "One feature map per layer (multiply by $c^2$ for $c$ maps). A mask A filter has "
        "$(k^2-1)/2$ taps and a mask B filter $(k^2+1)/2$. Counting only connections inside "
        "the image (exact for $H, W > (k-1)/2$):"
        f" \\[ {results['connections_grouped_latex']}, \\]"
        f" which away from the borders is ${_latex(results['connections_interior'])}$, i.e. "
        "$O(d k^2 H W)$. Minimum sequential operations (longest paths of the dependency "
        f"graphs, fitted over many sizes): training ${_latex(results['training_steps'])}$ "
        "(each layer is one parallel step); generation one pixel at a time in raster order "
        f"${_latex(results['generation_steps_raster'])}$, i.e.\\ $O(dHW)$. A wavefront "
        "schedule does better, because pixel $(i,j)$ depends on the row above only up to "
        "column $j + (k-1)/2$:"
        f" \\[ {_latex(results['generation_steps_min'])} \\quad (W \\ge (k+1)/2). \\]"
    )
    return Answer(pid, results, explanation, latex, checks)


STACK_GRID = {Hs: (1, 2, 3), Ws: (1, 2, 3), d: (1, 2, 3), k: (1, 2, 3, 4)}
STACK_HELD_OUT = ((7, 5, 4, 6), (2, 9, 3, 5))
WEIGHTS_GRID = {d: (1, 2, 3), k: (1, 2, 3, 4)}
GENERATION_GRID = {Hs: (1, 2, 3, 4), Ws: (1, 2, 3, 4), d: (1, 2, 3)}


def _sampled(graph: dict, weight: Callable[[tuple], int]) -> int:
    """The step at which the last pixel is sampled (every pixel node is ``("x", i, j)``)."""
    step = earliest_steps(graph, weight)
    return max(s for node, s in step.items() if node[0] == "x")


def mdrnn_generation_steps(rows: int, cols: int, layers: int) -> int:
    """Steps until the last pixel of an autoregressive MDRNN stack is sampled."""
    return _sampled(mdrnn.generation_graph(rows, cols, layers), mdrnn.step_weight)


@functools.cache
def _stack_samples() -> dict[str, list]:
    """Longest paths of d stacked grid graphs, connections counted edge by edge, weights of
    built stacks, and generation steps of the autoregressive stack."""
    steps = [({Hs: hh, Ws: ww, d: dd}, longest_path(mdrnn.grid_graph(hh, ww, dd))[0])
             for hh in (1, 2, 3, 5) for ww in (1, 2, 4, 6) for dd in (1, 2, 3, 4)]
    held_out = [({Hs: 7, Ws: 9, d: 5}, longest_path(mdrnn.grid_graph(7, 9, 5))[0])]

    def point(size: tuple, names: tuple = (Hs, Ws, d, k)) -> dict:
        return dict(zip(names, size, strict=True))

    return {
        "steps": steps, "held_out": held_out,
        "connections": grid_samples(STACK_GRID, mdrnn.connections),
        "connections_held_out": [(point(s), mdrnn.connections(*s)) for s in STACK_HELD_OUT],
        "weights": grid_samples(WEIGHTS_GRID, lambda dd, kk: mdrnn.stack_parameters(
            mdrnn.init_stack(dd, kk, kk))),
        "weights_held_out": [(point((8, 64), (d, k)),
                              mdrnn.stack_parameters(mdrnn.init_stack(8, 64, 64)))],
        "generation": grid_samples(GENERATION_GRID, mdrnn_generation_steps),
        "generation_held_out": [(point((7, 9, 5), (Hs, Ws, d)), mdrnn_generation_steps(7, 9, 5))],
    }


def stack_checks(results: dict) -> list[Check]:
    """Claimed d-layer MDRNN counts against longest paths, edge enumeration, built stacks."""
    samples = _stack_samples()
    return [
        agree("sequential steps", "longest path of the dependency graph", results["steps"],
              samples["steps"], "H in {1, 2, 3, 5}, W in {1, 2, 4, 6}, d in {1, 2, 3, 4}"),
        agree("sequential steps, held-out H = 7, W = 9, d = 5",
              "longest path of the dependency graph", results["steps"], samples["held_out"]),
        agree_on_grid("connections", "edges of the dependency graph, k by k weights each",
                      results["connections"], STACK_GRID, samples["connections"],
                      samples["connections_held_out"]),
        agree_on_grid("weights", "arrays of a built stack", results["weights"], WEIGHTS_GRID,
                      samples["weights"], samples["weights_held_out"]),
        agree_on_grid("generation steps (anti-diagonal wavefront)",
                      "step of the last sample in the generation graph",
                      results["generation_steps"], GENERATION_GRID, samples["generation"],
                      samples["generation_held_out"]),
    ]


@functools.cache
def _mdrnn_stack_results() -> tuple[dict, list[Check]]:
    samples = _stack_samples()
    by_k = [sp.Integer(1), k, k**2]
    basis = [m * p for m in multilinear_basis([Hs, Ws, d]) for p in by_k]
    connections, _ = fit(samples["connections"], basis)
    # d layers, each the single-layer count of 2a with k inputs and k hidden units
    weights = d * mdrnn.weights_formula().subs({D: k, H: k})
    results = {"connections": sp.expand(connections),
               "connections_order": d * k**2 * Hs * Ws, "weights": weights,
               "steps": fit(samples["steps"], multilinear_basis([Hs, Ws, d]))[0],
               "generation_steps": fit(samples["generation"],
                                       multilinear_basis([Hs, Ws, d]))[0]}
    return results, stack_checks(results)


@problem("rnn-cnn-hw/4.2")
def answer_4_2(pid: str) -> Answer:
    results, checks = _mdrnn_stack_results()
    results = dict(results)
    conn = sp.factor(results["connections"])
    explanation = (
        f"Each layer has W_in, W_W, W_N of k x k: {_plain(results['weights'])} weights. Every "
        "cell of every layer receives k^2 input connections and k^2 from each existing west/north "
        f"neighbour: {_plain(conn)} connections, O(d k^2 H W). Cell (l, i, j) depends on "
        "(l, i-1, j), (l, i, j-1) and (l-1, i, j); layers are pipelined (layer l starts at "
        "(1, 1) as soon as layer l-1 has finished it), so the minimum number of sequential "
        f"steps is the longest path of that graph: {_plain(results['steps'])}. Generating an image "
        "(pixel (i, j) sampled from the last layer's states north and west of it): "
        f"{_plain(results['generation_steps'])} steps, one anti-diagonal of pixels at a time.")
    results["explanation"] = explanation
    latex = (
        "Each layer has $W_{\\mathrm{in}}, W_W, W_N\\in\\mathbb{R}^{k\\times k}$: "
        f"${_latex(results['weights'])}$ weights. Every cell receives $k^2$ input "
        "connections and $k^2$ from each existing west and north neighbour; counted edge by "
        f"edge on the dependency graph, \\[ {_latex(conn)} = O(dk^2HW) \\] connections. "
        "Cell $(l,i,j)$ depends on $(l,i-1,j)$, $(l,i,j-1)$ and $(l-1,i,j)$; the layers are "
        "pipelined, and the longest path of this graph (computed for many sizes, fitted "
        f"exactly and checked on held-out sizes) is \\[ {_latex(results['steps'])}. \\] "
        "Generating an image, pixel $(i,j)$ is sampled from the last layer's states north and "
        "west of it, so a whole anti-diagonal of pixels is sampled at once: "
        f"${_latex(results['generation_steps'])}$ sequential steps."
    )
    return Answer(pid, results, explanation, latex, checks)


COMPARISON = {"H": 32, "W": 32, "d": 8, "k": 5, "channels": 64}  # the instance of 4.3


def comparison_claims() -> dict[str, dict[str, int]]:
    """4.3's numbers, from the formulas of 4.1 and 4.2 at the instance (every layer maps c
    feature maps to c, no biases)."""
    pix, _ = _pixelcnn_results()
    md, _ = _mdrnn_stack_results()
    hh, ww, dd, kernel, c = COMPARISON.values()
    point = {Hs: hh, Ws: ww, d: dd, k: kernel}
    taps = sp.cancel(pix["connections_interior"] / (Hs * Ws))  # per pixel, all layers
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    md_context = (i + 1) * (j + 1) - 1  # every pixel above-left of (i, j), 0-based
    mid = (hh // 2, ww // 2)
    pix_graph = pixelcnn.training_graph(hh, ww, dd, kernel)

    def pix_context(a: int, b: int) -> int:
        return sum(1 for n in ancestors(pix_graph, (dd, a, b)) if n[0] == "x")

    def at(expr: sp.Expr, subs: dict | None = None) -> int:
        return int(expr.subs(subs or point))

    md_point = {Hs: hh, Ws: ww, d: dd, k: c}
    return {
        "pixelcnn": {
            "parameters": at(taps * c**2),
            "dense_parameters": at(d * k**2 * c**2),
            "connections": at(pix["connections"] * c**2),
            "training_steps": at(pix["training_steps"]),
            "generation_steps_raster": at(pix["generation_steps_raster"]),
            "generation_steps_min": at(pix["generation_steps_min"]),
            "context_of_middle_pixel": pix_context(*mid),
            "context_of_last_pixel": pix_context(hh - 1, ww - 1),
            "activations_stored": at(d * Hs * Ws * c),
        },
        "mdrnn": {
            "parameters": at(md["weights"], md_point),
            "connections": at(md["connections"], md_point),
            "training_steps": at(md["steps"]),
            "generation_steps_min": at(md["generation_steps"]),
            "context_of_middle_pixel": at(md_context, {i: mid[0], j: mid[1]}),
            "context_of_last_pixel": at(md_context, {i: hh - 1, j: ww - 1}),
            "activations_stored": at(d * Hs * Ws * c),
        },
    }


@functools.cache
def _comparison_measurements() -> dict[str, dict[str, int]]:
    """The same numbers measured on built networks and dependency graphs at the instance."""
    hh, ww, dd, kernel, c = COMPARISON.values()
    mid = (hh // 2, ww // 2)
    masked = pixelcnn.masked_stack(dd, kernel, c)
    training = pixelcnn.training_graph(hh, ww, dd, kernel)
    md_train = mdrnn.grid_graph(hh, ww, dd)
    md_gen = mdrnn.generation_graph(hh, ww, dd)

    def md_context(a: int, b: int) -> int:  # 0-based pixel, 1-based graph
        return sum(1 for n in ancestors(md_gen, ("x", a + 1, b + 1)) if n[0] == "x")

    return {
        "pixelcnn": {
            "parameters": pixelcnn.stack_parameters(masked),
            "dense_parameters": sum(int(w.size) for w in masked),
            "connections": pixelcnn.connections(hh, ww, dd, kernel) * c * c,
            "training_steps": longest_path(training, pixelcnn.step_weight)[0],
            "generation_steps_raster": longest_path(pixelcnn.raster_generation_graph(
                hh, ww, dd, kernel), pixelcnn.step_weight)[0],
            "generation_steps_min": _sampled(pixelcnn.generation_graph(hh, ww, dd, kernel),
                                             pixelcnn.step_weight),
            "context_of_middle_pixel": int(pixelcnn.receptive_field(
                hh, ww, dd, kernel, *mid).sum()),
            "context_of_last_pixel": int(pixelcnn.receptive_field(
                hh, ww, dd, kernel, hh - 1, ww - 1).sum()),
            "activations_stored": sum(1 for n in training if n[0] != "x") * c,
        },
        "mdrnn": {
            "parameters": mdrnn.stack_parameters(mdrnn.init_stack(dd, c, c)),
            "connections": mdrnn.connections(hh, ww, dd, c),
            "training_steps": longest_path(md_train)[0],
            "generation_steps_min": _sampled(md_gen, mdrnn.step_weight),
            "context_of_middle_pixel": md_context(*mid),
            "context_of_last_pixel": md_context(hh - 1, ww - 1),
            "activations_stored": len(md_train) * c,
        },
    }


COMPARISON_AGAINST = {
    "parameters": ("parameters", "non-zero weights of a built masked stack",
                   "arrays of a built stack"),
    "dense_parameters": ("stored kernel weights", "arrays of a built masked stack", ""),
    "connections": ("connections", "enumeration of masked taps", "edges of the dependency graph"),
    "training_steps": ("training steps", "longest path (training graph)",
                       "longest path (dependency graph)"),
    "generation_steps_raster": ("generation steps, raster order",
                                "longest path with raster-order edges", ""),
    "generation_steps_min": ("generation steps, wavefront", "last sample in the generation graph",
                             "last sample in the generation graph"),
    "context_of_middle_pixel": ("context of the middle pixel",
                                "gradient support through the masked convolutions",
                                "pixel ancestors in the generation graph"),
    "context_of_last_pixel": ("context of the last pixel",
                              "gradient support through the masked convolutions",
                              "pixel ancestors in the generation graph"),
    "activations_stored": ("activations stored", "layer nodes of the graph times c",
                           "cells of the graph times c"),
}


def comparison_checks(claims: dict[str, dict[str, int]]) -> list[Check]:
    """Every number of 4.3 against its measurement at the instance."""
    measured = _comparison_measurements()
    checks = []
    for model, label, column in (("pixelcnn", "PixelCNN", 1), ("mdrnn", "MDRNN", 2)):
        for key, value in claims[model].items():
            name, *against = COMPARISON_AGAINST[key]
            checks.append(claim(f"{label}: {name}", against[column - 1], value,
                                measured[model][key]))
    return checks


@problem("rnn-cnn-hw/4.3")
def answer_4_3(pid: str) -> Answer:
    pix_f, _ = _pixelcnn_results()
    md_f, _ = _mdrnn_stack_results()
    numbers = comparison_claims()
    checks = comparison_checks(numbers)
    hh, ww, dd, kernel, c = COMPARISON.values()
    p, m = numbers["pixelcnn"], numbers["mdrnn"]
    mid = (hh // 2, ww // 2)
    causal_mid = mid[0] * ww + mid[1]
    n = _num
    comparison = {
        "compute": (f"Same order, O(d c^2 H W) connections: {p['connections']:,d} for the "
                    f"PixelCNN ({kernel} x {kernel} masked kernels) and {m['connections']:,d} "
                    "for the MDRNN with the same width."),
        "memory": (f"Both store every activation for backpropagation "
                   f"({p['activations_stored']:,d} values). Parameters: {p['parameters']:,d} "
                   f"for the PixelCNN, counting only the unmasked taps (the {kernel} x {kernel} "
                   f"kernels as stored hold {p['dense_parameters']:,d}, the masks zero the "
                   f"rest), against {m['parameters']:,d} for the MDRNN (3 d c^2). In "
                   "generation a PixelCNN recomputes windows, an MDRNN carries its state."),
        "parallelism": (
            f"Training: {p['training_steps']} sequential steps for the PixelCNN (d) against "
            f"{m['training_steps']} for the MDRNN (H + W + d - 2). Generation: one pixel at a "
            f"time the PixelCNN takes {p['generation_steps_raster']:,d} layer steps (d H W); "
            "both dependency graphs allow a wavefront: the PixelCNN "
            f"{p['generation_steps_min']:,d} (d(W + (H - 1)(k + 1)/2)), the MDRNN, whose "
            "pixel needs only its north and west neighbours, "
            f"{m['generation_steps_min']:,d} (d(H + W - 2), one anti-diagonal at a time)."),
        "context": (f"Pixel {mid} (0-based) has {causal_mid} predecessors in raster order; it "
                    f"sees {p['context_of_middle_pixel']} through the PixelCNN and "
                    f"{m['context_of_middle_pixel']} through the MDRNN. The last pixel sees "
                    f"{p['context_of_last_pixel']} and {m['context_of_last_pixel']:,d} of its "
                    f"{hh * ww - 1:,d} predecessors."),
    }
    sizes = {"H": hh, "W": ww, "d": dd, "pixelcnn_kernel": kernel, "channels": c,
             "middle_pixel": list(mid)}
    results = {"sizes": sizes, **numbers, "comparison": comparison}
    text = (f"Instance: {hh} x {ww} image, d = {dd} layers, {c} channels, PixelCNN kernels "
            f"{kernel} x {kernel}; every layer maps {c} channels to {c}, no biases.\n"
            + "\n".join(f"{a}: {t}" for a, t in comparison.items()))
    rows = [("parameters (unmasked taps)", "parameters"), ("connections", "connections"),
            ("training steps", "training_steps"),
            ("generation steps, wavefront", "generation_steps_min"),
            ("context of the middle pixel", "context_of_middle_pixel"),
            ("context of the last pixel", "context_of_last_pixel")]
    body = "\n".join(f"{label} & ${n(p[key])}$ & ${n(m[key])}$ \\\\" for label, key in rows)
    gen_pix, gen_md = _latex(pix_f["generation_steps_min"]), _latex(md_f["generation_steps"])
    paragraphs = {
        "Compute": (f"The same order, $O(dc^2HW)$ connections: ${n(p['connections'])}$ for "
                    f"the PixelCNN (${kernel}\\times{kernel}$ masked kernels) and "
                    f"${n(m['connections'])}$ for the MDRNN of the same width."),
        "Memory": (f"Both store every activation for backpropagation "
                   f"(${dd}\\cdot{hh}\\cdot{ww}\\cdot{c} = {n(p['activations_stored'])}$ "
                   f"values). The PixelCNN's ${n(p['parameters'])}$ parameters count only the "
                   f"unmasked taps: its ${kernel}\\times{kernel}$ kernels as stored hold "
                   f"${n(p['dense_parameters'])}$ weights, of which the masks zero "
                   f"${n(p['dense_parameters'] - p['parameters'])}$; the MDRNN has "
                   f"${_latex(md_f['weights'].subs(k, sp.Symbol('c')))} = {n(m['parameters'])}$,"
                   " independent of the "
                   "window. In generation a PixelCNN recomputes windows, an MDRNN carries its "
                   "state."),
        "Parallelism": (
            f"Training (all pixels known): ${_latex(pix_f['training_steps'])} = "
            f"{p['training_steps']}$ sequential steps for the PixelCNN, every layer one "
            f"parallel step, against ${_latex(md_f['steps'])} = {m['training_steps']}$ for "
            "the MDRNN, whose recurrence runs along anti-diagonals. Generation: one pixel at a "
            f"time the PixelCNN takes ${_latex(pix_f['generation_steps_raster'])} = "
            f"{n(p['generation_steps_raster'])}$ layer steps. Both dependency graphs allow a "
            "wavefront: the PixelCNN's pixel $(i,j)$ waits for the row above up to column "
            f"$j+(k-1)/2$, giving ${gen_pix} = {n(p['generation_steps_min'])}$; the MDRNN's "
            "pixel needs only its north and west neighbours, so a whole anti-diagonal is "
            f"sampled at once, ${gen_md} = {n(m['generation_steps_min'])}$. The MDRNN "
            "generates in fewer sequential steps; the PixelCNN trains far more in parallel."),
        "Context": (f"Pixel $({mid[0]}, {mid[1]})$ (0-based) has ${n(causal_mid)}$ "
                    f"predecessors in raster order; it sees ${p['context_of_middle_pixel']}$ "
                    "of them through the PixelCNN (a field growing by $(k-1)/2$ per layer, "
                    f"with a blind spot up-right) and ${m['context_of_middle_pixel']}$ through "
                    "the MDRNN (every pixel above and to the left, however far, but none "
                    "up-right of it). The last pixel sees "
                    f"${p['context_of_last_pixel']}$ and ${n(m['context_of_last_pixel'])}$ of "
                    f"its ${n(hh * ww - 1)}$ predecessors."),
    }
    latex = (
        f"Instance: a ${hh}\\times{ww}$ image, $d={dd}$ layers, {c} channels, PixelCNN "
        f"kernels ${kernel}\\times{kernel}$; every layer maps {c} channels to {c}, no biases."
        "\n\\begin{center}\\begin{tabular}{lrr}"
        "\\toprule & PixelCNN & MDRNN \\\\ \\midrule\n" + body +
        "\n\\bottomrule\\end{tabular}\\end{center}\n"
        + "\n\n".join(f"\\textbf{{{a}.}} {t}" for a, t in paragraphs.items())
    )
    return Answer(pid, results, text, latex, checks)


# ---------------------------------------------------------------- cmsc25500-midterm/6

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


def _source(fn: Callable) -> str:
    """The code the checks run, as printed in the answer."""
    return inspect.getsource(fn).rstrip()


def _verbatim(code: str) -> str:
    return "{\\small\n\\begin{verbatim}\n" + code + "\n\\end{verbatim}\n}"


@problem("cmsc25500-midterm/6a")
def answer_6a(pid: str) -> Answer:
    x, params, _ = image_rnn.random_instance(2, 3, 4, 3, seed=1)
    _, hb = image_rnn.forward(x, params)
    err = relative_error(hb, _scan_reference(x, params))
    checks = [Check("vectorised forward (N = 2, H = 3, W = 4, C = 3)",
                    "one sequence at a time", err, 1e-14)]
    source = _source(image_rnn.forward)
    equations = ("hA[i,j] = tanh(W_hh^A hA[i,j-1] + W_xh^A x[i,j]); Y = H^A; "
                 "hB[i,j] = tanh(W_hh^B hB[i-1,j] + W_yh^B y[i,j]); zero initial states "
                 "(before j = 0 and before i = 0)")
    results = {"equations": equations, "source": source,
               "implementation": "derive.topics.grid.image_rnn.forward"}
    text = (f"{equations}\nRNN A left to right along every row, RNN B top to bottom along every"
            f" column; each scan step is vectorised over the N examples and all rows "
            f"(columns).\n\n{source}")
    latex = (
        "RNN A runs left to right along every row, RNN B top to bottom along every column:"
        " \\[ h^A_{i,j} = \\tanh(W^A_{hh} h^A_{i,j-1} + W^A_{xh} x_{i,j}),\\quad "
        "Y = H^A,\\quad h^B_{i,j} = \\tanh(W^B_{hh} h^B_{i-1,j} + W^B_{yh} y_{i,j}), \\] "
        "with zero initial states ($h^A_{i,-1} = h^B_{-1,j} = 0$). In NumPy, with a batch of "
        "$N$ examples, \\texttt{x} of shape $(N, H, W, C)$ and states stored as rows (so "
        "$W h$ is \\texttt{h @ W.T}), each step of a scan is one batched product over all "
        "rows (RNN A) or all columns (RNN B). This is the implementation the checks run:\n"
        + _verbatim(source))
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
    size = "N = 2, H = 3, W = 4, C = 2"
    return [
        Check(f"backward, all 5 gradients ({size})", "complex-step, h = 1e-30", complex_err,
              1e-12),
        Check(f"backward, all 5 gradients ({size})", "central differences, h = 1e-6",
              central_err, 1e-7),
    ]


@problem("cmsc25500-midterm/6b")
def answer_6b(pid: str) -> Answer:
    checks = gradient_checks()
    source = _source(image_rnn.backward)
    results = {"source": source, "implementation": "derive.topics.grid.image_rnn.backward",
               "complex_step_error": checks[0].error, "central_error": checks[1].error}
    text = ("Backpropagate through RNN B first (bottom to top along every column), whose input "
            "gradient is the upstream gradient of Y = H^A, then through RNN A (right to left "
            "along every row).\n\n" + source)
    latex = (
        "With $a$ the gradient of the loss with respect to a pre-activation (through "
        "$\\tanh$): $\\overline{h^B_{i,j}} = G_{i,j} + (W^B_{hh})^\\top a^B_{i+1,j}$, "
        "$a^B_{i,j} = \\overline{h^B_{i,j}} \\odot (1 - (h^B_{i,j})^2)$, "
        "$\\overline{y_{i,j}} = (W^B_{yh})^\\top a^B_{i,j}$; then "
        "$\\overline{h^A_{i,j}} = \\overline{y_{i,j}} + (W^A_{hh})^\\top a^A_{i,j+1}$, "
        "$a^A_{i,j} = \\overline{h^A_{i,j}}\\odot(1-(h^A_{i,j})^2)$, "
        "$\\overline{x_{i,j}} = (W^A_{xh})^\\top a^A_{i,j}$, and each weight gradient sums "
        "$a\\,(\\text{its input})^\\top$ over the examples, rows and columns (the input of "
        "$W_{hh}$ is the previous state, zero at $i = 0$ or $j = 0$). The implementation the "
        "checks run (\\texttt{g} is $G$, \\texttt{carry} the gradient arriving from the "
        "next step of the scan):\n" + _verbatim(source))
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
              "perturbation of every input location", size, samples,
              f"every (i, j) of a {rows} by {cols} image", unit="output"),
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
        f" \\[ {_latex(size)} \\text{{ locations}},\\quad {_latex(results['scalars'])}"
        " \\text{ scalars}, \\]"
        " confirmed by perturbing every input location. The field is one-sided.")
    return Answer(pid, results, text, latex, checks)


MODULE_FLOP_GRID = {image_rnn.Hs: (1, 2, 3), image_rnn.Ws: (1, 2, 3), image_rnn.Cs: (1, 2, 3, 4)}
CONV_FLOP_GRID = {image_rnn.Hs: (2, 3, 4), image_rnn.Ws: (2, 3, 4), image_rnn.Cs: (1, 2, 3)}


@functools.cache
def _image_counts() -> dict[str, list]:
    """Operations counted by naive loops: the module (dense and minimum) and a 3x3 conv."""
    def conv3x3(a: int, b: int, c: int) -> int:
        table = account(f"conv {c} 3x3 same", (a, b, c))
        return naive_counts(table.layers, (a, b, c))[0]["flops"]

    return {"dense": grid_samples(MODULE_FLOP_GRID, image_rnn.naive_flops),
            "minimum": grid_samples(MODULE_FLOP_GRID, lambda a, b, c: image_rnn.naive_flops(
                a, b, c, dense=False)),
            "conv": grid_samples(CONV_FLOP_GRID, conv3x3)}


def flops_checks(dense: sp.Expr, minimum: sp.Expr, conv: sp.Expr) -> list[Check]:
    """Claimed FLOP formulas against instrumented naive loops (module and 3x3 conv)."""
    counts = _image_counts()
    return [agree_on_grid("module FLOPs (dense)", "instrumented naive loops", dense,
                          MODULE_FLOP_GRID, counts["dense"]),
            agree_on_grid("module FLOPs (minimum)", "instrumented naive loops", minimum,
                          MODULE_FLOP_GRID, counts["minimum"]),
            agree_on_grid("3 by 3 conv FLOPs", "instrumented naive conv loops", conv,
                          CONV_FLOP_GRID, counts["conv"])]


STEPS_GRID = {image_rnn.Hs: (1, 2, 3), image_rnn.Ws: (1, 2, 3)}


def sequential_steps_check(steps: sp.Expr) -> Check:
    """The module's sequential steps against the longest path of its dependency graph."""
    samples = grid_samples(STEPS_GRID, lambda a, b: longest_path(
        image_rnn.dependency_graph(a, b))[0])
    held_out = [({image_rnn.Hs: 7, image_rnn.Ws: 4},
                 longest_path(image_rnn.dependency_graph(7, 4))[0])]
    return agree_on_grid("sequential steps of the module", "longest path of its dependency "
                         "graph", steps, STEPS_GRID, samples, held_out)


@problem("cmsc25500-midterm/6d")
def answer_6d(pid: str) -> Answer:
    hs, ws = image_rnn.Hs, image_rnn.Ws
    dense, minimum = image_rnn.flops_formula(), image_rnn.flops_formula(dense=False)
    conv = image_rnn.conv3x3_flops_formula()
    ratio = sp.simplify(dense / conv)
    checks = [*flops_checks(dense, minimum, conv), sequential_steps_check(hs + ws)]
    convention = ("A C x C matrix-vector product costs C(2C - 1), a vector addition C, tanh "
                  "one per element; the conv counts 2 x 9C per output (with bias, padded "
                  "positions included).")
    results = {"flops": dense, "flops_min": minimum, "conv3x3_flops": conv, "ratio": ratio,
               "sequential_steps": hs + ws, "convention": convention}
    text = (f"{convention}\nEach RNN step: two products 2C(2C-1), one addition C, tanh C: 4C^2;"
            f" H W steps per RNN, two RNNs: {_plain(dense)} (skipping the products with the zero "
            f"initial states: {_plain(minimum)}). A 3x3 conv with C in and out channels: "
            f"{_plain(conv)}. "
            f"Ratio {_plain(ratio)}: the module costs under half the conv's FLOPs, but runs W + H "
            f"sequential steps where the conv runs one.")
    latex = (
        "Convention: a $C\\times C$ matrix-vector product costs $C(2C-1)$, a vector addition "
        "$C$, $\\tanh$ one operation per element. A step costs $2C(2C-1) + C + C = 4C^2$; "
        "each RNN takes "
        f"$HW$ steps: \\[ \\text{{FLOPs}} = {_latex(dense)} \\quad "
        f"({_latex(minimum)} \\text{{ skipping products with zero initial states}}). \\] "
        f"A $3\\times3$ conv with $C$ input and output channels and bias: ${_latex(conv)}$; "
        f"ratio ${_latex(ratio)}$. The module is cheaper but needs $H+W$ sequential steps.")
    return Answer(pid, results, text, latex, checks)


WEIGHT_GRID = {image_rnn.Cs: (1, 2, 3, 4)}


@functools.cache
def _weight_counts() -> dict[str, list]:
    """Weights of the built module and of a built 3x3 conv (with bias), C = 1..4."""
    def module(c: int) -> int:
        return sum(int(w.size) for w in image_rnn.random_instance(1, 1, 1, c)[1].values())

    def conv3x3(c: int) -> int:
        table = account(f"conv {c} 3x3 same", (3, 3, c))
        return naive_counts(table.layers, (3, 3, c))[0]["params"]

    return {"module": grid_samples(WEIGHT_GRID, module),
            "conv": grid_samples(WEIGHT_GRID, conv3x3)}


def pros_cons_checks(numbers: dict) -> list[Check]:
    """6e's numbers: the last output's field, both weight counts, the FLOP ratio."""
    rows, cols, _ = FIELD_SIZE
    counts, flops = _weight_counts(), _image_counts()
    measured_ratios = {sp.Rational(image_rnn.naive_flops(p[image_rnn.Hs], p[image_rnn.Ws],
                                                         p[image_rnn.Cs]), n)
                       for p, n in flops["conv"]}
    ratio_ok = measured_ratios == {numbers["ratio"]}
    return [
        claim(f"receptive field of the last output ({rows} by {cols})",
              "perturbation of every input location", numbers["last_field"],
              int(_image_fields()[rows - 1, cols - 1].sum())),
        agree_on_grid("module weights", "arrays of the built module", numbers["weights"],
                      WEIGHT_GRID, counts["module"]),
        agree_on_grid("3 by 3 conv weights (with bias)", "weights read by naive conv loops",
                      numbers["conv_weights"], WEIGHT_GRID, counts["conv"]),
        Check.exact("FLOP ratio, module to 3 by 3 conv", "instrumented naive loops, both",
                    ratio_ok, f"claimed {numbers['ratio']}, measured "
                    + ", ".join(str(r) for r in sorted(measured_ratios))
                    + f" at {counted(len(flops['conv']), 'size')}"),
    ]


@problem("cmsc25500-midterm/6e")
def answer_6e(pid: str) -> Answer:
    c = image_rnn.Cs
    rows, cols, _ = FIELD_SIZE
    size, _ = image_rnn.receptive_field_formula()
    i, j = sorted(size.free_symbols, key=str)
    numbers = {"ratio": sp.simplify(image_rnn.flops_formula()
                                    / image_rnn.conv3x3_flops_formula()),
               "last_field": int(size.subs({i: rows - 1, j: cols - 1})),
               "weights": 4 * c**2,  # four C x C matrices
               "conv_weights": 9 * c**2 + c}  # C filters of 3 x 3 x C, and C biases
    checks = pros_cons_checks(numbers)
    ratio, w, wc = (_latex(numbers[key]) for key in ("ratio", "weights", "conv_weights"))
    pros = [
        f"Global context in one layer: output (i, j) sees (i+1)(j+1) input locations (all "
        f"{numbers['last_field']} of a {rows} x {cols} input for the last one) against 9 for a "
        "3x3 conv.",
        f"Fewer FLOPs ({numbers['ratio']} of a 3x3 conv with C channels) and fewer weights "
        "(4C^2 against 9C^2 + C).",
    ]
    cons = [
        "Sequential: W + H dependent steps (RNN A then RNN B) where a conv is one parallel step.",
        "One-sided, position-dependent context: nothing below or right of (i, j) is seen, and "
        "the field depends on the distance to the top-left border (no translation "
        "equivariance). Four such modules, scanning from the four corners, give every output "
        "the whole image, at four times the cost.",
        "Long recurrent paths make gradients vanish or explode across the image.",
    ]
    pros_tex = [
        f"Global context in one layer: output $(i,j)$ sees ${_latex(size)}$ input locations "
        f"(all ${numbers['last_field']}$ of a ${rows}\\times{cols}$ input for the last one) "
        "against $9$ for a $3\\times3$ conv.",
        f"Fewer FLOPs (${ratio}$ of those of a $3\\times3$ conv with $C$ input and output "
        f"channels) and fewer weights (${w}$ against ${wc}$).",
    ]
    cons_tex = [
        "Sequential: $H + W$ dependent steps (RNN A, then RNN B) where a conv layer is one "
        "parallel step.",
        "One-sided, position-dependent context: nothing below or to the right of $(i,j)$ is "
        "seen, and the field's size depends on the distance to the top-left corner (no "
        "translation equivariance). Four such modules, scanning from the four corners, give "
        "every output the whole image as context, at four times the cost.",
        "Long recurrent paths make gradients vanish or explode across the image.",
    ]
    text = "Pros:\n" + "\n".join(f"- {p}" for p in pros) + "\nCons:\n" + "\n".join(
        f"- {c_}" for c_ in cons)
    latex = ("\\textbf{Pros.}\n\\begin{itemize}\n" + "\n".join(f"\\item {p}" for p in pros_tex)
             + "\n\\end{itemize}\n\\textbf{Cons.}\n\\begin{itemize}\n"
             + "\n".join(f"\\item {c_}" for c_ in cons_tex) + "\n\\end{itemize}")
    return Answer(pid, {"pros": pros, "cons": cons, "numbers": numbers}, text, latex, checks)
