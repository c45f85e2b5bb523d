"""Each kind answers correctly (against the catalogue's own modules where they overlap), and
each of its checks is shown catching a planted error."""

from pathlib import Path

import numpy as np
import sympy as sp

import derive
from derive.problemset import load
from derive.problemset.answer import answer_part
from derive.problemset.kinds import bptt, cnn, schedule
from derive.problemset.kinds import map as update_map
from derive.topics import memory_bptt, momentum
from derive.topics.cnn.bruteforce import check_full_size

SETS = Path(__file__).resolve().parents[2] / "problemsets"

GATED = '''[set]
id = "gated"
title = "the gated RNN of dsga1008-hw2/1.2.1, as a problem file"

[[part]]
kind = "bptt"
statement = "s"
dims = { n = 3, m = 2 }
inputs = { x = "n" }
states = { h = "m" }
params = { W_c = "m x n", W_h = "m x m", W_x = "m x n" }
equations = [
  "c = sigma(W_c x(t) + W_h h(t-1))",
  "h = c ⊙ h(t-1) + (1 - c) ⊙ W_x x(t)",
]
output = "h"
ask = ["bptt", "weight_gradients", "jacobian"]
'''


def _part(tmp_path, text, index=0):
    path = tmp_path / "set.toml"
    path.write_text(text, encoding="utf-8")
    return load(path), load(path).parts[index]


def test_bptt_matches_the_catalogue_model(tmp_path):
    problem_set, part = _part(tmp_path, GATED)
    model, _ = bptt.validate(part)
    catalogue = derive.model("gated_rnn")
    for name, eq in catalogue.adjoints.items():
        assert str(model.adjoints[name].rhs) == str(eq.rhs), name
    for name, eq in catalogue.weight_grads.items():
        assert str(model.weight_grads[name].rhs) == str(eq.rhs), name
    assert str(model.jacobian("h")) == str(catalogue.jacobian("h"))


def test_bptt_gradient_flow_check_catches_a_planted_error(tmp_path):
    _, part = _part(tmp_path, GATED)
    model, _ = bptt.validate(part)
    norms, gradient, params, run = bptt._flow(model, "h", model.default_dims, 6, 1.0, 0)
    good = bptt._flow_check(model, "h", model.default_dims, 6, 1.0, 0, gradient, params, run)
    bad = bptt._flow_check(model, "h", model.default_dims, 6, 1.0, 0, gradient * 1.001,
                           params, run)
    assert good.passed and not bad.passed
    assert len(norms) == 7 and norms[0] == 1.0  # d = 0: the identity


def test_bptt_gradient_flow_rate():
    assert abs(bptt._rate([1.0, 0.5, 0.25, 0.125]) - 0.5) < 1e-12
    assert abs(bptt._rate([1.0, 2.0, 4.0]) - 2.0) < 1e-12
    # a gradient that reaches exactly zero has vanished, whatever came before
    assert bptt._rate([1.0, 1.0, 1.0, 0.0]) == 0.0


def test_bptt_shape_check_catches_a_planted_error(tmp_path):
    _, part = _part(tmp_path, GATED)
    model, _ = bptt.validate(part)
    assert bptt._shape_check(model).passed

    def transposed(name, dims):  # W_x declared the other way round
        shape = model.shape_of(name, dims)
        return shape[::-1] if name == "W_x" else shape

    assert not bptt._shape_check(model, transposed).passed


def test_map_heavy_ball_matches_the_momentum_topic(tmp_path):
    problem_set = load(SETS / "nesterov.toml")
    update = update_map.validate(problem_set.parts[0])
    inverse, _ = update_map.inverse(update)
    det, _ = update_map.determinant(update)
    mu = sp.Symbol("mu")
    assert sp.simplify(det - mu) == 0  # per coordinate: beta^D in the topic
    assert momentum.jacobian_determinant() == momentum.beta ** momentum.D
    topic = momentum.derive_inverse()
    rename = {momentum.THETA_NEXT: update.new["theta"], momentum.P_NEXT: update.new["p"],
              momentum.beta: mu, momentum.alpha: sp.Symbol("alpha")}
    for ours, theirs in ((inverse["theta"], topic[momentum.THETA]),
                         (inverse["p"], topic[momentum.P])):
        theirs = theirs.xreplace(rename).replace(
            lambda e: isinstance(e, sp.Function) and e.func == momentum.grad_J,
            lambda e: update.g(e.args[0]))
        assert sp.simplify(ours - theirs) == 0


def test_map_checks_catch_planted_errors():
    problem_set = load(SETS / "nesterov.toml")
    for part in problem_set.parts:
        update = update_map.validate(part)
        det, _ = update_map.determinant(update)
        assert update_map.determinant_check(update, det).passed, part.id
        assert not update_map.determinant_check(update, 1.01 * det).passed, part.id
    update = update_map.validate(problem_set.parts[0])
    inverse, _ = update_map.inverse(update)
    assert update_map.inverse_check(update, inverse).passed
    planted = dict(inverse, p=inverse["p"] * 2)
    assert not update_map.inverse_check(update, planted).passed


def test_nesterov_is_implicit_in_general_and_explicit_on_a_quadratic():
    problem_set = load(SETS / "nesterov.toml")
    general, implicit = update_map.inverse(update_map.validate(problem_set.parts[1]))
    assert general is None and implicit
    det, _ = update_map.determinant(update_map.validate(problem_set.parts[1]))
    mu, alpha = sp.symbols("mu alpha")
    assert sp.expand(det - mu * (1 - alpha * update_map.H)) == 0
    exact, _ = update_map.inverse(update_map.validate(problem_set.parts[2]))
    assert exact is not None


def test_cnn_counts_and_convention(tmp_path):
    problem_set = load(SETS / "resnet-accounting.toml")
    table, convention = cnn.validate(problem_set.parts[0])
    assert convention == cnn.Convention("macs", False)
    ans = answer_part(problem_set, problem_set.parts[0])
    assert ans.results["total_params"] == table.total_params == 78_042
    assert ans.results["total_operations"] == table.total_macs
    assert all(c.passed for c in ans.checks)
    flops = cnn.Convention("flops", True)
    assert sum(flops.of(r) for r in table.rows) == table.total_flops


def test_cnn_check_catches_a_planted_count():
    problem_set = load(SETS / "resnet-accounting.toml")
    table, _ = cnn.validate(problem_set.parts[0])
    rows = table.as_json()["layers"][1:]
    rows[1] = dict(rows[1], params=rows[1]["params"] + 1)  # batch norm's count off by one
    checks = check_full_size(rows, table.layers, table.input_shape, flops=False)
    assert not all(c.passed for c in checks)


def test_conv_and_schedule(tmp_path):
    text = '''[set]
id = "cs"
title = "t"

[[part]]
kind = "conv"
statement = "s"
sizes = { C = 2, L = 9, K = 3, S = 2, D = 2, P = 1, F = 2 }
ask = ["output_size"]

[[part]]
kind = "schedule"
statement = "s"
T = 50
M = 3
schedules = ["bisection", "revolve"]
ask = ["counts"]
'''
    problem_set, _ = _part(tmp_path, text)
    conv = answer_part(problem_set, problem_set.parts[0])
    assert conv.results["output_shape"] == [2, 4]  # (9 + 2 - 4 - 1) // 2 + 1
    schedule = answer_part(problem_set, problem_set.parts[1])
    assert schedule.results["revolve"]["peak_slots"] == 3
    assert all(c.passed for c in schedule.checks) and schedule.checks
    assert np.isfinite(len(conv.checks))


def test_schedule_grid_of_T_and_M(tmp_path):
    text = '''[set]
id = "grid"
title = "t"

[[part]]
kind = "schedule"
statement = "s"
T = [10, 100]
M = [2, 4]
schedules = ["plain", "uniform"]
ask = ["counts"]
'''
    problem_set, part = _part(tmp_path, text)
    ans = answer_part(problem_set, part)
    rows = ans.results["table"]
    assert [(r["schedule"], r["T"], r["M"]) for r in rows] == [
        ("plain", 10, None), ("plain", 100, None), ("uniform", 10, 2), ("uniform", 10, 4),
        ("uniform", 100, 2), ("uniform", 100, 4)]
    uniform = {(r["T"], r["M"]): r["forward_steps"] for r in rows if r["schedule"] == "uniform"}
    assert uniform == {(10, 2): 25, (10, 4): 18, (100, 2): 2500, (100, 4): 1275}
    assert "uniform" not in ans.results  # one entry per schedule only for one (T, M)
    assert [c.name for c in ans.checks] == ["plain counts (2 of 2 cases)",
                                            "uniform counts (4 of 4 cases)"]
    assert all(c.passed for c in ans.checks)


def test_schedule_check_catches_a_planted_count(tmp_path, monkeypatch):
    text = '''[set]
id = "grid"
title = "t"

[[part]]
kind = "schedule"
statement = "s"
T = [10, 30]
M = 3
schedules = ["revolve"]
ask = ["counts"]
'''
    problem_set, part = _part(tmp_path, text)
    right = memory_bptt.closed_form_counts

    def off_by_one(name, T, M=None):  # one forward step too many at T = 30
        counts = right(name, T, M)
        if T == 30:
            counts = memory_bptt.Counts(name, T, M, counts.forward_steps + 1,
                                        counts.reverse_steps, counts.peak_slots)
        return counts

    monkeypatch.setattr(schedule.mb, "closed_form_counts", off_by_one)
    [check] = answer_part(problem_set, part).checks
    assert not check.passed and "1 of 2 agree" in check.detail
