"""The catalogue's parts written as problem files (``problemsets/catalogue/SET.toml``) give the
same answers as the catalogue's modules: every quantity both compute, compared exactly
(formulas by structure or ``simplify(a - b) == 0``, integers and shapes as they are)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

import derive
from derive.answers import Answer
from derive.catalogue import problem_ids
from derive.problemset import AnsweredPart, answer_set, load
from derive.report.problemset import key_tex

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "problemsets" / "catalogue"
README = ROOT / "problemsets" / "README.md"
SETS = ("csc421-hw4", "cmsc25500-midterm", "dsga1008-hw2", "rnn-cnn-hw")


@functools.cache
def file_answers(set_id: str) -> dict[str, Answer]:
    """Every part of the set's problem file answered once per test session, by id."""
    problem_set = load(CATALOGUE / f"{set_id}.toml")
    assert problem_set.id == set_id
    return {item.answer.id: item.answer for item in answer_set(problem_set)}


@functools.cache
def catalogue(pid: str) -> dict:
    return derive.answer(pid).results


def ours(pid: str) -> dict:
    return file_answers(pid.split("/")[0])[pid].results


def same(a: sp.Basic, b: sp.Basic) -> bool:
    """Equal formulas: the same structure, or a difference that simplifies to 0."""
    if a == b:
        return True
    difference = sp.simplify(a - b)
    return difference == 0 or sp.simplify(difference.doit()) == 0


def vector_shape(shape: list) -> list:
    """A shape as the catalogue writes it: a column vector's ``[m, 1]`` is ``["m"]``, a size
    a name or an integer."""
    return [int(d) if sp.sympify(d).is_Integer else str(d) for d in shape if d != 1]


# -- csc421-hw4 and rnn-cnn-hw/2: the LSTM --------------------------------------------------

BARS = ("h", "c", "g", "o", "f", "i")


@pytest.mark.parametrize("pid", ["csc421-hw4/1a", "rnn-cnn-hw/2.1"])
def test_lstm_bars(pid):
    for name in BARS:
        assert same(ours(pid)["bptt"][name], catalogue(pid)[f"bar_{name}"]), (pid, name)


@pytest.mark.parametrize("pid, asked", [("csc421-hw4/1b", "w_ix"), ("rnn-cnn-hw/2.2", "w_xi")])
def test_lstm_weight_gradients(pid, asked):
    got, want = ours(pid)["weight_gradients"], catalogue(pid)["weight_grads"]
    assert sorted(f"bar_{w}" for w in got) == sorted(want)
    for weight, formula in got.items():
        assert same(formula, want[f"bar_{weight}"]), (pid, weight)
    assert same(got[asked], catalogue(pid)[f"bar_{asked}"])


# -- csc421-hw4/3: momentum as a map ----------------------------------------------------------

def _stand_ins(expr: sp.Expr) -> sp.Expr:
    """The catalogue's ``theta(k + 1)`` as the map kind's stand-in ``theta_next``."""
    k = next(s for s in expr.free_symbols if s.name == "k")
    return expr.replace(
        lambda e: isinstance(e, AppliedUndef) and e.func.__name__ in ("theta", "p")
        and e.args == (k + 1,),
        lambda e: sp.Symbol(f"{e.func.__name__}_next"))


def test_momentum_inverse():
    got, want = ours("csc421-hw4/3a")["inverse"], catalogue("csc421-hw4/3a")
    for variable, key in (("theta", "theta_k"), ("p", "p_k")):
        theirs = _stand_ins(want[key])
        assert not any(f.func.__name__ in ("theta", "p") for f in theirs.atoms(AppliedUndef))
        assert same(got[variable], theirs), variable


def test_momentum_determinant():
    det = ours("csc421-hw4/3b")["jacobian_determinant"]  # per coordinate
    want = catalogue("csc421-hw4/3b")["determinant"]
    D = next(s for s in want.free_symbols if s.name == "D")
    assert same(det ** D, want)


# -- cmsc25500-midterm/1 and rnn-cnn-hw/3.1: CNN accounting -----------------------------------

def _layers_agree(got: list[dict], want: list[dict], operations: str | None) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a["layer"] == b["layer"]
        assert a["shape"] == b["shape"] and a["params"] == b["params"], a["layer"]
        if operations:
            assert a["operations"] == b[operations], a["layer"]


def test_cnn_accounting_1a():
    got, want = ours("cmsc25500-midterm/1a"), catalogue("cmsc25500-midterm/1a")
    assert got["input"] == want["input"]
    _layers_agree(got["layers"], want["layers"], "flops")
    assert got["total_params"] == want["total_params"]
    assert got["total_operations"] == want["total_flops"]


def test_cnn_first_covering_1b():
    got, want = ours("cmsc25500-midterm/1b"), catalogue("cmsc25500-midterm/1b")
    assert got["first_covering"] == want["index"]
    row = got["layers"][want["index"]]
    assert row["layer"] == want["layer"]
    assert (row["rf_size"], row["rf_jump"]) == (want["rf_size"], want["rf_jump"])
    # every layer's field, against the fields the catalogue's 1a table gives
    for a, b in zip(got["layers"], catalogue("cmsc25500-midterm/1a")["layers"], strict=True):
        assert (a["rf_size"], a["rf_jump"]) == (b["rf_size"], b["rf_jump"]), a["layer"]


def test_cnn_replaced_pools_1c():
    got = ours("cmsc25500-midterm/1c")["replaced"]
    want = catalogue("cmsc25500-midterm/1c")
    assert len(got["replacements"]) == len(want["replacements"])
    for a, b in zip(got["replacements"], want["replacements"], strict=True):
        for key in ("pool_index", "input_shape", "filters", "extent", "stride", "padding",
                    "output_shape", "params"):
            assert a[key] == b[key], (a["pool_index"], key)
        assert a["operations"] == b["flops"], a["pool_index"]
    assert got["total_params"] == want["total_params"]
    assert got["total_operations"] == want["total_flops"]


def test_cnn_parameter_count_3_1():
    got, want = ours("rnn-cnn-hw/3.1"), catalogue("rnn-cnn-hw/3.1")
    assert got["input"] == want["input"]
    _layers_agree(got["layers"], want["layers"], None)
    assert got["total_params"] == want["total_params"]


# -- cmsc25500-midterm/5: memory-limited BPTT, counted ----------------------------------------

def _rows(pid: str, schedule: str) -> dict[tuple, dict]:
    return {(r["T"], r["M"]): r for r in ours(pid)["table"] if r["schedule"] == schedule}


def test_schedule_counts_5a():
    want = catalogue("cmsc25500-midterm/5a")["table"]
    bisection, plain = _rows("cmsc25500-midterm/5a", "bisection"), _rows(
        "cmsc25500-midterm/5a", "plain")
    assert sorted(T for T, _ in bisection) == sorted(r["T"] for r in want)
    for r in want:
        assert bisection[(r["T"], None)]["forward_steps"] == r["bisection_steps"], r["T"]
        assert bisection[(r["T"], None)]["peak_slots"] == r["bisection_slots"], r["T"]
        assert plain[(r["T"], None)]["forward_steps"] == r["plain_steps"], r["T"]


def test_schedule_counts_5b():
    want = catalogue("cmsc25500-midterm/5b")["table"]
    pid = "cmsc25500-midterm/5b"
    uniform, revolve, plain = (_rows(pid, s) for s in ("uniform", "revolve", "plain"))
    assert sorted(uniform) == sorted(revolve) == sorted((r["T"], r["M"]) for r in want)
    for r in want:
        case = (r["T"], r["M"])
        assert uniform[case]["forward_steps"] == r["uniform_steps"], case
        assert uniform[case]["peak_slots"] == r["uniform_slots"], case
        assert revolve[case]["forward_steps"] == r["revolve_steps"], case
        assert revolve[case]["peak_slots"] == r["revolve_slots"], case
        assert plain[(r["T"], None)]["forward_steps"] == r["plain_steps"], case


# -- dsga1008-hw2: the 1-D convolution and the gated RNN --------------------------------------

def test_conv_output_size_1_1a():
    got, want = ours("dsga1008-hw2/1.1a"), catalogue("dsga1008-hw2/1.1a")
    assert got["input"][:2] == want["input"]
    height, width, filters = got["layers"][-1]["shape"]
    assert [height, width] == want["spatial_shape"] == want["output_shape"]
    assert [filters, height, width] == want["output_shape_one_filter"]


CONV_PARTS = {"ii": "dy_dW", "iii": "dy_dx", "iv": "dl_dW", "dl_dx": "dl_dx"}


def test_conv1d_1_1c():
    got, want = ours("dsga1008-hw2/1.1c"), catalogue("dsga1008-hw2/1.1c")
    assert got["dims"] == want["instance"]
    assert got["output_shape"] == want["i"]["dimension"]
    for part, key in CONV_PARTS.items():
        entry = got["describe"][key]
        assert entry["dimension_at_dims"] == want[part]["dimension"], part
        assert same(entry["expression_at_dims"], want[part]["expression"]), part


def test_gated_rnn_dimension_1_2_1b():
    got = ours("dsga1008-hw2/1.2.1b")["dimensions"]
    assert vector_shape(got["c"]) == catalogue("dsga1008-hw2/1.2.1b")["dimension"]


def test_gated_rnn_gradient_1_2_1c():
    got, want = ours("dsga1008-hw2/1.2.1c"), catalogue("dsga1008-hw2/1.2.1c")
    assert vector_shape(got["dimensions"]["W_x"]) == want["dimension"]
    assert same(got["weight_gradients"]["W_x"], want["dl_dW_x"])
    for name in ("h", "c"):
        assert same(got["bptt"][name], want[f"bar_{name}"]), name


def test_gated_rnn_jacobian_1_2_1d():
    got, want = ours("dsga1008-hw2/1.2.1d"), catalogue("dsga1008-hw2/1.2.1d")
    assert same(got["jacobian"], want["jacobian"])


# -- the files, the table and the catalogue agree ---------------------------------------------

COMPARED = {"csc421-hw4/1a", "rnn-cnn-hw/2.1", "csc421-hw4/1b", "rnn-cnn-hw/2.2",
            "csc421-hw4/3a", "csc421-hw4/3b", "cmsc25500-midterm/1a", "cmsc25500-midterm/1b",
            "cmsc25500-midterm/1c", "rnn-cnn-hw/3.1", "cmsc25500-midterm/5a",
            "cmsc25500-midterm/5b", "dsga1008-hw2/1.1a", "dsga1008-hw2/1.1c", "dsga1008-hw2/1.2.1b",
            "dsga1008-hw2/1.2.1c", "dsga1008-hw2/1.2.1d"}


def test_every_file_part_is_a_catalogue_part_and_compared():
    parts = set()
    for set_id in SETS:
        problem_set = load(CATALOGUE / f"{set_id}.toml")
        parts |= {f"{set_id}/{p.id}" for p in problem_set.parts}
    assert sorted(p.name for p in CATALOGUE.glob("*.toml")) == sorted(f"{s}.toml" for s in SETS)
    assert parts == COMPARED
    assert parts <= set(problem_ids())


def test_every_file_part_passes_its_checks():
    for set_id in SETS:
        for pid, answer in file_answers(set_id).items():
            assert answer.checks, pid
            assert answer.passed, (pid, [c.name for c in answer.checks if not c.passed])


def test_the_readme_table_names_every_catalogue_part():
    """One row per catalogue id: a file part or a module, with the reason."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## The catalogue as problem files"):]
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\| `([^`]+)` \| ([^|]+) \|", table, re.MULTILINE)}
    assert set(rows) == set(problem_ids())
    files = {pid for pid, where in rows.items() if "file" in where}
    assert files == COMPARED


def test_the_comparisons_catch_a_difference():
    """Each way of comparing fails on a planted difference."""
    # the gate-first LSTM's bar of h against the input-first one: other weights
    assert not same(ours("csc421-hw4/1a")["bptt"]["h"], catalogue("rnn-cnn-hw/2.1")["bar_h"])
    assert not same(ours("csc421-hw4/3a")["inverse"]["p"],
                    _stand_ins(catalogue("csc421-hw4/3a")["theta_k"]))
    planted = [dict(r) for r in ours("cmsc25500-midterm/1a")["layers"]]
    planted[3]["operations"] += 1
    with pytest.raises(AssertionError):
        _layers_agree(planted, catalogue("cmsc25500-midterm/1a")["layers"], "flops")
    assert vector_shape([sp.Symbol("m"), 1]) == ["m"]
    assert vector_shape([sp.Symbol("m"), sp.Symbol("n")]) == ["m", "n"]


def test_the_catalogue_files_render_a_key():
    for set_id in SETS:
        problem_set = load(CATALOGUE / f"{set_id}.toml")
        answered = [AnsweredPart(p, file_answers(set_id)[f"{set_id}/{p.id}"])
                    for p in problem_set.parts]
        document = key_tex(problem_set, answered)
        assert document.tex.count("\\section*") >= len(problem_set.parts), set_id
        assert document.failed_checks == 0 and document.audit, set_id
