"""A non-editable ``pip install .`` into a fresh virtual environment gives a working report."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from derive.report import latexmk

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_fresh_install_builds_a_report(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True, cwd=tmp_path, timeout=900,
    )
    out = tmp_path / "out"
    args = [str(bin_dir / "derive"), "report", "rnn-cnn-hw", "--out", str(out)]
    if not latexmk.available():
        args.append("--no-pdf")
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode in (0, 1), done.stderr  # 1: a check failed, reported in the PDF
    tex = (out / "rnn-cnn-hw.tex").read_text()
    assert "Binary addition RNN" in tex and r"\end{document}" in tex
    # the templates and the catalogue came from the installed package, not this tree
    located = subprocess.run(
        [str(bin_dir / "python"), "-c", "import derive; print(derive.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout
    assert str(env_dir) in located
    if latexmk.available():
        assert (out / "rnn-cnn-hw.pdf").stat().st_size > 1000
