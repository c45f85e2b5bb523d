"""The computation graph of one step of a cell, drawn from its equations (TikZ), and a
check that the drawing's paths are the step's real dependencies."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derive.checks.check import Check
from derive.core.cell import Cell, t
from derive.printing.figures import tikz_graph
from derive.printing.latex import latex


def _node(name: str, lag: int) -> str:
    return f"{name}@{lag}"


def graph_edges(cell: Cell) -> list[tuple[str, str, str]]:
    """``(source, target, weights)``: one edge per use of a signal by an equation."""
    return [(_node(s.name, lag), _node(eq.signal.name, 0), _weights_on(cell, eq.rhs, s(t + lag)))
            for eq in cell.equations for s, lag in cell.uses(eq.rhs)]


def cell_graph(cell: Cell, spacing: float = 3.0, row: float = 1.6) -> str:
    """Inputs and lagged states in the first column, each defined signal one column right of
    the latest signal it reads, level with the middle of what it reads."""
    nodes: dict[str, tuple] = {}
    column: dict[str, int] = {}
    sources = list(dict.fromkeys(
        (s, lag) for eq in cell.equations for s, lag in cell.uses(eq.rhs)
        if lag < 0 or s.kind == "input"))
    for index, (signal, lag) in enumerate(sources):
        kind = "input" if signal.kind == "input" else "state"
        nodes[_node(signal.name, lag)] = (f"${latex(signal(t + lag))}$", 0.0, -row * index, kind)
        column[_node(signal.name, lag)] = 0
    for eq in cell.equations:
        reads = [_node(s.name, lag) for s, lag in cell.uses(eq.rhs)]
        col = 1 + max((column[r] for r in reads), default=0)
        y = float(np.mean([nodes[r][2] for r in reads])) if reads else 0.0
        while any(column.get(n) == col and abs(v[2] - y) < row / 2 for n, v in nodes.items()):
            y -= row  # keep nodes of one column apart
        kind = "output" if eq.signal.name in cell.outputs else "state"
        nid = _node(eq.signal.name, 0)
        nodes[nid] = (f"${latex(eq.signal(t))}$", spacing * col, y, kind)
        column[nid] = col
    return tikz_graph(nodes, graph_edges(cell))


def _weights_on(cell: Cell, rhs: sp.Basic, atom: sp.Basic) -> str:
    """The weights multiplying ``atom`` directly in ``rhs`` (``W_h`` on ``h(t-1)``)."""
    weights = set(cell.parameters.values())
    found = []
    for node in sp.preorder_traversal(rhs):
        if isinstance(node, sp.Mul | sp.MatMul) and atom in node.args:
            found += [a for a in node.args if a in weights and a not in found]
    return ", ".join(f"${latex(w)}$" for w in found)


def graph_check(model, seed: int = 0) -> Check:
    """Every path of the drawn graph is a dependency of the compiled step and every
    dependency is a path: perturb each source and see which values move."""
    cell = model.cell
    kernels = model.kernels()
    edges = graph_edges(cell)
    reach: dict[str, set[str]] = {}
    for eq in cell.equations:  # equations are in order, so one pass closes the paths
        target = _node(eq.signal.name, 0)
        reach[target] = set()
        for source, tgt, _ in edges:
            if tgt == target:
                reach[target] |= {source} | reach.get(source, set())
    rng = np.random.default_rng(seed)
    inst = model.random_instance(seed, 1)
    env = {f"w_{p}": v for p, v in inst["params"].items()}
    shapes = {}
    for var in kernels.forward.inputs:
        if var in env:
            continue
        name = var.rsplit("_", 1)[0]
        shape = model.shape_of(name, model.dims_for(None))
        shapes[var] = (1, *shape, 1) if shape else (1,)
        env[var] = rng.standard_normal(shapes[var])
    base = kernels.forward(env)
    wrong = []
    for var in shapes:
        name, tag = var.rsplit("_", 1)
        source = _node(name, 0 if tag == "0" else -int(tag[1:]))
        moved_env = dict(env, **{var: env[var] + 1e-3})
        moved = kernels.forward(moved_env)
        for out in base:
            target = _node(out[:-2], 0)
            depends = not np.allclose(moved[out], base[out], rtol=0, atol=1e-12)
            if depends != (source in reach[target]):
                wrong.append(f"{source} -> {target}")
    return Check.exact("diagram paths are the step's dependencies",
                       "perturbing each source of the compiled step", not wrong,
                       f"{len(edges)} edges; mismatches: {', '.join(wrong) or 'none'}")


def placed_cell_graph(cell, places: dict[tuple[str, int], tuple[float, float]]) -> str:
    """The cell's graph (its edges from the equations, as ``cell_graph`` draws them) with
    node positions chosen by hand for legibility: ``places[(name, lag)] = (x, y)``."""
    nodes = {}
    for (name, lag), (x, y) in places.items():
        signal = cell.signals[name]
        kind = ("input" if signal.kind == "input" else
                "output" if lag == 0 and name in cell.outputs else "state")
        nodes[_node(name, lag)] = (f"${latex(signal(t + lag))}$", x, y, kind)
    edges = graph_edges(cell)
    missing = sorted({end for edge in edges for end in edge[:2]} - set(nodes))
    if missing:
        raise ValueError(f"no position for {', '.join(missing)}")
    return tikz_graph(nodes, edges)
