"""``derive report``: one answer key per problem set and its audit (every check), as LaTeX
and (with TeX) PDF."""

from __future__ import annotations

import difflib
import errno
import io
import os
import select
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from derive.catalogue import SETS
from derive.core.errors import DeriveError
from derive.report import latexmk
from derive.report.document import Document, PartOutcome, build, load_answer_modules
from derive.report.errata import Errata, build_errata, claims_for_sets
from derive.report.render import write_atomically

__all__ = ["build_reports", "claims_folder", "closest_sets", "resolve_sets", "write"]


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


def shown(value: str | os.PathLike, limit: int = 200) -> str:
    """``value`` quoted for a message, shortened when it is long (a file name longer than the
    file system allows would fill the screen)."""
    text = repr(str(value))
    return text if len(text) <= limit else f"{text[: limit - 20]}...' ({len(str(value))} chars)"


def output_folder(out: str | os.PathLike) -> Path:
    """``out`` created if needed and checked writable, or a ``DeriveError`` naming it."""
    if not str(out).strip():  # Path("") is the working directory: never what was meant
        raise DeriveError("--out is empty (''); give a folder, e.g. --out reports/out")
    folder = Path(out)
    try:
        if folder.exists() and not folder.is_dir():
            raise DeriveError(f"--out {shown(out)} is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # also a name too long for the file system
        raise DeriveError(f"--out {shown(out)} cannot be created: {exc.strerror}") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=".derive-write-test-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise DeriveError(f"--out {shown(out)} is not writable: {exc.strerror}") from None
    return folder


def write(document: Document, folder: Path) -> Path:
    """Write ``document`` as ``folder/SET.tex`` (and its audit as ``folder/SET-audit.tex``);
    the key's path."""
    tex = folder / f"{document.set_id}.tex"
    write_atomically(tex, document.tex)
    if document.audit:
        write_atomically(folder / f"{document.set_id}-audit.tex", document.audit)
    return tex


def _progress(stream) -> Callable[[PartOutcome], None]:
    """A per-part progress printer on ``stream`` (a terminal or not: a log of a long build
    needs it as much as a person)."""

    def show(outcome: PartOutcome) -> None:
        state = {"answered": "built", "unanswered": "not yet answered", "error": "FAILED"}
        extra = f", {outcome.failed_checks} check(s) FAILED" if outcome.failed_checks else ""
        print(
            f"  {outcome.pid:26s} {state[outcome.status]:17s} {outcome.seconds:6.2f} s{extra}",
            file=stream,
            flush=True,
        )

    return show


def _say(progress: object, line: str) -> None:
    """A progress line on stderr, unless progress is off (--quiet)."""
    if progress:
        print(line, file=sys.stderr, flush=True)


def reader_gone(stream: object) -> bool:
    """Whether ``stream`` is a pipe whose reader has exited (``derive report | head -1``):
    what is built next could never be read. On Linux ``poll`` flags such a pipe at once;
    elsewhere the next write finds out (a ``BrokenPipeError`` all the same)."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        if not stat.S_ISFIFO(os.fstat(fd).st_mode) or not hasattr(select, "poll"):
            return False
        poller = select.poll()
        poller.register(fd, 0)  # no events asked: only the error of a pipe without reader
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _stop_if_reader_gone() -> None:
    if reader_gone(sys.stdout):
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has exited")


def _wrote(path: Path, note: str = "") -> None:
    # flushed at once: a pipe whose reader has gone is found now, not after every set is built
    print(f"wrote {path}{note}", flush=True)


def claims_folder(claims: str | os.PathLike, example: str = "reports/claims") -> Path:
    """The folder of ``--claims`` (a ``DeriveError`` naming it when it is not one)."""
    if not str(claims).strip():
        raise DeriveError("--claims is empty (''); give a folder of claims files, e.g. "
                          f"--claims {example}")
    folder = Path(claims)
    try:
        exists, is_dir = folder.exists(), folder.is_dir()
    except OSError as exc:  # a name too long for the file system, a loop of links
        raise DeriveError(f"--claims {shown(claims)}: {exc.strerror}") from None
    if exists and not is_dir:
        raise DeriveError(f"--claims {shown(claims)} is not a folder")
    if not exists:
        raise DeriveError(f"--claims {shown(claims)} not found (a folder of claims files, "
                          "*.toml)")
    return folder


def errata_to_build(claims: str | os.PathLike | None, sets: list[str]
                    ) -> tuple[list[tuple[Path, str]], list[str]]:
    """The claims files of the folder ``claims`` whose errata go with ``sets`` (none when
    ``claims`` is None; a missing folder is a ``DeriveError`` naming it), and the messages of
    the claims files that could not be read."""
    if claims is None:
        return [], []
    return claims_for_sets(claims_folder(claims), sets)


class Compiler:
    """Compiles the documents of a run in one background thread, while the next document is
    derived in the main one (TeX and SymPy each keep a core busy). Documents are compiled in
    the order they were handed in; a failure to write (a full disk) is raised at the next
    hand-in or at ``finish``; an interrupt cancels what is compiling and what is waiting, so
    each earlier PDF stays as it was."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="latexmk")
        self._pending: list[Future] = []

    def submit(self, source: str, pdf: Path, want_pdf: bool, keep_tex: bool,
               progress: object, failures: list[str]) -> None:
        self._raise_failed()
        if not want_pdf:  # nothing to compile: write the .tex now
            _output(source, pdf, want_pdf, keep_tex, progress, failures)
            return
        self._pending.append(self._pool.submit(_output, source, pdf, want_pdf, keep_tex,
                                               progress, failures, self.cancel))

    # Waits are on the futures, never a join of the thread: a signal that interrupts
    # Thread.join can leave the thread marked as ended while it still runs (CPython 3.11).
    def finish(self) -> None:
        """Wait for every document handed in; the first failure to write is raised."""
        futures.wait(self._pending)
        self._pool.shutdown(wait=False)
        for future in self._pending:
            future.result()

    def abandon(self) -> None:
        """Stop: end the running build, drop the waiting ones, wait until none runs (its
        scratch folder removed, its TeX processes ended)."""
        self.cancel.set()
        for future in self._pending:
            future.cancel()
        futures.wait(self._pending)
        self._pool.shutdown(wait=False)

    def _raise_failed(self) -> None:
        for future in [f for f in self._pending if f.done()]:
            future.result()


def _output(source: str, pdf: Path, want_pdf: bool, keep_tex: bool, progress: object,
            failures: list[str], cancel: threading.Event | None = None) -> Path | None:
    """Write one document: its PDF (and its .tex when ``keep_tex``), or its .tex alone when
    no PDF is wanted. A LaTeX error goes to ``failures`` (the other documents are still built);
    a failure to write (a full disk) ends the run."""
    if not want_pdf:
        tex = pdf.with_suffix(".tex")
        write_atomically(tex, source)
        _wrote(tex)
        return tex
    _say(progress, f"  {'(pdf)':26s} compiling")
    started = time.perf_counter()
    try:
        made = latexmk.build_pdf(source, pdf, keep_tex=keep_tex, cancel=cancel)
    except latexmk.Cancelled:
        return None
    except latexmk.LatexFailed as exc:
        failures.append(str(exc))
        _wrote(pdf.with_suffix(".tex"), " (no PDF: LaTeX failed)")
        return None
    _say(progress, f"  {'(pdf)':26s} {'compiled':17s} {time.perf_counter() - started:6.2f} s")
    _wrote(made)
    return made


def _errata(path: Path, set_id: str, folder: Path, want_pdf: bool, keep_tex: bool,
            progress: object, failures: list[str], broken: list[str],
            compiler: Compiler) -> Errata | None:
    """Grade one claims file and write its errata (and PDF); a malformed file or a LaTeX error
    goes to ``failures`` (exit status 2), a grading bug to ``broken`` (exit status 1)."""
    try:
        errata = build_errata(path, set_id)
    except DeriveError as exc:
        failures.append(str(exc))
        print(f"no errata for {path} (the claims file is malformed)", flush=True)
        return None
    except Exception as exc:  # a bug in grading: report it, keep the other documents
        broken.append(f"derive: {path}: errata failed to build: {type(exc).__name__}: {exc}")
        return None
    graded = f"graded, {errata.claims} claims"
    _say(progress, f"  {errata.name:26s} {graded:17s} {errata.seconds:6.2f} s")
    _stop_if_reader_gone()
    compiler.submit(errata.tex, folder / f"{errata.name}.pdf", want_pdf, keep_tex, progress,
                    failures)
    return errata


def build_reports(sets: list[str], out: str, pdf: bool = True,
                  claims: str | os.PathLike | None = None, *, keep_tex: bool = False,
                  quiet: bool = False) -> int:
    """Build the reports of ``sets`` (all if empty) into ``out``: the PDFs (and their .tex when
    ``keep_tex``), or the .tex alone without ``pdf`` or without TeX. Exit status 1 when an
    answer failed to build or a check failed (the documents are written regardless). A LaTeX
    error in one set does not stop the others; it is raised at the end (exit status 2).
    Progress goes to stderr per part unless ``quiet``. When stdout is a pipe whose reader has
    gone, the build stops (a ``BrokenPipeError``) rather than build what no one reads."""
    started = time.perf_counter()
    sets = resolve_sets(list(sets or []))
    folder = output_folder(out)
    progress = None if quiet else _progress(sys.stderr)
    want_pdf = pdf
    if want_pdf and not latexmk.available():
        print(f"derive: {latexmk.INSTALL_HINT}", file=sys.stderr)
        want_pdf = False
    errata_files, latex_errors = errata_to_build(claims, sets)
    _say(progress, "loading the answer modules")
    load_errors = load_answer_modules()
    for error in load_errors:
        print(f"derive: warning: an answer module failed to load: {error}", file=sys.stderr)
    documents: list[Document] = []
    errata: list[Errata] = []
    errata_broken: list[str] = []
    compiler = Compiler()
    try:
        for set_id in sets:
            _stop_if_reader_gone()
            _say(progress, f"{set_id}:")
            document = build(set_id, progress=progress)  # type: ignore[arg-type]
            documents.append(document)
            _stop_if_reader_gone()  # built for a reader who has left: write nothing more
            compiler.submit(document.tex, folder / f"{set_id}.pdf", want_pdf, keep_tex,
                            progress, latex_errors)
            if document.audit:  # the instructor's document: every check, beside the key
                compiler.submit(document.audit, folder / f"{set_id}-audit.pdf", want_pdf,
                                keep_tex, progress, latex_errors)
            for path, _ in [f for f in errata_files if f[1] == set_id]:
                built = _errata(path, set_id, folder, want_pdf, keep_tex, progress,
                                latex_errors, errata_broken, compiler)
                errata += [built] if built else []
        compiler.finish()
    except BaseException:  # Ctrl-C, SIGTERM, a full disk, a reader gone: no build survives
        compiler.abandon()
        raise
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
    if latex_errors:  # one line each; the last one is the command's error
        for message in latex_errors[:-1]:
            print(f"derive: error: {message}", file=sys.stderr)
        raise DeriveError(latex_errors[-1])
    return 1 if broken or failed or load_errors or errata_broken else 0


def _errata_summary(errata: list[Errata]) -> str:
    if not errata:
        return ""
    total = {k: sum(e.counts.get(k, 0) for e in errata) for k in errata[0].counts}
    return (f"{len(errata)} errata, {sum(total.values())} claims graded: "
            + ", ".join(f"{n} {status}" for status, n in total.items()) + "; ")
