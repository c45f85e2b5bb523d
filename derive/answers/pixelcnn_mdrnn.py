"""Answers on PixelCNN and the MDRNN of rnn-cnn-hw/4 (4.1-4.3).

Result keys (formulas are SymPy objects in the catalogue's symbols):

* ``rnn-cnn-hw/4.1``: ``connections`` (exact, for ``H, W > (k-1)/2``), ``connections_grouped``
  (and ``connections_grouped_latex``), ``connections_interior``,
  ``connections_order``, ``training_steps``, ``generation_steps_raster``,
  ``generation_steps_min`` (wavefront; for ``W >= (k+1)/2``), ``explanation``.
* ``4.2``: ``connections``, ``connections_order``, ``weights``, ``steps``,
  ``generation_steps`` (anti-diagonal wavefront), ``explanation``.
* ``4.3``: ``sizes`` (the concrete instance), ``pixelcnn`` and ``mdrnn`` (numbers),
  ``comparison`` (text per aspect).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check
from derive.checks.counts import (
    _num,
    _plain,
    agree,
    agree_on_grid,
    claim,
    grid_samples,
)
from derive.printing.latex import course_latex
from derive.topics.grid import mdrnn, pixelcnn
from derive.topics.grid.dag import ancestors, earliest_steps, longest_path
from derive.topics.grid.fit import fit, multilinear_basis

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


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
                 "" if rest == 1 else rf"\left({course_latex(rest)}\right)" if rest.is_Add
                 else course_latex(rest)]
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
    return from_template(pid, results, checks)


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
    return from_template(pid, results, checks, connections=conn)


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
    comparison = {
        "compute": (f"Not the same order: the PixelCNN's connections grow with the kernel "
                    f"area, c^2 H W (d(k^2 + 1) - 2)/2 = O(d k^2 c^2 H W) away from the borders "
                    f"(4.1 times c^2), the MDRNN's do not, about 3 d c^2 H W = O(d c^2 H W): "
                    f"{p['connections']:,d} for the PixelCNN ({kernel} x {kernel} masked "
                    f"kernels) against {m['connections']:,d} for the MDRNN with the same width, "
                    f"about (k^2 + 1)/6 times as many."),
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
    return from_template(pid, results, checks, pix=pix_f, md=md_f, causal_mid=causal_mid,
                         predecessors=hh * ww - 1, zeroed=p["dense_parameters"] - p["parameters"],
                         md_weights=md_f["weights"].subs(k, sp.Symbol("c")), num=_num,
                         ratio=p["connections"] / m["connections"],
                         ratio_interior=(kernel**2 + 1) / 6)
