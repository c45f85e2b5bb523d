"""The errata documents of ``derive report``: graded claims files typeset beside the keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import derive.report
from derive.cli import main as cli
from derive.core.errors import DeriveError
from derive.report import errata_to_build, latexmk
from derive.report.document import build
from derive.report.errata import Errata, build_errata, claims_for_sets, write_errata

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "reports" / "claims" / "rnn-cnn-hw.toml"
HOSTILE = r"\input{/etc/passwd} $x^2$ 100% & #_ ~"

has_tex = pytest.mark.skipif(
    not latexmk.available() or shutil.which("pdftotext") is None,
    reason="needs latexmk, pdflatex and pdftotext (make report / .ci/run install them)",
)


@pytest.fixture(scope="module")
def seed_errata() -> Errata:
    return build_errata(SEED)  # grading the seed solution: a few seconds, done once


def _hostile_claims(folder: Path) -> Path:
    """A claims file of rnn-cnn-hw whose every text field is hostile (text claims: not graded
    against a built answer, so fast)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rnn-cnn-hw.toml"
    quoted = HOSTILE.replace("\\", "\\\\")
    path.write_text(
        f'title = "{quoted}"\nsource = "{quoted}"\nstudent = "{quoted}"\n\n'
        f'[["rnn-cnn-hw/4.3"]]\nlabel = "{quoted}"\ntext = "{quoted}"\nnote = "{quoted}"\n'
    )
    return path


def _fake_keys(monkeypatch) -> None:
    """Answer keys that build instantly (every part unanswered): these tests are about errata."""
    monkeypatch.setattr(derive.report, "load_answer_modules", lambda: [])
    monkeypatch.setattr(derive.report, "build",
                        lambda set_id, progress=None: build(set_id, answers=lambda pid: None))


def _pdf_text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


def test_the_errata_of_a_seed_solution_render(seed_errata, tmp_path):
    tex = seed_errata.tex
    assert seed_errata.name == "errata-rnn-cnn-hw" and seed_errata.set_id == "rnn-cnn-hw"
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"Errata: a student's solution to rnn-cnn-hw" in tex
    assert "transcribed from the text of the solution" in tex
    assert f"{seed_errata.claims} claims:" in tex and seed_errata.counts["wrong"] > 0
    assert "590080" in tex and "295168" in tex  # the copied Conv3-256 row and its correction
    assert r"\VAR{" not in tex and r"\BLOCK{" not in tex
    assert write_errata(seed_errata, tmp_path).name == "errata-rnn-cnn-hw.tex"


def test_claims_files_are_matched_to_the_sets_being_built(tmp_path):
    found, errors = claims_for_sets(SEED.parent, ["dsga1008-hw2", "rnn-cnn-hw"])
    assert [(p.name, s) for p, s in found] == [("dsga1008-hw2.toml", "dsga1008-hw2"),
                                                ("rnn-cnn-hw.toml", "rnn-cnn-hw")]
    assert errors == []
    assert claims_for_sets(SEED.parent, ["csc421-hw4"]) == ([], [])
    # a malformed file named after a set not being built is not this run's business
    (tmp_path / "csc421-hw4.toml").write_text("not = [toml")
    assert claims_for_sets(tmp_path, ["rnn-cnn-hw"]) == ([], [])
    found, errors = claims_for_sets(tmp_path, ["csc421-hw4"])
    assert found == [] and "csc421-hw4.toml" in errors[0]


def test_a_hostile_claim_is_escaped(tmp_path, monkeypatch, capsys):
    claims = _hostile_claims(tmp_path / "claims")
    _fake_keys(monkeypatch)
    shown: list[str] = []
    monkeypatch.setattr(derive.report, "_progress", lambda stream: shown.append)
    out = tmp_path / "out"
    status = cli(["report", "rnn-cnn-hw", "--no-pdf", "--out", str(out),
                  "--claims", str(claims.parent)])
    assert status == 0  # unanswered parts and wrong claims are not failures of the command
    captured = capsys.readouterr()
    assert f"wrote {out / 'errata-rnn-cnn-hw.tex'}" in captured.out
    assert "errata-rnn-cnn-hw" in captured.err and "graded, 1 claims" in captured.err
    assert "1 errata, 1 claims graded" in captured.err
    tex = (out / "errata-rnn-cnn-hw.tex").read_text()
    assert r"\input{" not in tex and "$x^2$" not in tex  # nothing hostile reaches TeX raw
    assert r"\textbackslash{}input\{/etc/passwd\} \$x\textasciicircum{}2\$ 100\% \& \#\_" in tex
    assert (out / "rnn-cnn-hw.tex").exists()


def test_a_claims_folder_that_is_missing_is_an_error(tmp_path, monkeypatch, capsys):
    # formerly a note and exit status 0: a --claims that names nothing is a mistake to report
    # (without --claims, a missing reports/claims is skipped: tests/cli/
    # test_interrupts_and_failures.py::test_the_default_claims_folder_is_optional)
    _fake_keys(monkeypatch)
    missing = tmp_path / "nowhere"
    assert cli(["report", "rnn-cnn-hw", "--no-pdf", "--out", str(tmp_path),
                "--claims", str(missing)]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "claims" in line] == [
        f"derive: error: --claims {str(missing)!r} not found (a folder of claims files, *.toml)"]
    assert not list(tmp_path.glob("errata-*"))
    assert errata_to_build(None, ["rnn-cnn-hw"]) == ([], [])  # the API: errata when asked


def test_claims_that_is_a_file_is_an_error(tmp_path, capsys):
    assert cli(["report", "rnn-cnn-hw", "--no-pdf", "--out", str(tmp_path),
                "--claims", str(SEED)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derive: error: --claims") and "not a folder" in err
    with pytest.raises(DeriveError, match="not a folder"):
        errata_to_build(str(SEED), ["rnn-cnn-hw"])


def test_a_bad_claims_file_exits_2_naming_it(tmp_path, monkeypatch, capsys):
    _fake_keys(monkeypatch)
    claims = tmp_path / "claims"
    claims.mkdir()
    bad = claims / "rnn-cnn-hw.toml"
    bad.write_text('title = "x"\n[["rnn-cnn-hw/3.1"]]\nnumber = 1\nbogus = 2\n')
    out = tmp_path / "out"
    assert cli(["report", "rnn-cnn-hw", "--no-pdf", "--out", str(out),
                "--claims", str(claims)]) == 2
    err = capsys.readouterr().err
    error = [line for line in err.splitlines() if line.startswith("derive: error: ")]
    assert error and str(bad) in error[0] and "bogus" in err
    assert "Traceback" not in err
    assert (out / "rnn-cnn-hw.tex").exists()  # the answer key is written regardless
    assert not (out / "errata-rnn-cnn-hw.tex").exists()


@has_tex
def test_the_errata_pdf_compiles_and_reads_back(seed_errata, tmp_path):
    pdf = latexmk.compile_pdf(write_errata(seed_errata, tmp_path))
    text = _pdf_text(pdf)
    assert "Errata: a student’s solution to rnn-cnn-hw" in text
    assert "claimed 295168, right 590080" in " ".join(text.split())  # the copied row, corrected
    assert "207507816" in text  # the corrected total


@has_tex
def test_a_latex_error_in_the_errata_exits_2_and_keeps_the_tex(tmp_path, monkeypatch, capsys):
    claims = _hostile_claims(tmp_path / "claims")
    _fake_keys(monkeypatch)
    real = build_errata

    def broken(path, set_id=None):
        errata = real(path, set_id)
        errata.tex = errata.tex.replace(r"\end{document}", r"\undefinedmacro \end{document}")
        return errata

    monkeypatch.setattr(derive.report, "build_errata", broken)
    out = tmp_path / "out"
    assert cli(["report", "rnn-cnn-hw", "--out", str(out), "--claims", str(claims.parent)]) == 2
    captured = capsys.readouterr()
    assert any(line.startswith("derive: error: LaTeX failed on")
               for line in captured.err.splitlines())
    assert "errata-rnn-cnn-hw.tex" in captured.err and r"\undefinedmacro" in captured.err
    assert (out / "errata-rnn-cnn-hw.tex").exists()
    assert not (out / "errata-rnn-cnn-hw.pdf").exists()
    assert (out / "rnn-cnn-hw.pdf").exists()  # the answer key still compiled
    assert "no PDF: LaTeX failed" in captured.out


@has_tex
def test_a_hostile_claim_compiles_and_prints_literally(tmp_path):
    errata = build_errata(_hostile_claims(tmp_path / "claims"))
    text = _pdf_text(latexmk.compile_pdf(write_errata(errata, tmp_path)))
    compact = "".join(text.split()).replace("˜", "~").replace("ˆ", "^")
    assert r"\input{/etc/passwd}$x^2$100%&#" in compact  # printed, not executed
