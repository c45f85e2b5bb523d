"""Reading the derived answer's results: paths, columns, numbers, symbols and definitions.

A claim names its result by a path (``key``, ``key.sub``, ``key[3]``, ``key[*].field``,
``key["text"]``); the helpers here resolve it, label the rows of a column, find the parts of a
total, collect the answer's symbols for the parser, and the forward definitions of gates.

The answers come from an :class:`AnswerSource`: the catalogue's registered problems unless
:func:`derive.grade.grade` is given another one (an instructor's problem set), which it makes
the source of every look-up while it grades (:func:`answers_from`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from derive.answers import answer, grading, registered_problems
from derive.grade.parse import SymbolTable
from derive.models import get as registered_model


@dataclass(frozen=True)
class AnswerSource:
    """Where grading finds the derived answers.

    ``answer``: problem id -> an answer with ``.results``; ``problems``: the ids it answers;
    ``grading``: problem id -> what grading needs beyond the results, like
    :class:`derive.answers.Grading`: its ``model`` is a registered model's name or the model
    object itself (a problem set's cell), its ``verifier`` runs claimed weights.
    ``catalogue`` says whether the registered models may be searched for a problem that
    declares none (only for the catalogue's own ids)."""

    answer: Callable[[str], Any]
    problems: Callable[[], Collection[str]]
    grading: Callable[[str], Any]
    catalogue: bool = False


CATALOGUE = AnswerSource(answer, registered_problems, grading, catalogue=True)
_SOURCE: ContextVar[AnswerSource] = ContextVar("answer_source", default=CATALOGUE)


def answer_source() -> AnswerSource:
    """The source of the answers being graded against (the catalogue's by default)."""
    return _SOURCE.get()


@contextmanager
def answers_from(source: AnswerSource) -> Iterator[AnswerSource]:
    """Every look-up of an answer, a model or a verifier within the block uses ``source``."""
    token = _SOURCE.set(source)
    try:
        yield source
    finally:
        _SOURCE.reset(token)


def declared_model(pid: str) -> Any:
    """The recurrent model behind ``pid``'s results as its source declares it: a registered
    model's name, the model object itself, or None."""
    return answer_source().grading(pid).model


_PATH = re.compile(r'([A-Za-z0-9_]+)|\[(\*|\d+)\]|\["([^"\]]*)"\]|\.')


def resolve(results: Any, path: str) -> Any:
    """The value at ``path`` (``key``, ``key.sub``, ``key[3]``, ``key[*].field``) in results."""
    value = results
    steps = [m for m in _PATH.finditer(path) if m.group(0) != "."]
    for k, m in enumerate(steps):
        if m.group(1) is not None or m.group(3) is not None:
            key = m.group(1) if m.group(1) is not None else m.group(3)
            if isinstance(value, dict):
                if key not in value:
                    raise KeyError(f"no key {key!r} (keys: {', '.join(map(str, value))})")
                value = value[key]
            elif isinstance(value, list | tuple) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise KeyError(f"{key!r}: not a table ({type(value).__name__})")
        else:
            sel = m.group(2)
            if not isinstance(value, list | tuple):
                raise KeyError(f"[{sel}]: not a list ({type(value).__name__})")
            if sel == "*":
                rest = "".join(s.group(0) if s.group(1) is None else "." + s.group(1)
                               for s in steps[k + 1:]).lstrip(".")
                return [resolve(v, rest) if rest else v for v in value]
            if int(sel) >= len(value):
                raise KeyError(f"[{sel}]: the list has {len(value)} entries")
            value = value[int(sel)]
    return value


def row_labels(results: Any, path: str) -> list[str]:
    head = path.split("[*]")[0] if "[*]" in path else None
    if not head:
        return []
    try:
        rows = resolve(results, head)
    except KeyError:
        return []
    labels = []
    for row in rows if isinstance(rows, list) else []:
        label = ""
        if isinstance(row, dict):
            for key in ("name", "layer", "label", "id"):
                if key in row:
                    label = str(row[key])
                    break
            else:  # a record keyed by an index field ("pool_index": 5) is named by it
                index = next((k for k in row if str(k).endswith("index")), None)
                if index is not None:
                    label = f"{str(index).replace('_', ' ')} {row[index]}"
        labels.append(label)
    return labels


def record_of(results: Any, path: str) -> dict:
    """The record a ``key[3].field`` path points into (for slips), else {}."""
    if "." not in path:
        return {}
    try:
        parent = resolve(results, path.rsplit(".", 1)[0])
    except KeyError:
        return {}
    return parent if isinstance(parent, dict) else {}


def parts_of(results: Any, right: Fraction) -> list[tuple[str, int]]:
    """Labelled numbers somewhere in the results that sum to ``right`` (a total's rows)."""
    found: list[tuple[str, int]] = []
    if not isinstance(results, dict):
        return found
    for key, value in results.items():
        if not (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            continue
        fields = {f for v in value for f, x in v.items() if as_fraction(x) is not None}
        for f in sorted(fields):
            nums = [as_fraction(v.get(f)) for v in value]
            if all(n is not None for n in nums) and sum(nums) == right:
                labels = row_labels(results, f"{key}[*]")
                return [(f"{labels[i] or f'{key}[{i}]'}", int(n)) for i, n in enumerate(nums)]
    return found


def layer_biases(record: Any) -> int | None:
    """The biases of one layer record of a CNN table: one per filter (a conv) or per output
    unit (an fc), i.e. the output's channels, the last axis of its shape. None for layers
    without parameters (pool, ReLU, softmax) or records that are not layers."""
    if not isinstance(record, dict) or record.get("kind") not in ("conv", "fc"):
        return None
    if isinstance(record.get("filters"), int):
        return int(record["filters"])
    shape = record.get("shape")
    if isinstance(shape, list | tuple) and shape and isinstance(shape[-1], int):
        return int(shape[-1])
    return None


def biases_of(results: Any) -> list[tuple[str, int]]:
    """Every layer's bias count (label, biases) in the results' layer table, for a total."""
    if not isinstance(results, dict):
        return []
    for key, value in results.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            counts = [layer_biases(v) for v in value]
            if any(c is not None for c in counts):
                labels = row_labels(results, f"{key}[*]")
                return [(labels[i] or f"{key}[{i}]", c) for i, c in enumerate(counts)
                        if c is not None]
    return []


def as_fraction(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, np.integer):
        return Fraction(int(value))
    if isinstance(value, sp.Basic) and value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, float) and value.is_integer():
        return Fraction(int(value))
    return None


def symbol_table(results: Any) -> SymbolTable:
    table = SymbolTable()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, sp.Basic):
            table.add(v)

    walk(results)
    return table


def lhs_name(eq: Any) -> str:
    lhs = eq.lhs if isinstance(eq, sp.Eq) else eq
    if isinstance(lhs, AppliedUndef):
        return lhs.func.__name__
    if isinstance(lhs, sp.Indexed):
        return str(lhs.base.label)
    if isinstance(lhs, sp.Symbol):
        return lhs.name
    return str(lhs)


def equation_key(eq: Any, results: dict) -> str | None:
    """The result a named equation is about: a key equal to its left side's name, or an
    ``Eq`` result with the same left side."""
    if not isinstance(eq, sp.Eq):
        return None
    name = lhs_name(eq)
    if not isinstance(results, dict):
        return None
    for key in (name, name.removeprefix("bar_") + "_bar", f"{name}_t"):
        if key in results:
            return key
    for container_key, value in results.items():
        if isinstance(value, sp.Eq) and lhs_name(value) == name:
            return container_key
        if isinstance(value, dict):
            for sub, v in value.items():
                if str(sub) == name or (isinstance(v, sp.Eq) and lhs_name(v) == name):
                    return f"{container_key}.{sub}"
        if isinstance(value, list | tuple):
            for i, v in enumerate(value):
                if isinstance(v, sp.Eq) and lhs_name(v) == name:
                    return f"{container_key}[{i}]"
    return None


def equations_in(results: Any) -> Iterator[sp.Eq]:
    """Every equation held in ``results`` (nested dicts, lists and tuples), in order."""
    if isinstance(results, dict):
        for value in results.values():
            yield from equations_in(value)
    elif isinstance(results, list | tuple):
        for value in results:
            yield from equations_in(value)
    elif isinstance(results, sp.Eq):
        yield results


def gate_definitions(results: Any) -> dict[str, sp.Eq]:
    """Forward definitions ``v(t) = act(...)`` found in the results (the gates of a cell)."""
    found: dict[str, sp.Eq] = {}
    for v in equations_in(results):
        if isinstance(v.lhs, AppliedUndef) and len(v.lhs.args) == 1 and \
                isinstance(v.rhs, sp.Function) and not isinstance(v.rhs, AppliedUndef) and \
                not v.rhs.has(v.lhs.func) and not v.lhs.func.__name__.startswith("bar_"):
            found.setdefault(v.lhs.func.__name__, v)
    return found


def expand_gates(expr: sp.Basic, defs: dict[str, sp.Eq]) -> sp.Basic:
    def is_gate(e: sp.Basic) -> bool:
        return isinstance(e, AppliedUndef) and e.func.__name__ in defs and len(e.args) == 1

    def expand(e: sp.Basic) -> sp.Basic:
        eq = defs[e.func.__name__]
        return eq.rhs.xreplace({eq.lhs.args[0]: e.args[0]}) if isinstance(
            eq.lhs.args[0], sp.Symbol) else e

    return expr.replace(is_gate, expand)


def model_definitions(pid: str, table: SymbolTable) -> dict[str, sp.Eq]:
    """The gate definitions of the model behind ``pid``, in the answer's weight names
    (``w_ix`` or the input-first ``w_xi``: whichever the answer uses)."""
    name = declared_model(pid)  # declared where the problem is registered
    if name is None:
        return {}
    try:
        equations = (registered_model(name) if isinstance(name, str) else name).equations
    except Exception:  # noqa: BLE001 - without the model the comparison is just less lenient
        return {}
    defs = gate_definitions(dict(equations))
    known = set(table.symbols)
    best: tuple[int, dict[str, sp.Eq]] = (0, {})
    for swap in (False, True):  # the naming whose weights the answer uses
        renamed = {}
        for key, eq in defs.items():
            mapping = {s: sp.Symbol(_swapped(s.name) if swap else s.name)
                       for s in eq.free_symbols if isinstance(s, sp.Symbol)}
            renamed[key] = eq.xreplace(mapping)
        weights = {s.name for eq in renamed.values() for s in eq.free_symbols
                   if isinstance(s, sp.Symbol) and s.name.startswith("w_")}
        if len(weights & known) > best[0]:
            best = (len(weights & known), renamed)
    return best[1]


def _swapped(name: str) -> str:
    """``w_ix`` -> ``w_xi``: the two naming orders of a univariate weight."""
    m = re.fullmatch(r"w_([a-z])([a-z])", name)
    return f"w_{m.group(2)}{m.group(1)}" if m else name
