"""Sequence norm (cmsc25500-midterm/4): the causal variant's backward pass against SymPy and
an independent NumPy reference, its checks catching planted errors, the Transformer demo."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from derive import answer
from derive.cli import main
from derive.core.errors import DeriveError
from derive.printing.jsonable import to_json
from derive.topics import sequence_norm as sn


def reference_causal(h, gamma, beta, eps):
    """Running statistics recomputed from scratch at every step (no recursion)."""
    out = np.empty(h.shape, dtype=np.result_type(h, gamma, beta, float))
    for t in range(h.shape[0]):
        past = h[: t + 1]
        mean = past.mean(axis=0)
        var = ((past - mean) ** 2).mean(axis=0)
        out[t] = gamma * (h[t] - mean) / np.sqrt(var + eps) + beta
    return out


def test_kernel_forward_matches_reference():
    h, g, b, _ = sn.random_instance(3, 9, 4)
    y, _ = sn.causal_forward_np(h, g, b, 1e-3)
    assert np.allclose(y, reference_causal(h, g, b, 1e-3), rtol=1e-12, atol=1e-12)
    assert np.allclose(y[0], b)  # y(1) = beta


def test_kernel_backward_matches_reference_complex_step():
    h, g, b, ybar = sn.random_instance(4, 7, 2)
    eps = 1e-2
    _, cache = sn.causal_forward_np(h, g, b, eps)
    hbar, gbar, bbar = sn.causal_backward_np(ybar, cache)
    ref = np.empty_like(h)
    for idx in np.ndindex(h.shape):
        hc = h.astype(complex)
        hc[idx] += 1e-30j
        ref[idx] = (ybar * reference_causal(hc, g, b, eps)).sum().imag / 1e-30
    assert np.allclose(hbar, ref, rtol=1e-12, atol=1e-13)
    assert np.allclose(bbar, ybar.sum(axis=0))
    gref = [(ybar * reference_causal(h, g + 1e-30j * np.eye(2)[j], b, eps)).sum().imag / 1e-30
            for j in range(2)]
    assert np.allclose(gbar, gref, rtol=1e-12)


def test_all_checks_pass():
    checks = (sn.exact_checks(sizes=range(1, 4)) + [sn.streaming_check(range(1, 4))]
              + sn.numeric_checks() + sn.sequence_norm_checks())
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


def _replace_hbar(rhs):
    eqs = sn.causal_backward()
    return eqs[:2] + [sp.Eq(eqs[2].lhs, rhs)]


@pytest.mark.parametrize("planted", ["dropped_variance_term", "dropped_mean_term",
                                     "flipped_sign", "off_by_one_sum"])
def test_exact_check_catches_a_planted_error(planted):
    s, t, T = sn.s, sn.t, sn.T
    ybar, r, hhat, h, mu = sn.ybar, sn.r, sn.hhat, sn.h, sn.mu
    inner = {
        "dropped_variance_term": ybar(t) * r(t) / t,
        "dropped_mean_term": ybar(t) * r(t) / t * hhat(t) * r(t) * (h(s) - mu(t)),
        "flipped_sign": ybar(t) * r(t) / t * (1 - hhat(t) * r(t) * (h(s) - mu(t))),
        "off_by_one_sum": None,
    }[planted]
    if inner is None:
        full = ybar(t) * r(t) / t * (1 + hhat(t) * r(t) * (h(s) - mu(t)))
        rhs = sn.gamma * (ybar(s) * r(s) - sp.Sum(full, (t, s + 1, T)))
    else:
        rhs = sn.gamma * (ybar(s) * r(s) - sp.Sum(inner, (t, s, T)))
    check = sn.exact_checks(_replace_hbar(rhs), sizes=range(1, 4))[0]
    assert not check.passed and "hbar" in check.detail


def test_exact_check_catches_wrong_gamma_bar():
    eqs = sn.causal_backward()
    eqs[1] = sp.Eq(sn.gamma_bar, sp.Sum(sn.ybar(sn.t) * sn.h(sn.t), (sn.t, 1, sn.T)))
    check = sn.exact_checks(eqs, sizes=range(1, 3))[0]
    assert not check.passed and "gamma_bar" in check.detail


def test_numeric_checks_catch_a_dropped_term():
    def dropped(ybar, cache):
        hbar, gbar, bbar = sn.causal_backward_np(ybar, cache)
        steps = np.arange(1, ybar.shape[0] + 1)[:, None]
        bterm = ybar * cache.r**2 * cache.hhat / steps
        rev_b = np.cumsum(bterm[::-1], axis=0)[::-1]
        rev_c = np.cumsum((bterm * cache.mu)[::-1], axis=0)[::-1]
        # remove the variance path: + gamma (h B - C)
        return hbar + cache.gamma * (cache.h * rev_b - rev_c), gbar, bbar

    cs, cd = sn.numeric_checks(dropped)
    assert not cs.passed and cs.error > 1e-3
    assert not cd.passed


def test_transformer_demo():
    demo = sn.transformer_demo(seed=2)
    assert demo["leak_sequence_norm"] > 1e-2
    assert demo["leak_causal_sequence_norm"] == 0.0 and demo["leak_layer_norm"] == 0.0
    assert demo["padding_sequence_norm"] > 1e-2 and demo["padding_layer_norm"] == 0.0
    assert demo["first_output_causal_sequence_norm"] == 0.0


@pytest.mark.parametrize("args,message", [
    ((np.zeros(4), np.ones(1), np.zeros(1)), "h must have shape (T, K)"),
    ((np.zeros((4, 2)), np.ones(3), np.zeros(2)), "gamma must have shape (2,)"),
    ((np.zeros((4, 2)), np.ones(2), np.zeros((2, 1))), "beta must have shape (2,)"),
])
def test_bad_shapes(args, message):
    with pytest.raises(DeriveError) as err:
        sn.causal_forward_np(*args)
    assert message in str(err.value)


def test_bad_epsilon_and_upstream():
    with pytest.raises(DeriveError, match="epsilon must be a positive number, got 0"):
        sn.sequence_norm_np(np.zeros((3, 2)), np.ones(2), np.zeros(2), 0)
    _, cache = sn.causal_forward_np(np.ones((3, 2)), np.ones(2), np.zeros(2))
    with pytest.raises(DeriveError, match=r"ybar must have the shape of h \(3, 2\)"):
        sn.causal_backward_np(np.ones((2, 2)), cache)
    with pytest.raises(DeriveError, match="T must be a positive integer"):
        sn.numeric_checks(n=0)


def test_answers_json_parse(capsys):
    locs = {n: sp.Symbol(n) for n in ("beta", "gamma")}
    for pid in ("cmsc25500-midterm/4a", "cmsc25500-midterm/4b", "cmsc25500-midterm/4c"):
        assert answer(pid).passed, pid
    js = to_json(answer("cmsc25500-midterm/4b").results)
    hbar_eq = sp.sympify(js["backward_closed_form"][2], locals=locs)
    assert isinstance(hbar_eq, sp.Eq) and "Sum" in str(hbar_eq.rhs)
    derived = [sp.sympify(e, locals=locs) for e in js["backward"]]
    assert [str(e.lhs) for e in derived[:7]] == [
        "bar_y(t)", "bar_hhat(t)", "bar_r(t)", "bar_sigma2(t)", "bar_M2(t)", "bar_mu(t)",
        "bar_h(t)"]
    assert js["parameters"] == {"gamma": ["K"], "beta": ["K"]}
    assert main(["answer", "cmsc25500-midterm/4c", "--format", "json"]) == 0
    assert '"leak_sequence_norm"' in capsys.readouterr().out


def test_cli_bad_id_exit_2():
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "check", "cmsc25500-midterm/4z"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("derive: error:")
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_latex_bodies_compile(tmp_path):
    body = "\n\n".join(answer(f"cmsc25500-midterm/{p}").latex for p in ("4a", "4b", "4c"))
    doc = ("\\documentclass{article}\\usepackage{amsmath,amssymb,booktabs}\\begin{document}\n"
           + body + "\n\\end{document}\n")
    (tmp_path / "a.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "a.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def reference_ema(h, gamma, beta, rho, eps):
    mean, var = np.zeros(h.shape[1]), np.ones(h.shape[1])
    out = np.empty(h.shape, dtype=np.result_type(h, gamma, beta, float))
    for t in range(h.shape[0]):
        mean = rho * mean + (1 - rho) * h[t]
        var = rho * var + (1 - rho) * (h[t] - mean) ** 2
        out[t] = gamma * (h[t] - mean) / np.sqrt(var + eps) + beta
    return out


def test_ema_variant_against_reference_and_checks():
    h, g, b, ybar = sn.random_instance(6, 6, 2)
    y, cache = sn.ema_forward_np(h, g, b, 0.8, 1e-2)
    assert np.allclose(y, reference_ema(h, g, b, 0.8, 1e-2), rtol=1e-13)
    hbar, _, _ = sn.ema_backward_np(ybar, cache)
    ref = np.empty_like(h)
    for idx in np.ndindex(h.shape):
        hc = h.astype(complex)
        hc[idx] += 1e-30j
        ref[idx] = (ybar * reference_ema(hc, g, b, 0.8, 1e-2)).sum().imag / 1e-30
    assert np.allclose(hbar, ref, rtol=1e-12, atol=1e-13)
    assert sn.ema_exact_check(sizes=range(1, 3)).passed and sn.ema_numeric_check().passed


def test_ema_checks_catch_a_dropped_term():
    eqs = sn.ema_backward()
    eqs[2] = sp.Eq(eqs[2].lhs, eqs[2].rhs - (1 - sn.rho) * sn.mubar(sn.t))  # drop the mean path
    check = sn.ema_exact_check(eqs, sizes=range(1, 3))
    assert not check.passed and "hbar(1)" in check.detail

    def dropped(ybar, cache):
        hbar, gbar, bbar = sn.ema_backward_np(ybar, cache)
        return hbar, gbar * 0, bbar  # gamma_bar lost

    assert not sn.ema_numeric_check(dropped).passed


@pytest.mark.parametrize("rho", [1.0, -0.1, "0.5"])
def test_ema_bad_momentum(rho):
    with pytest.raises(DeriveError, match="momentum rho must be in"):
        sn.ema_forward_np(np.zeros((3, 2)), np.ones(2), np.zeros(2), rho)


# ---------------------------------------------------------------- the derived backward pass
def test_backward_is_derived_from_the_forward_cell():
    cell = sn.causal_cell()
    assert {s.name for s in cell.states} == {"mu", "M2"}
    assert {s.name for s in cell.inputs} == {"h", "n"}  # n(t) = t, the step number
    eqs = {str(e.lhs): e.rhs for e in sn.derived_backward()}
    tc = sn.CELL_T
    bar = {name: sp.Function(f"bar_{name}") for name in ("y", "hhat", "mu", "M2", "h")}
    n, h, mu = sp.Function("n"), sp.Function("h"), sp.Function("mu")
    # the derivation's own terms, read off the forward: mu(t+1) = mu(t) + (h(t+1) - mu(t))/n
    assert sp.simplify(eqs["bar_hhat(t)"] - sn.gamma * bar["y"](tc)) == 0
    assert eqs["bar_h(t)"].coeff(bar["mu"](tc)) == 1 / n(tc)
    assert sp.simplify(eqs["bar_mu(t)"].coeff(bar["mu"](tc + 1)) - (1 - 1 / n(tc + 1))) == 0
    assert sp.simplify(eqs["bar_h(t)"].coeff(bar["M2"](tc))
                       - (2 * h(tc) - mu(tc) - mu(tc - 1))) == 0


def test_derived_check_passes_and_catches_planted_errors():
    assert sn.derived_exact_check(sizes=range(1, 4)).passed
    eqs = list(sn.derived_backward())
    by_name = {str(e.lhs): i for i, e in enumerate(eqs)}
    tc, bar_mu = sn.CELL_T, sp.Function("bar_mu")
    for lhs, change in (
            ("bar_mu(t)", lambda rhs: rhs - rhs.coeff(bar_mu(tc + 1)) * bar_mu(tc + 1)),
            ("bar_h(t)", lambda rhs: -rhs),
            ("bar_sigma2(t)", lambda rhs: 2 * rhs)):
        planted = list(eqs)
        i = by_name[lhs]
        planted[i] = sp.Eq(eqs[i].lhs, change(eqs[i].rhs))
        check = sn.derived_exact_check(planted, sizes=range(1, 4))
        assert not check.passed and "hbar" in check.detail, lhs
    planted = list(eqs)
    planted[by_name["gamma_bar"]] = sp.Eq(sn.gamma_bar, sp.Sum(sp.Function("bar_y")(tc),
                                                                  (tc, 1, sn.T)))
    check = sn.derived_exact_check(planted, sizes=range(1, 3))
    assert not check.passed and "gamma_bar" in check.detail


def test_kernel_vs_derived_check_catches_a_dropped_term():
    assert sn.kernel_vs_derived_check().passed

    def dropped(ybar, cache):
        hbar, gbar, bbar = sn.causal_backward_np(ybar, cache)
        return hbar * (1 + 1e-6), gbar, bbar

    check = sn.kernel_vs_derived_check(dropped)
    assert not check.passed and check.error > 1e-9


def test_derived_recurrences_in_numpy_against_complex_step():
    cs, cd = sn.numeric_checks(sn.derived_backward_np, n=6, k=2)
    assert cs.passed and cd.passed


def test_ema_backward_is_derived_and_equals_the_textbook_recursion():
    t, g, rho = sn.t, sn.gamma, sn.rho
    ybar, r, h, mu = sn.ybar, sn.r, sn.h, sn.mu
    d = h(t) - mu(t)
    textbook = {  # batch norm's running-statistics backward, as one would write it by hand
        sn.sigma2bar(t): -g * ybar(t) * d * r(t) ** 3 / 2 + rho * sn.sigma2bar(t + 1),
        sn.mubar(t): -g * ybar(t) * r(t) - 2 * (1 - rho) * d * sn.sigma2bar(t)
        + rho * sn.mubar(t + 1),
        sn.hbar(t): g * ybar(t) * r(t) + 2 * (1 - rho) * d * sn.sigma2bar(t)
        + (1 - rho) * sn.mubar(t),
    }
    derived = sn.ema_backward()
    for e in derived[:3]:
        assert sp.expand(e.rhs - textbook[e.lhs]) == 0, e


def test_backward_latex_reads_as_textbook():
    from derive.answers.sequence_norm import to_latex
    latex = {to_latex(e.lhs): to_latex(e.rhs) for e in sn.derived_backward()}
    # time as a superscript, as the course writes it
    assert latex[r"\overline{\hat{h}^{(t)}}"] == r"\gamma \overline{y^{(t)}}"
    assert r"\frac{t}{t + 1} \overline{\mu^{(t + 1)}}" in latex[r"\overline{\mu^{(t)}}"]
    assert r"\left(r^{(t)}\right)^{3}" in latex[r"\overline{\bigl(\sigma^{(t)}\bigr)^{2}}"]
    forward = [to_latex(e.rhs) for e in sn.causal_forward()]
    assert r"\left(h^{(s)} - \mu^{(t)}\right)^{2}" in forward[1]
    assert forward[-1] == r"\gamma \hat{h}^{(t)} + \beta"
    assert r"\bigl(\sigma^{(t)}\bigr)^{2}" in forward[2]
    ema = [to_latex(e.rhs) for e in sn.ema_backward()[:3]]
    assert r"2 \left(1 - \rho\right)" in ema[2]
