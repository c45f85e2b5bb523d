"""``derive grade``: check a solution's claimed answers against the derived answers.

    >>> from derive.grade import grade, errata_latex
    >>> report = grade("reports/claims/rnn-cnn-hw.toml")
    >>> report.counts()            # {'correct': ..., 'wrong': ..., ...}
    >>> errata_latex("reports/claims/rnn-cnn-hw.toml")   # a LaTeX body for the reports

The claims file format is documented in :mod:`derive.grade.claims`; formulas are read by the
safe parser of :mod:`derive.grade.parse` (never ``eval``'d) and compared by
:mod:`derive.grade.equivalence`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy as sp

from derive.answers import Grading
from derive.core.errors import DeriveError
from derive.grade import verdicts as verdicts_module
from derive.grade.claims import Claim, ClaimsFile, load_claims
from derive.grade.equivalence import DEADLINE_REACHED, as_basic, canonical, time_limit
from derive.grade.kinds import grade_claim  # the basic kinds and the richer ones alike
from derive.grade.render import Report, json_report, latex_report, text_report
from derive.grade.results import CATALOGUE, AnswerSource, answers_from, resolve
from derive.grade.verdicts import ILLEGIBLE, NOT_CHECKABLE, UNPARSEABLE, Verdict

BUDGET_SECONDS = 120.0  # per claims file; each claim is bounded too (parse limits, timeouts)

__all__ = ["AnswerSource", "Claim", "ClaimsFile", "Report", "Verdict", "errata_latex", "grade",
           "json_report", "latex_report", "merge_repeats", "text_report"]


def _claim_key(claim: Claim) -> str:
    """What decides a claim's verdict (not where it is): identical claims are graded once."""
    fields = {k: v for k, v in vars(claim).items() if k not in ("line", "label", "where", "note")}
    return json.dumps(fields, sort_keys=True, default=str)


def grade(path: str | Path, budget: float | None = None,
          progress: Callable[[str, list[Verdict], float], None] | None = None, *,
          answers: Callable[[str], Any] | None = None,
          problems: Collection[str] | None = None,
          grading: Callable[[str], Any] | None = None) -> Report:
    """Grade every claim of the claims file at ``path`` (a ``DeriveError`` if it is malformed)
    within ``budget`` seconds for the whole file: a claim left undecided when the time is up is
    "not checkable", saying so. Identical claims reuse the first one's verdict. ``progress``,
    when given, is called after each problem's claims with its id, their verdicts and the
    seconds they took (a file takes tens of seconds: the caller can show how far it is).

    The claims are graded against the catalogue's derived answers, or, given ``answers`` (a
    problem id -> an answer with ``.results``), against those: ``problems`` are then the ids
    it answers (the only ones the file may name) and ``grading`` (an id -> an object with
    ``model``, a model object or None, and ``verifier``) what else grading may use; without
    it, no model and no verifier, and the claims that need them are not checkable."""
    budget = BUDGET_SECONDS if budget is None else budget
    source = _source(answers, problems, grading)
    with answers_from(source):
        return _grade(path, budget, progress,
                      None if source is CATALOGUE else frozenset(source.problems()))


def _source(answers: Callable[[str], Any] | None, problems: Collection[str] | None,
            grading: Callable[[str], Any] | None) -> AnswerSource:
    """The answer source ``grade`` was given: the catalogue's unless ``answers``."""
    if answers is None:
        if problems is not None or grading is not None:
            raise ValueError("problems and grading describe an answer source: give answers too")
        return CATALOGUE
    if problems is None:
        raise ValueError("an answer source needs the problem ids it answers (problems=...)")
    ids = frozenset(problems)
    return AnswerSource(answers, lambda: ids, grading or (lambda pid: Grading()))


def _grade(path: str | Path, budget: float,
           progress: Callable[[str, list[Verdict], float], None] | None,
           problems: Collection[str] | None) -> Report:
    claims_file = load_claims(path, problems)
    check_result_paths(claims_file)
    deadline = time.monotonic() + budget
    verdicts: list[Verdict] = []
    seen: dict[str, Verdict] = {}
    started, first = time.perf_counter(), 0
    with time_limit(deadline):
        for index, claim in enumerate(claims_file.claims):
            key = _claim_key(claim)
            if key in seen:  # the same claim again: its verdict, not another minute of work
                first_seen = seen[key]
                again = dataclasses.replace(first_seen, claim=claim,
                                            evidence=list(first_seen.evidence))
                again.evidence.append(f"the same claim as line {first_seen.claim.line}: its "
                                      "verdict is reused")
                verdicts.append(again)
            elif time.monotonic() > deadline:  # a file of many slow claims still finishes
                verdict = Verdict(claim, NOT_CHECKABLE, f"not graded: {DEADLINE_REACHED} "
                                  f"({budget:g} s for the file)", claimed=claim.value,
                                  method="none")
                verdicts.append(verdict)
                seen[key] = verdict
            else:
                verdict = grade_claim(claim)
                verdicts.append(verdict)
                seen[key] = verdict
            following = claims_file.claims[index + 1: index + 2]
            if progress and (not following or following[0].problem != claim.problem):
                progress(claim.problem, verdicts[first:], time.perf_counter() - started)
                started, first = time.perf_counter(), len(verdicts)
    _carried_totals(verdicts)
    return Report(claims_file, merge_repeats(verdicts))


def check_result_paths(claims_file: ClaimsFile) -> None:
    """A ``result`` or ``explain`` path the derived answer does not have is a transcription
    typo: a ``DeriveError`` naming the file, line and key before anything is graded (a claim
    whose answer is not derived yet is left to its verdict)."""

    answers: dict[str, object] = {}
    for claim in claims_file.claims:
        for key in ("result", "explain"):
            path = getattr(claim, key)
            if not path:
                continue
            if claim.problem not in answers:
                answers[claim.problem] = verdicts_module.answer_or_reason(claim.problem)[0]
            answer = answers[claim.problem]
            if answer is None:
                continue
            try:
                resolve(answer.results, path)  # type: ignore[attr-defined]
            except (KeyError, IndexError) as exc:
                raise DeriveError(
                    f"{claims_file.path}: line {claim.line}, [[{claim.problem!r}]], key {key!r}: "
                    f"the derived answer has no result {path!r} "
                    f"({str(exc).strip(chr(34)).strip(chr(39))})") from None


def _carried_totals(verdicts: list[Verdict]) -> None:
    """A wrong total that is the sum of the solution's own (wrong) rows inherits their errors:
    say so, rather than guess a slip in the total itself."""
    for v in verdicts:
        if v.claim.kind != "number" or v.status != "wrong" or v.slip:
            continue
        for other in verdicts:
            rows = other.claimed
            if other is v or other.claim.problem != v.claim.problem or \
                    other.claim.kind != "numbers" or not isinstance(rows, list) or \
                    not all(isinstance(r, Fraction) for r in rows):
                continue
            if sum(rows) == v.claimed and other.status == "wrong":
                v.slip = (f"carried over: the claimed total is the sum of the solution's own "
                          f"rows ({other.claim.title}), so it inherits their errors")
                break


def _squeezed(value: Any) -> str | None:
    """A claimed value as a comparable key: a shape without its axes of size 1, a number, a
    formula in its canonical form; None for what is not compared so (text, weights)."""
    if isinstance(value, list) and all(isinstance(v, sp.Basic | Fraction | int) for v in value):
        kept = [str(as_basic(v)) for v in value if as_basic(v) != 1]
        return "shape:" + " x ".join(kept)
    if isinstance(value, Fraction | int):
        return f"number:{value}"
    if isinstance(value, sp.Basic):
        return "formula:" + str(canonical(value))
    return None


def _dimension_of(shape: Verdict, v: Verdict) -> int | None:
    """The dimension of the earlier shape verdict that the formula claim ``v`` repeats (the
    same claimed formula, against the same right one), else None."""
    if not isinstance(shape.claimed, list) or not isinstance(shape.expected, list) or \
            not isinstance(v.claimed, sp.Basic) or not isinstance(v.expected, sp.Basic):
        return None
    mine = str(canonical(v.claimed))
    right = canonical(v.expected)
    for i, dim in enumerate(shape.claimed):
        if isinstance(dim, sp.Basic) and str(canonical(dim)) == mine and any(
                isinstance(r, sp.Basic) and sp.expand(canonical(r) - right) == 0
                for r in shape.expected):
            return i
    return None


def merge_repeats(verdicts: list[Verdict]) -> list[Verdict]:
    """One answer written twice is one claim, and one error is penalised once: a claim that
    repeats an earlier one of its problem (the same value for the same result, a shape up to
    axes of size 1) or is a dimension of an earlier shape claim (the output height after the
    whole output shape) is folded into the earlier verdict, which says where it is repeated."""
    kept: list[Verdict] = []
    repeats: dict[tuple[int, str, str, str], list[int]] = {}  # (home, what, title, where)
    homes: dict[int, Verdict] = {}
    for v in verdicts:
        home = None
        key = _squeezed(v.claimed) if v.status not in (UNPARSEABLE, ILLEGIBLE) else None
        for u in kept:
            if u.claim.problem != v.claim.problem or key is None:
                continue
            if u.claim.result == v.claim.result and _squeezed(u.claimed) == key and \
                    u.claim.kind == v.claim.kind:
                home, what = u, "the same answer"
                break
            if u.claim.kind == "shape" and v.claim.kind in ("formula", "equation"):
                i = _dimension_of(u, v)
                if i is not None:
                    home, what = u, f"dimension {i + 1} of this shape"
                    break
        if home is None:
            kept.append(v)
            continue
        homes[id(home)] = home
        repeats.setdefault((id(home), what, v.claim.title, v.claim.where), []).append(
            v.claim.line)
    for (home_id, what, title, where), lines in repeats.items():
        shown = ", ".join(str(n) for n in lines[:5]) + \
            (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
        at = f"line{'s' if len(lines) > 1 else ''} {shown}"
        homes[home_id].evidence.append(f"{title} ({at}){f' ({where})' if where else ''} is "
                                       f"{what}: one claim, counted once")
    return kept


def errata_latex(path: str | Path) -> str:
    """The errata of one solution as a LaTeX body: what is right, what is wrong, corrections."""
    return latex_report(grade(path))
