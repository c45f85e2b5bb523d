"""``derive report``: one solution document per problem set, as LaTeX and (with TeX) PDF."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from pathlib import Path

from derive.catalogue import SETS
from derive.errors import DeriveError
from derive.report import latexmk
from derive.report.document import Document, PartOutcome, build, load_answer_modules

__all__ = ["main", "resolve_sets", "write"]


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
            close = difflib.get_close_matches(name, list(SETS), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise DeriveError(
                f"unknown problem set {name!r}{hint} (sets: {', '.join(SETS)})"
            )
    return list(dict.fromkeys(names)) or list(SETS)


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
    try:
        tex.write_text(document.tex, encoding="utf-8")
    except OSError as exc:
        raise DeriveError(f"cannot write {tex}: {exc.strerror}") from None
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


def main(args: argparse.Namespace) -> int:
    """Build the reports named by ``args.sets`` into ``args.out``; exit status 1 when an
    answer failed to build or a check failed (the documents are written regardless). A LaTeX
    error in one set does not stop the others; it is raised at the end (exit status 2)."""
    started = time.perf_counter()
    sets = resolve_sets(list(args.sets or []))
    folder = output_folder(args.out)
    progress = _progress(sys.stderr)
    want_pdf = not args.no_pdf
    if want_pdf and not latexmk.available():
        print(f"derive: {latexmk.INSTALL_HINT}", file=sys.stderr)
        want_pdf = False
    load_errors = load_answer_modules()
    for error in load_errors:
        print(f"derive: warning: an answer module failed to load: {error}", file=sys.stderr)
    documents: list[Document] = []
    latex_errors: list[str] = []
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
                continue
            if progress:
                seconds = time.perf_counter() - pdf_started
                print(f"  {'(pdf)':26s} {'compiled':17s} {seconds:6.2f} s", file=sys.stderr)
        print(f"wrote {made}")
    unanswered = sum(d.unanswered for d in documents)
    broken = sum(d.broken for d in documents)
    failed = sum(d.failed_checks for d in documents)
    parts = sum(len(d.outcomes) for d in documents)
    print(
        f"{len(documents)} report(s), {parts} parts: {parts - unanswered - broken} answered, "
        f"{unanswered} not yet answered, {broken} failed to build; {failed} failed check(s); "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    for document in documents:
        for outcome in document.outcomes:
            if outcome.status == "error":
                print(f"derive: {outcome.pid}: answer failed to build: {outcome.error}",
                      file=sys.stderr)
    if latex_errors:
        raise DeriveError("\n".join(latex_errors))
    return 1 if broken or failed or load_errors else 0
