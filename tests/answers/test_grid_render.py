"""Every CNN-accounting and grid-RNN id: JSON contract (integers, SymPy strings), text, and
LaTeX bodies that compile."""

import json
import shutil
import subprocess
import sys

import pytest
import sympy as sp

import derive
from derive.printing.jsonable import to_json

IDS = [
    "cmsc25500-midterm/1a", "cmsc25500-midterm/1b", "cmsc25500-midterm/1c", "rnn-cnn-hw/3.1",
    "csc421-hw4/2a", "csc421-hw4/2b", "csc421-hw4/2c", "rnn-cnn-hw/4.1", "rnn-cnn-hw/4.2",
    "rnn-cnn-hw/4.3", "cmsc25500-midterm/6a", "cmsc25500-midterm/6b", "cmsc25500-midterm/6c",
    "cmsc25500-midterm/6d", "cmsc25500-midterm/6e",
]


@pytest.mark.parametrize("pid", IDS)
def test_answer_is_complete_and_passes(pid):
    a = derive.answer(pid)
    assert a.id == pid and a.text and a.latex and a.checks and a.passed
    json.dumps(to_json(a.results))  # encodable


def test_cli_json_contract():
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "answer", "csc421-hw4/2a",
                           "--format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["id"] == "csc421-hw4/2a"
    names = {n: sp.Symbol(n, positive=True, integer=True) for n in "GDH"}
    ops = sp.sympify(out["answer"]["ops"], locals=names)
    assert ops.subs({names["G"]: 3, names["D"]: 2, names["H"]: 2}) == 2 * 2 * 2 * 9 + 16 * 6
    table = derive.answer("cmsc25500-midterm/1a").results
    encoded = to_json(table)
    assert encoded["total_params"] == 223_496 and encoded["layers"][1]["shape"] == [32, 32, 16]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_latex_bodies_compile(tmp_path):
    body = "\n".join(f"\\section*{{{pid}}}\n{derive.answer(pid).latex}\n" for pid in IDS)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[margin=2cm]{geometry}\n"
        "\\usepackage{amsmath,amssymb,mathtools,bm,booktabs,array}\n\\begin{document}\n"
        + body + "\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "doc.tex"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0, errors or proc.stdout[-2000:]
