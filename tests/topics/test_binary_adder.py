"""The binary-addition RNN (rnn-cnn-hw/1): the searched weights, the verifier against an
independent float simulation, counterexamples for planted and seed weights, bad input."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from derive import answer
from derive.cli import main
from derive.core.errors import DeriveError
from derive.printing.jsonable import to_json
from derive.topics import binary_adder as adder


def reference_outputs(w, a: int, b: int, length: int) -> list[int]:
    """A plain float simulation of the RNN, one sequence at a time."""
    W_xh, W_hh = np.asarray(w["W_xh"], float), np.asarray(w["W_hh"], float)
    W_hy, b_h = np.asarray(w["W_hy"], float).reshape(-1), np.asarray(w["b_h"], float)
    h = np.zeros(W_xh.shape[0])
    out = []
    for t in range(length):
        x = np.array([(a >> t) & 1, (b >> t) & 1], float)
        h = (W_xh @ x + W_hh @ h + b_h > 0).astype(float)
        out.append(int(W_hy @ h + float(w["b_y"]) > 0))
    return out


SEED_WEIGHTS = {  # the student's weights as far as the OCR is legible (000_cc7bab1e7bee99b8)
    "W_xh": [[-1, -1], [1, 1], [0, 0]],
    "W_hh": [[0, 0, 0], [0, 0, 0], [1, 2, 1]],
    "W_hy": [[-1, 0, -1]],
    "b_h": [-1.5, -1.5, -1.5],  # the third bias is illegible; see the parametrised test
    "b_y": 1.5,
}


@pytest.fixture(scope="module")
def found():
    return adder.search()


def test_searched_weights_add_every_pair_against_reference(found):
    w = found.weights.as_lists()
    for a in range(32):
        for b in range(32):
            total = a + b
            assert reference_outputs(w, a, b, 6) == [(total >> t) & 1 for t in range(6)]
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, 2**40, size=(50, 2)):
        total = int(a) + int(b)
        assert reference_outputs(w, int(a), int(b), 41) == [(total >> t) & 1 for t in range(41)]


def test_verifier_agrees_with_reference_on_random_weights():
    rng = np.random.default_rng(1)
    for _ in range(20):
        w = {"W_xh": rng.integers(-2, 3, (3, 2)), "W_hh": rng.integers(-2, 3, (3, 3)),
             "W_hy": rng.integers(-2, 3, (1, 3)), "b_h": rng.integers(-2, 3, 3) + 0.5,
             "b_y": rng.integers(-2, 3) + 0.5}
        v = adder.verify(w, 4)
        cx = v.counterexample
        if cx is None:
            continue
        got = reference_outputs(w, cx.a, cx.b, cx.n_bits + 1)
        assert got == cx.got and got != cx.expected
        # nothing before it fails: all smaller (n, a, b) are right
        for n in range(1, cx.n_bits + 1):
            for a in range(1 << n):
                for b in range(1 << n):
                    if (n, a, b) >= (cx.n_bits, cx.a, cx.b):
                        break
                    assert reference_outputs(w, a, b, n + 1) == [
                        ((a + b) >> t) & 1 for t in range(n + 1)]


def test_search_result_is_consistent(found):
    w = found.weights
    assert w.W_xh.shape == (3, 2) and w.W_hh.shape == (3, 3) and w.W_hy.shape == (1, 3)
    assert found.solutions >= 1 and found.codes_readable >= found.solutions
    # the units compute the advertised column functions (a, b, incoming carry c)
    rng = np.random.default_rng(2)
    a, b = (int(v) for v in rng.integers(0, 2**12, 2))
    h, carry = np.zeros(3), 0
    for t in range(13):
        x = np.array([(a >> t) & 1, (b >> t) & 1])
        h = (w.W_xh @ x + w.W_hh @ h + w.b_h > 0).astype(int)
        col = adder.COLUMNS.index((int(x[0]), int(x[1]), carry))
        assert [found.codes[u][col] for u in range(3)] == h.tolist()
        carry = int(x.sum() + carry >= 2)
    for step_at_zero in (0, 1):
        v = adder.verify(w, 10, step_at_zero)
        assert v.passed and v.min_margin >= 0.5 and v.pairs == sum(4**n for n in range(1, 11))
    assert adder.prove(w)[0]


@pytest.mark.parametrize("name,index", [("W_hy", (0, 1)), ("W_hh", (2, 2)), ("W_xh", (2, 0)),
                                        ("b_h", (2,)), ("b_y", ())])
def test_one_flipped_sign_gives_a_counterexample(found, name, index):
    w = found.weights.as_lists()
    arr = np.array(w[name], dtype=float)
    arr[index] = -arr[index]
    w[name] = arr.tolist() if arr.ndim else float(arr)
    v = adder.verify(w, 10)
    assert not v.passed
    cx = v.counterexample
    assert cx.got != cx.expected
    assert reference_outputs(w, cx.a, cx.b, cx.n_bits + 1) == cx.got
    assert cx.expected == [((cx.a + cx.b) >> t) & 1 for t in range(cx.n_bits + 1)]
    assert not adder.prove(w)[0]


@pytest.mark.parametrize("b_h3", [-2.5, -1.5, -0.5, 0.5, 1.5])
def test_seed_weights_fail_with_a_counterexample(b_h3):
    w = dict(SEED_WEIGHTS, b_h=[-1.5, -1.5, b_h3])
    v = adder.verify(w, 10)
    assert not v.passed
    cx = v.counterexample
    assert reference_outputs(w, cx.a, cx.b, cx.n_bits + 1) == cx.got != cx.expected
    assert "expected" in str(cx) and "got" in str(cx)


def test_seed_counterexample_reads_well():
    cx = adder.verify(SEED_WEIGHTS).counterexample
    # h1 never fires and h3 needs the previous state: 0 + 0 already reads 1
    assert (cx.a, cx.b, cx.expected, cx.got) == (0, 0, [0, 0], [1, 1])
    assert str(cx).startswith("0 + 0")


@pytest.mark.parametrize("name,value,shape", [
    ("W_xh", [[1, 1, 1], [1, 1, 1], [1, 1, 1]], "(3, 3)"),
    ("W_hh", [[0, 1], [0, 1], [0, 1]], "(3, 2)"),
    ("W_hy", [[1, 1]], "(1, 2)"),
    ("b_h", [0.5, 0.5], "(2,)"),
    ("b_y", [1, 2], "(2,)"),
])
def test_wrong_shapes_name_the_argument(found, name, value, shape):
    w = found.weights.as_lists()
    w[name] = value
    with pytest.raises(DeriveError) as err:
        adder.verify(w)
    assert str(err.value).startswith(name) and shape in str(err.value)


def test_other_bad_input():
    w = adder.search().weights.as_lists()
    with pytest.raises(DeriveError, match="missing b_y"):
        adder.verify({k: v for k, v in w.items() if k != "b_y"})
    with pytest.raises(DeriveError, match="W_hh must be numeric"):
        adder.verify(dict(w, W_hh="abc"))
    with pytest.raises(DeriveError, match="n_max"):
        adder.verify(w, 0)
    with pytest.raises(DeriveError, match="step_at_zero"):
        adder.verify(w, 3, step_at_zero=2)


def test_answer_json_and_cli(capsys):
    ans = answer("rnn-cnn-hw/1")
    assert ans.passed and len(ans.checks) == 6
    js = to_json(ans.results)
    assert all(isinstance(x, int | float) for row in js["W_hh"] for x in row)
    assert np.array(js["W_xh"]).shape == (3, 2) and np.array(js["W_hy"]).shape == (1, 3)
    assert adder.verify({k: js[k] for k in adder.WEIGHT_NAMES}).passed
    assert main(["answer", "rnn-cnn-hw/1", "--format", "json"]) == 0
    assert '"W_xh"' in capsys.readouterr().out
    assert main(["check", "rnn-cnn-hw/1"]) == 0


def test_cli_unknown_id_exit_2():
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "answer", "rnn-cnn-hw/1x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("derive: error:")
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_latex_body_compiles(tmp_path):
    doc = ("\\documentclass{article}\\usepackage{amsmath,amssymb,booktabs}\\begin{document}\n"
           + answer("rnn-cnn-hw/1").latex + "\n\\end{document}\n")
    (tmp_path / "a.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "a.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_margin_catches_weights_that_sit_on_the_threshold(found):
    w = found.weights.as_lists()
    w["b_h"] = [b + 0.5 for b in w["b_h"]]  # integer sums now hit 0 exactly
    v0, v1 = adder.verify(w, 8, 0), adder.verify(w, 8, 1)
    assert v0.min_margin == 0.0 or v1.min_margin == 0.0
    assert not (v0.passed and v1.passed)  # the convention at 0 now decides the output


def test_margin_check_reads_measured_value_and_threshold():
    from derive.answers.binary_addition import margin_check

    good = margin_check(0.5)
    assert good.passed and good.error == 2.0 and good.tolerance == 2.0
    assert not margin_check(0.25).passed  # a pre-activation closer to 0 than 1/2
    assert not margin_check(0.0).passed  # step(0) is evaluated: the convention matters


def test_counting_design_adds_and_reads_as_designed():
    w = adder.counting_design()
    assert adder.verify(w, 10).passed and adder.prove(w)[0]
    for row in adder.column_table(w):
        s = row["a"] + row["b"] + row["c"]
        assert row["h"] == [int(s >= k) for k in (1, 2, 3)]
        assert row["y"] == s % 2 == row["h"][0] - row["h"][1] + row["h"][2]


def test_design_check_catches_a_unit_that_counts_wrong():
    from derive.answers.binary_addition import design_check

    w = adder.counting_design()
    assert design_check(adder.column_table(w)).passed
    wrong = adder.Weights(w.W_xh, w.W_hh, w.W_hy, w.b_h + np.array([0.0, 0.0, 1.0]), w.b_y)
    assert not design_check(adder.column_table(wrong)).passed  # h_3 now fires at s >= 2


def test_column_table_refuses_weights_without_a_carry_unit():
    w = adder.counting_design()
    with pytest.raises(DeriveError, match="different steps"):
        adder.column_table(w, carry_unit=0)  # h_1 does not determine the carry
