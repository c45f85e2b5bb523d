"""Grading the claims the basic kinds cannot express: block matrices, recurrences, rounded
decimals with a tolerance, and claims that build on the solution's earlier lines.

:func:`route` says which of these graders a claim needs (None for every other claim);
:func:`grade_claim` grades any claim, these through their grader and the others through
:func:`derive.grade.verdicts.grade_claim`. Each grader takes ``(claim, expected, results,
table, path)`` like the graders of :mod:`derive.grade.verdicts` and returns a ``Verdict``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from derive.core.errors import DeriveError
from derive.grade import verdicts
from derive.grade.claims import Claim
from derive.grade.equivalence import (
    CaseDefect,
    Cases,
    as_basic,
    equivalent,
    matrix_equivalent,
)
from derive.grade.evaluate import DPS, PointFailed, Unsupported, same_value, show_value, to_mpf
from derive.grade.parse import (
    Blocks,
    ParseError,
    SymbolTable,
    Tolerance,
    parse_formula,
    parse_matrix,
)
from derive.grade.results import as_fraction, symbol_table
from derive.grade.verdicts import (
    CORRECT,
    ILLEGIBLE,
    NOT_CHECKABLE,
    UNPARSEABLE,
    WRONG,
    Verdict,
    _domain,
    _explanation,
    _from_decision,
    _point,
)

Grader = Callable[[Claim, Any, Any, SymbolTable, str], Verdict]

DECIMAL = re.compile(r"\s*[-+]?(\d{1,3}(?:[, ]\d{3})+|\d+)?\.(\d+)\s*")  # 1,234.5 too
PLUS_MINUS = ("±", "+-", "\\pm")
STEPS = 6  # steps of a recurrence unrolled past its base cases
RECURRENCE_POINTS = 6  # random values of the other variables, each unrolled
MAX_LAG = 4  # a(k) from at most a(k-4)


def route(claim: Claim) -> Grader | None:
    """The grader of this module that ``claim`` needs, or None (a basic claim)."""
    if claim.kind == "matrix":
        return grade_matrix
    if claim.kind == "recurrence":
        return grade_recurrence
    if claim.kind == "number" and _rounded(claim):
        return grade_rounded
    if claim.kind in ("formula", "equation") and claim.given:
        return grade_given
    if claim.kind in ("formula", "equation") and claim.shapes:
        return grade_shaped
    return None


def grade_claim(claim: Claim) -> Verdict:
    """The verdict on any claim: the kinds of this module here, the others as before."""
    grader = route(claim)
    if grader is None:
        return verdicts.grade_claim(claim)
    if claim.illegible:
        return Verdict(claim, ILLEGIBLE, "illegible in the source: nothing can be graded",
                       claimed=claim.value, method="none")
    answer, why = verdicts.answer_or_reason(claim.problem)
    if answer is None:
        return Verdict(claim, NOT_CHECKABLE, why, claimed=claim.value)
    results = answer.results
    table = symbol_table(results)
    try:
        located = verdicts.locate_result(claim, results, table)
        if isinstance(located, Verdict):
            return located
        path, expected = located
        verdict = grader(claim, expected, results, table, path)
    except ParseError as exc:
        return Verdict(claim, UNPARSEABLE, f"cannot parse the claim: {exc}",
                       claimed=claim.value)
    except DeriveError:
        raise
    except Exception as exc:  # noqa: BLE001 - one odd claim must not stop the others' grading
        return Verdict(claim, NOT_CHECKABLE, f"the comparison failed ({type(exc).__name__}: "
                       f"{str(exc)[:200]})", claimed=claim.value)
    if claim.filled:
        verdict.evidence.insert(0, f"filled in by the transcriber (illegible in the source): "
                                f"{claim.filled}")
    verdict.reason = verdict.reason or verdict.status
    verdict.explanation = _explanation(results, claim)
    return verdict


# -- rounded decimals ------------------------------------------------------------------------

def _number_text(claim: Claim) -> str:
    if claim.written:
        return claim.written
    if isinstance(claim.value, float):
        return repr(claim.value)
    return str(claim.value)


def _rounded(claim: Claim) -> bool:
    """A decimal read at its precision, or a number with a stated tolerance."""
    if isinstance(claim.value, bool) or isinstance(claim.value, int):
        return bool(claim.tolerance)
    text = _number_text(claim)
    return bool(claim.tolerance) or any(p in text for p in PLUS_MINUS) or \
        bool(DECIMAL.fullmatch(text))


def _decimal(value: Fraction | mpmath.mpf, digits: int = 6) -> str:
    with mpmath.workdps(DPS):
        return mpmath.nstr(to_mpf(value), digits)


def _exact(value: sp.Expr, what: str) -> Fraction:
    if not (isinstance(value, sp.Expr) and value.is_Rational):
        raise ParseError(f"{what} is not a number: {value}")
    return Fraction(int(value.p), int(value.q))


def grade_rounded(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                  path: str) -> Verdict:
    """A decimal claim: right when the derived value lies within the stated tolerance
    (``tolerance = 5e-4`` or ``0.693 ± 0.001``), or, without one, within half a unit of the
    last digit written (``0.693``: the derived value rounds to it)."""
    written = _number_text(claim).strip()
    text = written.replace("±", "+-")
    if "+-" in text or "\\pm" in text:
        if claim.tolerance:
            raise ParseError(f"{claim.value!r} states a tolerance and the claim another "
                             f"(tolerance = {claim.tolerance}): state one")
        parsed = parse_formula(text, forms=frozenset({"tolerance"}))
        if not isinstance(parsed, Tolerance):
            raise ParseError(f"not a number with a tolerance: {claim.value!r}")
        value = _exact(parsed.value, "the value")
        tolerance = _exact(parsed.tolerance, "the tolerance")
        if tolerance <= 0:
            raise ParseError(f"the tolerance of {claim.value!r} is not positive")
        stated = f"within the stated tolerance {_decimal(tolerance)}"
    elif claim.tolerance:
        value = _exact(parse_formula(text), "the claim")
        tolerance = Fraction(claim.tolerance)
        stated = f"within the stated tolerance {claim.tolerance}"
    else:
        m = DECIMAL.fullmatch(text)
        if m is None:
            raise ParseError(f"not a decimal number: {claim.value!r}")
        value = _exact(parse_formula(text), "the claim")
        places = len(m.group(2))
        tolerance = Fraction(1, 2 * 10**places)
        stated = f"to the {places} decimal place{'s' if places > 1 else ''} written"
    right = as_fraction(expected)
    if right is None and isinstance(expected, float):
        right = Fraction(expected)
    if right is None and isinstance(expected, sp.Basic) and expected.is_number and \
            expected.is_real:
        with mpmath.workdps(DPS):
            diff = abs(to_mpf(value) - mpmath.mpf(str(sp.N(expected, DPS))))
            ok = diff <= to_mpf(tolerance)
        shown = str(sp.N(expected, 12))
    elif right is not None:
        diff, ok = abs(value - right), abs(value - right) <= tolerance
        shown = show_value(right)
        if right.denominator != 1:  # a decimal to compare with the claim's digits
            shown = f"{_decimal(right, 12)} ({right})"
    else:
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a number "
                       f"({type(expected).__name__})", claimed=claim.value, expected=expected)
    method = f"numeric, {stated}"
    if ok:
        return Verdict(claim, CORRECT, f"{written} is right {stated} (the derived value "
                       f"is {shown})", claimed=claim.value, expected=expected, method=method)
    off = _decimal(diff)
    return Verdict(claim, WRONG, f"claimed {written}, the derived value is {shown}: off by "
                   f"{off}, more than {_decimal(tolerance)}", claimed=claim.value,
                   expected=expected, method=method)


# -- claims that build on earlier lines --------------------------------------------------------

def _definitions(claim: Claim, table: SymbolTable, shapes: dict | None = None
                 ) -> list[tuple[sp.Basic, sp.Basic, Claim]]:
    """The equations of the claims ``claim`` uses, as (left side, right side, claim)."""
    found = []
    for used in claim.given:
        eq = parse_formula(used.value, table, shapes=shapes)
        if not isinstance(eq, sp.Eq) or \
                not isinstance(eq.lhs, sp.Symbol | AppliedUndef | sp.MatrixSymbol):
            raise ParseError(f"the claim at line {used.line} it uses is not an equation naming "
                             f"a quantity on its left ({used.value!r})")
        found.append((eq.lhs, eq.rhs, used))
    return found


def substitute(expr: sp.Basic, definitions: list[tuple[sp.Basic, sp.Basic, Claim]]
               ) -> sp.Basic:
    """``expr`` with every defined quantity replaced by its definition, until none is left;
    a quantity still there after as many rounds as definitions is defined through itself."""
    for _ in range(len(definitions) + 1):
        replaced = expr.xreplace({lhs: rhs for lhs, rhs, _ in definitions})
        if replaced == expr:
            return expr
        expr = replaced
    left = [str(lhs) for lhs, _, _ in definitions if expr.has(lhs)]
    raise ParseError(f"the equations it uses define {', '.join(left)} through itself "
                     "(a circular definition)")


def grade_given(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                path: str) -> Verdict:
    """A formula or equation that builds on earlier claims (``uses``): their equations are
    substituted into it (and into the derived formula) before the comparison."""
    shapes = shapes_of(claim, table) if claim.shapes else None
    definitions = _definitions(claim, table, shapes)
    parsed = parse_formula(claim.value, table, shapes=shapes)
    lhs = None
    if isinstance(parsed, sp.Eq):
        lhs, parsed = parsed.lhs, parsed.rhs
    elif isinstance(parsed, sp.core.relational.Relational):
        return Verdict(claim, UNPARSEABLE, "an inequality is not a formula", claimed=parsed)
    for name, _, used in definitions:
        if lhs is not None and name == lhs:
            raise ParseError(f"the claim at line {used.line} it uses defines {name}, the "
                             "quantity this claim states (a circular definition)")
    if isinstance(expected, str):
        expected = parse_formula(expected, table)
    if isinstance(expected, sp.Eq):
        expected = expected.rhs
    if not isinstance(expected, sp.Basic | int | Fraction):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a formula "
                       f"({type(expected).__name__})", claimed=parsed, expected=expected)
    expected = as_basic(expected)
    claimed = substitute(parsed, definitions)
    right = substitute(expected, definitions)
    if shapes:
        d = matrix_equivalent(claimed, right)
    else:
        d = equivalent(claimed, right, _domain(claim, table, right))
    verdict = _from_decision(claim, d, claimed, right)
    lines = "; ".join(f"{name} = {value} (line {used.line})" for name, value, used in
                      definitions)
    verdict.evidence.insert(0, f"read with the solution's earlier lines substituted: {lines} "
                            "(each graded on its own)")
    if verdict.status == CORRECT:
        verdict.reason = f"right, with the earlier lines it builds on substituted ({lines})"
    return verdict


# -- matrix formulas with declared shapes --------------------------------------------------------

def shapes_of(claim: Claim, table: SymbolTable) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """The claim's declared shapes: ``"m x n"`` (or ``"m × n"``) is (m, n), ``"n"`` a column
    vector (n, 1)."""
    shapes = {}
    for name, text in claim.shapes.items():
        parts = re.split(r"\s+x\s+|\s*×\s*", text.strip())
        dims = [parse_formula(p, table) for p in parts]
        if len(dims) == 1:
            dims.append(sp.Integer(1))
        for d in dims:
            if not isinstance(d, sp.Expr) or d.is_number and not (d.is_Integer and d > 0):
                raise ParseError(f"shape {text!r} of {name}: a size is a positive integer or "
                                 "a name")
        shapes[name] = (dims[0], dims[1])
    return shapes


def grade_shaped(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                 path: str) -> Verdict:
    """A formula in matrices and vectors whose shapes the claim declares (``shapes``):
    read in order, with transposes (``h^T x``), and compared with the derived matrix formula
    by multiplying both out for random integer matrices."""
    shapes = shapes_of(claim, table)
    parsed = parse_formula(claim.value, table, shapes=shapes)
    if isinstance(parsed, sp.Eq):
        parsed = parsed.rhs
    elif isinstance(parsed, sp.core.relational.Relational):
        return Verdict(claim, UNPARSEABLE, "an inequality is not a formula", claimed=parsed)
    if isinstance(expected, str):
        expected = parse_formula(expected, table, shapes=shapes)
    if isinstance(expected, sp.Eq):
        expected = expected.rhs
    if not isinstance(expected, sp.Basic | int | Fraction):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a formula "
                       f"({type(expected).__name__})", claimed=parsed, expected=expected)
    d = matrix_equivalent(parsed, as_basic(expected))
    verdict = _from_decision(claim, d, parsed, expected)
    return verdict


# -- block matrices --------------------------------------------------------------------------

def _cells(value: Any, table: SymbolTable) -> tuple[list[list[sp.Basic]], sp.Basic | None]:
    """The claimed blocks: a string read by the grammar, or TOML rows of formulas."""
    if isinstance(value, str):
        blocks = parse_matrix(value, table)
        return [list(row) for row in blocks.rows], blocks.lhs
    rows = []
    for row in value:
        cells = []
        for cell in row:
            e = parse_formula(str(cell), table) if isinstance(cell, str) else as_basic(cell)
            if isinstance(e, sp.core.relational.Relational | Blocks):
                raise ParseError(f"block {cell!r} is not a formula")
            cells.append(e)
        rows.append(cells)
    return rows, None


def _derived_blocks(expected: Any, table: SymbolTable) -> list[list[sp.Basic]] | None:
    if isinstance(expected, sp.MatrixBase):
        return [[expected[i, j] for j in range(expected.cols)] for i in range(expected.rows)]
    if isinstance(expected, list | tuple) and expected and \
            all(isinstance(r, list | tuple) for r in expected):
        return [[parse_formula(c, table) if isinstance(c, str) else as_basic(c) for c in row]
                for row in expected]
    return None


def _matrix_names(*exprs: sp.Basic) -> set[sp.Symbol]:
    """The names that stand for matrices: capitalised (H, W_hh), the identity I aside."""
    return {s for e in exprs for s in e.free_symbols
            if isinstance(s, sp.Symbol) and s.name[:1].isupper() and s.name != "I"}


def _has_matrix_product(e: sp.Basic, names: set[sp.Symbol]) -> bool:
    """A product of two matrices, whose order a commutative reading would lose."""
    for term in sp.Add.make_args(sp.expand(e)):
        count = 0
        for factor in sp.Mul.make_args(term):
            base, exp = factor.as_base_exp()
            if base in names:
                count += int(exp) if exp.is_Integer and exp > 0 else 2
        if count >= 2:
            return True
    return False


def grade_matrix(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                 path: str) -> Verdict:
    """A block matrix, compared block by block with the derived one (a list of rows of
    formulas, or a SymPy matrix). Blocks are formulas in matrices (``-\\alpha H + I``):
    compared as formulas, which decides sums and scalar multiples; where a block multiplies
    two matrices the order is not compared, so agreement there is "not checkable"."""
    cells, _ = _cells(claim.value, table)
    right_cells = _derived_blocks(expected, table)
    rows = sp.ImmutableMatrix(cells)  # shown as a matrix; compared block by block
    if right_cells is None:
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a matrix",
                       claimed=rows, expected=expected)
    right = sp.ImmutableMatrix(right_cells)
    size, right_size = rows.shape, right.shape
    if size != right_size:
        return Verdict(claim, WRONG, f"{size[0]} x {size[1]} blocks claimed, the derived "
                       f"matrix has {right_size[0]} x {right_size[1]}", claimed=rows,
                       expected=right, method="exact (block sizes)")
    names = _matrix_names(*rows, *right)
    evidence, undecided, ordered, methods = [], [], [], set()
    for i, (row, right_row) in enumerate(zip(cells, right_cells, strict=True)):
        for j, (c, r) in enumerate(zip(row, right_row, strict=True)):
            d = equivalent(c, r, _domain(claim, table, r))
            methods.add(d.method)
            where = f"block ({i + 1}, {j + 1})"
            if d.equal is False:
                line = f"{where}: claimed {c}, right {r}"
                if d.point:
                    line += f"; at {_point(d.point)}: claimed {d.claimed_value}, right " \
                        f"{d.expected_value}"
                evidence.append(line)
            elif d.equal is None:
                undecided.append(where)
            elif _has_matrix_product(c, names) or _has_matrix_product(r, names):
                ordered.append(where)
    method = "block by block: " + ", ".join(sorted(methods))
    if evidence:
        return Verdict(claim, WRONG, f"{len(evidence)} of {size[0] * size[1]} blocks are wrong",
                       claimed=rows, expected=right, method=method, evidence=evidence)
    if undecided:
        return Verdict(claim, NOT_CHECKABLE, f"blocks {', '.join(undecided)} could not be "
                       "decided", claimed=rows, expected=right, method=method)
    if ordered:
        return Verdict(claim, NOT_CHECKABLE, f"every block agrees when matrices commute; "
                       f"{', '.join(ordered)} multiply matrices, whose order is not compared",
                       claimed=rows, expected=right, method=method)
    return Verdict(claim, CORRECT, f"every block of the {size[0]} x {size[1]} block matrix is "
                   "right", claimed=rows, expected=right, method=method)


# -- recurrences -----------------------------------------------------------------------------

def _recurrence(claim: Claim, table: SymbolTable):
    """``(f, k, lags, rhs, bases)`` of a recurrence claim ``f(k) = rhs`` and its base cases
    ``f(n0) = value``; a ParseError when it is not one."""
    # the left side names the sequence and its step: a(k), a_k, a_{k}, h^{(t)}; reading it
    # as a function first makes a(k - 1) on the right its value, never the product a*(k - 1)
    table = SymbolTable(dict(table.symbols), dict(table.functions))
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9]*)\s*(?:\(\s*([A-Za-z])\s*\)|_\{?\s*([A-Za-z])\s*\}?"
                 r"|\^\{\(\s*([A-Za-z])\s*\)\})\s*=", claim.value)
    if m:
        table.function(m.group(1))
        table.symbol(m.group(2) or m.group(3) or m.group(4))
    eq = parse_formula(claim.value, table)
    if not isinstance(eq, sp.Eq) or not isinstance(eq.lhs, AppliedUndef) or \
            len(eq.lhs.args) != 1 or not isinstance(eq.lhs.args[0], sp.Symbol):
        raise ParseError(f"a recurrence is 'a(k) = ...' with the step k on the left, got "
                         f"{claim.value!r}")
    f, k = eq.lhs.func, eq.lhs.args[0]
    lags = set()
    for call in eq.rhs.atoms(AppliedUndef):
        if call.func != f:
            continue
        lag = sp.simplify(call.args[0] - k) if len(call.args) == 1 else None
        if lag is None or not lag.is_Integer or lag == 0 or abs(lag) > MAX_LAG:
            raise ParseError(f"{call} in a recurrence for {eq.lhs}: each step it uses must be "
                             f"{k} - 1, {k} + 1, ... (at most {MAX_LAG} away)")
        lags.add(int(lag))
    if not lags:
        raise ParseError(f"not a recurrence: {eq.lhs} is not used at another step on the "
                         "right (write a formula claim for a closed form)")
    if min(lags) < 0 < max(lags):
        raise ParseError(f"the recurrence for {eq.lhs} uses both earlier and later steps")
    bases = []
    for text in claim.base:
        # a_0 = 1 and a_{0} = 1 name the step 0 of a (a_0 alone would be another symbol)
        b = parse_formula(re.sub(rf"^\s*{f}_\{{?\s*(\d+)\s*\}}?(?=\s*=)", rf"{f}(\1)", text),
                          table)
        if not isinstance(b, sp.Eq) or not isinstance(b.lhs, AppliedUndef) or b.lhs.func != f \
                or len(b.lhs.args) != 1:
            raise ParseError(f"base case {text!r} is not '{f}(n) = value'")
        if b.rhs.has(f):
            raise ParseError(f"base case {text!r} uses {f} itself")
        bases.append((b.lhs.args[0], b.rhs))
    return f, k, sorted(lags), eq.rhs, bases


def grade_recurrence(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                     path: str) -> Verdict:
    """A recurrence with its base cases, unrolled a few steps from the base and compared step
    by step with the derived closed form (a formula in the step) or list of values (from the
    first base step on), at random values of the other variables."""
    f, k, lags, rhs, bases = _recurrence(claim, table)
    forward = lags[0] < 0
    reach = max(abs(g) for g in lags)
    if isinstance(expected, str):
        expected = parse_formula(expected, table)
    if isinstance(expected, sp.Eq):
        expected = expected.rhs
    values = None
    if isinstance(expected, list | tuple):
        values = [as_fraction(v) for v in expected]
        if any(v is None for v in values):
            return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a list of numbers",
                           claimed=claim.value, expected=expected)
    elif not isinstance(expected, sp.Basic | int | Fraction):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a formula",
                       claimed=claim.value, expected=expected)
    else:
        expected = as_basic(expected)
        if expected.has(f):
            return Verdict(claim, NOT_CHECKABLE, f"the derived {path!r} is itself stated "
                           f"through {f}: compare it as an equation claim",
                           claimed=claim.value, expected=expected)
    step_names = {s.name for n0, _ in bases for s in n0.free_symbols}
    others = sorted({s.name for e in [rhs, *(v for _, v in bases),
                                      *([expected] if values is None else [])]
                     for s in e.free_symbols if isinstance(s, sp.Symbol)} - {k.name}
                    - step_names)
    checked = 0
    for trial in range(RECURRENCE_POINTS):
        rng_seed = f"recurrence-{trial}"
        rng = random.Random(rng_seed)
        point = {name: Fraction(rng.choice([-3, -2, -1, 1, 2, 3, 4]), rng.randint(1, 3))
                 for name in others}
        point.update({name: Fraction(STEPS + 2 + trial % 3) for name in step_names})
        ev = Cases(dict(point), rng_seed, strict=True)
        known: dict[int, object] = {}
        try:
            with mpmath.workdps(DPS):
                for n0, value in bases:
                    step = ev.ev(n0)
                    if not (isinstance(step, Fraction) and step.denominator == 1):
                        raise ParseError(f"base case step {n0} is not an integer step")
                    known[int(step)] = ev.ev(value)
                first = (max(known) + 1) if forward else (min(known) - 1)
                order = range(first, first + STEPS) if forward else \
                    range(first, first - STEPS, -1)
                for n in order:
                    for lag in lags:
                        if n + lag not in known:
                            raise ParseError(
                                f"the base cases do not start the recurrence: {f}({n + lag}) "
                                f"is needed for {f}({n}) and no base case gives it (it uses "
                                f"{reach} step{'s' if reach > 1 else ''} back, so it needs "
                                f"{reach} consecutive base case{'s' if reach > 1 else ''})")
                        ev.calls[f"{f}({n + lag})"] = known[n + lag]
                    ev.point[k.name] = Fraction(n)
                    known[n] = ev.ev(rhs)
                start = min(known) if forward else max(known)
                for n in sorted(known, reverse=not forward):
                    if values is not None:
                        index = n - start if forward else start - n
                        if not 0 <= index < len(values):
                            continue
                        want = values[index]
                    else:
                        ev.point[k.name] = Fraction(n)
                        want = ev.ev(expected)
                    if not same_value(known[n], want):
                        shown = {name: str(v) for name, v in point.items()}
                        shown[k.name] = str(n)
                        return Verdict(
                            claim, WRONG, f"unrolled from its base case, the recurrence gives "
                            f"{f}({n}) = {show_value(known[n])}; the right value is "
                            f"{show_value(want)}", claimed=claim.value, expected=expected,
                            method="the recurrence unrolled from its base case",
                            evidence=[f"counterexample: at {_point(shown)}"])
                    checked += 1
        except CaseDefect as exc:
            return Verdict(claim, WRONG, str(exc), claimed=claim.value, expected=expected,
                           method="the recurrence unrolled from its base case")
        except (PointFailed, Unsupported):
            continue
    if not checked:
        return Verdict(claim, NOT_CHECKABLE, "the recurrence could not be evaluated at any "
                       "point", claimed=claim.value, expected=expected, method="undecided")
    return Verdict(claim, CORRECT, f"unrolled from its base case, it agrees with the derived "
                   f"answer at every step checked ({checked} values)", claimed=claim.value,
                   expected=expected, method=f"the recurrence unrolled {STEPS} steps from its "
                   f"base case at {RECURRENCE_POINTS} random points (not a proof for every "
                   "step)")


__all__ = ["grade_claim", "grade_given", "grade_matrix", "grade_recurrence", "grade_rounded",
           "grade_shaped", "route", "shapes_of", "substitute"]
