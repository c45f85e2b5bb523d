"""Cell graphs drawn from the cell's expression trees: operation nodes (sigma, tanh, odot,
1 - c, +), one node per softmax, and paths that are exactly the cell's dependencies."""

import pytest
import sympy as sp

import derive
from derive.core.cell import Cell, t
from derive.core.primitives import sigma
from derive.printing import cellgraph
from derive.printing.cellgraph import diagram, graph_edges, placed_cell_graph
from derive.topics.attention import attention_cell


def _kinds(drawn) -> list[str]:
    return sorted(label for nid, (label, kind) in drawn.nodes.items() if kind == "op")


def _reads(cell: Cell) -> set[tuple[str, str]]:
    return {(f"{s.name}@{lag}", f"{eq.signal.name}@0")
            for eq in cell.equations for s, lag in cell.uses(eq.rhs)}


def test_gated_rnn_graph_shows_sigma_odot_one_minus_and_plus():
    drawn = diagram(derive.model("gated_rnn").cell)
    assert _kinds(drawn) == sorted([r"$\sigma$", "$+$", "$+$", r"$\odot$", r"$\odot$",
                                    r"$1{-}\cdot$"])
    edges = {(s, tg) for s, tg, _ in drawn.edges}
    # h = c (.) h(t-1) + (1 - c) (.) W_x x, node by node, in the written order
    assert {("c@0", "h:odot0"), ("h@-1", "h:odot0"), ("c@0", "h:oneminus0"),
            ("h:oneminus0", "h:odot1"), ("x@0", "h:odot1"), ("h:odot0", "h:plus0"),
            ("h:odot1", "h:plus0"), ("h:plus0", "h@0"), ("c:plus0", "c:sigma0"),
            ("c:sigma0", "c@0")} <= edges
    assert ("x@0", "h:odot1", "$W_{x}$") in drawn.edges  # the weight labels its edge


def test_lstm_graph_shows_its_gates_products_and_sums():
    drawn = diagram(derive.model("lstm").cell)
    ops = _kinds(drawn)
    assert ops.count(r"$\sigma$") == 3 and ops.count(r"$\tanh$") == 2
    assert ops.count(r"$\times$") == 3 and ops.count("$+$") == 5


def test_attention_graph_has_one_softmax_node_instead_of_crossing_edges():
    cell = attention_cell(2)
    drawn = diagram(cell)
    softmax = [n for n, (label, _) in drawn.nodes.items() if "softmax" in label]
    assert softmax == ["softmax0"]
    assert sorted(s for s, tg, _ in drawn.edges if tg == "softmax0") == ["w_0@0", "w_1@0",
                                                                          "w_2@0"]
    assert sorted(tg for s, tg, _ in drawn.edges if s == "softmax0") == ["a_0@0", "a_1@0",
                                                                          "a_2@0"]
    assert not [e for e in drawn.edges if e[0].startswith("w_") and e[1].startswith("a_")]


@pytest.mark.parametrize("cell", [derive.model("lstm").cell, derive.model("gated_rnn").cell,
                                  attention_cell(2)], ids=lambda c: c.name)
def test_contracted_drawing_is_exactly_what_each_equation_reads(cell):
    contracted = {(s, tg) for s, tg, _ in graph_edges(cell)}
    assert contracted == _reads(cell)


def test_the_contraction_catches_an_edge_the_drawing_misses(monkeypatch):
    cell = derive.model("gated_rnn").cell
    real = cellgraph.diagram

    def missing_edge(c):  # a planted bug: the drawing loses the edge x(t) -> + of c
        drawn = real(c)
        drawn.edges = [e for e in drawn.edges if (e[0], e[1]) != ("x@0", "c:plus0")]
        return drawn

    monkeypatch.setattr(cellgraph, "diagram", missing_edge)
    assert {(s, tg) for s, tg, _ in graph_edges(cell)} != _reads(cell)
    model = derive.model("gated_rnn")
    check = cellgraph.graph_check(model)
    assert not check.passed and "x@0 -> c@0" in check.detail


def test_a_users_cell_is_drawn_with_its_operations_and_a_bias_node():
    cell = Cell("mine")
    x, s = cell.input("x"), cell.state("s")
    v, u, b = cell.params("v u b")
    z = cell.let("z", sigma(v * x(t) + u * s(t - 1) + b))
    cell.let("s", z(t) * s(t - 1) + (1 - z(t)) * sp.tanh(x(t)))
    cell.output("s")
    drawn = diagram(cell)
    assert sorted(_kinds(drawn)) == sorted(["$+$", r"$\sigma$", r"$\times$", r"$\times$",
                                            r"$1{-}\cdot$", r"$\tanh$", "$+$"])
    assert ("param:b", "z:plus0", "") in drawn.edges
    assert {(a, tg) for a, tg, _ in graph_edges(cell)} == _reads(cell)
    assert "tikzpicture" in cellgraph.cell_graph(cell)


def test_placed_graph_takes_operation_places_and_refuses_unknown_nodes():
    cell = derive.model("gated_rnn").cell
    places = {("h", -1): (0, 0), ("x", 0): (0, -3), ("c", 0): (4, -2), ("h", 0): (10, 0),
              "h:odot0": (6.4, 0.0)}
    drawn = placed_cell_graph(cell, places)
    assert r"at (6.4,0) {$\odot$}" in drawn
    assert drawn.count(r"\node[dvop]") == 6
    assert drawn.count(r"\draw[->") == len(diagram(cell).edges)
    with pytest.raises(ValueError, match="no node h:odot7"):
        placed_cell_graph(cell, {**places, "h:odot7": (1, 1)})
    with pytest.raises(ValueError, match="no position for x@0"):
        placed_cell_graph(cell, {k: v for k, v in places.items() if k != ("x", 0)})
