"""TikZ and pgfplots sources for report figures: computation graphs and line plots.

Answers put what these return in ``Answer.figures``; the report typesets it inside a
``figure``. Labels are LaTeX (math in ``$...$``); pass plain text through
``derive.report.render.latex_escape`` first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from derive.core.errors import DeriveError

# Node kinds and their TikZ styles (defined in the report preamble as ``dv<kind>``).
NODE_KINDS = ("input", "state", "op", "param", "output")


def _name(node_id: str, index: int) -> str:
    """A TikZ-safe node name: ids may hold characters TikZ reserves (``.``, ``:``, ``,``)."""
    return f"n{index}" + re.sub(r"[^A-Za-z0-9]", "", str(node_id))[:20]


def _coordinate(value: float, what: str) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise DeriveError(f"{what} must be a finite number, got {value!r}")
    return f"{number:.4g}"


def tikz_graph(
    nodes: Mapping[str, Sequence],
    edges: Sequence[Sequence[str]],
    scale: float = 1.0,
) -> str:
    """A computation graph as a ``tikzpicture``.

    ``nodes`` maps a node id to ``(label, x, y)`` or ``(label, x, y, kind)``: ``label`` is
    LaTeX, ``x, y`` are positions in centimetres (before ``scale``), ``kind`` one of
    ``NODE_KINDS`` (default ``"state"``). ``edges`` holds ``(source, target)`` or
    ``(source, target, label)`` pairs of node ids; an edge label is LaTeX, drawn mid-edge.
    An edge from a node to itself draws a loop (a recurrence).
    """
    if not nodes:
        raise DeriveError("tikz_graph needs at least one node, got none")
    names: dict[str, str] = {}
    lines = [
        rf"\begin{{tikzpicture}}[scale={_coordinate(scale, 'scale')}, "
        r"every node/.style={transform shape}, >={Stealth[length=2mm]}]"
    ]
    for index, (node_id, spec) in enumerate(nodes.items()):
        if len(spec) not in (3, 4):
            raise DeriveError(f"node {node_id!r} must be (label, x, y[, kind]), got {spec!r}")
        label, x, y = spec[0], spec[1], spec[2]
        kind = spec[3] if len(spec) == 4 else "state"
        if kind not in NODE_KINDS:
            raise DeriveError(f"node {node_id!r} kind must be one of {NODE_KINDS}, got {kind!r}")
        names[node_id] = _name(node_id, index)
        position = f"({_coordinate(x, 'x of ' + node_id)},{_coordinate(y, 'y of ' + node_id)})"
        lines.append(rf"  \node[dv{kind}] ({names[node_id]}) at {position} {{{label}}};")
    for edge in edges:
        if len(edge) not in (2, 3):
            raise DeriveError(f"an edge must be (source, target[, label]), got {edge!r}")
        for end in edge[:2]:
            if end not in names:
                raise DeriveError(f"edge {tuple(edge)!r} names an unknown node {end!r}")
        source, target = names[edge[0]], names[edge[1]]
        label = rf" node[dvedgelabel] {{{edge[2]}}}" if len(edge) == 3 and edge[2] else ""
        if source == target:
            lines.append(rf"  \draw[->, dvedge] ({source}) to[loop above]{label} ({target});")
        else:
            lines.append(rf"  \draw[->, dvedge] ({source}) --{label} ({target});")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def pgfplot(
    series: Mapping[str, object],
    xlabel: str,
    ylabel: str,
    logy: bool = False,
) -> str:
    """A line plot as a pgfplots ``tikzpicture``.

    ``series`` maps a legend entry (LaTeX) to its points ``(xs, ys)``, two sequences of equal
    length. Non-finite points (an overflowed gradient
    norm) and, on a log axis, non-positive ones are left out; a series that keeps no point is
    an error.
    """
    if not series:
        raise DeriveError("pgfplot needs at least one series, got none")
    axis = "semilogyaxis" if logy else "axis"
    lines = [
        r"\begin{tikzpicture}",
        rf"\begin{{{axis}}}[dvplot, xlabel={{{xlabel}}}, ylabel={{{ylabel}}}]",
    ]
    for legend, points in series.items():
        pairs = _points(legend, points)
        kept = [
            (x, y)
            for x, y in pairs
            if math.isfinite(x) and math.isfinite(y) and (y > 0 or not logy)
        ]
        if not kept:
            raise DeriveError(f"series {legend!r} has no plottable point (of {len(pairs)})")
        coordinates = " ".join(f"({x:.6g},{y:.6g})" for x, y in kept)
        lines.append(rf"\addplot coordinates {{{coordinates}}};")
        lines.append(rf"\addlegendentry{{{legend}}}")
    lines += [rf"\end{{{axis}}}", r"\end{tikzpicture}"]
    return "\n".join(lines)


def _points(legend: str, points: object) -> list[tuple[float, float]]:
    """``(xs, ys)`` -> a list of float pairs."""
    try:
        xs, ys = points  # type: ignore[misc]
        xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    except (TypeError, ValueError) as exc:
        message = f"series {legend!r} must be (xs, ys), two number sequences: {exc}"
        raise DeriveError(message) from None
    if len(xs) != len(ys):
        raise DeriveError(f"series {legend!r} has {len(xs)} x values and {len(ys)} y values")
    return list(zip(xs, ys, strict=True))
