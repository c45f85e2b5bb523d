"""The computation graph of one step of a cell, drawn from its equations (TikZ), and a
check that the drawing's paths are the step's real dependencies.

The drawing is read off each equation's expression tree: a signal's value is a node, and so is
every operation on values (``\\sigma``, ``\\tanh``, ``\\odot``, ``\\times``, ``1-\\cdot``,
``+``, one ``softmax`` node for all the entries of a softmax); a weight is the label of the
edge it multiplies, and a matrix product of two values (``q^\\top k``) is drawn as their two
edges into what reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.checks.check import Check
from derive.core.cell import Cell, _name_and_time, t
from derive.core.primitives import SoftmaxEntry, elementwise_function
from derive.printing.figures import tikz_graph
from derive.printing.latex import latex
from derive.printing.order import WrittenOrder, ordered_factors, ordered_terms


def _node(name: str, lag: int) -> str:
    return f"{name}@{lag}"


# operation kind -> its label in the drawing
OPERATIONS = {"plus": "$+$", "times": r"$\times$", "odot": r"$\odot$",
              "oneminus": r"$1{-}\cdot$", "softmax": r"\scriptsize softmax"}
_FUNCTIONS = {"sigma": r"$\sigma$", "tanh": r"$\tanh$", "exp": r"$\exp$", "log": r"$\log$"}


@dataclass
class Diagram:
    """Nodes ``id -> (label, kind)`` and edges ``(source, target, label)`` of one step.

    A signal's node is ``name@lag``; an operation's is ``target:kindN``, the ``N``-th
    operation of that kind in the equation of ``target`` (``h:odot1``), or ``softmaxN``.
    ``consumer[op]`` is the node an operation feeds, ``leaves[op]`` the signals under it.
    """

    cell: Cell
    written: WrittenOrder | None = None
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    consumer: dict[str, str] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    leaves: dict[str, list[str]] = field(default_factory=dict)
    _softmax: dict[tuple, str] = field(default_factory=dict)

    def signal_edges(self) -> list[tuple[str, str, str]]:
        """``(source, target, weights)`` between signals: the drawing with its operations
        contracted, one edge per signal a target reads through them."""
        into: dict[str, list[tuple[str, str]]] = {}
        for source, target, label in self.edges:
            into.setdefault(target, []).append((source, label))

        def sources(node: str, label: str) -> list[tuple[str, str]]:
            if "@" in node:
                return [(node, label)]
            return [found for s, lab in into.get(node, [])
                    for found in sources(s, ", ".join(x for x in (lab, label) if x))]

        out: list[tuple[str, str, str]] = []
        for eq in self.cell.equations:
            target = _node(eq.signal.name, 0)
            merged: dict[str, list[str]] = {}
            for source, label in into.get(target, []):
                for signal, lab in sources(source, label):
                    merged.setdefault(signal, [])
                    merged[signal] += [w for w in lab.split(", ") if w and
                                       w not in merged[signal]]
            out += [(s, target, ", ".join(ws)) for s, ws in merged.items()]
        return out


def diagram(cell: Cell) -> Diagram:
    """The drawing of one step of ``cell``, read off its equations."""
    drawn = Diagram(cell, WrittenOrder.of_cell(cell))
    for eq in cell.equations:
        target = _node(eq.signal.name, 0)
        kind = "output" if eq.signal.name in cell.outputs else "state"
        counts: dict[str, int] = {}
        for source, label in _feeds(drawn, eq.rhs, eq.signal.name, counts, 1):
            drawn.edges.append((source, target, label))
        drawn.nodes[target] = (f"${latex(eq.signal(t))}$", kind)
    return drawn


def _signal(drawn: Diagram, atom: sp.Basic) -> str | None:
    where = drawn.cell.locate(atom)
    if where is None:
        return None
    signal, lag = where
    nid = _node(signal.name, lag)
    if nid not in drawn.nodes:
        kind = "input" if signal.kind == "input" else "state"
        drawn.nodes[nid] = (f"${latex(signal(t + lag))}$", kind)
    return nid


def _is_weight(drawn: Diagram, factor: sp.Basic) -> bool:
    """A weight or a transposed weight: no signal's value in it."""
    weights = set(drawn.cell.parameters.values())
    return not _reads(factor) and (factor in weights or isinstance(factor, sp.Transpose)
                                   and factor.arg in weights)


def _reads(expr: sp.Basic) -> bool:
    atoms = expr.atoms(sp.MatrixSymbol) | expr.atoms(sp.core.function.AppliedUndef)
    return any(_name_and_time(a)[0] is not None for a in atoms)


def _operation(drawn: Diagram, kind: str, label: str, target: str, counts: dict,
               depth: int, inputs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    index = counts.get(kind, 0)
    counts[kind] = index + 1
    nid = f"{target}:{kind}{index}"
    drawn.nodes[nid] = (label, "op")
    drawn.depth[nid] = depth
    drawn.leaves[nid] = _leaves(drawn, inputs)
    for source, edge_label in dict.fromkeys(inputs):
        drawn.edges.append((source, nid, edge_label))
        drawn.consumer.setdefault(source, nid)
    return [(nid, "")]


def _leaves(drawn: Diagram, inputs: list[tuple[str, str]]) -> list[str]:
    found: list[str] = []
    for source, _ in inputs:
        for leaf in drawn.leaves.get(source, [source]):
            if leaf not in found:
                found.append(leaf)
    return found


def _feeds(drawn: Diagram, expr: sp.Basic, target: str, counts: dict,
           depth: int) -> list[tuple[str, str]]:
    """``(node, edge label)`` pairs that feed whatever reads ``expr``, drawing the
    operations of ``expr`` on the way."""
    if not _reads(expr):
        if expr in set(drawn.cell.parameters.values()):  # a bias: a weight on its own
            nid = f"param:{expr}"
            drawn.nodes[nid] = (f"${latex(expr)}$", "param")
            return [(nid, "")]
        return []  # constants are not drawn
    nid = _signal(drawn, expr)
    if nid is not None:
        return [(nid, "")]

    def below(arg: sp.Basic) -> list[tuple[str, str]]:
        return _feeds(drawn, arg, target, counts, depth + 1)

    if isinstance(expr, SoftmaxEntry):
        key = tuple(expr.scores)
        if key not in drawn._softmax:
            drawn._softmax[key] = f"softmax{len(drawn._softmax)}"
            sid = drawn._softmax[key]
            inputs = [fed for score in expr.scores for fed in below(score)]
            drawn.nodes[sid] = (OPERATIONS["softmax"], "op")
            drawn.depth[sid] = depth
            drawn.leaves[sid] = _leaves(drawn, inputs)
            for source, label in dict.fromkeys(inputs):
                drawn.edges.append((source, sid, label))
                drawn.consumer.setdefault(source, sid)
        return [(drawn._softmax[key], "")]
    if isinstance(expr, sp.Add | sp.MatAdd):
        reading = [a for a in expr.args if _reads(a)]
        constants = [a for a in expr.args if not _reads(a)]
        if len(reading) == 1 and len(constants) == 1 and reading[0].could_extract_minus_sign() \
                and constants[0] in (sp.S.One,) + ((sp.OneMatrix(*expr.shape),)
                                                   if isinstance(expr, MatrixExpr) else ()):
            return _operation(drawn, "oneminus", OPERATIONS["oneminus"], target, counts,
                              depth, below(-reading[0]))
        inputs = [fed for a in ordered_terms(expr, drawn.written) for fed in below(a)]
        if len(reading) == 1 and not [a for a in constants if a in
                                      set(drawn.cell.parameters.values())]:
            return inputs  # x + 1: the constant is not drawn
        return _operation(drawn, "plus", OPERATIONS["plus"], target, counts, depth, inputs)
    if isinstance(expr, sp.HadamardProduct):
        return _operation(drawn, "odot", OPERATIONS["odot"], target, counts, depth,
                          [fed for a in ordered_factors(expr, drawn.written)
                           for fed in below(a)])
    if isinstance(expr, sp.Mul | sp.MatMul):
        args = ordered_factors(expr, drawn.written) if isinstance(expr, sp.Mul) else expr.args
        factors = [a for a in args if _reads(a)]
        weights = [a for a in args if _is_weight(drawn, a)]
        label = ", ".join(f"${latex(w)}$" for w in weights)
        if len(factors) == 1:
            return [(source, ", ".join(x for x in (label, lab) if x))
                    for source, lab in below(factors[0])]
        inputs = [fed for a in factors for fed in below(a)]
        if isinstance(expr, sp.MatMul):  # q^T k, v a: a product of values is their edges
            return inputs
        return _operation(drawn, "times", OPERATIONS["times"], target, counts, depth, inputs)
    if isinstance(expr, sp.Transpose):
        return below(expr.arg)
    if isinstance(expr, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction):
        f = elementwise_function(expr)
        name = getattr(f, "__name__", "f")
        return _operation(drawn, name, _FUNCTIONS.get(name, rf"${name}$"), target, counts,
                          depth, below(expr.expr))
    if isinstance(expr, sp.Function) and len(expr.args) == 1:
        name = getattr(expr.func, "__name__", "f")
        return _operation(drawn, name, _FUNCTIONS.get(name, rf"$\operatorname{{{name}}}$"),
                          target, counts, depth, below(expr.args[0]))
    # anything else (a power, a function of several arguments): one node named by its type
    name = type(expr).__name__.lower()
    return _operation(drawn, name, rf"$\operatorname{{{name}}}$", target, counts, depth,
                      [fed for a in expr.args for fed in below(a)])


def graph_edges(cell: Cell) -> list[tuple[str, str, str]]:
    """``(source, target, weights)``: one edge per signal an equation reads, read off the
    drawing of ``cell`` with its operations contracted (so an edge the figure misses is
    missing here too)."""
    return diagram(cell).signal_edges()


def _reach(edges: list[tuple[str, str, str]], target: str) -> set[str]:
    """The signals with a path to ``target`` in ``edges``."""
    into: dict[str, list[str]] = {}
    for source, tgt, _ in edges:
        into.setdefault(tgt, []).append(source)
    seen: set[str] = set()
    stack = [target]
    while stack:
        for source in into.get(stack.pop(), []):
            if source not in seen:
                seen.add(source)
                stack.append(source)
    return {n for n in seen if "@" in n}


def _place_operations(drawn: Diagram, places: dict[str, tuple[float, float]],
                      gap: float = 0.9) -> None:
    """Operations not placed by hand: between what they read and what reads them, spread
    by depth along the line from their signals to their equation's target, and moved down
    until no node is closer than ``gap``."""
    ops = sorted((n for n in drawn.nodes if n not in places and "@" not in n),
                 key=lambda n: drawn.depth.get(n, 1))
    for op in ops:
        target = _node(op.split(":")[0], 0) if ":" in op else None
        leaves = [places[leaf] for leaf in drawn.leaves.get(op, []) if leaf in places]
        readers = [places[tg] for s, tg, _ in drawn.edges if s == op and tg in places]
        end = np.mean(readers, axis=0) if readers else \
            np.array(places[target]) if target in places else None
        start = np.mean(leaves, axis=0) if leaves else end
        if end is None:
            end = start if start is not None else np.zeros(2)
            start = end
        chain = 1 + max((drawn.depth.get(n, 1) for n in drawn.nodes
                         if target and n.startswith(op.split(":")[0] + ":")), default=1)
        share = drawn.depth.get(op, 1) / chain if target else 0.5
        x, y = end + (np.asarray(start) - end) * share
        while any(np.hypot(x - px, y - py) < gap for px, py in places.values()):
            y -= gap / 2
        places[op] = (float(x), float(y))


def cell_graph(cell: Cell, spacing: float = 2.2, row: float = 1.6) -> str:
    """Inputs and lagged states in the first column; every other node (value or operation)
    one column right of the latest node it reads, level with the middle of what it reads."""
    drawn = diagram(cell)
    into: dict[str, list[str]] = {}
    for source, target, _ in drawn.edges:
        into.setdefault(target, []).append(source)
    column: dict[str, int] = {}

    def col(node: str) -> int:
        if node not in column:
            column[node] = 1 + max((col(s) for s in into.get(node, [])), default=-1)
        return column[node]

    places: dict[str, tuple[float, float]] = {}
    for node in sorted(drawn.nodes, key=col):
        reads = [places[s] for s in into.get(node, []) if s in places]
        y = float(np.mean([p[1] for p in reads])) if reads else -row * sum(
            1 for n in places if column[n] == 0)
        while any(column[n] == col(node) and abs(p[1] - y) < row / 2
                  for n, p in places.items()):
            y -= row  # keep nodes of one column apart
        places[node] = (spacing * col(node), y)
    return _tikz(drawn, places)


def _tikz(drawn: Diagram, places: dict[str, tuple[float, float]]) -> str:
    nodes = {nid: (label, *places[nid], kind) for nid, (label, kind) in drawn.nodes.items()}
    return tikz_graph(nodes, drawn.edges)


def placed_cell_graph(cell: Cell, places: dict) -> str:
    """The cell's graph with node positions chosen by hand for legibility:
    ``places[(name, lag)] = (x, y)`` for a signal, ``places["h:odot0"] = (x, y)`` for an
    operation (see :class:`Diagram`); an operation without a place goes between what it
    reads and what reads it."""
    drawn = diagram(cell)
    placed = {(_node(*key) if isinstance(key, tuple) else key): tuple(map(float, xy))
              for key, xy in places.items()}
    unknown = sorted(set(placed) - set(drawn.nodes))
    if unknown:
        raise ValueError(f"no node {', '.join(unknown)} in the graph of {cell.name}")
    missing = sorted(n for n in drawn.nodes if "@" in n and n not in placed)
    if missing:
        raise ValueError(f"no position for {', '.join(missing)}")
    _place_operations(drawn, placed)
    return _tikz(drawn, placed)


def graph_check(model, seed: int = 0) -> Check:
    """Every path of the drawn graph is a dependency of the compiled step and every
    dependency is a path: perturb each source and see which values move."""
    cell = model.cell
    kernels = model.kernels()
    edges = graph_edges(cell)  # what the figure draws, operations contracted
    reach = {_node(eq.signal.name, 0): _reach(edges, _node(eq.signal.name, 0))
             for eq in cell.equations}
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
