"""Compile LaTeX to PDF with latexmk: no shell, no shell escape, bounded in time, atomic."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from derive.core.errors import DeriveError
from derive.report.render import write_atomically

# The Debian packages that hold everything the report preamble uses (verified on Debian 12).
TEX_PACKAGES = (
    "latexmk texlive-latex-base texlive-latex-recommended texlive-pictures"
)
INSTALL_HINT = (
    "no TeX engine found (latexmk); wrote the .tex only. To build PDFs install TeX, e.g. on "
    f"Debian/Ubuntu: apt-get install --no-install-recommends {TEX_PACKAGES}"
)
TIMEOUT_SECONDS = 300
# Scratch folders are named by this prefix, so that `make clean` and .gitignore know them.
SCRATCH_PREFIX = ".derive-build-"
# Below this many free bytes a LaTeX failure is most likely the full disk.
NEARLY_FULL_BYTES = 1 << 20
CANCEL_POLL_SECONDS = 0.1


class Cancelled(DeriveError):
    """The run was interrupted while this document was compiling in the background."""


class LatexFailed(DeriveError):
    """TeX stopped on one document (the others of a run can still be built), unlike a failure
    to write (a full disk), which ends the run."""


def available() -> bool:
    """Whether latexmk and pdflatex are on the PATH."""
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def tex_name(target: Path) -> str:
    """The file stem TeX sees for ``target``: the stem itself when TeX reads it as a plain
    name, else the stem with every other character replaced by ``_``. Legal file names such
    as ``errata-50%``, ``a$b`` or ``x~y`` stop latexmk ("character not allowed") or TeX (``%``
    starts a comment); only the scratch folder sees the safe name, the PDF keeps its own."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", target.stem)[:64].strip(".")
    return safe or "document"


def command(tex: Path) -> list[str]:
    """The latexmk argument list for ``tex`` (run with the .tex's folder as working directory)."""
    return [
        "latexmk",
        "-norc",  # no latexmkrc (in the output folder or home) may re-enable shell escape
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-no-shell-escape",
        "-file-line-error",
        tex.name,
    ]


def compile_pdf(tex: Path, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Compile the file ``tex`` into a PDF beside it, atomically (see :func:`build_pdf`); the
    .tex stays where it is."""
    tex = tex.resolve()
    try:
        source = tex.read_bytes()
    except OSError as exc:
        raise DeriveError(f"cannot read {tex}: {exc.strerror}") from None
    return _build(source, tex.with_suffix(".pdf"), timeout, keep_tex=True, tex_on_disk=True)


def build_pdf(source: str, pdf: Path, timeout: float = TIMEOUT_SECONDS,
              keep_tex: bool = False, cancel: threading.Event | None = None) -> Path:
    """Compile the LaTeX ``source`` into ``pdf``, atomically: latexmk runs in a scratch folder
    beside ``pdf`` and only a finished PDF replaces the one there (an interrupt, a SIGTERM, a
    timeout, a full disk or a LaTeX error leaves an earlier PDF as it was). The .tex is written
    beside the PDF when ``keep_tex``, or on a LaTeX error (with its log, for inspection); after
    a success a .tex or log left there by an earlier failure is removed, so that the folder
    holds only PDFs. A failure is a one-line ``DeriveError`` naming the log. ``cancel``, set
    from another thread (the run was interrupted while this build runs in the background),
    ends latexmk and leaves the earlier PDF as it was."""
    return _build(source.encode("utf-8"), pdf, timeout, keep_tex=keep_tex, tex_on_disk=False,
                  cancel=cancel)


def _build(source: bytes, pdf: Path, timeout: float, keep_tex: bool, tex_on_disk: bool,
           cancel: threading.Event | None = None) -> Path:
    pdf = pdf.resolve()
    try:
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=pdf.parent))
    except OSError as exc:
        raise DeriveError(f"cannot build {pdf.name} in {pdf.parent}: {exc.strerror}") from None
    try:
        return _compile_in(source, pdf, scratch, timeout, keep_tex, tex_on_disk, cancel)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compile_in(source: bytes, pdf: Path, scratch: Path, timeout: float, keep_tex: bool,
                tex_on_disk: bool, cancel: threading.Event | None = None) -> Path:
    tex = pdf.with_suffix(".tex")
    log = pdf.with_suffix(".log")
    job = scratch / f"{tex_name(pdf)}.tex"
    try:
        job.write_bytes(source)
    except OSError as exc:
        raise DeriveError(f"cannot build {pdf.name}: {_reason(exc, scratch)}") from None
    status, stdout = _run_latexmk(job, tex, timeout, cancel)
    built = job.with_suffix(".pdf")
    if status != 0 or not built.exists():
        made = job.with_suffix(".log")
        text = made.read_text(errors="replace") if made.exists() else stdout
        text_source = source.decode("utf-8", errors="replace")
        if not tex_on_disk:
            write_atomically(tex, text_source)  # kept for inspection beside the failed build
        try:
            write_atomically(log, text)
            where = f"full log {log}"
        except DeriveError as exc:
            where = f"no log: {exc}"
        full = _disk_nearly_full(pdf.parent)
        raise LatexFailed(f"LaTeX failed on {tex}: {full or summary(text, text_source)} "
                          f"(the .tex is kept; {where})")
    if cancel is not None and cancel.is_set():  # finished as the run was interrupted
        raise Cancelled(f"the build of {tex.name} was cancelled")
    if keep_tex and not tex_on_disk:
        write_atomically(tex, source.decode("utf-8"))
    try:
        os.replace(built, pdf)  # the same file system: the PDF appears whole or not at all
    except OSError as exc:
        raise DeriveError(f"cannot write {pdf}: {_reason(exc, pdf.parent)}") from None
    stale = [log] if keep_tex else [log, tex]  # of an earlier failure: this build succeeded
    for path in stale:
        path.unlink(missing_ok=True)
    return pdf


def _run_latexmk(job: Path, tex: Path, timeout: float,
                 cancel: threading.Event | None = None) -> tuple[int, str]:
    """Run latexmk on ``job`` in its folder: its exit status and output. A timeout, an
    interrupt or ``cancel`` ends latexmk and every process it started."""
    env = dict(os.environ, openin_any="p", openout_any="p")
    try:
        # a session of its own, so that a timeout can end pdflatex too, not only latexmk
        process = subprocess.Popen(
            command(job),
            cwd=job.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise DeriveError(f"could not run latexmk for {tex}: {exc.strerror}") from None
    deadline = time.monotonic() + timeout
    try:
        while True:  # in short waits, so that a cancel from another thread is seen at once
            try:
                stdout, _ = process.communicate(timeout=min(CANCEL_POLL_SECONDS, timeout))
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    _kill_group(process)
                    raise Cancelled(f"the build of {tex.name} was cancelled") from None
                if time.monotonic() >= deadline:
                    _kill_group(process)
                    raise LatexFailed(
                        f"latexmk did not finish {tex.name} within {timeout:g} s; the earlier "
                        "PDF, if any, is unchanged"
                    ) from None
    except BaseException:  # Ctrl-C, SIGTERM: no TeX process may outlive the build
        _kill_group(process)
        raise
    return process.returncode, stdout or ""


def _kill_group(process: subprocess.Popen) -> None:
    """End latexmk and every process it started (pdflatex), then reap latexmk."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass
    process.communicate()


def _reason(exc: OSError, folder: Path) -> str:
    if exc.strerror:
        return exc.strerror
    return _disk_nearly_full(folder) or str(exc)


def _disk_nearly_full(folder: Path) -> str:
    """'no space left on device (N bytes free in FOLDER)' when the disk is (nearly) full:
    pdflatex then fails with a message about the file it could not write, never the cause."""
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):  # statvfs: POSIX only
        return ""
    free = stat.f_bavail * stat.f_frsize
    if free >= NEARLY_FULL_BYTES:
        return ""
    return f"no space left on device ({free} bytes free in {folder})"


def summary(log: str, source: str = "") -> str:
    """The first error of a LaTeX log in one line: its message, the line of the .tex, the
    problem that holds it (``%% problem ID`` marks) and the source text TeX stopped at."""
    lines = log.splitlines()
    message = ""
    for line in lines:
        located = re.match(r"^\S+\.tex:\d+: (.*)$", line)
        if located or line.startswith("! "):
            message = located.group(1) if located else line[2:]
            break
    if not message:  # latexmk itself stopped, or no TeX error line: its last words
        words = [line.strip() for line in lines if line.strip()]
        return _clip(words[-1] if words else "no log written")
    number = _error_line(log)
    if number is None:
        return _clip(message.rstrip("."))
    where = _problem_at(source.splitlines(), number) if source else ""
    context = re.search(rf"^l\.{number} (.*)$", log, re.MULTILINE)
    at = f": {_clip(context.group(1).strip(), 60)}" if context else ""
    return f"{_clip(message.rstrip('.'))} at line {number}{where}{at}"


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failing_lines(log: str, tex: Path | None = None, context: int = 3) -> str:
    """The error lines of a LaTeX log, with the source lines they point at and, when the
    .tex marks its problems (``%% problem ID``), the problem that holds the error."""
    lines = log.splitlines()
    shown: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^\S+\.tex:\d+: ", line):
            shown.extend(lines[i : i + context + 2])
            break
    if not shown:
        shown = [line for line in lines if line.strip()][-12:]
    message = "\n".join("  " + line for line in shown)
    number = _error_line(log)
    if tex is not None and number and tex.exists():
        source = tex.read_text(errors="replace").splitlines()
        where = _problem_at(source, number)
        lo, hi = max(number - 3, 0), min(number + 1, len(source))
        excerpt = "\n".join(f"  {k + 1:5d}| {source[k]}" for k in range(lo, hi))
        message += f"\n{tex.name} line {number}{where}:\n{excerpt}"
    return message


def _error_line(log: str) -> int | None:
    match = re.search(r"^\S+\.tex:(\d+): ", log, re.MULTILINE) or re.search(
        r"^l\.(\d+) ", log, re.MULTILINE
    )
    return int(match.group(1)) if match else None


def _problem_at(source: list[str], number: int) -> str:
    for k in range(min(number, len(source)) - 1, -1, -1):
        match = re.match(r"^%% problem (\S+)", source[k])
        if match:
            return f" (in the answer to {match.group(1)})"
    return ""
