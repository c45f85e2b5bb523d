"""Grading one claim against the derived answer: the verdict and the evidence behind it.

Verdicts: ``correct``, ``partly correct`` (a list or a shape right in some positions and wrong in
others, each named), ``wrong`` (with a counterexample or the right value and the likely slip),
``unparseable`` (the claim is outside the safe grammar or its bounds) and ``not checkable``
(prose, no derived answer yet, no matching result, or an identity no method could decide).
Prose judged by the transcriber is ``judged right``, ``judged partly right``, ``judged right
answer for a wrong reason`` or ``judged wrong``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from derive.core.errors import DeriveError
from derive.grade.claims import Claim
from derive.grade.counterexamples import (
    forward_counterexample,
    indexed_counterexample,
    model_for,
    recurrent_counterexample,
    size_counterexamples,
)
from derive.grade.equivalence import (
    Decision,
    Domain,
    as_basic,
    canonical,
    equivalent,
    same_order,
)
from derive.grade.parse import MAX_CHARS, ParseError, SymbolTable, parse_formula, parse_number
from derive.grade.parse import SymbolTable as _Table
from derive.grade.results import (
    answer_source,
    as_fraction,
    biases_of,
    declared_model,
    equation_key,
    expand_gates,
    gate_definitions,
    layer_biases,
    lhs_name,
    model_definitions,
    parts_of,
    record_of,
    resolve,
    row_labels,
    symbol_table,
)
from derive.grade.slips import NumberContext, formula_slip, number_slip, row_name
from derive.grade.verifiers import run_verifier
from derive.printing.display import clip, markdown_escape, value_markdown
from derive.printing.jsonable import to_json

CORRECT, WRONG, UNPARSEABLE, NOT_CHECKABLE = "correct", "wrong", "unparseable", "not checkable"
PARTLY = "partly correct"  # a list or shape right in some positions, wrong in others
# prose judged by the transcriber against the derived answer: counted apart from the verdicts
# the grader decides, so a summary never reads a judgement as a checked result
JUDGED_RIGHT, JUDGED_WRONG = "judged right", "judged wrong"
JUDGED_PARTLY = "judged partly right"  # the judge's reason: right in part, wrong in part
JUDGED_REASON = "judged right answer for a wrong reason"  # the conclusion holds, the argument not
ILLEGIBLE = "illegible"  # the source cannot be read there: unreadable, like an unparseable claim
STATUSES = (CORRECT, PARTLY, WRONG, JUDGED_RIGHT, JUDGED_PARTLY, JUDGED_REASON, JUDGED_WRONG,
            UNPARSEABLE, ILLEGIBLE, NOT_CHECKABLE)
# what a prose judgement says, read from ``judged`` or from the first words of ``because``
_JUDGEMENT_WORDS = ((JUDGED_REASON, ("right answer, wrong reason", "right answer but wrong reason",
                                     "right conclusion, wrong reason")),
                    (JUDGED_PARTLY, ("partly right", "partly", "in part", "partly correct")))
JUDGED_METHOD = "judged by the transcriber against the derived answer (not machine-checked)"


@dataclass
class Verdict:
    """The verdict on one claim; ``claimed``/``expected`` hold the values as read (SymPy, ints,
    lists or text) for the renderers."""

    claim: Claim
    status: str
    reason: str
    claimed: Any = None
    expected: Any = None
    method: str = ""
    slip: str = ""
    evidence: list[str] = field(default_factory=list)
    decision: Decision | None = None
    explanation: str = ""  # the derived answer's own explanation, when the claim asks for it

    def __repr__(self) -> str:
        line = f" (line {self.claim.line})" if self.claim.line else ""
        return f"<Verdict {self.status}: {self.claim.problem} {clip(self.claim.title)!r}{line}>"

    def _repr_markdown_(self) -> str:
        """Jupyter: the verdict, the claimed and the right value typeset, why, the evidence."""
        line = f" (line {self.claim.line})" if self.claim.line else ""
        rows = [f"**{self.status}**: {markdown_escape(self.claim.problem)}, "
                f"{markdown_escape(self.claim.title)}{line}", ""]
        claimed = self.claimed if self.claimed is not None else self.claim.value
        rows.append(f"- claimed: {value_markdown(claimed)}")
        if self.status in (WRONG, PARTLY) and self.expected is not None:
            rows.append(f"- right: {value_markdown(self.expected)}")
        rows.append(f"- why: {markdown_escape(clip(self.reason, 600))}")
        rows += [f"- evidence: {markdown_escape(clip(e, 600))}" for e in self.evidence[:8]]
        if self.slip:
            rows.append(f"- likely slip: {markdown_escape(clip(self.slip, 600))}")
        if self.method and self.method != "none":
            rows.append(f"- decided by: {markdown_escape(clip(self.method, 300))}")
        return "\n".join(rows) + "\n"

    def as_json(self) -> dict:
        def safe(v: Any) -> Any:
            if isinstance(v, Fraction):  # exact numbers: integers, or "p/q"
                return v.numerator if v.denominator == 1 else str(v)
            if isinstance(v, list | tuple):
                return [safe(x) for x in v]
            if isinstance(v, dict):
                return {str(k): safe(x) for k, x in v.items()}
            try:
                return to_json(v)
            except TypeError:
                return str(v)

        return {
            "problem": self.claim.problem,
            "kind": self.claim.kind,
            "label": self.claim.title,
            "result": self.claim.result,
            "line": self.claim.line,
            "claim": self.claim.value if not isinstance(self.claim.value, str) or
            len(self.claim.value) <= 2000 else self.claim.value[:2000] + "...",
            "verdict": self.status,
            "reason": self.reason,
            "claimed": safe(self.claimed),
            "expected": safe(self.expected),
            "method": self.method,
            "slip": self.slip or None,
            "evidence": self.evidence,
            "decision": self.decision.as_json() if self.decision else None,
            "explanation": self.explanation or None,
        }


# -- the answers ---------------------------------------------------------------------------

def _registration(pid: str) -> str:
    """Why ``pid`` has no derived answer, or "" when it has one (without building it)."""
    try:
        return "" if pid in answer_source().problems() else f"no derived answer for {pid} yet"
    except Exception as exc:  # noqa: BLE001 - a broken problem module must not stop grading
        return f"the derived answers could not be loaded ({type(exc).__name__}: {exc})"


def answer_or_reason(pid: str) -> tuple[Any, str]:
    """``(answer, "")`` or ``(None, why it is not available)``."""

    source = answer_source()
    try:
        registered = source.problems()
    except Exception as exc:  # noqa: BLE001 - a broken problem module must not stop grading
        return None, f"the derived answers could not be loaded ({type(exc).__name__}: {exc})"
    if pid not in registered:
        return None, f"no derived answer for {pid} yet"
    try:
        return source.answer(pid), ""
    except DeriveError as exc:
        return None, f"the derived answer for {pid} is not available: {exc}"
    except Exception as exc:  # noqa: BLE001 - another module's failure must not stop grading
        return None, f"the derived answer for {pid} failed to build ({type(exc).__name__}: {exc})"


def _run_weights(claim: Claim) -> tuple[bool | None, str, list[str]]:
    """A weights claim run by the verifier its answer source declares (``ok`` None when there
    is none): the catalogue's registered verifier, or the one another source gives."""
    source = answer_source()
    if source.catalogue:
        return run_verifier(claim.problem, claim.value)
    verifier = getattr(source.grading(claim.problem), "verifier", None)
    if verifier is None:
        return None, f"no verifier runs weights for {claim.problem}", []
    try:
        return verifier(claim.value)
    except DeriveError as exc:  # malformed weights (shapes): a wrong claim, said why
        return False, f"the weights cannot be run: {exc}", []


def _domain(claim: Claim, table: SymbolTable, expected: Any, sizes: Any = None) -> Domain:
    """The domain of a comparison: the claim's ``assume`` relations, the signs the answer's
    symbols carry and, for ``sizes`` (a shape's dimensions, claimed and right), every symbol
    a size of at least 1 (filters, channels, lengths): a counterexample must be a valid
    layer."""
    constraints = []
    for text in claim.assume:
        try:
            rel = parse_formula(text, table)
        except ParseError as exc:
            raise DeriveError(f"claim at line {claim.line} ({claim.problem}), key 'assume': "
                              f"{text!r} is not a relation: {exc}") from None
        if not isinstance(rel, sp.core.relational.Relational):
            raise DeriveError(f"claim at line {claim.line} ({claim.problem}), key 'assume': "
                              f"{text!r} is not a relation such as 'H >= K'")
        constraints.append(rel)
    positive, nonnegative = set(), set()
    exprs = expected if isinstance(expected, list) else [expected]
    for e in exprs:
        if isinstance(e, sp.Basic):
            for s in e.free_symbols:
                if isinstance(s, sp.Symbol):
                    if s.is_positive:
                        positive.add(s.name)
                    if s.is_nonnegative:
                        nonnegative.add(s.name)
    for e in sizes or []:
        if isinstance(e, sp.Basic):
            positive |= {x.name for x in e.free_symbols if isinstance(x, sp.Symbol)}
    for rel in constraints:  # "P >= 0" allows zero
        if isinstance(rel, sp.Ge) and isinstance(rel.lhs, sp.Symbol) and rel.rhs == 0:
            nonnegative.add(rel.lhs.name)
            positive.discard(rel.lhs.name)
    return Domain(False, positive, nonnegative, constraints)


# -- grading -------------------------------------------------------------------------------

def locate_result(claim: Claim, results: Any, table: SymbolTable
                  ) -> tuple[str, Any] | Verdict:
    """The derived result a claim is compared with, as its path and value; or, when there is
    none (no key, an equation whose left side names no result), the verdict saying why."""
    path = claim.result
    if claim.kind == "equation" and not path:
        try:
            eq = parse_formula(claim.value, table)
        except ParseError as exc:
            return Verdict(claim, UNPARSEABLE, f"cannot parse the equation: {exc}",
                           claimed=claim.value)
        path = equation_key(eq, results)
        if path is None:
            return Verdict(claim, NOT_CHECKABLE, f"no result of {claim.problem} matches the "
                           f"left side {lhs_name(eq)!r} (keys: {', '.join(map(str, results))})",
                           claimed=claim.value)
    if not path:
        return Verdict(claim, NOT_CHECKABLE, "the claim names no result key "
                       f"(keys of {claim.problem}: {', '.join(map(str, results))})",
                       claimed=claim.value)
    try:
        return path, resolve(results, path)
    except (KeyError, IndexError) as exc:
        msg = str(exc).strip("'\"")
        return Verdict(claim, NOT_CHECKABLE, f"answer {claim.problem} has no result {path!r}: "
                       f"{msg}", claimed=claim.value)


def grade_claim(claim: Claim) -> Verdict:
    """The verdict on ``claim`` against ``derive.answer(claim.problem)``."""
    if claim.illegible:
        return Verdict(claim, ILLEGIBLE, "illegible in the source: nothing can be graded",
                       claimed=claim.value, method="none")
    verdict = _grade_claim(claim)
    if claim.filled:
        verdict.evidence.insert(0, f"filled in by the transcriber (illegible in the source): "
                                f"{claim.filled}")
    return verdict


def judgement(claim: Claim) -> tuple[str, str]:
    """The status of a judged prose claim and its reason: ``judged = "right"``/``"wrong"``,
    refined by the reason's first words (``"partly right: ..."``, ``"in part: ..."``,
    ``"right answer, wrong reason: ..."``), which are then dropped from the reason shown."""
    said = str(claim.judged).strip().lower()
    because = claim.because.strip()
    for status, words in _JUDGEMENT_WORDS:
        if said in words:
            return status, because
        for w in words:
            if because.lower().startswith(w) and because[len(w):len(w) + 1] in (":", ";", ","):
                return status, because[len(w) + 1:].strip()
    return (JUDGED_RIGHT if said == "right" else JUDGED_WRONG), because


def _judged(claim: Claim) -> Verdict:
    answer, _ = answer_or_reason(claim.problem)
    expected = _text_of(answer, claim) if answer is not None else None
    status, because = judgement(claim)
    return Verdict(claim, status, because, claimed=claim.value, expected=expected,
                   method=JUDGED_METHOD,
                   explanation=_explanation(answer.results, claim) if answer is not None
                   else "")


def _grade_claim(claim: Claim) -> Verdict:
    if claim.kind == "blank":  # no answer is a wrong answer, whatever the question
        answer, _ = answer_or_reason(claim.problem)
        expected = _text_of(answer, claim) if answer is not None else None
        return Verdict(claim, WRONG, "no answer: " + (claim.value or "left blank"),
                       claimed=None, expected=expected, method="no answer given",
                       explanation=_explanation(answer.results, claim) if answer is not None
                       else "")
    if claim.kind == "text" and claim.judged:
        return _judged(claim)
    if claim.kind == "text":
        if not (claim.result or claim.explain):  # nothing to show: do not build the answer
            why = _registration(claim.problem)
            return Verdict(claim, NOT_CHECKABLE, "a text claim (an explanation): compare it "
                           "with the derived answer" + (f"; {why}" if why else ""),
                           claimed=claim.value, method="none")
        answer, why = answer_or_reason(claim.problem)
        expected = _text_of(answer, claim) if answer is not None else None
        return Verdict(claim, NOT_CHECKABLE, "a text claim (an explanation): compare it with "
                       "the derived answer" + ("" if answer is not None else f"; {why}"),
                       claimed=claim.value, expected=expected, method="none",
                       explanation=_explanation(answer.results, claim) if answer is not None
                       else "")
    if claim.kind == "weights":
        ok, reason, evidence = _run_weights(claim)
        status = NOT_CHECKABLE if ok is None else CORRECT if ok else WRONG
        verdict = Verdict(claim, status, reason, claimed=claim.value, evidence=evidence,
                          method="run by the problem's verifier" if ok is not None else "none")
        answer, _ = answer_or_reason(claim.problem)
        if answer is not None and isinstance(answer.results, dict):
            derived = {k: answer.results[k] for k in claim.value if k in answer.results}
            if derived and status == WRONG:
                verdict.expected = derived  # one working set: the derived answer's
        return verdict
    answer, why = answer_or_reason(claim.problem)
    if answer is None:
        return Verdict(claim, NOT_CHECKABLE, why, claimed=claim.value)
    results = answer.results
    table = symbol_table(results)
    located = locate_result(claim, results, table)
    if isinstance(located, Verdict):
        return located
    path, expected = located
    grader = {"number": _grade_number, "numbers": _grade_numbers, "shape": _grade_shape,
              "formula": _grade_formula, "equation": _grade_formula, "choice": _grade_choice,
              "set": _grade_set}.get(claim.kind)
    if grader is None:
        return Verdict(claim, NOT_CHECKABLE, f"no comparison for a {claim.kind} claim here",
                       claimed=claim.value, expected=expected)
    try:
        verdict = grader(claim, expected, results, table, path)
    except ParseError as exc:
        return Verdict(claim, UNPARSEABLE, f"cannot parse the claim: {exc}",
                       claimed=claim.value, expected=expected)
    except DeriveError:
        raise
    except Exception as exc:  # noqa: BLE001 - one odd claim must not stop the others' grading
        return Verdict(claim, NOT_CHECKABLE, f"the comparison failed ({type(exc).__name__}: "
                       f"{str(exc)[:200]})", claimed=claim.value, expected=expected)
    verdict.reason = verdict.reason or verdict.status
    verdict.explanation = _explanation(results, claim)
    return verdict


def _explanation(results: Any, claim: Claim) -> str:
    if not claim.explain:
        return ""
    try:
        value = resolve(results, claim.explain)
    except (KeyError, IndexError):
        return ""
    return value if isinstance(value, str) else str(value)


def _text_of(answer: Any, claim: Claim) -> Any:
    if claim.result:
        try:
            return resolve(answer.results, claim.result)
        except (KeyError, IndexError):
            pass
    return None


def _claimed_number(value: Any) -> Fraction:
    if isinstance(value, bool):
        raise ParseError(f"not a number: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ParseError(f"not a finite number: {value!r}")
        return Fraction(value).limit_denominator(10**9)
    n = parse_number(str(value))
    return Fraction(int(n.p), int(n.q))


def _fmt(v: Fraction | tuple) -> str:
    if isinstance(v, tuple):
        return " x ".join(_fmt(x) for x in v)
    return str(v.numerator) if v.denominator == 1 else str(v)


def _number_or_row(value: Any) -> Fraction | tuple | None:
    if isinstance(value, list | tuple):
        row = tuple(as_fraction(x) for x in value)
        return None if any(x is None for x in row) else row
    return as_fraction(value)


def _grade_number(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                  path: str) -> Verdict:
    claimed = _claimed_number(claim.value)
    right = as_fraction(expected)
    if right is None:
        if isinstance(expected, sp.Basic) and expected.is_number:
            d = equivalent(as_basic(claimed), expected)
            return _from_decision(claim, d, as_basic(claimed), expected)
        if isinstance(expected, float):
            ok = abs(float(claimed) - expected) <= 1e-9 * max(1.0, abs(expected))
            return Verdict(claim, CORRECT if ok else WRONG, "" if ok else
                           f"claimed {_fmt(claimed)}, the derived value is {expected:g}",
                           claimed=claimed, expected=expected, method="numeric (1e-9)")
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a number "
                       f"({type(expected).__name__})", claimed=claimed, expected=expected)
    evidence = []
    if claim.work:
        try:
            worked = _claimed_number(claim.work)
            if worked != claimed:
                evidence.append(f"the solution's own working {claim.work} evaluates to "
                                f"{_fmt(worked)}, not the {_fmt(claimed)} it claims "
                                "(an arithmetic slip)")
        except ParseError as exc:
            evidence.append(f"the solution's working cannot be read: {exc}")
    if claimed == right:
        return Verdict(claim, CORRECT, f"{_fmt(claimed)} is right", claimed=claimed,
                       expected=right, method="exact", evidence=evidence)
    row = record_of(results, path)
    params = path.rsplit(".", 1)[-1] == "params" or "param" in path
    ctx = NumberContext(row=row, parts=parts_of(results, right),
                        biases=layer_biases(row) if params else None,
                        layer_biases=biases_of(results) if params else ())
    slip = number_slip(claimed, right, ctx) or ""
    return Verdict(claim, WRONG, f"claimed {_fmt(claimed)}, the right value is {_fmt(right)}",
                   claimed=claimed, expected=right, method="exact", slip=slip,
                   evidence=evidence)


def _grade_numbers(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                   path: str) -> Verdict:
    claimed = [tuple(_claimed_number(x) for x in v) if isinstance(v, list)
               else _claimed_number(v) for v in claim.value]
    if not isinstance(expected, list | tuple):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a list", claimed=claimed,
                       expected=expected)
    right = [_number_or_row(v) for v in expected]
    if any(r is None for r in right):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a list of numbers",
                       claimed=claimed, expected=expected)
    labels = row_labels(results, path)
    evidence, slips = [], []
    if len(claimed) != len(right):
        evidence.append(f"{len(claimed)} values claimed, the answer has {len(right)}")
    base = path.split("[*]")[0]
    rest = path.split("[*]", 1)[1] if "[*]" in path else ""
    rows: list[tuple[int, Any, Any, str]] = []  # the wrong rows: (index, claimed, right, slip)
    for i, (c, r) in enumerate(zip(claimed, right, strict=False)):
        if c == r:
            continue
        row = record_of(results, f"{base}[{i}]{rest}") if rest else {}
        ctx = NumberContext(row=row, column=right, claimed_column=claimed, index=i,
                            labels=labels,
                            biases=layer_biases(row) if rest.endswith("params") else None)
        slip = number_slip(c, r, ctx) if isinstance(c, Fraction) and \
            isinstance(r, Fraction) else None
        rows.append((i, c, r, slip or ""))
    convention = _stated_convention_rows(claim, rows, labels)
    if convention[1]:
        evidence.append(convention[1])
    for i, c, r, slip in rows:
        if i in convention[0]:
            continue
        name = row_name(i, labels)
        evidence.append(f"{name}: claimed {_fmt(c)}, right {_fmt(r)}" +
                        (f"; likely slip: {slip}" if slip else ""))
        if slip:
            slips.append(f"{name}: {slip}")
    wrong = [i for i, *_ in rows if i not in convention[0]]
    by_convention = len(convention[0])
    n = len(right)
    under = f" ({by_convention} of them under the solution's stated convention)" \
        if by_convention else ""
    if not wrong and len(claimed) == n:
        return Verdict(claim, CORRECT, f"all {n} values are right{under}", claimed=claimed,
                       expected=right, method="exact", evidence=evidence)
    named = _rows_named(wrong, labels)
    good = min(len(claimed), n) - len(wrong)
    if good > 0:
        return Verdict(claim, PARTLY, f"{good} of {n} values are right{under}; wrong: {named}",
                       claimed=claimed, expected=right, method="exact",
                       slip="; ".join(slips), evidence=evidence)
    return Verdict(claim, WRONG, f"{len(wrong)} of {n} values are wrong",
                   claimed=claimed, expected=right, method="exact", slip="; ".join(slips),
                   evidence=evidence)


def _rows_named(indices: list[int], labels: Any) -> str:
    """Rows by their numbers as the key numbers them (``rows 6 and 8``)."""
    numbers = [row_name(i, labels).split(" (")[0].removeprefix("row ") for i in indices]
    if not numbers:
        return "none"
    if len(numbers) == 1:
        return f"row {numbers[0]}"
    return "rows " + ", ".join(numbers[:-1]) + f" and {numbers[-1]}"


def _stated_convention_rows(claim: Claim, rows: list[tuple[int, Any, Any, str]],
                            labels: Any) -> tuple[set[int], str]:
    """The wrong rows that the solution's stated ``convention`` explains, and one sentence
    saying so: the largest group of rows of one kind (same label) off by one common factor.
    Said once, as the convention, not once per row as a slip."""
    if not claim.convention:
        return set(), ""
    groups: dict[tuple[Fraction, str], list[int]] = {}
    for i, c, r, _ in rows:
        if isinstance(c, Fraction) and isinstance(r, Fraction) and r != 0 and c != 0:
            kind = labels[i] if i < len(labels) else ""
            groups.setdefault((c / r, kind), []).append(i)
    if not groups:
        return set(), ""
    (ratio, kind), members = max(groups.items(), key=lambda kv: len(kv[1]))
    if ratio.denominator != 1 and ratio.numerator != 1:
        return set(), ""  # only a whole factor is a counting rule
    factor = f"{ratio.numerator} times" if ratio.denominator == 1 else \
        f"1/{ratio.denominator} of"
    what = f" ({kind})" if kind else ""
    return set(members), (f"{_rows_named(members, labels).capitalize()}{what}: each is "
                          f"{factor} the derived value, as the solution's stated convention "
                          f"counts ({claim.convention}); not counted as errors")


def _expected_formula(value: Any, table: SymbolTable) -> Any:
    if isinstance(value, str):
        return parse_formula(value, table)  # the answer's own text, still never eval'd
    return as_basic(value)


def _grade_shape(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                 path: str) -> Verdict:
    if isinstance(expected, tuple):
        expected = list(expected)
    if not isinstance(expected, list):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a shape",
                       claimed=claim.value, expected=expected)
    dims = [as_basic(_claimed_number(v)) if isinstance(v, int | float) else
            parse_formula(str(v), table) for v in claim.value]
    right = [_expected_formula(v, table) for v in expected]
    domain = _domain(claim, table, right, sizes=dims + right)

    def compare(c: sp.Basic, r: sp.Basic) -> Decision:
        if c.is_Number and r.is_Number:
            return Decision(c == r, "exact", claimed_value=str(c), expected_value=str(r))
        return equivalent(c, r, domain)

    if claim.layout:
        stated = _in_stated_layout(claim, dims, right, compare)
        if stated is not None:
            return stated
    if len(dims) != len(right):
        return _shape_lengths(claim, dims, right, compare, domain)
    evidence: list[str] = []
    methods: set[str] = set()
    undecided = []
    first: Decision | None = None
    wrong_dims: list[int] = []
    for i, (c, r) in enumerate(zip(dims, right, strict=True)):
        d = compare(c, r)
        methods.add(d.method)
        if d.equal is None:
            undecided.append(i + 1)
        elif not d.equal:
            first = first or d
            same = next((j for j in wrong_dims if _same_error(dims[j], right[j], c, r)), None)
            if same is not None:  # the height's formula again for the width: one error
                evidence.append(f"dimension {i + 1}: the same formula as dimension {same + 1} "
                                f"in another variable, so the same error")
            else:
                evidence.extend(_dim_evidence(i, c, r, d, claim, domain))
            wrong_dims.append(i)
    if evidence:
        slip = ""
        if sorted(map(str, dims)) == sorted(map(str, right)):
            slip = "the right sizes in another order (a different axis layout)"
        good = [i for i in range(len(right)) if i not in wrong_dims and i + 1 not in undecided]
        status, reason = WRONG, f"{len(wrong_dims)} of {len(right)} dimensions are wrong"
        if good and not undecided and not slip:
            status = PARTLY
            reason = (f"{_dims_named(good)} right ({', '.join(str(right[i]) for i in good)}); "
                      f"{_dims_named(wrong_dims)} wrong")
        return Verdict(claim, status, reason,
                       claimed=dims, expected=right, method=", ".join(sorted(methods)),
                       evidence=evidence, decision=first, slip=slip)
    if undecided:
        return Verdict(claim, NOT_CHECKABLE, f"dimensions {undecided} could not be decided",
                       claimed=dims, expected=right, method="undecided")
    return Verdict(claim, CORRECT, "every dimension is right", claimed=dims, expected=right,
                   method=", ".join(sorted(methods)))


def _in_stated_layout(claim: Claim, dims: list, right: list, compare) -> Verdict | None:
    """A shape in the layout the solution states (``layout``): its axes are the right ones
    when they match the right axes one to one in some order (axes of size 1 aside); the
    order is a convention of the layout, not an error. None when they do not match."""
    from itertools import permutations

    squeeze_c = [d for d in dims if d != 1]
    squeeze_r = [d for d in right if d != 1]
    if len(squeeze_c) != len(squeeze_r) or len(squeeze_c) > 6:
        return None
    for order in permutations(range(len(squeeze_r))):
        if all(compare(c, squeeze_r[j]).equal for c, j in zip(squeeze_c, order, strict=True)):
            same = list(order) == sorted(order) and len(dims) == len(right)
            if same:
                return None  # the derived layout itself: graded as usual
            return Verdict(claim, CORRECT, f"the right axes in the solution's stated layout "
                           f"({claim.layout}); the derived answer orders them "
                           f"{_shape(right)}", claimed=dims, expected=right,
                           method="exact, the axes as a multiset (layout stated)"
                           + (", up to size-1 axes" if len(dims) != len(right) else ""),
                           evidence=[f"another axis order: claimed {_shape(dims)}, derived "
                                     f"{_shape(right)}"])
    return None


def _dims_named(indices: list[int]) -> str:
    numbers = [str(i + 1) for i in indices]
    if len(numbers) == 1:
        return f"dimension {numbers[0]} is"
    return "dimensions " + ", ".join(numbers[:-1]) + f" and {numbers[-1]} are"


def _same_error(c1: sp.Basic, r1: sp.Basic, c2: sp.Basic, r2: sp.Basic) -> bool:
    """Whether dimension 2 is dimension 1 with one variable renamed, in the claim and in the
    right formula alike (the width's formula is the height's with W for H)."""
    names1 = {s for s in c1.free_symbols | r1.free_symbols if isinstance(s, sp.Symbol)}
    names2 = {s for s in c2.free_symbols | r2.free_symbols if isinstance(s, sp.Symbol)}
    for a in names1 - names2:
        for b in names2 - names1:
            if c1.xreplace({a: b}) == c2 and r1.xreplace({a: b}) == r2:
                return True
    return False


def _dim_evidence(i: int, c: sp.Basic, r: sp.Basic, d: Decision, claim: Claim | None = None,
                  domain: Domain | None = None) -> list[str]:
    line = f"dimension {i + 1}: claimed {c}, right {r}"
    shown = size_counterexamples(c, r, domain) if domain is not None and \
        not (c.is_Number and r.is_Number) else []
    if shown:
        return [line] + [f"counterexample: {x}" for x in shown]
    if d.point:
        line += f"; at {_point(d.point)}: claimed {d.claimed_value}, right {d.expected_value}"
    return [line]


def _shape_lengths(claim: Claim, dims: list, right: list, compare,
                   domain: Domain | None = None) -> Verdict:
    """A claim with more or fewer axes: equal up to size-1 axes, or the best alignment."""
    from itertools import combinations

    squeeze_c = [d for d in dims if d != 1]
    squeeze_r = [d for d in right if d != 1]
    if len(squeeze_c) == len(squeeze_r) and \
            all(compare(c, r).equal for c, r in zip(squeeze_c, squeeze_r, strict=True)):
        return Verdict(claim, CORRECT, f"equal to the right shape {_shape(right)} up to axes "
                       "of size 1", claimed=dims, expected=right, method="exact, up to size-1 axes")
    evidence = [f"{len(dims)} dimensions claimed, the right shape {_shape(right)} has "
                f"{len(right)}"]
    slip = ""
    if sorted(map(str, squeeze_c)) == sorted(map(str, squeeze_r)):
        slip = "the right sizes up to axes of size 1, in another order (a different layout)"
    if len(squeeze_c) == len(squeeze_r):
        evidence.append(f"up to axes of size 1: claimed {_shape(squeeze_c)}, right "
                        f"{_shape(squeeze_r)}")
        return Verdict(claim, WRONG, evidence[0], claimed=dims, expected=right,
                       method="exact, up to size-1 axes", evidence=evidence[1:], slip=slip)
    longer, shorter, extra_is_claimed = (dims, right, True) if len(dims) > len(right) else \
        (right, dims, False)
    k = len(longer) - len(shorter)
    best: tuple[int, tuple, list] | None = None
    if k <= 2 and len(longer) <= 6:
        for drop in combinations(range(len(longer)), k):
            kept = [d for i, d in enumerate(longer) if i not in drop]
            pairs = list(zip(kept, shorter, strict=True)) if extra_is_claimed else \
                list(zip(shorter, kept, strict=True))
            decisions = [compare(c, r) for c, r in pairs]
            score = sum(bool(d.equal) for d in decisions)
            if best is None or score > best[0]:
                best = (score, drop, list(zip(pairs, decisions, strict=True)))
    if best is not None and best[0] > 0:
        _, drop, aligned = best
        odd = ", ".join(str(longer[i]) for i in drop)
        evidence.append(f"{'extra' if extra_is_claimed else 'missing'} "
                        f"dimension{'s' if k > 1 else ''}: {odd}")
        wrong_pairs: list[tuple[int, sp.Basic, sp.Basic]] = []
        for i, ((c, r), d) in enumerate(aligned):
            if d.equal is False:
                same = next((j for j, c0, r0 in wrong_pairs if _same_error(c0, r0, c, r)), None)
                if same is not None:
                    evidence.append(f"dimension {i + 1} of the right shape: the same formula as "
                                    f"dimension {same + 1} in another variable, so the same "
                                    "error")
                else:
                    evidence.extend(_dim_evidence(i, c, r, d, claim, domain))
                wrong_pairs.append((i, c, r))
    return Verdict(claim, WRONG, evidence[0], claimed=dims, expected=right, method="exact"
                   if all(x.is_Number for x in dims + right) else "alignment, random points",
                   evidence=evidence[1:], slip=slip)


def _shape(dims: list) -> str:
    return " x ".join(str(d) for d in dims)


def _point(point: dict[str, str], limit: int = 14) -> str:
    shown = ", ".join(f"{k} = {v}" for k, v in list(point.items())[:limit])
    return shown + (f" (and {len(point) - limit} more values)" if len(point) > limit else "")


def _grade_formula(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                   path: str) -> Verdict:
    text, order = _strip_order(claim.value)
    parsed = parse_formula(text, table)
    if isinstance(parsed, sp.core.relational.Relational) and not isinstance(parsed, sp.Eq):
        return Verdict(claim, UNPARSEABLE, "an inequality is not a formula", claimed=parsed)
    lhs = None
    if isinstance(parsed, sp.Eq):
        lhs, parsed = parsed.lhs, parsed.rhs
    if isinstance(expected, str):
        expected_text, expected_order = _strip_order(expected)
        order = order or expected_order
        expected = parse_formula(expected_text, table)
    if isinstance(expected, sp.Order):
        expected, order = expected.args[0], True
    if isinstance(expected, sp.Eq):
        if lhs is not None and canon_name(lhs) != canon_name(expected.lhs):
            note = f"the claim's left side is {lhs}, the result's is {expected.lhs}"
        else:
            note = ""
        expected = expected.rhs
    else:
        note = ""
    if not isinstance(expected, sp.Basic | int | Fraction):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a formula "
                       f"({type(expected).__name__})", claimed=parsed, expected=expected)
    expected = as_basic(expected)
    scalar_case = _has_matrices(expected)
    if scalar_case:  # compare in the scalar case (every dimension 1): a necessary condition
        expected = _scalar_case(expected)
    renamed = ""
    if claim.substitute:  # the derived formula in the claim's stated convention
        subs = {}
        for name, text in claim.substitute.items():
            value = parse_formula(text, table)
            subs.update({s: value for s in expected.free_symbols
                         if isinstance(s, sp.Symbol) and s.name == name})
        expected = expected.xreplace(subs)
        renamed = ", ".join(f"{k} -> {v}" for k, v in claim.substitute.items())
    if order:
        d = same_order(parsed, expected)
        v = _from_decision(claim, d, sp.Function("O")(parsed), sp.Function("O")(expected))
        if note:
            v.evidence.insert(0, note)
        return v
    domain = _domain(claim, table, expected)
    d = equivalent(parsed, expected, domain)
    defs = (gate_definitions(results) or model_definitions(claim.problem, table)) \
        if d.equal is False else {}
    if defs:  # sigma'(w x + w h) for i (1 - i): compare again with the gates written out
        parsed_x, expected_x = expand_gates(parsed, defs), expand_gates(expected, defs)
        d2 = equivalent(parsed_x, expected_x, domain)
        # a still-wrong claim keeps its counterexample in the answer's own variables unless
        # it writes a gate out itself (sigma'(z)): then only the written-out comparison is fair
        if d2.equal is True or (d2.equal is False and canonical(parsed).has(sp.exp)):
            d2.method += " (with the gates " + ", ".join(sorted(defs)) + \
                " written out from their forward definitions)"
            d = d2
    v = _from_decision(claim, d, parsed, expected)
    if note:
        v.evidence.insert(0, note)
        if v.status == CORRECT:
            v.status, v.reason = WRONG, note
    if renamed:
        v.evidence.insert(0, f"judged under the solution's stated convention "
                          f"({claim.convention}): the derived formula with {renamed}")
        if v.status == CORRECT:
            v.reason = f"right under the solution's stated convention (the derived formula " \
                f"with {renamed})"
    if scalar_case:
        v.method += " (in the scalar case: every dimension 1)"
        if v.status == CORRECT:  # agreeing when m = n = 1 does not prove the matrix formula
            v.status = NOT_CHECKABLE
            v.reason = ("agrees with the derived matrix formula in the scalar case (every "
                        "dimension 1) only; the general case is not compared")
    if v.status == WRONG:
        def quick(a, b):
            return equivalent(a, b, domain, points=12, confirm=False).equal

        v.slip = formula_slip(parsed, expected, quick) or ""
        if not v.slip and defs:
            v.slip = formula_slip(parsed_x, expected_x, quick) or ""
        shown = readable_counterexamples(claim, parsed, expected, domain, v.slip, results)
        if shown:  # a point a person would try, in place of the random test's
            v.evidence = [e for e in v.evidence if not e.startswith("counterexample: ")] + \
                [f"counterexample: {x}" for x in shown]
    return v


def readable_counterexamples(claim: Claim, claimed: sp.Basic, right: sp.Basic,
                             domain: Domain, slip: str = "", results: Any = None) -> list[str]:
    """Counterexamples a student can check by hand (:mod:`derive.grade.counterexamples`):
    a run of the problem's recurrent model for signals, small integers in range for indexed
    values, small valid sizes for a size formula. [] when none is found (the random point
    of the identity test then stands)."""
    if not isinstance(claimed, sp.Basic) or not isinstance(right, sp.Basic):
        return []
    try:
        if claimed.atoms(AppliedUndef, sp.Indexed) or right.atoms(AppliedUndef, sp.Indexed):
            model = model_for(claim.problem, declared_model(claim.problem),
                              search=answer_source().catalogue)
            if model is not None:
                found = recurrent_counterexample(claimed, right, model, domain.time)
                if found:
                    return [found]
            found = forward_counterexample(claimed, right, results, domain.time)
            if found:
                return [found]
            found = indexed_counterexample(claimed, right, domain)
            return [found] if found else []
        # a value the slip says was put in for a variable is the point to show it at
        prefer = {m.group(1): int(m.group(2)) for m in re.finditer(
            r"at ([A-Za-z]\w*) = (\d+)(?:, halved|, doubled)?: a value put in", slip)}
        return size_counterexamples(claimed, right, domain, prefer=prefer) or \
            (size_counterexamples(claimed, right, domain) if prefer else [])
    except Exception:  # noqa: BLE001 - an illustration that fails leaves the random point
        return []


def _has_matrices(e: sp.Basic) -> bool:
    return bool(e.atoms(sp.MatrixSymbol)) or e.has(sp.HadamardProduct, sp.Transpose)


def _scalar_case(e: sp.Basic) -> sp.Basic:
    """A matrix formula with every dimension 1: products of scalars. ``MatrixSymbol('c(t)')``
    (a vector signal at time t) becomes the applied function ``c(t)``; a wrong claim in this
    case is wrong in general."""
    def scalar_of(m: sp.MatrixSymbol) -> sp.Basic:
        name = str(m.name)
        if "(" in name and name.endswith(")"):
            return parse_formula(name, _Table(functions={name.split("(")[0]:
                                                        sp.Function(name.split("(")[0])}))
        return sp.Symbol(name)

    def walk(x: sp.Basic) -> sp.Basic:
        if isinstance(x, sp.MatrixSymbol):
            return scalar_of(x)
        if isinstance(x, sp.OneMatrix):
            return sp.Integer(1)
        if isinstance(x, sp.ZeroMatrix):
            return sp.Integer(0)
        if isinstance(x, sp.Identity):
            return sp.Integer(1)
        if isinstance(x, sp.Transpose):
            return walk(x.arg)
        if isinstance(x, sp.HadamardProduct | sp.MatMul):
            return sp.Mul(*[walk(a) for a in x.args])
        if isinstance(x, sp.MatAdd):
            return sp.Add(*[walk(a) for a in x.args])
        if isinstance(x, sp.Sum):
            return sp.Sum(walk(x.function), *x.limits)
        if not x.args:
            return x
        return x.func(*[walk(a) for a in x.args])

    return walk(e)


_ORDER = re.compile(r"^\s*(?:\\mathcal\s*\{\s*O\s*\}|\\mathcal\s*O|O)\s*(?:\\left)?\s*\("
                    r"(?P<body>.*?)(?:\\right)?\s*\)\s*$", re.S)


def _strip_order(text: str) -> tuple[str, bool]:
    """``"O(d k^2)"`` -> ``("d k^2", True)``: an order-of-growth claim."""
    if len(text) > MAX_CHARS:  # left to the parser, which refuses it without scanning
        return text, False
    m = _ORDER.match(text)
    return (m.group("body"), True) if m else (text, False)


def canon_name(e: Any) -> str:
    if isinstance(e, sp.Indexed):  # h[t] and h(t) name one quantity
        return f"{e.base.label}{tuple(e.indices)}"
    if isinstance(e, AppliedUndef):
        return f"{e.func.__name__}{e.args}"
    return str(e)


def _from_decision(claim: Claim, d: Decision, claimed: Any, expected: Any) -> Verdict:
    if d.equal is None:
        return Verdict(claim, NOT_CHECKABLE, f"undecided: {d.detail}", claimed=claimed,
                       expected=expected, method=d.method, decision=d)
    if d.equal:
        return Verdict(claim, CORRECT, d.detail, claimed=claimed, expected=expected,
                       method=d.method, decision=d)
    evidence = []
    if d.point:
        evidence.append(f"counterexample: at {_point(d.point)} the claim gives "
                        f"{d.claimed_value}, the right formula {d.expected_value}")
    return Verdict(claim, WRONG, d.detail, claimed=claimed, expected=expected, method=d.method,
                   evidence=evidence, decision=d)


def _norm(value: Any) -> str:
    text = str(value).lower().replace("×", "x").replace("*", "x")
    return re.sub(r"[\s_\-]+", "", text)


def _grade_choice(claim: Claim, expected: Any, results: Any, table: SymbolTable,
                  path: str) -> Verdict:
    if isinstance(expected, list | dict):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a single choice",
                       claimed=claim.value, expected=expected)
    ok = _norm(claim.value) == _norm(expected)
    if not ok and as_fraction(expected) is not None:
        try:
            ok = _claimed_number(claim.value) == as_fraction(expected)
        except ParseError:
            ok = False
    return Verdict(claim, CORRECT if ok else WRONG,
                   f"{claim.value!s} is right" if ok else
                   f"claimed {claim.value!s}, the right answer is {expected!s}",
                   claimed=claim.value, expected=expected, method="exact (normalised text)")


def _grade_set(claim: Claim, expected: Any, results: Any, table: SymbolTable,
               path: str) -> Verdict:
    if isinstance(expected, dict):  # a table of named things: the selection is its keys
        expected = list(expected)
    if not isinstance(expected, list | tuple | set):
        return Verdict(claim, NOT_CHECKABLE, f"result {path!r} is not a list",
                       claimed=claim.value, expected=expected)
    c = {_norm(v): v for v in claim.value}
    r = {_norm(v): v for v in expected}
    missing = [r[k] for k in r if k not in c]
    extra = [c[k] for k in c if k not in r]
    if not missing and not extra:
        return Verdict(claim, CORRECT, "the selection is right", claimed=claim.value,
                       expected=list(expected), method="exact (as a set)")
    evidence = []
    if missing:
        evidence.append(f"missing: {', '.join(map(str, missing))}")
    if extra:
        evidence.append(f"wrongly included: {', '.join(map(str, extra))}")
    return Verdict(claim, WRONG, "; ".join(evidence), claimed=claim.value,
                   expected=list(expected), method="exact (as a set)", evidence=evidence)
