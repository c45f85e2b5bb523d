"""The CLI's shared behaviour: error format, exit status, listing."""

import subprocess
import sys

import pytest

from derive.cli import main, parse_dims
from derive.core.errors import DeriveError


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "derive.cli", *argv], capture_output=True, text=True, timeout=300
    )


def test_unknown_model_is_one_line_exit_2():
    proc = run("show", "no_such_model")
    assert proc.returncode == 2
    assert proc.stderr.startswith("derive: error: unknown model 'no_such_model'")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_unknown_problem_suggests_close_ids():
    proc = run("answer", "csc421-hw4/1z")
    assert proc.returncode == 2
    assert "csc421-hw4/1" in proc.stderr and "did you mean" in proc.stderr


@pytest.mark.parametrize("bad", ["n", "n=", "=3", "n=0", "n=-1", "n=1.5", "n=x", "2n=3"])
def test_malformed_dim_names_the_value(bad):
    with pytest.raises(DeriveError) as err:
        parse_dims([bad])
    assert repr(bad.partition("=")[2].strip()) in str(err.value) or repr(bad) in str(err.value)


def test_parse_dims():
    assert parse_dims(["n=3", "k = 2"]) == {"n": 3, "k": 2}
    assert parse_dims(["P=0", "K=3"], may_be_zero=("P",)) == {"P": 0, "K": 3}
    with pytest.raises(DeriveError, match="--dim P must be a non-negative integer, got '-1'"):
        parse_dims(["P=-1"], may_be_zero=("P",))
    with pytest.raises(DeriveError, match="--dim K must be a positive integer, got '0'"):
        parse_dims(["K=0"], may_be_zero=("P",))


def test_usage_error_is_derive_error(capsys):
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err.startswith("derive: error:")


def test_list_names_every_problem_id():
    from derive.catalogue import problem_ids

    proc = run("list")
    assert proc.returncode == 0
    for pid in problem_ids():
        assert pid in proc.stdout


@pytest.mark.parametrize("argv, needle", [
    (["schedule", "revolve", "--T", "10", "--M", "10"], "M must be < T"),
    (["schedule", "revolve", "--T", "10", "--M", "0"], "M must be >= 1 memory slot, got 0"),
    (["schedule", "bisection", "--T", "0"], "T must be a positive integer, got 0"),
    (["schedule", "uniform", "--T", "50"], "--M (the number of memory slots, 1 <= M < T) is "
                                            "required for uniform"),
    (["show", "momentum", "--dim", "beta=0"], "beta must be non-zero"),
    (["show", "momentum", "--dim", "beta=x"], "--dim beta must be a real number, got 'x'"),
])
def test_schedule_and_momentum_bad_input_is_one_line_exit_2(argv, needle):
    proc = run(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("derive: error:") and needle in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_schedule_reports_counts_and_agrees_with_plain_bptt():
    import json

    proc = run("schedule", "revolve", "--T", "60", "--M", "3", "--numeric")
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)
    assert counts["peak_slots"] <= 3 and counts["reverse_steps"] == 60
    assert counts["max_abs_difference_from_plain_bptt"] <= 1e-12


def test_momentum_show_substitutes_beta():
    proc = run("show", "momentum", "--dim", "beta=0.5")
    assert proc.returncode == 0, proc.stderr
    assert "(1/2)**D" in proc.stdout


@pytest.mark.parametrize("pid, key, symbols", [
    ("csc421-hw4/3b", "determinant", {"beta", "D"}),
    ("dsga1008-hw2/1.1b", "H_out", {"H", "K", "P", "S", "D"}),
])
def test_answer_json_formulas_read_back_with_the_catalogue_names(pid, key, symbols):
    import json

    import sympy as sp

    from derive.printing.jsonable import read_formula

    proc = run("answer", pid, "--format", "json")
    text = json.loads(proc.stdout)["answer"][key]
    with pytest.raises((TypeError, sp.SympifyError)):
        sp.sympify(text)  # SymPy's own beta and S: why read_formula exists
    formula = read_formula(text)
    assert {s.name for s in formula.free_symbols} == symbols
    assert str(formula) == text
