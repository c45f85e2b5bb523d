"""The errata documents: one graded claims file (a student's solution) typeset beside the keys.

``derive report`` builds, for every claims file of ``--claims DIR`` whose set is being built,
``errata-STEM.tex`` (and its PDF): the claims graded against the derived answers, with the body
of :func:`derive.grade.errata_latex`, in the answer keys' preamble and Jinja2 environment.
The claims are graded against the catalogue's answers, or against another answer source (an
instructor's problem set, :func:`claims_for_source`), with that set's title and part titles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from derive.catalogue import PROBLEMS, SETS
from derive.core.errors import DeriveError
from derive.grade import AnswerSource, grade
from derive.grade.claims import load_claims, named_sets
from derive.grade.render import MAX_SHOWN, latex_report, text_with_math
from derive.grade.verdicts import (
    CORRECT,
    ILLEGIBLE,
    JUDGED_PARTLY,
    JUDGED_REASON,
    JUDGED_RIGHT,
    JUDGED_WRONG,
    NOT_CHECKABLE,
    PARTLY,
    UNPARSEABLE,
    WRONG,
)
from derive.report.document import _version
from derive.report.render import render, write_atomically

__all__ = ["Errata", "build_errata", "claims_for_sets", "claims_for_source", "write_errata"]


@dataclass
class Errata:
    """One rendered errata document and the grading's totals."""

    name: str  # the output stem, ``errata-SET``
    set_id: str
    claims_path: Path
    tex: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def claims(self) -> int:
        return sum(self.counts.values())


def set_of(path: Path) -> str:
    """The problem set a claims file answers: the set of its problem ids (a ``DeriveError``
    naming the file when it is malformed or spans several sets)."""
    claims_file = load_claims(path)
    sets = sorted({claim.problem.split("/")[0] for claim in claims_file.claims})
    if len(sets) == 1:
        return sets[0]
    if path.stem in SETS:  # no claims yet, or several sets: the file's name decides
        return path.stem
    what = f"claims of several sets ({', '.join(sets)})" if sets else "no claims"
    raise DeriveError(f"claims file {str(path)!r} has {what}; name it after one set "
                      f"(e.g. {sets[0] if sets else 'rnn-cnn-hw'}.toml)")


def claims_for_sets(folder: Path, sets: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """The claims files (``*.toml``) of ``folder`` whose set is in ``sets``, each with its set,
    in the order of ``sets``; and the messages of the files that could not be read."""
    found: list[tuple[Path, str]] = []
    errors: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            set_id = set_of(path)
        except DeriveError as exc:
            if path.stem not in SETS or path.stem in sets:  # else: named after a set not built
                errors.append(str(exc))
            continue
        if set_id in sets:
            found.append((path, set_id))
    found.sort(key=lambda item: sets.index(item[1]))
    return found, errors


def claims_for_source(folder: Path, set_id: str, source: AnswerSource) -> list[Path]:
    """The claims files (``*.toml``) of ``folder`` about the set ``set_id`` whose answers
    ``source`` gives, each validated against its problems. A file that names only other sets
    is skipped; one that cannot be read, names this set with others, or is malformed is a
    ``DeriveError`` naming it (nothing is graded then)."""
    found: list[Path] = []
    problems = frozenset(source.problems())
    for path in sorted(folder.glob("*.toml")):
        sets = named_sets(path)
        if sets and set_id not in sets:
            continue  # a solution to another set
        if len(sets) > 1:
            raise DeriveError(f"claims file {str(path)!r} has claims of several sets "
                              f"({', '.join(sets)}); keep the claims about {set_id} in a file "
                              "of their own")
        load_claims(path, problems)
        found.append(path)
    return found


def _KEYS() -> dict[str, str]:  # noqa: N802 - a constant, built late (no import cycle)
    """Verdict -> the template's name for its count."""
    # an unparseable claim and an illegible passage are both unreadable to the reader
    return {CORRECT: "right", PARTLY: "partly", WRONG: "wrong", JUDGED_RIGHT: "judged_right",
            JUDGED_PARTLY: "judged_partly", JUDGED_REASON: "judged_reason",
            JUDGED_WRONG: "judged_wrong", UNPARSEABLE: "unreadable", ILLEGIBLE: "unreadable",
            NOT_CHECKABLE: "not_checked"}


def _totals(counts: dict[str, int]) -> dict[str, int]:
    totals = dict.fromkeys(_KEYS().values(), 0)
    for status, name in _KEYS().items():
        totals[name] += counts.get(status, 0)
    return totals


def _problem_rows(report, titles: Mapping[str, str]) -> list[dict[str, object]]:
    """Per problem id, in the file's order: its title and how many claims got each verdict."""
    rows: dict[str, dict[str, object]] = {}
    keys = _KEYS()
    for verdict in report.verdicts:
        pid = verdict.claim.problem
        title = titles.get(pid, "")
        row = rows.setdefault(pid, {"pid": pid, "title": title,
                                    "title_tex": text_with_math(title, MAX_SHOWN),
                                    **dict.fromkeys(keys.values(), 0)})
        row[keys[verdict.status]] += 1  # type: ignore[operator]
    return list(rows.values())


def build_errata(path: str | Path, set_id: str | None = None, *,
                 source: AnswerSource | None = None, summary: str = "",
                 titles: Mapping[str, str] | None = None) -> Errata:
    """Grade the claims file at ``path`` and render its errata document (a ``DeriveError``
    naming the file when it is malformed): against the catalogue's answers, or against
    ``source`` (then ``set_id`` is required; ``summary`` is the set's title and ``titles`` its
    problems' titles, where the catalogue's are used otherwise)."""
    path = Path(path)
    started = time.perf_counter()
    if source is None:
        set_id = set_id or set_of(path)
        # errata_latex(path) is latex_report(grade(path)): graded once here
        report = grade(path)
        summary, titles = SETS.get(set_id, ""), PROBLEMS
    elif set_id is None:
        raise ValueError("errata against an answer source need the set's id")
    else:
        report = grade(path, answers=source.answer, problems=frozenset(source.problems()),
                       grading=source.grading)
    counts = report.counts()
    cf = report.claims_file
    tex = render(
        "errata.tex",
        set_id=set_id,
        set_summary=summary,
        version=_version(),
        claims_name=path.name,
        claims_title=cf.title,
        source=cf.source,
        student=cf.student,
        totals={"claims": len(report.verdicts), **_totals(counts)},
        problems=_problem_rows(report, titles or {}),
        body=latex_report(report, titles or None),
    )
    return Errata(f"errata-{path.stem}", set_id, path, tex, counts,
                  time.perf_counter() - started)


def write_errata(errata: Errata, folder: Path) -> Path:
    """Write ``errata`` as ``folder/errata-STEM.tex``."""
    tex = folder / f"{errata.name}.tex"
    write_atomically(tex, errata.tex)
    return tex
