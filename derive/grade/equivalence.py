"""Deciding whether a claimed formula equals the derived one, and saying which method decided.

Numbers are compared exactly. Formulas are first tested at many random points (Schwartz-Zippel
style identity testing): rational points for smooth formulas, integer points in the valid domain
for ``floor``/``ceiling`` formulas (e.g. conv output sizes with ``H >= K``). Arithmetic is exact
(``fractions.Fraction``) wherever it can be and 60-digit ``mpmath`` otherwise, in an evaluator of
our own that refuses oversized intermediates, so no point can hang. Applied functions such as
``h(t - 1)`` are independent variables, one per distinct argument value; sums with symbolic
limits are expanded at small sampled limits. A differing point is a counterexample (a proof when
the arithmetic was exact). When every point agrees, ``sympy.simplify`` confirms the identity in a
forked child process under a hard time limit; a timeout leaves the random-testing verdict.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from derive.grade.evaluate import (
    DPS,
    Evaluator,
    PointFailed,
    Unsupported,
    evaluate,
    same_value,
    show_value,
    to_mpf,
)
from derive.grade.parse import sigmoid

POINTS = 40
MAX_TRIES = 800
SIMPLIFY_SECONDS = 4.0
SIGMOID_NAMES = {"sigma", "sigmoid", "σ"}
DEADLINE_REACHED = "the claims file's time budget was spent before this claim was decided"

_deadline: list[float] = []  # the innermost time limit (time.monotonic()), when one is set


@contextmanager
def time_limit(deadline: float | None) -> Iterator[None]:
    """Within the block, no comparison runs past ``deadline`` (a ``time.monotonic()`` value):
    a simplification gets at most the time left, and a comparison started after it is
    undecided. One claims file is graded under one limit, so a file of many hard claims
    finishes."""
    if deadline is None:
        yield
        return
    _deadline.append(deadline)
    try:
        yield
    finally:
        _deadline.pop()


def time_left() -> float | None:
    """Seconds before the current time limit (None when there is none)."""
    return _deadline[-1] - time.monotonic() if _deadline else None


def deadline_reached() -> bool:
    left = time_left()
    return left is not None and left <= 0


@dataclass
class Decision:
    """The outcome of comparing a claim with the derived value."""

    equal: bool | None  # None: undecided
    method: str  # what decided: "exact", "random rational points", "symbolic simplification", ...
    detail: str = ""
    point: dict[str, str] = field(default_factory=dict)  # a counterexample
    claimed_value: str = ""
    expected_value: str = ""
    points: int = 0

    def as_json(self) -> dict:
        return {
            "equal": self.equal,
            "method": self.method,
            "detail": self.detail,
            "counterexample": self.point or None,
            "claimed_value": self.claimed_value or None,
            "expected_value": self.expected_value or None,
            "points": self.points,
        }


# -- piecewise formulas --------------------------------------------------------------------

class CaseDefect(Exception):
    """A piecewise claim's cases overlap with different values, or none applies."""


class Cases(Evaluator):
    """The evaluator, with piecewise formulas: the first case whose condition holds gives the
    value. ``strict`` (for a claim) also checks every case: two cases that both hold and give
    different values, or a point where none holds, is a :class:`CaseDefect`."""

    def __init__(self, point: dict[str, Fraction], seed: str, narrow: bool = False,
                 strict: bool = False):
        super().__init__(point, seed, narrow)
        self.strict = strict

    def ev(self, e: sp.Basic):
        if isinstance(e, sp.Piecewise):
            return self.cases(e)
        return super().ev(e)

    def holds(self, cond: sp.Basic) -> bool:
        if cond is sp.true or cond is sp.false:
            return bool(cond)
        if isinstance(cond, sp.And | sp.Or):
            parts = [self.holds(c) for c in cond.args]
            return all(parts) if isinstance(cond, sp.And) else any(parts)
        if isinstance(cond, sp.Not):
            return not self.holds(cond.args[0])
        if isinstance(cond, sp.core.relational.Relational):
            a, b = self.ev(cond.lhs), self.ev(cond.rhs)
            if not (isinstance(a, Fraction) and isinstance(b, Fraction)):
                a, b = to_mpf(a), to_mpf(b)
            return {sp.Eq: a == b, sp.Ne: a != b, sp.Lt: a < b, sp.Le: a <= b, sp.Gt: a > b,
                    sp.Ge: a >= b}[type(cond)]
        raise Unsupported(f"cannot decide the condition {type(cond).__name__}")

    def cases(self, e: sp.Piecewise):
        found: list[tuple[int, sp.Basic, object]] = []
        for k, (value, cond) in enumerate(e.args, start=1):
            if cond is sp.true and found:
                break  # "otherwise": only where no case before it holds
            if self.holds(cond):
                v = self.ev(value)
                if not self.strict:
                    return v
                for j, cond_j, w in found:
                    if not same_value(v, w):
                        raise CaseDefect(f"cases {j} ({cond_j}) and {k} ({cond}) both hold, "
                                         f"giving {show_value(w)} and {show_value(v)}")
                found.append((k, cond, v))
        if not found:
            if self.strict:
                raise CaseDefect("no case of the claim holds here (a missing case)")
            raise PointFailed("no case holds")
        return found[0][2]


def _case_boundaries(claimed: sp.Basic, names: list[str], domain: Domain, seed: int,
                     narrow: bool) -> Decision | None:
    """Random points rarely land on a boundary (``x >= 0`` and ``x <= 0`` meet at 0 only): try
    the points where a condition's variable equals its constant, for overlapping cases."""
    rng = random.Random(f"cases-{seed}")
    edges = []
    for pw in claimed.atoms(sp.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sp.core.relational.Relational):
                for var, const in ((rel.lhs, rel.rhs), (rel.rhs, rel.lhs)):
                    if isinstance(var, sp.Symbol) and const.is_Rational and var.name in names:
                        edges.append((var.name, Fraction(int(const.p), int(const.q))))
    for name, value in edges[:16]:
        for _ in range(4):
            point = {**_sample(names, domain, rng), name: value}
            if not _satisfies(point, domain):
                continue
            try:
                with mpmath.workdps(DPS):
                    Cases(dict(point), f"{seed}-edge", narrow, strict=True).ev(claimed)
            except CaseDefect as exc:
                shown = {n: str(v) for n, v in point.items()
                         if any(s.name == n for s in claimed.free_symbols)}
                return Decision(False, "the claim's cases at the boundary of a condition",
                                str(exc), shown)
            except (PointFailed, Unsupported):
                continue
            break
    return None


# -- canonical form ------------------------------------------------------------------------

def canonical(expr: sp.Basic) -> sp.Basic:
    """Symbols by name only (assumptions dropped); a named sigmoid as ``1/(1+exp(-z))``."""
    indexed = {a: sp.Function(str(a.base.label))(*a.indices) for a in expr.atoms(sp.Indexed)}
    if indexed:  # h[t] (an IndexedBase) is the indexed quantity h(t), as the parser reads it
        expr = expr.xreplace(indexed)
    plain = {s: sp.Symbol(s.name) for s in expr.atoms(sp.Symbol)}  # bound ones too
    expr = expr.xreplace(plain)
    sig = {a: sigmoid(a.args[0]) for a in expr.atoms(sp.Function)
           if type(a).__name__ in SIGMOID_NAMES and len(a.args) == 1}
    return expr.xreplace(sig) if sig else expr


def has_integer_structure(*exprs: sp.Basic) -> bool:
    return any(e.has(sp.floor, sp.ceiling, sp.Mod) for e in exprs)


# -- domains -------------------------------------------------------------------------------

@dataclass
class Domain:
    """Where to sample: which variables are integers, their signs, and constraints to satisfy."""

    integer: bool = False
    positive: set[str] = field(default_factory=set)
    nonnegative: set[str] = field(default_factory=set)
    constraints: list[sp.Basic] = field(default_factory=list)  # relations over the names
    time: set[str] = field(default_factory=set)  # time-step symbols: integers 2..9, at most a limit
    limits: set[str] = field(default_factory=set)  # summation limits: integers 2..4


def _substitute_equalities(claimed: sp.Basic, expected: sp.Basic, domain: Domain):
    """``H = W`` in the domain: sampling cannot hit it, so substitute it instead."""
    subs = {}
    rest = []
    for rel in domain.constraints:
        if isinstance(rel, sp.Eq) and isinstance(rel.lhs, sp.Symbol):
            subs[sp.Symbol(rel.lhs.name)] = canonical(rel.rhs)
        else:
            rest.append(rel)
    if not subs:
        return claimed, expected, domain, subs
    return (claimed.xreplace(subs), expected.xreplace(subs),
            Domain(domain.integer, domain.positive, domain.nonnegative, rest, domain.time,
                   domain.limits), subs)


def _with_time(domain: Domain, *exprs: sp.Basic) -> Domain:
    """Symbols used only as arguments of applied functions (the time ``t``) are time steps."""
    inside: set[str] = set()
    outside: set[str] = set()
    for e in exprs:
        for a in e.atoms(AppliedUndef):
            inside |= {s.name for s in a.free_symbols if isinstance(s, sp.Symbol)}
        stripped = e.xreplace({a: sp.Integer(0) for a in e.atoms(AppliedUndef)})
        outside |= {s.name for s in stripped.free_symbols if isinstance(s, sp.Symbol)}
    time = inside - outside
    limits: set[str] = set()
    for e in exprs:  # summation limits are small integers (the sum is expanded)
        for sm in e.atoms(sp.Sum):
            for _, lo, hi in sm.limits:
                limits |= {s.name for s in (lo.free_symbols | hi.free_symbols)
                           if isinstance(s, sp.Symbol)}
    if not time and not limits:
        return domain
    return Domain(domain.integer, domain.positive, domain.nonnegative, domain.constraints,
                  domain.time | time, domain.limits | limits)


def _sample(names: list[str], domain: Domain, rng: random.Random,
            small: bool = False, narrow: bool = False, wide: bool = False
            ) -> dict[str, Fraction]:
    """A random point; ``small`` asks for small positive integers (readable counterexamples),
    ``wide`` for integers up to 64 instead of 14 (after the small ones agreed)."""
    point: dict[str, Fraction] = {}
    for n in names:
        if n in domain.limits:
            point[n] = Fraction(rng.randint(2, 4))
        elif small and not domain.integer and n not in domain.time:
            point[n] = Fraction(rng.randint(1, 12))
        elif n in domain.time:
            point[n] = Fraction(rng.randint(2, 9))
        elif domain.integer:
            lo = 0 if n in domain.nonnegative and n not in domain.positive else 1
            point[n] = Fraction(rng.randint(lo, 64 if wide else 14))
        else:
            q = rng.randint(1, 6 if narrow else 9)
            v = Fraction(rng.randint(1, 2 * q if narrow else 48), q)
            if n not in domain.positive and n not in domain.nonnegative and rng.random() < 0.4:
                v = -v
            point[n] = v
    bounds = [point[n] for n in names if n in domain.limits]
    if bounds:  # a free time step lies in the range the sums run over (t <= T)
        for n in names:
            if n in domain.time:
                point[n] = Fraction(rng.randint(1, int(min(bounds))))
    return point


def _satisfies(point: dict[str, Fraction], domain: Domain) -> bool:
    for rel in domain.constraints:
        rel = canonical(rel)
        try:
            lhs = evaluate(rel.lhs, point)
            rhs = evaluate(rel.rhs, point)
        except (PointFailed, Unsupported):
            return False
        lhs, rhs = to_mpf(lhs), to_mpf(rhs)
        ok = {sp.Ge: lhs >= rhs, sp.Gt: lhs > rhs, sp.Le: lhs <= rhs, sp.Lt: lhs < rhs,
              sp.Eq: lhs == rhs}.get(type(rel), False)
        if not ok:
            return False
    return True


def _variables(*exprs: sp.Basic) -> list[str]:
    names: set[str] = set()
    for e in exprs:
        bound = {v.name for s in e.atoms(sp.Sum) for v, *_ in s.limits}
        names |= {s.name for s in e.free_symbols if isinstance(s, sp.Symbol)}
        names |= bound  # harmless: a bound variable gets a value that the sum overrides
    return sorted(names)


# -- the decision --------------------------------------------------------------------------

CHILD_MEMORY = 2 << 30  # bytes of address space a simplification may use


def _simplify_child(diff: sp.Basic, conn) -> None:  # runs in a forked process
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = CHILD_MEMORY if hard == resource.RLIM_INFINITY else min(CHILD_MEMORY, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # no resource limits here: the timeout remains
        pass
    try:
        result = sp.simplify(diff)
        conn.send("zero" if result == 0 else "nonzero")
    except Exception as exc:  # noqa: BLE001 - any failure is "inconclusive", reported
        conn.send(f"error: {type(exc).__name__}")
    finally:
        conn.close()


def _shrink(point: dict[str, Fraction], domain: Domain, claimed: sp.Basic, expected: sp.Basic,
            pseed: str, narrow: bool, found: tuple):
    """A smaller integer counterexample: lower each variable while the point stays valid and
    the two formulas still differ (greedy, bounded: a readable point for the report)."""
    got, want, ev_expected, ev_claimed = found
    point = dict(point)
    for name in sorted(point):
        if name in domain.time or name in domain.limits:
            continue
        for value in range(0, int(point[name])):
            trial = {**point, name: Fraction(value)}
            if value == 0 and (name in domain.positive or (domain.integer and name not in
                                                              domain.nonnegative)):
                continue
            if not _satisfies(trial, domain):
                continue
            try:
                with mpmath.workdps(DPS):
                    e_ev = Cases(dict(trial), pseed, narrow)
                    w = e_ev.ev(expected)
                    c_ev = Cases(dict(trial), pseed, narrow)
                    g = c_ev.ev(claimed)
            except (PointFailed, Unsupported):
                continue
            if not same_value(g, w):
                point, got, want, ev_expected, ev_claimed = trial, g, w, e_ev, c_ev
                break
    return point, got, want, ev_expected, ev_claimed


def _difference(expected: sp.Basic, claimed: sp.Basic) -> sp.Basic:
    """``expected - claimed``; two sums over the same range become one sum of the difference
    of their bodies (zero when the bodies agree), which ``simplify`` decides far more often."""
    if isinstance(expected, sp.Sum) and isinstance(claimed, sp.Sum) and \
            expected.limits == claimed.limits:
        return expected.function - claimed.function
    return expected - claimed


def simplify_is_zero(diff: sp.Basic, seconds: float = SIMPLIFY_SECONDS) -> str:
    """``"zero"``, ``"nonzero"``, ``"timeout"`` or ``"error: ..."``: simplify in a child process
    that is killed at the time limit."""
    if diff == 0:
        return "zero"
    left = time_left()
    if left is not None:
        if left <= 0.05:
            return "deadline"
        seconds = min(seconds, left)
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: random testing alone decides
        return "unavailable (no fork on this platform)"
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_simplify_child, args=(diff, child), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(seconds):
            return parent.recv()
        return "timeout"
    except EOFError:
        return "error: the simplification process died"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)
        parent.close()


def equivalent(
    claimed: sp.Basic,
    expected: sp.Basic,
    domain: Domain | None = None,
    points: int = POINTS,
    seed: int = 0,
    seconds: float = SIMPLIFY_SECONDS,
    confirm: bool = True,
) -> Decision:
    """Whether ``claimed`` equals ``expected`` as functions on ``domain``, with the evidence."""
    domain = domain or Domain()
    claimed, expected = canonical(as_basic(claimed)), canonical(as_basic(expected))
    if claimed == expected:
        return Decision(True, "structural identity", "the two formulas are identical")
    if deadline_reached():
        return Decision(None, "undecided", DEADLINE_REACHED)
    if not domain.integer and has_integer_structure(claimed, expected):
        domain = Domain(True, domain.positive, domain.nonnegative, domain.constraints,
                        domain.time, domain.limits)
    claimed, expected, domain, subs = _substitute_equalities(claimed, expected, domain)
    names = _variables(claimed, expected, *(canonical(r) for r in domain.constraints))
    domain = _with_time(domain, claimed, expected)
    rng = random.Random(seed)
    narrow = any(e.has(sp.exp, sp.tanh, sp.sinh, sp.cosh) for e in (claimed, expected))
    if claimed.has(sp.Piecewise):
        defect = _case_boundaries(claimed, names, domain, seed, narrow)
        if defect is not None:
            return defect
    agreed = 0
    claim_failed = 0
    claim_failure = ""
    exact = True
    unsupported = ""
    for attempt in range(MAX_TRIES):
        if agreed >= points:
            break
        if attempt % 64 == 63 and deadline_reached():
            return Decision(None, "undecided", DEADLINE_REACHED, points=agreed)
        point = _sample(names, domain, rng, small=attempt < points // 2 and not narrow,
                        narrow=narrow, wide=agreed >= points // 2)
        if not _satisfies(point, domain):
            continue
        pseed = f"{seed}-{attempt}"
        try:
            with mpmath.workdps(DPS):
                ev_expected = Cases(dict(point), pseed, narrow)
                want = ev_expected.ev(expected)
        except PointFailed:
            continue
        except Unsupported as exc:
            unsupported = f"the right formula: {exc}"
            break
        try:
            with mpmath.workdps(DPS):
                ev_claimed = Cases(dict(point), pseed, narrow, strict=True)
                got = ev_claimed.ev(claimed)
        except CaseDefect as exc:  # the claim's own cases overlap or leave a gap
            shown = {n: str(v) for n, v in point.items()
                     if any(s.name == n for s in claimed.free_symbols)}
            return Decision(False, "the claim's cases at a random point",
                            f"{exc} ({agreed} earlier points agreed)", shown, points=agreed)
        except PointFailed as exc:
            claim_failed += 1
            claim_failure = str(exc)
            continue
        except Unsupported as exc:
            unsupported = str(exc)
            break
        exact = exact and isinstance(want, Fraction) and isinstance(got, Fraction)
        if not same_value(got, want):
            if all(v.denominator == 1 for v in point.values()):
                point, got, want, ev_expected, ev_claimed = _shrink(
                    point, domain, claimed, expected, pseed, narrow,
                    (got, want, ev_expected, ev_claimed))
            shown = {n: str(v) for n, v in point.items()
                     if any(s.name == n for s in (claimed.free_symbols | expected.free_symbols))}
            shown.update({k: str(v) for k, v in {**ev_expected.calls, **ev_claimed.calls}.items()})
            for sym, rhs in subs.items():  # the variables fixed by an equality of the domain
                try:
                    shown[sym.name] = show_value(evaluate(rhs, point))
                except (PointFailed, Unsupported):
                    pass
            how = "exact rational arithmetic" if isinstance(want, Fraction) and \
                isinstance(got, Fraction) else f"{DPS}-digit arithmetic"
            if show_value(got) == show_value(want):
                with mpmath.workdps(DPS):
                    how += f"; the values differ by {mpmath.nstr(to_mpf(got) - to_mpf(want), 3)}"
            kind = "integer" if domain.integer or (attempt < points // 2 and not narrow) \
                else "rational"
            return Decision(
                False, f"random {kind} points",
                f"differs at a random {kind} point ({how}; {agreed} earlier points agreed)",
                shown, show_value(got), show_value(want), agreed + 1,
            )
        agreed += 1
    kind = "integer" if domain.integer else "rational"
    if unsupported or agreed < min(points, 8):
        if not confirm:
            return Decision(None, "undecided", unsupported or "too few valid points")
        reason = unsupported or f"only {agreed} valid {kind} points found"
        if claim_failed and not unsupported:
            reason = (f"the claim cannot be evaluated ({claim_failure}) at {claim_failed} "
                      f"{kind} points where the right formula is defined")
        verdict = simplify_is_zero(_difference(expected, claimed), seconds)
        if verdict == "zero":
            return Decision(True, "symbolic simplification",
                            f"simplify(expected - claimed) = 0 (random testing not possible: "
                            f"{reason})", points=agreed)
        if verdict == "deadline":
            return Decision(None, "undecided", f"random testing not possible ({reason}); "
                            f"{DEADLINE_REACHED}", points=agreed)
        return Decision(None, "undecided",
                        f"random testing not possible ({reason}); symbolic simplification: "
                        f"{verdict}", points=agreed)
    arithmetic = "exact" if exact else f"{DPS}-digit"
    if not confirm:
        return Decision(True, f"random {kind} points", f"equal at {agreed} random {kind} points "
                        f"({arithmetic} arithmetic)", points=agreed)
    verdict = simplify_is_zero(_difference(expected, claimed), seconds)
    if verdict == "zero":
        return Decision(True, "symbolic simplification",
                        f"equal at {agreed} random {kind} points ({arithmetic} arithmetic), "
                        "confirmed: simplify(expected - claimed) = 0", points=agreed)
    note = {"timeout": f"timed out after {seconds:g} s",
            "deadline": "skipped (the claims file's time budget was spent)",
            "nonzero": "inconclusive (simplify left a non-zero residue)"}.get(verdict, verdict)
    return Decision(True, f"random {kind} points",
                    f"equal at {agreed} random {kind} points ({arithmetic} arithmetic); "
                    f"symbolic confirmation {note}", points=agreed)


MATRIX_POINTS = 8


def matrix_equivalent(claimed: sp.Basic, expected: sp.Basic, points: int = MATRIX_POINTS,
                      seed: int = 0) -> Decision:
    """Whether two matrix expressions (``MatrixSymbol`` products, sums, transposes,
    Hadamard products, identities) are equal: at random sizes (every dimension symbol 2 to 4)
    each matrix named alike on both sides gets the same random integer entries, every scalar
    symbol and applied function a random rational, and both sides are multiplied out exactly.
    A matrix of the same name must have the same shape on both sides."""
    claimed, expected = canonical(claimed), canonical(expected)
    mats: dict[str, sp.MatrixSymbol] = {}
    for e in (claimed, expected):
        for ms in e.atoms(sp.MatrixSymbol):
            known = mats.setdefault(str(ms.name), ms)
            if known.shape != ms.shape:
                return Decision(None, "undecided", f"{ms.name} is {ms.shape[0]} x "
                                f"{ms.shape[1]} in the claim's shapes, {known.shape[0]} x "
                                f"{known.shape[1]} in the derived answer")
    dims = sorted({s for ms in mats.values() for d in ms.shape for s in d.free_symbols},
                  key=str)
    scalars = sorted({s for e in (claimed, expected) for s in e.free_symbols
                      if isinstance(s, sp.Symbol)} - set(dims), key=str)
    calls = sorted({a for e in (claimed, expected) for a in e.atoms(AppliedUndef)}, key=str)
    rng = random.Random(f"matrices-{seed}")
    for k in range(points):
        sizes = {d: rng.randint(2, 4) for d in dims}
        values = {s: sp.Rational(rng.randint(-9, 9) or 1, rng.randint(1, 3)) for s in scalars}
        values.update({a: sp.Rational(rng.randint(-9, 9) or 1, rng.randint(1, 3)) for a in calls})
        explicit: dict = {}
        for ms in mats.values():
            rows, cols = (int(d.xreplace(sizes)) for d in ms.shape)
            explicit[ms] = sp.Matrix(rows, cols, lambda i, j: rng.randint(-4, 4))
        try:
            got = _multiplied_out(claimed, [explicit, values, sizes])
            want = _multiplied_out(expected, [explicit, values, sizes])
        except Exception as exc:  # noqa: BLE001 - an operation SymPy cannot multiply out
            return Decision(None, "undecided", f"cannot multiply the matrices out "
                            f"({type(exc).__name__}: {str(exc)[:120]})")
        shown = {str(d): str(v) for d, v in sizes.items()}
        got_shape = got.shape if isinstance(got, sp.MatrixBase) else (1, 1)
        want_shape = want.shape if isinstance(want, sp.MatrixBase) else (1, 1)
        if got_shape != want_shape:
            return Decision(False, "random matrices", f"the claim is a {got_shape[0]} x "
                            f"{got_shape[1]} matrix, the right one {want_shape[0]} x "
                            f"{want_shape[1]}", shown, points=k)
        diff = sp.Matrix([got]) - sp.Matrix([want]) if got_shape == (1, 1) else got - want
        if any(sp.simplify(entry) != 0 for entry in diff):
            sizes_shown = ", ".join(f"{d} = {v}" for d, v in shown.items()) or "as declared"
            return Decision(False, "random matrices", f"differs for random integer matrices "
                            f"of sizes {sizes_shown} ({k} earlier draws agreed)", shown,
                            points=k + 1)
    return Decision(True, "random matrices", f"equal for {points} draws of random integer "
                    "matrices (exact arithmetic)", points=points)


def _multiplied_out(e: sp.Basic, substitutions: list[dict]) -> sp.Basic:
    """``e`` with explicit matrices and numbers substituted, multiplied out: a 1 x 1 matrix
    is its entry."""
    for subs in substitutions:
        e = e.xreplace(subs)
    e = e.doit()
    if isinstance(e, sp.MatrixExpr):
        e = e.as_explicit()
    if isinstance(e, sp.MatrixBase):
        e = sp.Matrix(e)
        return e[0, 0] if e.shape == (1, 1) else e
    return e


def as_basic(value: object) -> sp.Basic:
    """A number or SymPy object as SymPy, never parsing text (no ``sympify`` on strings)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        if value.is_integer():
            return sp.Integer(int(value))
        frac = Fraction(value).limit_denominator(10**12)
        return sp.Rational(frac.numerator, frac.denominator)
    raise TypeError(f"not a number or formula: {type(value).__name__}")


def same_number(claimed: object, expected: object) -> Decision:
    """Exact comparison of two numbers (ints, fractions or SymPy numbers)."""
    c, e = as_basic(claimed), as_basic(expected)
    if c.is_number and e.is_number:
        if c.is_Rational and e.is_Rational:
            equal = c == e
        else:
            equal = abs(float(sp.N(c - e, 30))) <= 1e-12 * max(1.0, abs(float(sp.N(e))))
        return Decision(bool(equal), "exact", claimed_value=str(c), expected_value=str(e))
    return equivalent(c, e)


def same_order(claimed: sp.Basic, expected: sp.Basic, seed: int = 0) -> Decision:
    """Whether ``O(claimed) = O(expected)`` as every variable, alone or jointly, grows:
    the ratio ``claimed/expected`` must settle to a finite non-zero value under each scaling."""
    claimed, expected = canonical(as_basic(claimed)), canonical(as_basic(expected))
    names = _variables(claimed, expected)
    if not names:
        return same_number(claimed, expected) if claimed.is_number and expected.is_number \
            else Decision(None, "undecided", "no variables")
    if claimed == 0:  # O(0) names no growth at all; the ratio test would call it faster
        return Decision(False, "asymptotic ratio",
                        "the claim is O(0), no growth at all, where the right order grows")
    rng = random.Random(seed)
    scalings = [("every variable", set(names))] + [(n, {n}) for n in names]
    checked = 0
    for label, scaled in scalings:
        for _ in range(3):
            base = {n: Fraction(rng.randint(2, 9)) for n in names}
            ratios = []
            for lam in (Fraction(10) ** 6, Fraction(10) ** 12):
                point = {n: v * lam if n in scaled else v for n, v in base.items()}
                try:
                    c = evaluate(claimed, point)
                    e = evaluate(expected, point)
                except (PointFailed, Unsupported) as exc:
                    return Decision(None, "undecided", f"cannot evaluate the ratio: {exc}")
                if e == 0:
                    break
                ratios.append(to_mpf(c) / to_mpf(e))
            if len(ratios) < 2:
                continue
            checked += 1
            r1, r2 = ratios
            if r2 == 0 or not (mpmath.mpf("0.5") <= abs(r2 / r1) <= 2 if r1 else False):
                grows = "grows more slowly than" if abs(r2) <= abs(r1) else "grows faster than"
                return Decision(
                    False, "asymptotic ratio",
                    f"scaling {label} by 10^6 and then 10^12 changes claimed/right from "
                    f"{mpmath.nstr(r1, 6)} to {mpmath.nstr(r2, 6)}: the claim {grows} "
                    "the right order", points=checked,
                )
    if not checked:
        return Decision(None, "undecided", "the right formula vanishes at every sampled point")
    return Decision(True, "asymptotic ratio",
                    f"claimed/right settles to a finite non-zero constant when every variable "
                    f"grows, jointly and alone ({checked} scalings)", points=checked)
