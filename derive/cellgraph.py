"""The computation graph of one step of a cell, drawn from its equations (TikZ)."""

from __future__ import annotations

import sympy as sp

from derive.cell import Cell, t
from derive.figures import tikz_graph
from derive.latex import latex


def cell_graph(cell: Cell, spacing: float = 2.2) -> str:
    """Inputs and lagged states on the left, each defined signal one column right of the
    latest signal it reads; an edge per use."""
    column: dict[str, int] = {}
    nodes: dict[str, tuple] = {}
    edges: list[tuple[str, str]] = []

    def node_id(name: str, lag: int) -> str:
        return f"{name}@{lag}"

    sources = []
    for eq in cell.equations:
        for signal, lag in cell.uses(eq.rhs):
            if lag < 0 or signal.kind == "input":
                sources.append((signal, lag))
    sources = list(dict.fromkeys(sources))
    for row, (signal, lag) in enumerate(sources):
        nid = node_id(signal.name, lag)
        kind = "input" if signal.kind == "input" else "state"
        nodes[nid] = (f"${latex(signal(t + lag))}$", 0.0, -1.2 * row, kind)
        column[nid] = 0
    rows: dict[int, int] = {}
    for eq in cell.equations:
        reads = [node_id(s.name, lag) for s, lag in cell.uses(eq.rhs)]
        col = 1 + max((column[r] for r in reads), default=0)
        rows[col] = rows.get(col, 0) + 1
        nid = node_id(eq.signal.name, 0)
        kind = "output" if eq.signal.name in cell.outputs else "op"
        nodes[nid] = (f"${latex(eq.signal(t))}$", spacing * col, -1.2 * (rows[col] - 1), kind)
        column[nid] = col
        for s, lag in cell.uses(eq.rhs):
            edges.append((node_id(s.name, lag), nid, _weights_on(cell, eq.rhs, s(t + lag))))
    return tikz_graph(nodes, edges)


def _weights_on(cell: Cell, rhs: sp.Basic, atom: sp.Basic) -> str:
    """The weights multiplying ``atom`` directly in ``rhs`` (``W_h`` on ``h(t-1)``)."""
    weights = set(cell.parameters.values())
    found = []
    for node in sp.preorder_traversal(rhs):
        if isinstance(node, sp.Mul | sp.MatMul) and atom in node.args:
            found += [a for a in node.args if a in weights and a not in found]
    return ", ".join(f"${latex(w)}$" for w in found)
