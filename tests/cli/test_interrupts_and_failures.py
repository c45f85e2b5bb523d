"""Interrupts, SIGTERM, a closed pipe, names the file system refuses, out of memory: each ends
``derive`` in one line on stderr, a non-zero status and earlier outputs as they were."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import derive.report
from derive.cli import listing, main, split_debug
from derive.core.errors import DeriveError
from derive.report import latexmk
from derive.report.document import build

# A child ``derive`` whose answer keys build at once (every part unanswered), so that the
# tests are about the signal, not the answers. ``hang``: the second set never finishes (a
# signal must end it); ``wait``: the second set waits for the file ``go``; ``texloop``: TeX
# loops for ever on the document (a signal must end TeX).
CHILD = r"""
import pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
import derive.report
from derive.report.document import Document, build
mode, go = sys.argv[1], pathlib.Path(sys.argv[2])
LOOP = "\\documentclass{article}\n\\def\\a{\\a}\\a\n\\begin{document}x\\end{document}\n"

def fake(set_id, progress=None):
    if mode == "texloop":
        return Document(set_id, LOOP)
    if set_id != "csc421-hw4":
        if mode == "hang":
            time.sleep(600)
        while mode == "wait" and not go.exists():
            time.sleep(0.02)
    return build(set_id, answers=lambda pid: None)

derive.report.build = fake
derive.report.load_answer_modules = lambda: []
from derive.cli import main
sys.exit(main(sys.argv[3:]))
"""
GUARD = 60  # seconds: a hang guard only, never a timing assertion


def _start(mode: str, tmp_path: Path, argv: list[str], **streams) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(tmp_path / "go"), *argv],
        cwd=tmp_path,  # no reports/claims here: no errata
        text=True,
        **streams,
    )


def _read_until(stream, needle: str) -> list[str]:
    """The lines of ``stream`` up to and including the first that holds ``needle``."""
    lines: list[str] = []
    while True:
        line = stream.readline()
        assert line, f"the child ended before printing {needle!r}: {''.join(lines)}"
        lines.append(line)
        if needle in line:
            return lines


@pytest.mark.parametrize(("signum", "status", "word"), [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "terminated"),
])
def test_a_signal_stops_the_report_in_one_line_and_keeps_earlier_outputs(tmp_path, signum,
                                                                         status, word):
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"cmsc25500-midterm.pdf": b"%PDF an earlier run", "cmsc25500-midterm.tex":
               b"an earlier run's .tex"}
    for name, data in earlier.items():
        (out / name).write_bytes(data)
    child = _start("hang", tmp_path, ["report", "csc421-hw4", "cmsc25500-midterm", "--no-pdf",
                                      "--out", str(out)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shown = _read_until(child.stderr, "cmsc25500-midterm:")  # its build has started
        child.send_signal(signum)
        rest = child.stderr.read()
        child.wait(timeout=GUARD)
    finally:
        child.kill()
    err = "".join(shown) + rest
    assert child.returncode == status, err
    assert [line for line in err.splitlines() if "error" in line] == [f"derive: error: {word}"]
    assert err.endswith(f"derive: error: {word}\n") and "Traceback" not in err
    for name, data in earlier.items():
        assert (out / name).read_bytes() == data
    # the first set was written whole; nothing half-written or temporary is left
    assert sorted(p.name for p in out.iterdir()) == sorted([*earlier, "csc421-hw4.tex"])


def _tex_processes_in(folder: Path) -> list[int]:
    """The live processes whose working directory is inside ``folder`` (TeX runs in a scratch
    folder there)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat") as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if cwd.startswith(str(folder)) and not zombie:
            found.append(int(entry))
    return found


@pytest.mark.skipif(not latexmk.available() or not os.path.isdir("/proc"),
                    reason="needs latexmk and pdflatex, and /proc to find them")
def test_sigterm_during_tex_ends_tex_and_keeps_the_earlier_pdf(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "csc421-hw4.pdf"
    earlier.write_bytes(b"%PDF an earlier run")
    child = _start("texloop", tmp_path, ["report", "csc421-hw4", "--out", str(out)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shown = _read_until(child.stderr, "compiling")
        deadline = time.monotonic() + GUARD
        while not _tex_processes_in(out) and time.monotonic() < deadline:
            time.sleep(0.05)  # TeX is running (looping) in its scratch folder
        assert _tex_processes_in(out), "TeX never started"
        child.send_signal(signal.SIGTERM)
        rest = child.stderr.read()
        child.wait(timeout=GUARD)
    finally:
        child.kill()
    err = "".join(shown) + rest
    assert child.returncode == 143, err
    assert [line for line in err.splitlines() if "error" in line] == ["derive: error: terminated"]
    assert earlier.read_bytes() == b"%PDF an earlier run"
    assert [p.name for p in out.iterdir()] == ["csc421-hw4.pdf"]  # no scratch folder, no .tex
    for _ in range(50):  # SIGKILL is delivered at once; give the kernel a moment to reap
        if not _tex_processes_in(tmp_path):
            break
        time.sleep(0.1)
    assert _tex_processes_in(tmp_path) == []


def test_a_closed_pipe_stops_the_report_in_one_line(tmp_path):
    # `derive report | head -1`: the sets after the one read are not built for no one
    out = tmp_path / "out"
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as err_file:
        child = _start("wait", tmp_path, ["report", "csc421-hw4", "cmsc25500-midterm",
                                          "dsga1008-hw2", "--no-pdf", "--quiet", "--out",
                                          str(out)],
                       stdout=subprocess.PIPE, stderr=err_file)
        try:
            first = child.stdout.readline()
            child.stdout.close()  # as `head -1` exits
            (tmp_path / "go").touch()
            child.wait(timeout=GUARD)
        finally:
            child.kill()
    err = errors.read_text()
    assert first == f"wrote {out / 'csc421-hw4.tex'}\n"
    assert child.returncode == 141, err
    assert [line for line in err.splitlines() if "error" in line] == [
        "derive: error: output closed early (broken pipe); stopped"]
    assert "Traceback" not in err and "Exception ignored" not in err
    assert sorted(p.name for p in out.iterdir()) == ["csc421-hw4.tex"]


def test_a_broken_pipe_ends_a_listing_quietly(monkeypatch, capsys):
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["list"]) == 141  # `derive list | head`: the status says so, stderr stays quiet
    assert capsys.readouterr().err == ""


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive: error: "), err
    return lines[0]


def test_a_claims_file_name_too_long_is_one_line(tmp_path, capsys):
    name = str(tmp_path / ("a" * 300 + ".toml"))
    assert main(["grade", name, "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("derive: error: claims file '") and "aaaa" in line
    assert "File name too long" in line
    assert len(line) < 200  # the name is shortened, not printed whole


def test_an_out_name_too_long_is_one_line(tmp_path, capsys):
    assert main(["report", "csc421-hw4", "--no-pdf", "--out", str(tmp_path / ("b" * 300))]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("derive: error: --out ") and "File name too long" in line


def test_a_claims_folder_name_too_long_is_one_line(tmp_path, capsys):
    assert main(["report", "csc421-hw4", "--no-pdf", "--out", str(tmp_path / "out"),
                 "--claims", str(tmp_path / ("c" * 300))]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("derive: error: --claims ") and "File name too long" in line


def test_debug_is_accepted_anywhere_on_the_line(capsys):
    assert split_debug(["show", "lstm", "--debug"]) == (["show", "lstm"], True)
    assert split_debug(["--debug", "list"]) == (["list"], True)
    assert split_debug(["list"]) == (["list"], False)
    assert split_debug(["grade", "--", "--debug"]) == (["grade", "--", "--debug"], False)
    assert main(["list", "--debug"]) == 0
    with pytest.raises(DeriveError, match="unknown model"):  # --debug: the traceback
        main(["show", "no_such_model", "--debug"])
    assert main(["show", "no_such_model"]) == 2
    assert "unrecognized" not in capsys.readouterr().err


def test_out_of_memory_is_one_line(monkeypatch, capsys):
    def exhausted(args) -> int:
        raise MemoryError

    monkeypatch.setattr(listing, "run", exhausted)
    assert main(["list"]) == 2
    assert _one_error_line(capsys).startswith("derive: error: out of memory")
    with pytest.raises(MemoryError):
        main(["list", "--debug"])


@pytest.mark.parametrize(("error", "words"), [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/out.tex"),
     "no space left on device (writing '/x/out.tex')"),
    (OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), "d" * 300),
     "File name too long: 'ddd"),
    (IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/x/SET.pdf"),
     "Is a directory: '/x/SET.pdf'"),
])
def test_a_file_error_no_command_foresaw_is_one_line(monkeypatch, capsys, error, words):
    def fails(args) -> int:
        raise error

    monkeypatch.setattr(listing, "run", fails)
    assert main(["list"]) == 2
    assert words in _one_error_line(capsys)


def test_grading_dev_null_says_it_is_empty_not_missing(capsys):
    assert main(["grade", "/dev/null"]) == 2
    line = _one_error_line(capsys)
    assert "'/dev/null' is empty" in line and "not a claims file" in line
    assert "not found" not in line


def _fake_keys(monkeypatch) -> None:
    monkeypatch.setattr(derive.report, "load_answer_modules", lambda: [])
    monkeypatch.setattr(derive.report, "build",
                        lambda set_id, progress=None: build(set_id, answers=lambda pid: None))


def test_a_claims_folder_that_does_not_exist_is_refused(tmp_path, monkeypatch, capsys):
    _fake_keys(monkeypatch)
    missing = tmp_path / "nonexistent"
    assert main(["report", "csc421-hw4", "--no-pdf", "--out", str(tmp_path / "out"),
                 "--claims", str(missing)]) == 2
    assert _one_error_line(capsys) == (f"derive: error: --claims {str(missing)!r} not found "
                                       "(a folder of claims files, *.toml)")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_the_default_claims_folder_is_optional(tmp_path, monkeypatch, capsys):
    _fake_keys(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no reports/claims here: no errata, and nothing to say
    assert main(["report", "csc421-hw4", "--no-pdf", "--quiet", "--out", "out"]) == 0
    assert "claims" not in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["csc421-hw4.tex"]


@pytest.mark.parametrize("option", ["--out", "--claims"])
def test_an_empty_folder_name_is_refused(tmp_path, monkeypatch, capsys, option):
    _fake_keys(monkeypatch)
    monkeypatch.chdir(tmp_path)
    argv = ["report", "csc421-hw4", "--no-pdf", "--out", "out", "--claims", "claims", option, ""]
    (tmp_path / "claims").mkdir()
    assert main(argv) == 2
    assert _one_error_line(capsys).startswith(f"derive: error: {option} is empty ('')")
    assert not list(tmp_path.glob("*.tex"))  # nothing written into the working directory
