"""Naming the likely slip behind a wrong answer: a copied row, a dropped bias, an off-by-one...

Each detector states a hypothesis that, applied to the right answer, reproduces the claimed one
exactly; the first that fits is reported. They only explain: the verdict is already decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp
from sympy.core.function import AppliedUndef

FACTORS = (2, 3, 4, 8, 9)
BIAS_WORDS = ("bias", "filter", "out", "unit", "channel", "f")


@dataclass
class NumberContext:
    """What is known around a claimed number.

    ``row``: the record of the right answer the number belongs to (e.g. a layer's fields);
    ``column``: the right values of the same column, with ``index`` the claim's position;
    ``claimed_column``: the claimed values of that column; ``parts``: labelled right values
    that sum to the right answer (a total's rows).
    """

    row: dict = field(default_factory=dict)
    column: Sequence = ()
    claimed_column: Sequence = ()
    index: int | None = None
    labels: Sequence[str] = ()
    parts: Sequence[tuple[str, int]] = ()
    biases: int | None = None  # the bias count of the row's layer (its filters or units)
    layer_biases: Sequence[tuple[str, int]] = ()  # every layer's, for a total


def row_name(j: int, labels: Sequence[str]) -> str:
    """Row ``j`` (from 0) of a claimed column as the answer key numbers it: a layer table
    starts with the input as layer 0, any other list counts from 1."""
    number = j if labels and labels[0] == "input" else j + 1
    if j < len(labels) and labels[j]:
        return f"row {number} ({labels[j]})"
    return f"row {number}"


def _label(ctx: NumberContext, j: int) -> str:
    return row_name(j, ctx.labels)


def _digits_slip(claimed: int, right: int) -> str | None:
    a, b = str(abs(claimed)), str(abs(right))
    if len(a) != len(b) or claimed * right < 0:
        return None
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and \
            a[diff[1]] == b[diff[0]]:
        return f"transposed digits: {claimed} has digits {a[diff[0]]}{a[diff[1]]} " \
               f"where {right} has {b[diff[0]]}{b[diff[1]]}"
    if len(diff) == 1 and len(a) >= 3:
        return f"one wrong digit: {a[diff[0]]} instead of {b[diff[0]]} (position {diff[0] + 1})"
    return None


def number_slip(claimed: Fraction, right: Fraction, ctx: NumberContext | None = None) -> str | None:
    """The likely slip that turns ``right`` into ``claimed``, or None when none fits."""
    ctx = ctx or NumberContext()
    if claimed == right:
        return None
    if abs(claimed - right) == 1:
        return f"an off-by-one: {'one more' if claimed > right else 'one less'} than {right}"
    if right != 0 and claimed != 0:
        ratio = claimed / right
        for k in FACTORS:
            if ratio == k:
                return f"a factor of {k}: the claim is {k} times the right value"
            if ratio == Fraction(1, k):
                return f"a factor of {k}: the claim is 1/{k} of the right value"
    bias = _bias_slip(claimed, right, ctx)
    if bias:
        return bias
    digits = _digits_slip(int(claimed), int(right)) if claimed.denominator == 1 and \
        right.denominator == 1 else None
    if digits and digits.startswith("transposed"):
        return digits
    # a value copied from another row of the same column
    if ctx.index is not None:
        for j, other in enumerate(ctx.column):
            if j != ctx.index and other == claimed and other != right:
                return f"a copied row: the claimed value is the right value of {_label(ctx, j)}"
        for j, other in enumerate(ctx.claimed_column):
            if j != ctx.index and other == claimed and j < len(ctx.column) and \
                    ctx.column[j] != right:
                return f"a copied row: the same value as the claim for {_label(ctx, j)}"
    # a total with one part replaced by a copy of another, or one part left out
    for i, (name_i, part_i) in enumerate(ctx.parts):
        if claimed == right - part_i:
            return f"a dropped term: the total without {name_i} ({part_i})"
        for j, (name_j, part_j) in enumerate(ctx.parts):
            if i != j and part_i != part_j and claimed == right - part_i + part_j:
                return f"a copied row: {name_i} counted as {name_j} ({part_j} instead of {part_i})"
    # a dropped or extra term equal to another field of the same record (a bias, ...)
    for key, value in ctx.row.items():
        if isinstance(value, bool) or not isinstance(value, int | sp.Integer) or value == 0:
            continue
        value = Fraction(int(value))
        if claimed == right - value:
            kind = "a dropped bias" if any(w in str(key).lower() for w in BIAS_WORDS) else \
                "a dropped term"
            return f"{kind}: {right - claimed} less, the value of {key!r} ({value})"
        if claimed == right + value:
            return f"an extra term: {claimed - right} more, the value of {key!r} ({value})"
    if digits:
        return digits
    if claimed == -right:
        return "a flipped sign"
    return None


def _bias_slip(claimed: Fraction, right: Fraction, ctx: NumberContext) -> str | None:
    """A parameter count without the biases: the layer's own (one per filter or unit), or,
    for a total, one layer's or every layer's."""
    if ctx.biases and claimed == right - ctx.biases:
        return (f"a dropped bias: {ctx.biases} less, the layer's {ctx.biases} biases (one per "
                "filter or output unit)")
    if ctx.layer_biases:
        every = sum(b for _, b in ctx.layer_biases)
        if claimed == right - every:
            return (f"dropped biases: {every} less, the biases of every layer "
                    f"({' + '.join(str(b) for _, b in ctx.layer_biases)})")
        for name, b in ctx.layer_biases:
            if claimed == right - b:
                return f"a dropped bias: {b} less, the {b} biases of {name}"
    return None


def formula_slip(claimed: sp.Expr, expected: sp.Expr, equal) -> str | None:
    """The likely slip turning ``expected`` into ``claimed``: a flipped sign, a dropped or
    extra term, a factor, an off-by-one. ``equal(a, b)`` is a quick identity test."""
    candidates: list[tuple[str, sp.Expr]] = [("a flipped overall sign", -expected)]
    terms = sp.Add.make_args(sp.expand(expected, deep=False)) if expected.is_Add else ()
    if len(terms) > 12:
        terms = ()
    for term in terms:
        candidates.append((f"the sign of the term {term} is flipped", expected - 2 * term))
        candidates.append((f"the term {term} is missing", expected - term))
    for k in (2, sp.Rational(1, 2)):
        candidates.append((f"a factor of {k}: the claim is {k} times the right formula",
                           k * expected))
    candidates.append(("an off-by-one: the claim is one more", expected + 1))
    candidates.append(("an off-by-one: the claim is one less", expected - 1))
    missing = sorted((v for v in expected.free_symbols - claimed.free_symbols
                      if isinstance(v, sp.Symbol)), key=lambda v: v.name)
    for v in missing[:6]:  # a special case: the claim ignores a variable
        for value in (1, 0):
            candidates.append((f"the right formula at {v} = {value}: the claim leaves out "
                               f"the dependence on {v}", expected.xreplace({v: value})))
    for v in missing[:6]:  # a value put in for a variable, and perhaps half the count too
        for value in (2, 3, 4):
            for k, how in ((1, ""), (sp.Rational(1, 2), ", halved"), (2, ", doubled")):
                candidates.append((f"the right formula at {v} = {value}{how}: a value put in "
                                   f"for {v}, which the answer keeps general",
                                   k * expected.xreplace({v: value})))
    timed = sorted(expected.atoms(AppliedUndef), key=str)
    if len(timed) <= 16:
        for a in timed:
            if len(a.args) != 1:
                continue
            for shift in (-1, 1):
                moved = a.func(a.args[0] + shift)
                candidates.append((f"a time step off by one: {moved} where the right formula "
                                   f"has {a}", expected.xreplace({a: moved})))
    names = sorted((s for s in expected.free_symbols if isinstance(s, sp.Symbol)),
                   key=lambda s: s.name)
    if 1 <= len(names) <= 6:
        for shift, how in ((-1, "counted from 1 where the answer counts from 0"),
                           (1, "counted from 0 where the answer counts from 1")):
            for group in [names] + ([[n] for n in names] if len(names) > 1 else []):
                shifted = expected.xreplace({n: n + shift for n in group})
                which = ", ".join(f"{n} -> {n}{shift:+d}" for n in group)
                candidates.append((f"an index shift: the right formula with {which} "
                                   f"({'indices' if len(group) > 1 else 'the index'} {how})",
                                   shifted))
    for text, candidate in candidates:
        try:
            if equal(claimed, candidate):
                return text
        except Exception:  # noqa: BLE001 - a hypothesis that cannot be tested is skipped
            continue
    return None
