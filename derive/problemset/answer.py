"""A problem set answered: every part by the module of its kind, with its checks; and the same
answers as the source a student's claims about the set are graded against."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from derive.answers import Answer
from derive.grade.results import AnswerSource
from derive.problemset.kinds import bptt, cnn, conv, schedule
from derive.problemset.kinds import map as update_map
from derive.problemset.spec import Part, ProblemSet

KINDS: dict[str, Callable[[Part, dict[str, str], str], Answer]] = {
    "bptt": bptt.answer,
    "cnn": cnn.answer,
    "map": update_map.answer,
    "conv": conv.answer,
    "schedule": schedule.answer,
}


@dataclass
class AnsweredPart:
    """A part and its answer."""

    part: Part
    answer: Answer


def part_id(problem_set: ProblemSet, part: Part) -> str:
    """The part's id as errata and results name it: ``SET/PART``."""
    return f"{problem_set.id}/{part.id}"


def answer_part(problem_set: ProblemSet, part: Part) -> Answer:
    """The answer to one part (a ``ProblemFileError`` naming the line if it is malformed)."""
    return KINDS[part.kind](part, problem_set.notation, part_id(problem_set, part))


def answer_set(problem_set: ProblemSet,
               progress: Callable[[Part, Answer, float], None] | None = None
               ) -> list[AnsweredPart]:
    """Every part answered, in order."""
    out = []
    for part in problem_set.parts:
        started = time.perf_counter()
        ans = answer_part(problem_set, part)
        if progress:
            progress(part, ans, time.perf_counter() - started)
        out.append(AnsweredPart(part, ans))
    return out


@dataclass(frozen=True)
class PartGrading:
    """What grading may use of a part beyond its results: the recurrent model of a ``bptt``
    part (its forward equations define the gates; a run of it shows a counterexample).
    A problem set has no weight verifier."""

    model: object | None = None
    verifier: None = None


def answer_source(problem_set: ProblemSet, done: list[AnsweredPart] | None = None
                  ) -> AnswerSource:
    """The set's parts as an answer source for grading claims (``SET/PART`` ids): the answers
    ``done`` already, the others answered once, when a claim first asks for one."""
    parts = {part_id(problem_set, p): p for p in problem_set.parts}
    answered: dict[str, Answer] = {a.answer.id: a.answer for a in done or []}

    def answer(pid: str) -> Answer:
        if pid not in answered:
            answered[pid] = answer_part(problem_set, parts[pid])
        return answered[pid]

    def grading(pid: str) -> PartGrading:
        part = parts.get(pid)
        if part is None or part.kind != "bptt":
            return PartGrading()
        return PartGrading(bptt.validate(part)[0])

    ids = frozenset(parts)
    return AnswerSource(answer, lambda: ids, grading)
