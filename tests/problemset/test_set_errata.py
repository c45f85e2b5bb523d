"""Errata of a problem set: a student's claims about an instructor's set graded against the
set's own answers (``derive report set.toml --claims DIR``), with the set's cell as the model
of the counterexamples; other sets' claims files skipped, malformed ones refused."""

import shutil
import subprocess
from pathlib import Path

import pytest

from derive.cli import main
from derive.grade import grade
from derive.grade.verdicts import CORRECT, NOT_CHECKABLE, PARTLY, WRONG
from derive.problemset import answer_source, load
from derive.report import latexmk
from derive.report.problemset import set_errata

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "problemsets" / "gru-homework.toml"
CLAIMS = ROOT / "problemsets" / "claims" / "gru-homework.toml"
NESTEROV = ROOT / "problemsets" / "nesterov.toml"

EXPECTED = {
    "the bar of the candidate state": NOT_CHECKABLE,  # right, in the scalar case only
    "the bar of the update gate": NOT_CHECKABLE,
    "the bar of the state": WRONG,  # the path through the reset gate is missing
    "the gradient of W_g": NOT_CHECKABLE,
    "the gradient of W_z": WRONG,  # the sigmoid's derivative left out
    "the space of W_z": CORRECT,
    "the space of r": CORRECT,
    "the space of U_r": PARTLY,
    "the space of x": PARTLY,
    "the space of W_r": WRONG,  # transposed
}


@pytest.fixture(scope="module")
def gru():
    problem_set = load(SET)
    return problem_set, answer_source(problem_set)


@pytest.fixture(scope="module")
def errata(gru):
    problem_set, source = gru
    (one,) = set_errata(problem_set, [CLAIMS], source)
    return one


def test_the_example_claims_grade_as_a_reader_expects(gru):
    _, source = gru
    report = grade(CLAIMS, answers=source.answer, problems=source.problems(),
                   grading=source.grading)
    got = {v.claim.title: v for v in report.verdicts}
    assert {title: v.status for title, v in got.items()} == EXPECTED
    bar_h = got["the bar of the state"]
    assert "U_r" in bar_h.slip and "missing" in bar_h.slip
    for title in ("the bar of the state", "the gradient of W_z"):
        # a counterexample the student can rerun: the set's own cell, at small inputs
        shown = [e for e in got[title].evidence if e.startswith("counterexample")]
        assert shown and "a run of the cell" in shown[0], (title, shown)
    assert "scalar case" in got["the gradient of W_g"].reason  # never called right unchecked
    assert any("counterexample" in e for e in got["the space of W_r"].evidence)


def test_the_counterexample_runs_the_parts_cell_only_when_given(gru):
    # planted: without the part's model the same wrong claim gets no run of a cell
    _, source = gru
    report = grade(CLAIMS, answers=source.answer, problems=source.problems())
    bar_h = next(v for v in report.verdicts if v.claim.title == "the bar of the state")
    assert bar_h.status == WRONG
    assert not any("a run of the cell" in e for e in bar_h.evidence)


def test_the_errata_speak_the_sets_titles(errata):
    assert errata.name == "errata-gru-homework" and errata.set_id == "gru-homework"
    assert "Homework 4: gated recurrent units" in errata.tex
    assert "Backpropagation through time" in errata.tex and "Dimensions" in errata.tex
    assert errata.counts[CORRECT] == 2 and errata.counts[WRONG] == 3


@pytest.mark.skipif(not latexmk.available() or not shutil.which("pdftotext"),
                    reason="no TeX")
def test_the_errata_compile(errata, tmp_path):
    pdf = latexmk.build_pdf(errata.tex, tmp_path / f"{errata.name}.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Errata" in text and "a run of the cell" in text


def test_report_writes_the_errata_beside_the_key_and_skips_other_sets(tmp_path, capsys):
    claims = tmp_path / "claims"
    claims.mkdir()
    shutil.copy(CLAIMS, claims)
    shutil.copy(ROOT / "reports" / "claims" / "rnn-cnn-hw.toml", claims)  # another set's
    (claims / "other.toml").write_text('[["other-set/1"]]\nresult = "x"\nnumber = 3\n',
                                       encoding="utf-8")
    out = tmp_path / "out"
    assert main(["report", str(SET), "--claims", str(claims), "--out", str(out),
                 "--no-pdf", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "errata-gru-homework.tex", "gru-homework-audit.tex", "gru-homework.tex"]
    assert "derive: error" not in capsys.readouterr().err


MALFORMED = {
    "a part the set lacks": ('[["nesterov/9"]]\nresult = "x"\nnumber = 3\n',
                             "'nesterov/9' is not a problem id of the problem set"),
    "not TOML": ("this is = = not toml\n", "not valid TOML"),
    "two sets": ('[["nesterov/1"]]\nresult = "x"\nnumber = 3\n'
                 '[["rnn-cnn-hw/1"]]\nresult = "x"\nnumber = 3\n', "claims of several sets"),
    "a problem file": (NESTEROV.read_text(encoding="utf-8"), "is not a problem id"),
    "no such result": ('[["nesterov/1"]]\nresult = "nosuch"\nnumber = 3\n',
                       "the derived answer has no result 'nosuch'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_claims_file_is_refused_and_nothing_written(case, tmp_path, capsys):
    text, message = MALFORMED[case]
    (tmp_path / "claims.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["report", str(NESTEROV), "--claims", str(tmp_path), "--out", str(out),
                 "--no-pdf", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derive: error: ") and message in err and "Traceback" not in err
    assert "claims.toml" in err
    assert not out.exists()


def test_a_missing_claims_folder_is_refused(tmp_path, capsys):
    assert main(["report", str(NESTEROV), "--claims", str(tmp_path / "none"), "--out",
                 str(tmp_path / "out"), "--no-pdf"]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
