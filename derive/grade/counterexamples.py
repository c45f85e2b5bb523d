"""Counterexamples a student can check by hand: small valid inputs where a wrong claim differs.

A random identity test proves a claim wrong at whatever point it drew; this module looks for
the point a person would try. For a size formula (an output size, a count) it searches small
valid sizes, the hyperparameters (a symbol with a constant lower bound in the claim's
``assume``: padding, stride, dilation, kernel) at their simplest values except the ones that
expose the error, each of those mattering at the point (a dilation is shown with a kernel of
at least 2 taps, where it changes the output). For a formula over indexed values (weights,
inputs) it uses small integers, with every index inside its range (``assume``), and the
fewest values.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from derive.grade.equivalence import Domain, canonical
from derive.grade.evaluate import (
    Evaluator,
    PointFailed,
    Unsupported,
    evaluate,
    same_value,
    to_mpf,
)
from derive.grade.results import equations_in
from derive.models import get, model_names

MAX_POINTS = 60000  # points of a size search: enumerated exhaustively below this
TYPICAL_SIZE = 5  # an input size a person would draw (a 5 x 5 image), when the sizes are free
SIZE_RANGE = range(1, 9)
HYPER_SPAN = 4  # values of a hyperparameter tried: its lower bound and the next three


def _lower_bounds(domain: Domain) -> dict[str, int]:
    """``X >= c`` (or ``X > c``), ``c`` a constant, in the domain's relations: X's least value."""
    bounds: dict[str, int] = {}
    for rel in domain.constraints:
        if isinstance(rel, sp.Ge | sp.Gt) and isinstance(rel.lhs, sp.Symbol) and \
                rel.rhs.is_Integer:
            bounds[rel.lhs.name] = int(rel.rhs) + (1 if isinstance(rel, sp.Gt) else 0)
        elif isinstance(rel, sp.Le | sp.Lt) and isinstance(rel.rhs, sp.Symbol) and \
                rel.lhs.is_Integer:
            bounds[rel.rhs.name] = int(rel.lhs) + (1 if isinstance(rel, sp.Lt) else 0)
    return bounds


def _upper_bounds(domain: Domain) -> dict[str, int]:
    bounds: dict[str, int] = {}
    for rel in domain.constraints:
        if isinstance(rel, sp.Le | sp.Lt) and isinstance(rel.lhs, sp.Symbol) and \
                rel.rhs.is_Integer:
            bounds[rel.lhs.name] = int(rel.rhs) - (1 if isinstance(rel, sp.Lt) else 0)
        elif isinstance(rel, sp.Ge | sp.Gt) and isinstance(rel.rhs, sp.Symbol) and \
                rel.lhs.is_Integer:
            bounds[rel.rhs.name] = int(rel.lhs) - (1 if isinstance(rel, sp.Gt) else 0)
    return bounds


def _holds(point: dict[str, Fraction], domain: Domain) -> bool:
    for rel in domain.constraints:
        rel = canonical(rel)
        if not isinstance(rel, sp.core.relational.Relational) or \
                any(isinstance(x, sp.Symbol) and x.name not in point for x in rel.free_symbols):
            continue  # a relation of other variables (the width's, for the height)
        try:
            lhs, rhs = to_mpf(evaluate(rel.lhs, point)), to_mpf(evaluate(rel.rhs, point))
        except (PointFailed, Unsupported):
            return False
        ok = {sp.Ge: lhs >= rhs, sp.Gt: lhs > rhs, sp.Le: lhs <= rhs, sp.Lt: lhs < rhs,
              sp.Eq: lhs == rhs}.get(type(rel), False)
        if not ok:
            return False
    return True


def _value(expr: sp.Basic, point: dict[str, Fraction]):
    try:
        return evaluate(expr, point)
    except (PointFailed, Unsupported, ZeroDivisionError):
        return None


def _number(v) -> str:
    """A value as a student writes it: exact, an integer without ``.0``, else 6 digits."""
    if isinstance(v, Fraction):
        return str(v)
    near = round(float(to_mpf(v)))
    if same_value(Fraction(near), v):
        return str(near)
    return f"{float(to_mpf(v)):.6g}"


def _shown(point: dict[str, Fraction], order: list[str]) -> str:
    return ", ".join(f"{n} = {_number(point[n])}" for n in order)


def size_counterexamples(claimed: sp.Basic, right: sp.Basic, domain: Domain,
                         limit: int = 2, prefer: dict[str, int] | None = None) -> list[str]:
    """Up to ``limit`` readable counterexamples to ``claimed = right`` over small valid integer
    sizes (``"at D = 2, K = 2, P = 0, S = 1, H = 5 the claim gives 2, the right formula 3"``),
    each exposing a different error; ``prefer`` fixes values where it can (the value a
    slip substituted, ``C = 3``). [] when the formulas hold functions, have too many
    variables, or agree on every small valid point (the random test's point then stands)."""
    claimed, right = canonical(sp.sympify(claimed)), canonical(sp.sympify(right))
    if claimed.atoms(AppliedUndef) or right.atoms(AppliedUndef) or \
            claimed.has(sp.Sum) or right.has(sp.Sum):
        return []
    names = sorted({s.name for s in claimed.free_symbols | right.free_symbols
                    if isinstance(s, sp.Symbol)})
    equal_to = {rel.lhs.name: rel.rhs for rel in domain.constraints
                if isinstance(rel, sp.Eq) and isinstance(rel.lhs, sp.Symbol)}
    free = [n for n in names if n not in equal_to]
    if not free or len(free) > 7:
        return []
    low, high = _lower_bounds(domain), _upper_bounds(domain)
    hyper = [n for n in free if n in low]
    sizes = [n for n in free if n not in low]
    ranges = {}
    for n in free:
        lo = low.get(n, 0 if n in domain.nonnegative and n not in domain.positive else 1)
        hi = high.get(n, lo + HYPER_SPAN - 1 if n in hyper else SIZE_RANGE.stop - 1)
        ranges[n] = range(lo, max(lo, hi) + 1)
        if prefer and n in prefer and lo <= prefer[n] <= max(lo, hi):
            ranges[n] = range(prefer[n], prefer[n] + 1)
    # an input size bounded by others (H >= K) is drawn as a real input would be; a free
    # size (a channel count, a depth) as small as it can be while not trivial
    bounded = {s.name for rel in domain.constraints for s in rel.free_symbols
               if isinstance(s, sp.Symbol)}
    target = {n: TYPICAL_SIZE if n in bounded else 2 for n in sizes}
    total = 1
    for r in ranges.values():
        total *= len(r)
    if total > MAX_POINTS:
        return []
    found = []
    for values in itertools.product(*(ranges[n] for n in free)):
        point = {n: Fraction(v) for n, v in zip(free, values, strict=True)}
        for n, e in equal_to.items():
            got = _value(canonical(e), point)
            if got is None:
                break
            point[n] = got
        if len(point) != len(names) or not _holds(point, domain):
            continue
        c, r = _value(claimed, point), _value(right, point)
        if c is None or r is None or same_value(c, r):
            continue
        nontrivial = frozenset(n for n in hyper if point[n] != ranges[n].start)
        idle = 0
        for n in nontrivial:  # a hyperparameter the right value does not depend on here
            lowered = dict(point, **{n: Fraction(ranges[n].start)})
            lowered_value = _value(right, lowered)
            if _holds(lowered, domain) and lowered_value is not None and \
                    same_value(lowered_value, r):
                idle += 1
        spread = sum(abs(point[n] - target[n]) for n in sizes)
        score = (idle, len(nontrivial), sum(point[n] for n in hyper), spread)
        found.append((score, nontrivial, point, c, r))
    found.sort(key=lambda f: f[0])
    chosen: list[tuple] = []
    for item in found:
        score, nontrivial, *_ = item
        if any(nontrivial >= other[1] for other in chosen) or (chosen and score[0]):
            continue  # the same error again, or a point where a parameter does nothing
        chosen.append(item)
        if len(chosen) == limit:
            break
    order = hyper + sizes + [n for n in names if n in equal_to]
    out = []
    for _, nontrivial, point, c, r in chosen:
        text = f"at {_shown(point, order)} the claim gives {_number(c)}, the right " \
            f"formula {_number(r)}"
        simplest = dict(point, **{n: Fraction(ranges[n].start) for n in nontrivial})
        c0, r0 = _value(claimed, simplest), _value(right, simplest)
        if nontrivial and _holds(simplest, domain) and c0 is not None and r0 is not None \
                and same_value(c0, r0):
            which = sorted(nontrivial)
            text += (f"; with {_shown(simplest, which)} instead they agree, so the error is in "
                     f"how {' and '.join(which)} enter{'s' if len(which) == 1 else ''}")
        out.append(text)
    return out


class SmallValues(Evaluator):
    """An evaluator whose indexed values (``W(0, 1, 2)``, ``x(1, 4)``) are small integers from
    a few choices, so a person can redo the sums."""

    def __init__(self, point: dict[str, Fraction], seed: str, choices: tuple[int, ...]):
        super().__init__(point, seed)
        self.choices = choices

    def function_value(self, name: str, args: tuple) -> Fraction:
        key = f"{name}({', '.join(str(a) for a in args)})"
        if key not in self.calls:
            rng = random.Random(f"{self.seed}|{key}")
            self.calls[key] = Fraction(rng.choice(self.choices))
        return self.calls[key]


def indexed_counterexample(claimed: sp.Basic, right: sp.Basic, domain: Domain,
                           max_values: int = 14) -> str | None:
    """A counterexample to ``claimed = right`` whose free indices lie in their ranges (from the
    claim's ``assume``) and whose indexed values are small integers (all 1 first, then 0..2):
    ``"at i = 0, j = 1 with every W and x equal to 1 the claim gives 3, the right formula 15"``.
    None when no such point differs."""
    claimed, right = canonical(sp.sympify(claimed)), canonical(sp.sympify(right))
    names = sorted({s.name for s in claimed.free_symbols | right.free_symbols
                    if isinstance(s, sp.Symbol)})
    low, high = _lower_bounds(domain), _upper_bounds(domain)
    equal_to = {rel.lhs.name: rel.rhs for rel in domain.constraints
                if isinstance(rel, sp.Eq) and isinstance(rel.lhs, sp.Symbol)}
    ranges = {}
    for n in names:
        if n in equal_to and equal_to[n].is_Integer:
            ranges[n] = [int(equal_to[n])]
            continue
        lo = low.get(n, 0 if n in domain.nonnegative or n not in domain.positive else 1)
        hi = high.get(n, lo + 3)
        ranges[n] = list(range(lo, min(hi, lo + 5) + 1))
    total = 1
    for r in ranges.values():
        total *= len(r)
    if total > 4000:
        return None
    for choices in ((1,), (0, 1), (0, 1, 2), (-1, 1, 2)):
        for seed in range(1 if len(choices) == 1 else 12):
            for values in itertools.product(*(ranges[n] for n in names)):
                point = {n: Fraction(v) for n, v in zip(names, values, strict=True)}
                if not _holds(point, domain):
                    continue
                try:
                    e_c = SmallValues(dict(point), f"ce{seed}", choices)
                    c = e_c.ev(claimed)
                    e_r = SmallValues(dict(point), f"ce{seed}", choices)
                    e_r.calls = e_c.calls  # the same W and x on both sides
                    r = e_r.ev(right)
                except (PointFailed, Unsupported, ZeroDivisionError):
                    continue
                if same_value(c, r):
                    continue
                shown = _shown(point, [n for n in names if n in point])
                if len(choices) == 1:
                    funcs = sorted({k.split("(")[0] for k in e_c.calls})
                    every = " and ".join(funcs)
                    values_text = f"every {every} equal to {choices[0]}" if funcs else ""
                else:
                    if len(e_c.calls) > max_values:
                        continue
                    values_text = ", ".join(f"{k} = {v}" for k, v in e_c.calls.items())
                lead = ", ".join(p for p in (shown, values_text) if p)
                return (f"at {lead} the claim gives {_number(c)}, the right formula "
                        f"{_number(r)}")
    return None


# -- recurrent models: values from a forward (and backward) run -----------------------------

class RunValues(Evaluator):
    """An evaluator whose signals (``c(2)``, ``bar_h(1)``) are the values of one run."""

    def __init__(self, point: dict[str, Fraction], table: dict[tuple[str, int], float]):
        super().__init__(point, "run")
        self.table = table

    def function_value(self, name: str, args: tuple):
        if len(args) != 1 or not isinstance(args[0], Fraction) or args[0].denominator != 1:
            raise Unsupported(f"{name}{args}: not a signal at one time step")
        key = (name, int(args[0]))
        if key not in self.table:
            raise Unsupported(f"{name}({args[0]}) is not a value of the run")
        self.calls[f"{name}({args[0]})"] = self.table[key]
        return self.table[key]


def model_for(pid: str, declared: object | None, search: bool = True) -> object | None:
    """The recurrent model behind ``pid``: the one its problem declares (a registered model's
    name, or the model object itself), else, when ``search``, the registered model whose
    summary names the problem (``"... (dsga1008-hw2/1.2.1)"``); None when none does or it is
    not a recurrent cell. Only the catalogue's ids are searched for: another source's id that
    happens to match a summary would be a guess."""
    if declared is not None and not isinstance(declared, str):
        return declared if hasattr(declared, "bptt") and hasattr(declared, "cell") else None
    name = declared
    if name is None and not search:
        return None
    if name is None:
        for candidate, summary in model_names().items():
            if any(f"({pid[:k]})" in summary for k in range(len(pid), pid.index("/"), -1)):
                name = candidate
                break
    if name is None:
        return None
    try:
        model = get(name)
    except Exception:  # noqa: BLE001 - without a model there is no run to show
        return None
    return model if hasattr(model, "bptt") and hasattr(model, "cell") else None


def _short(v: float) -> str:
    text = f"{v:.4g}"
    return "0" if text in ("0", "-0") else text


def recurrent_counterexample(claimed: sp.Basic, right: sp.Basic, model: object,
                             time_names: set[str] = frozenset()) -> str | None:
    """A counterexample whose signals come from running ``model`` (its scalar case: every
    dimension 1) on a short input sequence with small integer weights, inputs and upstream
    gradients: gates are what the cell computes (a sigmoid gate lies in (0, 1)), and the
    bars are those of the same run's backward pass. None when a name of the formulas is not
    a value of the run, or no small run separates them."""
    claimed, right = canonical(sp.sympify(claimed)), canonical(sp.sympify(right))
    cell = model.cell
    signals = set(cell.signals)
    outputs = set(cell.outputs)
    funcs = {a.func.__name__ for e in (claimed, right) for a in e.atoms(AppliedUndef)}

    def source(name: str) -> tuple[str, str] | None:
        if name in signals:
            return "value", name
        if name.startswith("bar_") and name[4:] in signals:
            return "bar", name[4:]
        if name.startswith("dL_d") and name[4:] in outputs:
            return "upstream", name[4:]
        return None

    if not funcs or any(source(f) is None for f in funcs):
        return None
    params = list(cell.parameters)
    names = sorted({s.name for e in (claimed, right) for s in e.free_symbols
                    if isinstance(s, sp.Symbol)})
    steps_names = [n for n in names if n == "T"]
    times = [n for n in names if n in time_names or n in ("t", "s")]
    weights = [n for n in names if n in params]
    if set(names) - set(steps_names) - set(times) - set(weights):
        return None
    dims = {str(d): 1 for d in getattr(model, "dim_symbols", {})}
    try:
        concrete = model.dims_for(dims)
    except Exception:  # noqa: BLE001 - a model without a scalar case
        return None
    rng = random.Random("run")
    for attempt in range(40):
        steps = 2 if attempt < 20 else 3
        choices = (1, 2, -1) if attempt else (1,)
        w = {p: float(rng.choice(choices)) for p in params}
        xs = {s.name: [float(rng.choice((1, 2, -1))) for _ in range(steps)] for s in cell.inputs}
        up = {o: [float(rng.choice((1, 2, -1))) for _ in range(steps)] for o in outputs}
        try:
            result = model.bptt(
                {p: np.full(model.shape_of(p, concrete), w[p]) for p in params},
                {x: np.array(v).reshape(steps, 1, *model.shape_of(x, concrete))
                 for x, v in xs.items()},
                {o: np.array(v).reshape(steps, 1, *model.shape_of(o, concrete))
                 for o, v in up.items()},
                None if getattr(cell, "zero_initial", True) else
                {s.name: np.zeros((1, *model.shape_of(s.name, concrete))) for s in cell.states},
                dims)
        except Exception:  # noqa: BLE001 - a run that fails is no counterexample
            return None
        table: dict[tuple[str, int], float] = {}
        for f in funcs:
            kind, sig = source(f)
            series = result.values.get(sig, {}) if kind == "value" else \
                result.bars.get(sig, {}) if kind == "bar" else \
                {k + 1: np.array(v) for k, v in enumerate(up[sig])}
            for k, v in series.items():
                table[(f, int(k))] = float(np.asarray(v).reshape(-1)[0])
        for t in range(1, steps + 1):
            point = {n: Fraction(steps) for n in steps_names}
            point.update({n: Fraction(t) for n in times})
            point.update({n: Fraction(int(w[n])) for n in weights})
            try:
                ec, er = RunValues(dict(point), table), RunValues(dict(point), table)
                c, r = ec.ev(claimed), er.ev(right)
            except (PointFailed, Unsupported, ZeroDivisionError):
                continue
            c_f, r_f = float(to_mpf(c)), float(to_mpf(r))
            if abs(c_f - r_f) <= 1e-6 * max(1.0, abs(c_f), abs(r_f)):
                continue
            used = {**ec.calls, **er.calls}
            setting = ", ".join([f"{n} = {steps}" for n in steps_names] +
                                [f"{n} = {t}" for n in times])
            starts = "" if getattr(cell, "zero_initial", True) else \
                ", ".join(f"{s.name}(0) = 0" for s in cell.states)
            given = "; ".join(
                [", ".join(f"{p} = {int(w[p])}" for p in params)] +
                ([starts] if starts else []) +
                [", ".join(f"{x}({k + 1}) = {int(a)}" for k, a in enumerate(v))
                 for x, v in xs.items()] +
                ["upstream " + ", ".join(f"dL_d{o}({k + 1}) = {int(a)}"
                                         for k, a in enumerate(v))
                 for o, v in up.items() if any(f.startswith("dL_d") or f.startswith("bar_")
                                               for f in funcs)])
            given_names = {x.name for x in cell.inputs} | {f"dL_d{o}" for o in outputs}
            run = ", ".join(f"{k} = {_short(v)}" for k, v in sorted(used.items())
                            if k.split("(")[0] not in given_names)
            return (f"a run of the cell (every dimension 1) at {setting}, with {given}; "
                    f"it computes {run}; the claim gives {_short(c_f)}, the right formula "
                    f"{_short(r_f)}")
    return None


# -- forward definitions of the derived answer: a short input run through them -------------

def forward_definitions(results: object) -> dict[str, sp.Eq]:
    """The derived answer's definitions ``v(t) = ...`` of signals (a mean, a variance, a
    normalised value), the first one of each name; not adjoints (``bar_v``) and not
    recursions (a definition through ``v(t - 1)``)."""
    found: dict[str, sp.Eq] = {}
    for v in equations_in(results):
        if isinstance(v.lhs, AppliedUndef) and len(v.lhs.args) == 1 and \
                isinstance(v.lhs.args[0], sp.Symbol):
            name = v.lhs.func.__name__
            if not name.startswith("bar_") and not v.rhs.has(v.lhs.func):
                found.setdefault(name, v)
    return found


class ForwardValues(Evaluator):
    """An evaluator that computes a defined signal from its definition at the step asked for,
    and reads an input signal (``h(2)``) from a given sequence."""

    def __init__(self, point: dict[str, Fraction], defs: dict[str, sp.Eq],
                 inputs: dict[str, list[Fraction]]):
        super().__init__(point, "forward")
        self.defs = defs
        self.inputs = inputs
        self.depth = 0

    def function_value(self, name: str, args: tuple):
        key = f"{name}({', '.join(str(a) for a in args)})"
        if key in self.calls:
            return self.calls[key]
        if len(args) != 1 or not isinstance(args[0], Fraction) or args[0].denominator != 1:
            raise Unsupported(f"{key}: not a signal at one step")
        step = int(args[0])
        if name in self.defs:
            if self.depth > 12:
                raise PointFailed("definitions nested too deeply")
            eq = self.defs[name]
            var = eq.lhs.args[0]
            saved = dict(self.point)
            self.point = {**self.point, var.name: Fraction(step)}
            self.depth += 1
            try:
                value = self.ev(eq.rhs)
            finally:
                self.depth -= 1
                self.point = saved
        elif name in self.inputs and 1 <= step <= len(self.inputs[name]):
            value = self.inputs[name][step - 1]
        else:
            raise Unsupported(f"{key} is neither defined nor an input of the run")
        self.calls[key] = value
        return value


_INPUT_SEQUENCES = ((1, 3), (0, 2), (2, 0), (1, 3, 2), (0, 2, 1), (2, -1, 0), (1, 2, 4))
_UPSTREAM = ((1, -1, 2), (2, 1, -1))
_CONSTANTS = {"epsilon": Fraction(1), "eps": Fraction(1), "gamma": Fraction(1),
              "beta": Fraction(0)}


def forward_counterexample(claimed: sp.Basic, right: sp.Basic, results: object,
                           time_names: set[str] = frozenset()) -> str | None:
    """A counterexample whose signals follow the derived answer's own forward definitions on
    a short integer input (a mean, a variance and the normalised value of the same
    sequence), the other inputs (an upstream gradient) small integers. Exact where the
    arithmetic allows; None when a name is neither defined nor an input."""
    defs = forward_definitions(results)
    claimed, right = canonical(sp.sympify(claimed)), canonical(sp.sympify(right))
    used = {a.func.__name__ for e in (claimed, right) for a in e.atoms(AppliedUndef)}
    if not used & set(defs):
        return None
    reached, frontier = set(used), list(used & set(defs))
    while frontier:  # the inputs the definitions read, transitively
        eq = defs[frontier.pop()]
        for a in eq.rhs.atoms(AppliedUndef):
            name = a.func.__name__
            if name not in reached:
                reached.add(name)
                if name in defs:
                    frontier.append(name)
    inputs = sorted(reached - set(defs))
    names = sorted({s.name for e in (claimed, right) for s in e.free_symbols
                    if isinstance(s, sp.Symbol)} |
                   {s.name for n in reached & set(defs) for s in defs[n].rhs.free_symbols
                    if isinstance(s, sp.Symbol)} - {defs[n].lhs.args[0].name for n in defs})
    steps_names = [n for n in names if n == "T"]
    times = [n for n in names if n in time_names or n in ("t", "s")]
    constants = [n for n in names if n not in steps_names and n not in times]
    if any(n not in _CONSTANTS for n in constants):
        return None
    best: tuple[int, str] | None = None
    for sequence in _INPUT_SEQUENCES:
        steps = len(sequence)
        # the first input is the sequence; any other (an upstream gradient) 1, -1, 2, ...
        series = {name: [Fraction(v) for v in (sequence if j == 0 else
                                               _UPSTREAM[(j - 1) % 2][:steps])]
                  for j, name in enumerate(inputs)}
        for step in range(1, steps + 1):
            point = {n: Fraction(steps) for n in steps_names}
            point.update({n: Fraction(step) for n in times})
            point.update({n: _CONSTANTS[n] for n in constants})
            try:
                ec = ForwardValues(dict(point), defs, series)
                c = ec.ev(claimed)
                er = ForwardValues(dict(point), defs, series)
                er.calls = ec.calls
                r = er.ev(right)
            except (PointFailed, Unsupported, ZeroDivisionError):
                continue
            if abs(to_mpf(c) - to_mpf(r)) <= 1e-9 * max(1, abs(to_mpf(c)), abs(to_mpf(r))):
                continue
            shown = {key: v for key, v in ec.calls.items() if key.split("(")[0] in used}
            inexact = sum(not isinstance(v, Fraction) for v in (*shown.values(), c, r))
            setting = ", ".join([f"{n} = {steps}" for n in steps_names] +
                                [f"{n} = {step}" for n in times] +
                                [f"{n} = {_CONSTANTS[n]}" for n in constants])
            given = ", ".join(f"{x}({k + 1}) = {v}" for x in inputs
                              for k, v in enumerate(series[x]))
            computed = ", ".join(f"{key} = {_exact(v)}" for key, v in shown.items()
                                 if key.split("(")[0] in defs)
            text = (f"at {setting}, with {given}" +
                    (f"; the forward pass gives {computed}" if computed else "") +
                    f"; the claim gives {_exact(c)}, the right formula {_exact(r)}")
            if best is None or inexact < best[0]:
                best = (inexact, text)
            break
        if best is not None and best[0] == 0:
            break
    return best[1] if best else None


def _exact(v) -> str:
    if isinstance(v, Fraction):
        return str(v)
    return _short(float(to_mpf(v)))
