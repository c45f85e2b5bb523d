"""The problem sets of ``problemsets/`` load, are answered with every check passing, and
render a key; the smallest is compiled to PDF in the default run, every one (the catalogue's
files too) in the slow run."""

from pathlib import Path

import pytest

from derive.problemset import answer_set, load
from derive.report import latexmk
from derive.report.problemset import build_problemset, key_tex

SETS = Path(__file__).resolve().parents[2] / "problemsets"
EVERY_FILE = sorted(SETS.glob("*.toml")) + sorted((SETS / "catalogue").glob("*.toml"))


def test_every_set_is_answered_and_checked():
    names = sorted(p.name for p in SETS.glob("*.toml"))
    assert names == ["gru-homework.toml", "nesterov.toml", "resnet-accounting.toml"]
    for name in names:
        problem_set = load(SETS / name)
        answered = answer_set(problem_set)
        assert len(answered) == len(problem_set.parts)
        for item in answered:
            assert item.answer.checks, item.answer.id
            failed = [c for c in item.answer.checks if not c.passed]
            assert not failed, (item.answer.id, failed)
        document = key_tex(problem_set, answered)
        assert document.tex.count("\\section*") >= len(problem_set.parts)
        assert "sympy" not in document.tex.lower() and "kernel" not in document.tex.lower()
        assert document.audit


@pytest.mark.skipif(not latexmk.available(), reason="no TeX")
def test_the_smallest_key_compiles(tmp_path):
    assert build_problemset(str(SETS / "nesterov.toml"), tmp_path, quiet=True) == 0
    assert (tmp_path / "nesterov.pdf").stat().st_size > 10_000
    assert (tmp_path / "nesterov-audit.pdf").exists()


@pytest.mark.slow
@pytest.mark.skipif(not latexmk.available(), reason="no TeX")
@pytest.mark.parametrize("path", EVERY_FILE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_key_compiles(tmp_path, path):
    assert build_problemset(str(path), tmp_path, quiet=True) == 0
    stem = load(path).id
    assert (tmp_path / f"{stem}.pdf").stat().st_size > 10_000
    assert (tmp_path / f"{stem}-audit.pdf").stat().st_size > 10_000
