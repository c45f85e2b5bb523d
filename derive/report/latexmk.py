"""Compile a .tex file to PDF with latexmk: no shell, no shell escape, bounded in time."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from derive.core.errors import DeriveError

# The Debian packages that hold everything the report preamble uses (verified on Debian 12).
TEX_PACKAGES = (
    "latexmk texlive-latex-base texlive-latex-recommended texlive-pictures"
)
INSTALL_HINT = (
    "no TeX engine found (latexmk); wrote the .tex only. To build PDFs install TeX, e.g. on "
    f"Debian/Ubuntu: apt-get install --no-install-recommends {TEX_PACKAGES}"
)
TIMEOUT_SECONDS = 300


def available() -> bool:
    """Whether latexmk and pdflatex are on the PATH."""
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


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
    """Compile ``tex`` into a PDF beside it, atomically: latexmk runs in a scratch folder and
    only a finished PDF replaces the one beside ``tex`` (an interrupt, a timeout or a LaTeX
    error leaves an earlier PDF as it was). On failure a ``DeriveError`` with the log's failing
    lines; the .tex and its log are kept beside it for inspection."""
    tex = tex.resolve()
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{tex.stem}-build-", dir=tex.parent))
    except OSError as exc:
        raise DeriveError(f"cannot build {tex.name} in {tex.parent}: {exc.strerror}") from None
    try:
        return _compile_in(tex, scratch, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compile_in(tex: Path, scratch: Path, timeout: float) -> Path:
    env = dict(os.environ, openin_any="p", openout_any="p")
    try:
        shutil.copyfile(tex, scratch / tex.name)
    except OSError as exc:
        raise DeriveError(f"cannot build {tex.name}: {exc.strerror}") from None
    try:
        # a session of its own, so that a timeout can end pdflatex too, not only latexmk
        process = subprocess.Popen(
            command(tex),
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise DeriveError(f"could not run latexmk for {tex}: {exc}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise DeriveError(
            f"latexmk did not finish {tex.name} within {timeout:g} s; kept {tex}"
        ) from None
    except BaseException:  # e.g. Ctrl-C: no TeX process may outlive the build
        _kill_group(process)
        raise
    built = scratch / tex.with_suffix(".pdf").name
    if process.returncode != 0 or not built.exists():
        log = tex.with_suffix(".log")
        made = scratch / log.name
        text = made.read_text(errors="replace") if made.exists() else stdout + stderr
        try:
            log.write_text(text, encoding="utf-8")
        except OSError:
            log = None
        where = f"full log {log}" if log is not None else "its log could not be written"
        raise DeriveError(
            f"LaTeX failed on {tex} (kept for inspection; {where}):\n"
            + failing_lines(text, tex)
        )
    pdf = tex.with_suffix(".pdf")
    try:
        os.replace(built, pdf)  # the same file system: the PDF appears whole or not at all
    except OSError as exc:
        raise DeriveError(f"cannot write {pdf}: {exc.strerror}") from None
    tex.with_suffix(".log").unlink(missing_ok=True)  # a log of an earlier failure
    return pdf


def _kill_group(process: subprocess.Popen) -> None:
    """End latexmk and every process it started (pdflatex), then reap latexmk."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass
    process.communicate()


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
