"""derive.printing.figures: TikZ computation graphs and pgfplots line plots (their TeX is
compiled in test_report_pdf)."""

from __future__ import annotations

import math

import pytest

from derive.core.errors import DeriveError
from derive.printing.figures import pgfplot, tikz_graph


def test_tikz_graph_places_nodes_and_edges():
    src = tikz_graph(
        {"x[t]": ("$x_t$", 0, 0, "input"), "h.t": ("$h_t$", 2, 1.5)},
        [("x[t]", "h.t", "$W_x$"), ("h.t", "h.t")],
    )
    assert src.startswith(r"\begin{tikzpicture}") and src.endswith(r"\end{tikzpicture}")
    assert r"\node[dvinput] (n0xt) at (0,0) {$x_t$};" in src
    assert r"\node[dvstate] (n1ht) at (2,1.5) {$h_t$};" in src  # TikZ-safe names
    assert r"(n0xt) -- node[dvedgelabel] {$W_x$} (n1ht)" in src
    assert "to[loop above]" in src  # a recurrence


@pytest.mark.parametrize(
    ("nodes", "edges", "match"),
    [
        ({}, [], "at least one node"),
        ({"a": ("a", 0, 0)}, [("a", "b")], "unknown node 'b'"),
        ({"a": ("a", 0)}, [], "must be \\(label, x, y"),
        ({"a": ("a", 0, 0, "blob")}, [], "kind must be one of"),
        ({"a": ("a", math.nan, 0)}, [], "x of a must be a finite number"),
        ({"a": ("a", 0, 0)}, [("a",)], "an edge must be"),
    ],
)
def test_tikz_graph_rejects_bad_specs(nodes, edges, match):
    with pytest.raises(DeriveError, match=match):
        tikz_graph(nodes, edges)


def test_pgfplot_drops_points_it_cannot_plot():
    src = pgfplot(
        {"a": ([1, 2, 3, 4], [1.0, math.inf, 0.0, 1e-300]), "b": ([0, 1], [2.5, -1])},
        "$t$", "norm", logy=True,
    )
    assert "semilogyaxis" in src
    assert r"\addplot coordinates {(1,1) (4,1e-300)};" in src  # inf and 0 are left out
    assert r"\addplot coordinates {(0,2.5)};" in src  # a negative value on a log axis too
    assert r"\addlegendentry{a}" in src and "xlabel={$t$}" in src
    linear = pgfplot({"b": ([0, 1], [2.5, -1])}, "x", "y")
    assert r"\begin{axis}" in linear and "(1,-1)" in linear


@pytest.mark.parametrize(
    ("series", "logy", "match"),
    [
        ({}, False, "at least one series"),
        ({"a": ([1, 2], [1])}, False, "2 x values and 1 y values"),
        ({"a": [(1, 2), (3, 4), (5, 6)]}, False, "must be \\(xs, ys\\)"),
        ({"a": ([1], ["one"])}, False, "must be \\(xs, ys\\)"),
        ({"a": ([1, 2], [0, -1])}, True, "no plottable point"),
    ],
)
def test_pgfplot_rejects_bad_series(series, logy, match):
    with pytest.raises(DeriveError, match=match):
        pgfplot(series, "x", "y", logy=logy)
