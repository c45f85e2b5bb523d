"""``derive report``: one solution document per problem set, as LaTeX and (with TeX) PDF."""

from __future__ import annotations

import difflib
import os
import sys
import time
from pathlib import Path

from derive.catalogue import SETS
from derive.core.errors import DeriveError
from derive.report import latexmk
from derive.report.document import Document, PartOutcome, build, load_answer_modules
from derive.report.errata import Errata, build_errata, claims_for_sets, write_errata
from derive.report.render import write_atomically

__all__ = ["closest_sets", "main", "resolve_sets", "write"]


def resolve_sets(names: list[str]) -> list[str]:
    """The set ids to build (every set when ``names`` is empty); an unknown one is an error
    that suggests the closest valid ids."""
    for name in names:
        if name not in SETS and name.split("/")[0] in SETS:
            raise DeriveError(
                f"{name!r} is a problem id; a report covers a whole set: did you mean "
                f"{name.split('/')[0]}? ('derive answer {name}' shows one answer)"
            )
        if name not in SETS:
            close = closest_sets(name)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise DeriveError(
                f"unknown problem set {name!r}{hint} (sets: {', '.join(SETS)})"
            )
    return list(dict.fromkeys(names)) or list(SETS)


def closest_sets(name: str, cutoff: float = 0.4) -> list[str]:
    """The set ids most like ``name``, best first. A set id is also compared by its course
    code alone (``csc421`` of ``csc421-hw4``): a mistyped number (``csc999``) is too short to
    resemble the whole id."""

    def score(set_id: str) -> float:
        return max(difflib.SequenceMatcher(None, name.lower(), candidate).ratio()
                   for candidate in (set_id, set_id.split("-")[0]))

    ranked = sorted(SETS, key=score, reverse=True)
    best = score(ranked[0])
    # a second id only when it is about as close (cmsc25500 vs csc421 for "csc")
    return [s for s in ranked if score(s) >= max(cutoff, best - 0.05)][:2]


def output_folder(out: str | os.PathLike) -> Path:
    """``out`` created if needed and checked writable, or a ``DeriveError`` naming it."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise DeriveError(f"--out {str(out)!r} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeriveError(f"--out {str(out)!r} cannot be created: {exc.strerror}") from None
    probe = folder / ".derive-write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DeriveError(f"--out {str(out)!r} is not writable: {exc.strerror}") from None
    return folder


def write(document: Document, folder: Path) -> Path:
    """Write ``document`` as ``folder/SET.tex``."""
    tex = folder / f"{document.set_id}.tex"
    write_atomically(tex, document.tex)
    return tex


def _progress(stream) -> object:
    """A per-part progress printer for a terminal (None when ``stream`` is not one)."""
    if not stream.isatty():
        return None

    def show(outcome: PartOutcome) -> None:
        state = {"answered": "built", "unanswered": "not yet answered", "error": "FAILED"}
        extra = f", {outcome.failed_checks} check(s) FAILED" if outcome.failed_checks else ""
        print(
            f"  {outcome.pid:26s} {state[outcome.status]:17s} {outcome.seconds:6.2f} s{extra}",
            file=stream,
            flush=True,
        )

    return show


def errata_to_build(claims: str | None, sets: list[str]) -> tuple[list[tuple[Path, str]],
                                                                     list[str]]:
    """The claims files of the folder ``claims`` whose errata go with ``sets`` (none when
    ``claims`` is None; a missing folder is said in one line and skipped), and the messages of
    the claims files that could not be read."""
    if claims is None:
        return [], []
    folder = Path(claims)
    if folder.exists() and not folder.is_dir():
        raise DeriveError(f"--claims {str(claims)!r} is not a folder")
    if not folder.is_dir():
        print(f"derive: no claims folder {str(claims)!r}; no errata built", file=sys.stderr)
        return [], []
    return claims_for_sets(folder, sets)


def _errata(path: Path, set_id: str, folder: Path, want_pdf: bool, progress: object,
            failures: list[str], broken: list[str]) -> Errata | None:
    """Grade one claims file and write its errata (and PDF); a malformed file or a LaTeX error
    goes to ``failures`` (exit status 2), a grading bug to ``broken`` (exit status 1)."""
    try:
        errata = build_errata(path, set_id)
    except DeriveError as exc:
        failures.append(str(exc))
        print(f"no errata for {path} (the claims file is malformed)")
        return None
    except Exception as exc:  # a bug in grading: report it, keep the other documents
        broken.append(f"derive: {path}: errata failed to build: {type(exc).__name__}: {exc}")
        return None
    tex = write_errata(errata, folder)
    if progress:
        graded = f"graded, {errata.claims} claims"
        print(f"  {errata.name:26s} {graded:17s} {errata.seconds:6.2f} s", file=sys.stderr,
              flush=True)
    made = tex
    if want_pdf:
        pdf_started = time.perf_counter()
        try:
            made = latexmk.compile_pdf(tex)
        except DeriveError as exc:
            failures.append(str(exc))
            print(f"wrote {tex} (no PDF: LaTeX failed)")
            return errata
        if progress:
            seconds = time.perf_counter() - pdf_started
            print(f"  {'(errata pdf)':26s} {'compiled':17s} {seconds:6.2f} s", file=sys.stderr)
    print(f"wrote {made}")
    return errata


def build_reports(sets: list[str], out: str, pdf: bool = True,
                  claims: str | None = None) -> int:
    """Build the reports of ``sets`` (all if empty) into ``out``; exit status 1 when an
    answer failed to build or a check failed (the documents are written regardless). A LaTeX
    error in one set does not stop the others; it is raised at the end (exit status 2)."""
    started = time.perf_counter()
    sets = resolve_sets(list(sets or []))
    folder = output_folder(out)
    progress = _progress(sys.stderr)
    want_pdf = pdf
    if want_pdf and not latexmk.available():
        print(f"derive: {latexmk.INSTALL_HINT}", file=sys.stderr)
        want_pdf = False
    errata_files, latex_errors = errata_to_build(claims, sets)
    load_errors = load_answer_modules()
    for error in load_errors:
        print(f"derive: warning: an answer module failed to load: {error}", file=sys.stderr)
    documents: list[Document] = []
    errata: list[Errata] = []
    errata_broken: list[str] = []
    for set_id in sets:
        if progress:
            print(f"{set_id}:", file=sys.stderr, flush=True)
        document = build(set_id, progress=progress)  # type: ignore[arg-type]
        tex = write(document, folder)
        documents.append(document)
        made = tex
        if want_pdf:
            pdf_started = time.perf_counter()
            try:
                made = latexmk.compile_pdf(tex)
            except DeriveError as exc:  # the other sets still get their PDFs
                latex_errors.append(str(exc))
                print(f"wrote {tex} (no PDF: LaTeX failed)")
            else:
                if progress:
                    seconds = time.perf_counter() - pdf_started
                    print(f"  {'(pdf)':26s} {'compiled':17s} {seconds:6.2f} s", file=sys.stderr)
                print(f"wrote {made}")
        else:
            print(f"wrote {made}")
        for path, _ in [f for f in errata_files if f[1] == set_id]:
            built = _errata(path, set_id, folder, want_pdf, progress, latex_errors,
                            errata_broken)
            errata += [built] if built else []
    unanswered = sum(d.unanswered for d in documents)
    broken = sum(d.broken for d in documents)
    failed = sum(d.failed_checks for d in documents)
    parts = sum(len(d.outcomes) for d in documents)
    print(
        f"{len(documents)} report(s), {parts} parts: {parts - unanswered - broken} answered, "
        f"{unanswered} not yet answered, {broken} failed to build; {failed} failed check(s); "
        f"{_errata_summary(errata)}{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    for document in documents:
        for outcome in document.outcomes:
            if outcome.status == "error":
                print(f"derive: {outcome.pid}: answer failed to build: {outcome.error}",
                      file=sys.stderr)
    for message in errata_broken:
        print(message, file=sys.stderr)
    if latex_errors:
        raise DeriveError("\n".join(latex_errors))
    return 1 if broken or failed or load_errors or errata_broken else 0


def _errata_summary(errata: list[Errata]) -> str:
    if not errata:
        return ""
    total = {k: sum(e.counts.get(k, 0) for e in errata) for k in errata[0].counts}
    return (f"{len(errata)} errata, {sum(total.values())} claims graded: "
            + ", ".join(f"{n} {status}" for status, n in total.items()) + "; ")
