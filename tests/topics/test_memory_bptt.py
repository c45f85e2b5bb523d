"""Memory-limited BPTT schedules: exact gradients, measured counts, closed forms, bad input."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from derive.answers import memory_bptt as P
from derive.core.errors import DeriveError
from derive.topics import memory_bptt as S


def reference_bptt(W_hh, W_xh, h0, x, upstream):
    """Independent textbook BPTT: store every h_t, sweep back once."""
    T = x.shape[0]
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(W_hh @ hs[-1] + W_xh @ x[t]))
    gW_hh, gW_xh, gx = np.zeros_like(W_hh), np.zeros_like(W_xh), np.zeros_like(x)
    carry = np.zeros_like(h0)
    for t in range(T, 0, -1):
        delta = (upstream[t - 1] + carry) * (1 - hs[t] ** 2)
        gW_hh += np.outer(delta, hs[t - 1])
        gW_xh += np.outer(delta, x[t - 1])
        gx[t - 1] = W_xh.T @ delta
        carry = W_hh.T @ delta
    return {"W_hh": gW_hh, "W_xh": gW_xh, "h0": carry, "x": gx}


def loss(W_hh, W_xh, h0, x, upstream):
    h, total = h0, 0.0
    for t in range(x.shape[0]):
        h = np.tanh(W_hh @ h + W_xh @ x[t])
        total += upstream[t] @ h
    return total


def test_reference_matches_central_differences():
    inst = S.random_instance(5, K=2, C=2, seed=9)
    args = [inst.W_hh, inst.W_xh, inst.h0, inst.x, inst.upstream]
    grads = reference_bptt(*args)
    for i, name in enumerate(["W_hh", "W_xh", "h0", "x"]):
        numeric = np.zeros_like(args[i])
        for idx in np.ndindex(args[i].shape):
            for sign in (1, -1):
                shifted = [a.copy() for a in args]
                shifted[i][idx] += sign * 1e-6
                numeric[idx] += sign * loss(*shifted) / 2e-6
        assert np.max(np.abs(numeric - grads[name])) < 1e-7


CASES = [(schedule, M, T) for T in (1, 2, 3, 17, 64)
         for schedule, M in [("plain", None), ("bisection", None), ("uniform", 1), ("uniform", 3),
                             ("revolve", 1), ("revolve", 2), ("revolve", 5)]
         if M is None or M < T]


@pytest.mark.parametrize("schedule,M,T", CASES)
def test_every_schedule_equals_reference(schedule, M, T):
    inst = S.random_instance(T, seed=T)
    grads, counts = S.run(schedule, inst, M)
    want = reference_bptt(inst.W_hh, inst.W_xh, inst.h0, inst.x, inst.upstream)
    for name in want:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-12, atol=1e-12)
    assert counts.reverse_steps == T
    if M is not None:
        assert counts.peak_slots <= M


def test_counts_match_closed_forms_small_T():
    for T in range(2, 70):
        assert S.trace("bisection", T).forward_steps == S.bisection_steps(T)
        assert S.trace("bisection", T).peak_slots == S.bisection_slots(T)
        for M in range(1, min(T, 6)):
            assert S.trace("uniform", T, M).forward_steps == S.uniform_steps(T, M)
            rev = S.trace("revolve", T, M)
            assert rev.forward_steps == S.revolve_steps(T, M) == S.revolve_steps_dp(T, M)
            assert rev.peak_slots <= M


def test_known_values():
    assert S.uniform_steps(10, 1) == 45  # T(T-1)/2
    assert S.trace("uniform", 10, 1).cell_evaluations == 55  # T(T+1)/2
    assert S.bisection_steps(1024) == 512 * 10
    assert S.revolve_steps(3, 1) == 3 and S.revolve_steps(2, 1) == 1
    assert S.revolve_steps(10, 9) == 9  # enough slots: one sweep


def test_numeric_and_trace_counts_agree():
    inst = S.random_instance(50)
    for schedule, M in [("bisection", None), ("uniform", 4), ("revolve", 3)]:
        _, counts = S.run(schedule, inst, M)
        assert counts == S.trace(schedule, 50, M)


# ---- every checker catches a planted error


def skipping_uniform(cell, M):
    """A planted bug: reverses each step from its checkpoint without recomputing h_{t-1}."""
    T, M = S.check_budget(cell.T, M)
    L = -(-T // M)
    slots = S.Slots(M)
    h = cell.initial()
    starts = list(range(0, T, L))
    for k, start in enumerate(starts):
        slots.put(start, h)
        if k + 1 < len(starts):
            for t in range(start + 1, starts[k + 1] + 1):
                h = cell.step(h, t)
    for start in reversed(starts):
        for t in range(min(start + L, T), start, -1):
            cell.reverse(slots.get(start), t)  # skipped: advance start -> t-1
        slots.drop(start)
    return S.Counts("skipping", T, M, cell.forward_steps, cell.reverse_steps, slots.peak)


def test_gradient_check_catches_a_skipped_recomputation():
    inst = S.random_instance(20, seed=4)
    assert P.gradient_check("uniform", S.uniform_bptt, inst, 3).passed
    bad = P.gradient_check("skipping", skipping_uniform, inst, 3)
    assert not bad.passed and bad.error > 1e-3
    with pytest.raises(RuntimeError):  # the trace cell sees the wrong state
        skipping_uniform(S.TraceCell(20), 3)


def test_counts_check_catches_a_wrong_closed_form():
    measured = [((T, 1), S.trace("uniform", T, 1).forward_steps) for T in range(2, 30)]
    assert P.counts_check("u", measured, S.uniform_steps, "ok").passed
    wrong = P.counts_check("u", measured, lambda T, M: T * (T + 1) // 2, "off by T")
    assert not wrong.passed and "differ" in wrong.detail
    off = P.counts_check("r", [((T, 2), S.trace("revolve", T, 2).forward_steps)
                               for T in range(3, 30)],
                         lambda T, M: S.revolve_steps(T, M) + (T == 17), "off by one")
    assert not off.passed


def test_finite_difference_check_catches_a_flipped_sign(monkeypatch):
    inst = S.random_instance(4, K=2, C=2, seed=5)
    assert P.finite_difference_check(inst).passed
    original = S.RNNCell.gradients

    def flipped(self):
        grads = original(self)
        grads["W_xh"] = -grads["W_xh"]
        return grads

    monkeypatch.setattr(S.RNNCell, "gradients", flipped)
    assert not P.finite_difference_check(inst).passed


def test_slot_budget_is_enforced():
    slots = S.Slots(1)
    slots.put(0, None)
    with pytest.raises(RuntimeError, match="budget"):
        slots.put(1, None)


# ---- bad input


@pytest.mark.parametrize("T,M,word", [(10, 0, "M"), (10, -2, "M"), (10, 10, "M"), (10, 12, "M"),
                                      (0, 1, "T"), (-3, 1, "T"), (10, 1.5, "M")])
def test_bad_budget_names_argument_and_value(T, M, word):
    with pytest.raises(DeriveError) as err:
        S.trace("revolve", T, M)
    assert str(err.value).startswith(word) and repr(M if word == "M" else T) in str(err.value)
    with pytest.raises(DeriveError):
        S.trace("uniform", T, M)


def test_bad_T_for_bisection_and_unknown_schedule():
    with pytest.raises(DeriveError, match="T must be a positive integer, got 0"):
        S.trace("bisection", 0)
    with pytest.raises(DeriveError, match="'zigzag'"):
        S.trace("zigzag", 5, 1)


def test_answers_and_cli():
    import derive

    for pid in ("cmsc25500-midterm/5a", "cmsc25500-midterm/5b"):
        ans = derive.answer(pid)
        assert ans.passed and ans.checks
    rows = derive.answer("cmsc25500-midterm/5b").results["table"]
    assert all(r["uniform_steps"] == S.uniform_steps(r["T"], r["M"]) for r in rows)
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "answer",
                           "cmsc25500-midterm/5b", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and '"revolve_steps"' in proc.stdout


@pytest.mark.parametrize("argv,fragment", [
    (["revolve", "--T", "10", "--M", "0"], "M must be >= 1 memory slot, got 0"),
    (["uniform", "--T", "10", "--M", "10"], "M must be < T"),
    (["bisection", "--T", "0"], "T must be a positive integer, got 0"),
    (["revolve", "--T", "10"], "--M (the number of memory slots, 1 <= M < T) is required"),
])
def test_cli_bad_input_exit_2(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "schedule", *argv],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("derive: error:") and fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_counts():
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "schedule", "uniform", "--T",
                           "10", "--M", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and '"forward_steps": 45' in proc.stdout


MY_IDS = ["cmsc25500-midterm/5a", "cmsc25500-midterm/5b", "cmsc25500-midterm/3a",
          "cmsc25500-midterm/3b", "cmsc25500-midterm/2", "rnn-cnn-hw/3.2"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_bodies_and_figures_compile(tmp_path):
    import derive

    parts = []
    for pid in MY_IDS:
        ans = derive.answer(pid)
        parts.append(f"\\section*{{{pid}}}\n{ans.latex}\n")
        parts += [f"\\begin{{center}}\n{fig}\n\\end{{center}}\n" for fig in ans.figures.values()]
    from derive.report.render import render

    # the reports' own preamble: figures use its styles (dvplot, node kinds)
    doc = render("preamble.tex") + "\\begin{document}\n" + "\n".join(parts) + "\\end{document}\n"
    (tmp_path / "answers.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "answers.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_uniform_exact_formula_holds_for_every_T_and_its_check_can_fail():
    from derive.answers import memory_bptt as P

    assert all(c.passed for c in P._uniform_closed_form_checks())
    assert P.UNIFORM_EXACT.subs({P.T_: 10, P.M_: 4}) == 18 == S.uniform_steps(10, 4)
    # the M | T form is not exact in general (T = 10, M = 4 gives 15, not 18)
    assert P.UNIFORM_DIVISIBLE.subs({P.T_: 10, P.M_: 4}) == 15
    wrong = P._uniform_closed_form_checks(exact=P.UNIFORM_DIVISIBLE)
    assert not wrong[1].passed and wrong[0].passed and wrong[2].passed
    off = P._uniform_closed_form_checks(divisible=P.UNIFORM_DIVISIBLE + 1)
    assert not off[2].passed


def test_5a_prints_pseudocode_and_keeps_the_code_in_its_results():
    import derive
    from derive.answers import memory_bptt as P

    a = derive.answer("cmsc25500-midterm/5a")
    # the key shows pseudocode; the machine-readable results keep the code the checks run
    assert "\\textsc{Reverse}" in a.latex and "\\textsc{Revolve}" in a.latex
    assert "def " not in a.latex and "slots.put" not in a.latex
    assert P._source(S.bisection_bptt) in a.results["pseudocode"]
    assert "e+" not in a.latex and "e-0" not in a.latex  # no e-notation in the key
    b = derive.answer("cmsc25500-midterm/5b")
    assert "\\lceil T/M\\rceil" in b.latex and "e+" not in b.latex


def test_bisection_tree_refuses_a_bad_length():
    with pytest.raises(DeriveError):
        S.bisection_tree(0)
    with pytest.raises(DeriveError):
        S.recorded_events("8")
