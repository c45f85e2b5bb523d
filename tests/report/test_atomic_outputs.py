"""What ``derive report`` leaves in ``--out``: only PDFs (the .tex on request or beside a
failed build), every file whole or the earlier one, and names TeX could not read."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import derive.report
from derive.cli import main
from derive.core.errors import DeriveError
from derive.report import latexmk, render
from derive.report.document import Document, build
from derive.report.errata import build_errata

SMALL = "\\documentclass{article}\n\\begin{document}\nx\n\\end{document}\n"
BROKEN = ("\\documentclass{article}\n\\begin{document}\n%% problem csc421-hw4/2a\n"
          "\\undefinedmacro{x}\n\\end{document}\n")


@pytest.fixture
def fake_tex(monkeypatch) -> list[str]:
    """latexmk replaced by a stand-in that writes a PDF (or, for ``\\undefinedmacro``, a log of
    the error) under the name it is given; the names TeX was given, in order."""
    jobs: list[str] = []

    def run(job: Path, tex: Path, timeout: float, cancel=None) -> tuple[int, str]:
        jobs.append(job.name)
        lines = job.read_text().splitlines()
        bad = [n for n, line in enumerate(lines, start=1) if "\\undefinedmacro" in line]
        if bad:
            job.with_suffix(".log").write_text(
                f"This is pdfTeX\n./{job.name}:{bad[0]}: Undefined control sequence.\n"
                f"l.{bad[0]} \\undefinedmacro\n                {{x}}\n")
            return 12, "Latexmk: Errors, so I did not complete making targets"
        job.with_suffix(".pdf").write_bytes(b"%PDF-1.5 made from " + job.name.encode())
        return 0, ""

    monkeypatch.setattr(latexmk, "_run_latexmk", run)
    monkeypatch.setattr(latexmk, "available", lambda: True)
    return jobs


def _keys(monkeypatch, tex: str | None = None) -> None:
    """Answer keys that build at once: every part unanswered, or the document ``tex``; and a
    working directory without reports/claims (no errata unless asked)."""
    monkeypatch.setattr(derive.report, "load_answer_modules", lambda: [])
    monkeypatch.chdir(Path(__file__).parent)

    def fake(set_id, progress=None):
        if tex is not None:
            return Document(set_id, tex)
        return build(set_id, answers=lambda pid: None, progress=progress)

    monkeypatch.setattr(derive.report, "build", fake)


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line]


@pytest.mark.parametrize(("stem", "safe"), [
    ("csc421-hw4", "csc421-hw4"), ("errata-rnn-cnn-hw", "errata-rnn-cnn-hw"),
    ("errata-50%", "errata-50_"), ("errata-a$b~c", "errata-a_b_c"), ("sp ace", "sp_ace"),
    ("errata-#1{x}", "errata-_1_x_"), ("é", "_"), ("..", "document"), ("x" * 300, "x" * 64),
])
def test_tex_sees_a_safe_name(stem, safe):
    assert latexmk.tex_name(Path(f"/out/{stem}.pdf")) == safe
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", safe)


def test_a_pdf_keeps_its_own_name_whatever_tex_saw(fake_tex, tmp_path):
    for stem in ("errata-50%", "errata-a$b", "errata-x~y"):
        pdf = latexmk.build_pdf(SMALL, tmp_path / f"{stem}.pdf")
        assert pdf == (tmp_path / f"{stem}.pdf").resolve() and pdf.read_bytes().startswith(b"%PDF")
    assert fake_tex == ["errata-50_.tex", "errata-a_b.tex", "errata-x_y.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "errata-50%.pdf", "errata-a$b.pdf", "errata-x~y.pdf"]


def test_the_errata_of_a_claims_file_named_50_percent_are_built(fake_tex, tmp_path, monkeypatch,
                                                               capsys):
    _keys(monkeypatch)
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "50%.toml").write_text('[["rnn-cnn-hw/4.3"]]\ntext = "a remark"\n')
    out = tmp_path / "out"
    assert main(["report", "rnn-cnn-hw", "--out", str(out), "--claims", str(claims)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["errata-50%.pdf", "rnn-cnn-hw.pdf"]
    assert "errata-50_.tex" in fake_tex
    assert f"wrote {(out / 'errata-50%.pdf').resolve()}" in capsys.readouterr().out


@pytest.mark.skipif(not latexmk.available(), reason="needs latexmk and pdflatex")
@pytest.mark.parametrize("stem", ["50%", "a$b~c"])
def test_errata_of_an_unsafe_claims_name_compile(tmp_path, stem):
    claims = tmp_path / f"{stem}.toml"
    claims.write_text('[["rnn-cnn-hw/4.3"]]\ntext = "a remark"\n')
    errata = build_errata(claims)
    (tmp_path / "out").mkdir()
    pdf = latexmk.build_pdf(errata.tex, tmp_path / "out" / f"{errata.name}.pdf")
    assert pdf.name == f"errata-{stem}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [pdf.name]


def test_reports_out_holds_only_the_pdfs(fake_tex, tmp_path, monkeypatch):
    _keys(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    # left by an earlier failed build: this build succeeds, so they go
    (out / "csc421-hw4.tex").write_text("an earlier failure's .tex")
    (out / "csc421-hw4.log").write_text("an earlier failure's log")
    assert main(["report", "csc421-hw4", "--quiet", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["csc421-hw4.pdf"]
    assert main(["report", "csc421-hw4", "--quiet", "--tex", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["csc421-hw4.pdf", "csc421-hw4.tex"]
    assert (out / "csc421-hw4.tex").read_text().startswith("\\documentclass")
    assert main(["report", "csc421-hw4", "--quiet", "--no-pdf", "--out", str(tmp_path / "t")]) == 0
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["csc421-hw4.tex"]


def test_a_latex_failure_is_one_line_naming_a_log_that_exists(fake_tex, tmp_path, monkeypatch,
                                                             capsys):
    _keys(monkeypatch, BROKEN)
    out = tmp_path / "out"
    out.mkdir()
    (out / "csc421-hw4.pdf").write_bytes(b"%PDF an earlier run")
    assert main(["report", "csc421-hw4", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert not any(line.startswith(("  l.", "l.", "!", "csc421-hw4.tex line")) for line in err)
    (line,) = [line for line in err if "error" in line]
    tex, log = (out / "csc421-hw4.tex").resolve(), (out / "csc421-hw4.log").resolve()
    assert line == (f"derive: error: LaTeX failed on {tex}: Undefined control sequence at line 4 "
                    "(in the answer to csc421-hw4/2a): \\undefinedmacro (the .tex is kept; "
                    f"full log {log})")
    assert log.exists() and "Undefined control sequence" in log.read_text()
    assert tex.read_text() == BROKEN
    assert (out / "csc421-hw4.pdf").read_bytes() == b"%PDF an earlier run"
    assert "no PDF: LaTeX failed" in captured.out


def test_several_latex_failures_are_a_line_each(fake_tex, tmp_path, monkeypatch, capsys):
    _keys(monkeypatch, BROKEN)
    assert main(["report", "csc421-hw4", "rnn-cnn-hw", "--quiet", "--out",
                 str(tmp_path)]) == 2
    errors = _errors(capsys)
    assert len(errors) == 2 and all(e.startswith("derive: error: LaTeX failed on") for e in errors)
    assert "csc421-hw4.tex" in errors[0] and "rnn-cnn-hw.tex" in errors[1]


def test_a_pdf_name_that_is_a_folder_is_one_line(fake_tex, tmp_path, monkeypatch, capsys):
    _keys(monkeypatch)
    (tmp_path / "csc421-hw4.pdf").mkdir()
    assert main(["report", "csc421-hw4", "--quiet", "--out", str(tmp_path)]) == 2
    (line,) = _errors(capsys)
    pdf = (tmp_path / "csc421-hw4.pdf").resolve()
    assert line == f"derive: error: cannot write {pdf}: Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csc421-hw4.pdf"]  # no scratch left
    (tmp_path / "csc421-hw4.tex").mkdir()
    assert main(["report", "csc421-hw4", "--quiet", "--no-pdf", "--out", str(tmp_path)]) == 2
    (line,) = _errors(capsys)
    assert line.endswith("csc421-hw4.tex: Is a directory")


class _FullDisk:
    """A file whose writes fail part-way, as on a full disk."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()

    def write(self, text: str) -> int:
        self.handle.write(text[:100])
        self.handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_writing_the_tex_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch,
                                                                         capsys):
    _keys(monkeypatch)
    (tmp_path / "csc421-hw4.tex").write_text("an earlier run")
    real = os.fdopen
    monkeypatch.setattr(render.os, "fdopen", lambda fd, *a, **k: _FullDisk(real(fd, *a, **k)))
    assert main(["report", "csc421-hw4", "--quiet", "--no-pdf", "--out", str(tmp_path)]) == 2
    (line,) = _errors(capsys)
    assert line == (f"derive: error: cannot write {tmp_path / 'csc421-hw4.tex'}: "
                    "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["csc421-hw4.tex"]
    assert (tmp_path / "csc421-hw4.tex").read_text() == "an earlier run"


def test_a_full_disk_in_the_tex_build_is_one_line_and_keeps_the_old_pdf(fake_tex, tmp_path,
                                                                        monkeypatch, capsys):
    _keys(monkeypatch)
    (tmp_path / "csc421-hw4.pdf").write_bytes(b"%PDF an earlier run")

    def full(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    assert main(["report", "csc421-hw4", "rnn-cnn-hw", "--quiet", "--out", str(tmp_path)]) == 2
    (line,) = _errors(capsys)  # the run stops at the first: the next set would fail the same
    assert line == "derive: error: cannot build csc421-hw4.pdf: No space left on device"
    assert [p.name for p in tmp_path.iterdir()] == ["csc421-hw4.pdf"]
    assert (tmp_path / "csc421-hw4.pdf").read_bytes() == b"%PDF an earlier run"


def test_a_latex_failure_on_a_full_disk_says_so(tmp_path, monkeypatch):
    def fails(job, tex, timeout, cancel=None):
        job.with_suffix(".log").write_text("! I can't write on file `x.pdf'.\n")
        return 1, ""

    class Full:
        f_bavail, f_frsize = 0, 4096

    monkeypatch.setattr(latexmk, "_run_latexmk", fails)
    monkeypatch.setattr(latexmk.os, "statvfs", lambda path: Full())
    with pytest.raises(latexmk.LatexFailed, match=r"no space left on device \(0 bytes free"):
        latexmk.build_pdf(SMALL, tmp_path / "x.pdf")


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "SET.tex"
    target.write_text("the earlier file")

    class Interrupted(_FullDisk):
        def write(self, text: str) -> int:
            self.handle.write(text[:10])
            raise KeyboardInterrupt

    real = os.fdopen
    monkeypatch.setattr(render.os, "fdopen", lambda fd, *a, **k: Interrupted(real(fd, *a, **k)))
    with pytest.raises(KeyboardInterrupt):
        render.write_atomically(target, "the new file, long enough to be cut")
    assert [p.name for p in tmp_path.iterdir()] == ["SET.tex"]
    assert target.read_text() == "the earlier file"


def test_a_failed_build_removes_its_scratch_folder(fake_tex, tmp_path):
    with pytest.raises(DeriveError):
        latexmk.build_pdf(BROKEN, tmp_path / "doc.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.log", "doc.tex"]


def test_progress_goes_to_stderr_off_a_terminal_and_quiet_silences_it(tmp_path, monkeypatch,
                                                                      capsys):
    _keys(monkeypatch)
    assert main(["report", "csc421-hw4", "--no-pdf", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert "csc421-hw4:" in err
    assert any(line.split()[:2] == ["csc421-hw4/1a", "not"] for line in err)
    assert captured.out == f"wrote {tmp_path / 'csc421-hw4.tex'}\n"
    assert main(["report", "csc421-hw4", "--no-pdf", "--quiet", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines()] == [
        line for line in captured.err.splitlines() if line.startswith("1 report(s)")]
    assert captured.out == f"wrote {tmp_path / 'csc421-hw4.tex'}\n"


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs latexmk")
def test_latexmk_refuses_the_names_tex_name_avoids(tmp_path):
    # why tex_name exists: latexmk stops on such a name before TeX runs
    (tmp_path / "50%.tex").write_text(SMALL)
    done = subprocess.run(latexmk.command(tmp_path / "50%.tex"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "not allowed" in done.stdout + done.stderr


def test_a_long_legal_name_is_written(tmp_path):
    target = tmp_path / ("n" * 250 + ".tex")  # 254 characters: legal, if only just
    render.write_atomically(target, "whole")
    assert target.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(DeriveError, match="cannot write .*: File name too long"):
        render.write_atomically(tmp_path / ("n" * 300 + ".tex"), "x")
