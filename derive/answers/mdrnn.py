"""Answers on the multidimensional RNN of csc421-hw4/2 (a-c).

Result keys (formulas are SymPy objects in the catalogue's symbols):

* ``csc421-hw4/2a``: ``weights``, ``ops`` (minimum: products with the zero boundary states
  skipped), ``ops_dense`` (every product performed), ``ops_leading``, ``convention``.
* ``2b``: ``steps`` (formula in ``G``), ``steps_by_G`` (longest path of the dependency graph,
  per ``G``), ``schedule`` (text), ``explanation``.
* ``2c``: ``advantage``, ``disadvantage``, ``numbers`` (a concrete comparison).
"""

from __future__ import annotations

import functools

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
from derive.printing.figures import tikz_graph
from derive.topics.grid import conv, mdrnn, pixelcnn
from derive.topics.grid.dag import ancestors, earliest_steps, longest_path
from derive.topics.grid.fit import fit

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


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
    same = sp.expand(grouped - ops) == 0  # the grouped form printed must be the count
    checks.append(Check.exact("grouped form of the minimum count", "expansion of both", same,
                              "the difference expands to 0" if same else "they differ"))
    return from_template(pid, results, checks, grouped=grouped)


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
    figure, _ = mdrnn_figure()
    caption = (f"the MDRNN's dependency graph on a {FIGURE_GRID} by {FIGURE_GRID} grid, each "
               "cell with the step at which it can be computed")
    return from_template(pid, results, checks, figures={caption: figure})


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
    return from_template(pid, {"advantage": advantage, "disadvantage": disadvantage,
                               "numbers": numbers}, checks, steps=formula, grid=g, layers=n,
                         num=_num)
