"""AttentionRNN(k) and AttentionRNN(inf): the softmax rule, the derived BPTT against an
independent NumPy implementation (forward, and complex-step gradients of it), the checkers
catching planted errors, the grad contract and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import types

import numpy as np
import pytest
import sympy as sp

import derive
from derive.checks.recurrent import elementwise_checks, perturbation_checks
from derive.cli import main as cli_main
from derive.core.errors import DeriveError
from derive.core.primitives import VECTOR_VJP, SoftmaxEntry, matrix_vjp, softargmax
from derive.models.attention_rnn import AttentionRNN
from derive.printing.latex import latex
from derive.printing.text import text
from derive.recurrent.model import RecurrentModel
from derive.topics.attention import attention_cell

# --- an independent NumPy reference ----------------------------------------------------------


def reference_forward(Q, K, V, xs, tied: bool = False):
    """h(1..T) of AttentionRNN(k) (lists Q, K, V of k+1 matrices), or of AttentionRNN(inf)
    when ``tied`` (lists of 2 matrices; step t attends over x(t), h(t-1), ..., h(1))."""
    T, n = xs.shape
    hs = []
    for t in range(T):
        if tied:
            sources = [xs[t]] + [hs[t - i] for i in range(1, t + 1)]
            mats = [0] + [1] * t
        else:
            k = len(Q) - 1
            sources = [xs[t]] + [hs[t - i] if t - i >= 0 else np.zeros(n, dtype=xs.dtype)
                                 for i in range(1, k + 1)]
            mats = list(range(k + 1))
        w = np.array([(Q[j] @ s) @ (K[j] @ s) for s, j in zip(sources, mats, strict=True)])
        a = np.exp(w - w.real.max())
        a = a / a.sum()
        hs.append(sum(a[i] * (V[j] @ s) for i, (s, j) in enumerate(zip(sources, mats,
                                                                          strict=True))))
    return np.array(hs)


def reference_loss(Q, K, V, xs, upstream, tied=False):
    return np.sum(upstream * reference_forward(Q, K, V, xs, tied))


def complex_step_grads(Q, K, V, xs, upstream, tied=False, h=1e-30):
    """dL/dQ_i, dL/dK_i, dL/dV_i, dL/dx by complex steps of the reference."""
    params = {"Q": [np.array(m, dtype=complex) for m in Q],
              "K": [np.array(m, dtype=complex) for m in K],
              "V": [np.array(m, dtype=complex) for m in V]}
    xs = np.array(xs, dtype=complex)
    grads = {g: [np.zeros(m.shape) for m in ms] for g, ms in params.items()}
    for g, ms in params.items():
        for i, m in enumerate(ms):
            for idx in np.ndindex(m.shape):
                m[idx] += 1j * h
                grads[g][i][idx] = reference_loss(params["Q"], params["K"], params["V"], xs,
                                                  upstream, tied).imag / h
                m[idx] -= 1j * h
    gx = np.zeros(xs.shape)
    for idx in np.ndindex(xs.shape):
        xs[idx] += 1j * h
        gx[idx] = reference_loss(params["Q"], params["K"], params["V"], xs, upstream,
                                 tied).imag / h
        xs[idx] -= 1j * h
    return grads, gx


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


# --- the softmax primitive -------------------------------------------------------------------

def test_softmax_vjp_matches_elementwise_sympy():
    ws = [sp.MatrixSymbol(f"w{i}", 1, 1) for i in range(3)]
    bar = sp.MatrixSymbol("b", 1, 1)
    values = sp.symbols("u0:3")
    bval = sp.Symbol("bb")
    env = {w: sp.ImmutableMatrix([[v]]) for w, v in zip(ws, values, strict=True)}
    env[bar] = sp.ImmutableMatrix([[bval]])
    for i in range(3):
        a = SoftmaxEntry(i, *ws)
        explicit = a.xreplace(env).as_explicit()[0, 0]
        assert sp.simplify(explicit - sp.exp(values[i]) / sum(map(sp.exp, values))) == 0
        for j in range(3):
            (term,) = matrix_vjp(a, bar, ws[j])
            got = term.xreplace(env).as_explicit()[0, 0]
            want = bval * sp.diff(explicit, values[j])
            assert sp.simplify(got - want) == 0


def test_softargmax_rejects_non_scalar_scores():
    with pytest.raises(ValueError, match="1x1"):
        softargmax(sp.MatrixSymbol("w", 2, 1))
    with pytest.raises(ValueError, match="at least one"):
        softargmax()


def test_softmax_prints():
    ws = [sp.MatrixSymbol(f"w_{i}", 1, 1) for i in range(2)]
    assert latex(SoftmaxEntry(1, *ws)) == r"\operatorname{softargmax}\left(w_{0}, w_{1}\right)_{1}"
    assert text(SoftmaxEntry(0, *ws)) == "softargmax(w_0, w_1)_0"


# --- the derived BPTT against the reference ------------------------------------------------

@pytest.mark.parametrize(("k", "n", "T"), [(2, 3, 5), (4, 2, 3), (1, 1, 4)])
def test_attention_rnn_against_reference(k, n, T):
    inst = derive.model("attention_rnn").grad_instance(seed=3, T=T, dims={"k": k, "n": n})
    assert inst["dims"] == {"T": T, "n": n, "k": k}
    Q, K, V = (np.array(inst["params"][g]) for g in "QKV")
    assert Q.shape == (k + 1, n, n)
    xs = np.array(inst["inputs"]["x"]).reshape(T, n)
    up = np.array(inst["upstream"]["h"]).reshape(T, n)
    assert _rel(np.array(inst["outputs"]["h"]).reshape(T, n),
                reference_forward(Q, K, V, xs)) < 1e-13
    grads, gx = complex_step_grads(Q, K, V, xs, up)
    for g in "QKV":
        assert _rel(inst["grads"]["params"][g], grads[g]) < 1e-12
    assert _rel(np.array(inst["grads"]["inputs"]["x"]).reshape(T, n), gx) < 1e-12
    assert "initial" not in inst and "initial" not in inst["grads"]


@pytest.mark.parametrize(("n", "T"), [(2, 4), (3, 1)])
def test_attention_rnn_inf_against_reference(n, T):
    inst = derive.model("attention_rnn_inf").grad_instance(seed=5, T=T, dims={"n": n})
    Q, K, V = (np.array(inst["params"][g]) for g in "QKV")
    assert Q.shape == (2, n, n)
    xs = np.array(inst["inputs"]["x"]).reshape(T, n)
    up = np.array(inst["upstream"]["h"]).reshape(T, n)
    assert _rel(np.array(inst["outputs"]["h"]).reshape(T, n),
                reference_forward(Q, K, V, xs, tied=True)) < 1e-13
    grads, gx = complex_step_grads(Q, K, V, xs, up, tied=True)
    for g in "QKV":
        assert _rel(inst["grads"]["params"][g], grads[g]) < 1e-12
    assert _rel(np.array(inst["grads"]["inputs"]["x"]).reshape(T, n), gx) < 1e-12


def test_inf_differs_from_padded_k():
    """Padding matters: AttentionRNN(inf) is not AttentionRNN(T-1) with zero states."""
    rng = np.random.default_rng(0)
    Q, K, V = (rng.normal(size=(2, 2, 2)) for _ in range(3))
    xs = rng.normal(size=(3, 2))
    tied = reference_forward(Q, K, V, xs, tied=True)
    padded = reference_forward([Q[0], Q[1], Q[1]], [K[0], K[1], K[1]], [V[0], V[1], V[1]], xs)
    assert np.abs(tied - padded).max() > 1e-3


# --- the checkers catch a planted error ----------------------------------------------------

def test_checkers_catch_flipped_softmax_term(monkeypatch):
    rule = VECTOR_VJP[SoftmaxEntry]

    def flipped(entries, bars):
        # the normaliser's sign flipped: bar w_j = a_j (bar a_j + sum_i a_i bar a_i)
        def wrong(bar):
            a_j, inner = bar().args
            if not isinstance(inner, sp.MatAdd):
                return sp.MatMul(sp.S.NegativeOne, bar())
            own, minus_sum = inner.args
            return sp.HadamardProduct(a_j, sp.MatAdd(own, minus_sum.args[1]))
        return [(w, lambda bar=bar: wrong(bar)) for w, bar in rule(entries, bars)]

    monkeypatch.setitem(VECTOR_VJP, SoftmaxEntry, flipped)
    model = RecurrentModel("planted", "planted", lambda: attention_cell(1),
                           default_dims={"n": 1})
    assert not any(c.passed for c in perturbation_checks(model, steps=3, dims={"n": 1})
                   if c.name.startswith("complex step"))
    assert not elementwise_checks(model, {"n": 1})[0].passed


def test_checks_pass_for_a_small_model():
    model = AttentionRNN().model(2)
    checks = perturbation_checks(model, steps=2, dims={"n": 2})  # k > T
    assert all(c.passed for c in checks), [(c.name, c.error) for c in checks]


# --- show, contract, bad input ---------------------------------------------------------------

def test_show_text_and_latex():
    shown = derive.model("attention_rnn").show("text", {"k": 2})
    assert "a_1(t) = softargmax(w_0(t), w_1(t), w_2(t))_1" in shown
    tex = derive.model("attention_rnn").show("latex", {"k": 2})
    assert r"\operatorname{softargmax}" in tex and r"\overline{h^{(t)}}" in tex


def test_bad_input_api():
    m = derive.model("attention_rnn")
    with pytest.raises(DeriveError, match="--dim k"):
        m.show("text", {"k": -1})
    with pytest.raises(DeriveError, match="--dim n"):
        m.show("text", {"k": 1, "n": 0})
    with pytest.raises(DeriveError, match="--dim k"):
        m.grad_instance(dims={"k": 0})
    with pytest.raises(DeriveError, match="--dim m"):
        m.grad_instance(dims={"m": 2})
    with pytest.raises(DeriveError, match="--dim k"):
        derive.model("attention_rnn_inf").grad_instance(dims={"k": 2})


def _cli(*args):
    """The command line run in this process (a fresh interpreter costs more than the
    command; ``python -m derive.cli`` itself is tested in tests/cli): status, stdout, stderr.
    An exception the command does not turn into ``derive: error:`` fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli_main(list(args))
        except SystemExit as exc:  # argparse's own refusals
            status = exc.code
    return types.SimpleNamespace(returncode=status, stdout=out.getvalue(),
                                 stderr=err.getvalue())


def test_cli_grad_and_errors():
    done = _cli("grad", "attention_rnn", "--dim", "k=3", "--dim", "n=2", "--T", "2", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"model", "dims", "params", "inputs", "upstream", "outputs", "grads"}
    assert len(out["params"]["Q"]) == 4 and len(out["grads"]["params"]["K"]) == 4
    for args in (("grad", "attention_rnn", "--dim", "k=0", "--json"),
                 ("grad", "attention_rnn_inf", "--dim", "k=2", "--json"),
                 ("grad", "attention_rnn_inf", "--T", "0", "--json")):
        bad = _cli(*args)
        assert bad.returncode == 2
        assert bad.stderr.startswith("derive: error:") and "Traceback" not in bad.stderr


# --- the answers of dsga1008-hw2/1.2.2 ------------------------------------------------------

SET = "dsga1008-hw2/1.2.2"


@pytest.mark.parametrize("part", "abcdef")
def test_answers_pass_their_checks(part):
    ans = derive.answer(SET + part)
    assert all(c.passed for c in ans.checks), [(c.name, c.detail) for c in ans.checks
                                               if not c.passed]
    assert ans.checks


def test_answer_json_contract():
    done = _cli("answer", SET + "b", "--format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == {"id": SET + "b", "answer": {"dimension": [3], "general": "k + 1"}}
    c = derive.answer(SET + "c").results
    names = {x: sp.IndexedBase(x) for x in ("w", "a", "v", "h")}
    assert str(c["a"].rhs) == "exp(w[i, t])/Sum(exp(w[j, t]), (j, 0, k))"
    assert str(c["h"].rhs) == "Sum(a[i, t]*v[i, t], (i, 0, k))"
    k, i, t = sp.symbols("k i t")
    parsed = sp.sympify(str(c["h"].rhs), locals=names)
    assert parsed == sp.Sum(names["a"][i, t] * names["v"][i, t], (i, 0, k))
    assert "for i in {1, ..., k}" in c["equations"]
    assert derive.answer(SET + "d").results["entries"] == sp.Symbol("t", integer=True)


def test_jacobian_answer_reads_as_expected():
    e = derive.answer(SET + "e")
    assert text(e.results["jacobian"]) == ("a_1(t)*(-h(t) + v_1(t))*((k_1(t))^T*Q_1 + "
                                           "(q_1(t))^T*K_1) + a_1(t)*V_1")
    f = derive.answer(SET + "f")
    assert "sum_{i=1}^{k}" in f.results["bar_h"]
    assert "a_i(T + i)*(V_i)^T" in text(f.results["local_jacobian"])
    assert "v_i(T + i)" in text(f.results["local_jacobian"])


def test_answer_checkers_catch_planted_errors(monkeypatch):
    from derive.answers import attention_rnn as P
    from derive.calculus.jacobian import matrix_jacobian
    from derive.topics.attention import attention_inf_cell

    # a template with Q and K swapped does not reproduce the cell
    good = P.template_projection
    swapped = {"Q": "K", "K": "Q", "V": "V"}
    monkeypatch.setattr(P, "template_projection",
                        lambda group, idx, tied=False: good(swapped[group], idx, tied))
    assert P._reproduces(attention_cell(2), 3, tied=False)
    monkeypatch.setattr(P, "template_projection", good)
    assert not P._reproduces(attention_cell(2), 3, tied=False)
    # an off-by-one in the tied system: step 3 offered as step 2
    assert P._reproduces(attention_inf_cell(3), 3, tied=True, prefix="3", step=2)
    # an off-by-one weight count (k instead of k + 1 entries)
    assert not P.weight_count_check(3 * P.n ** 2 * P.k, {2: attention_cell(2)}, P.k).passed
    assert P.weight_count_check(3 * P.n ** 2 * (P.k + 1), {2: attention_cell(2)}, P.k).passed
    # the lag-2 Jacobian offered as the lag-1 one fails the numeric check
    cell = attention_cell(2)
    assert not P.numeric_jacobian_check(2, 1, matrix_jacobian(cell, "h", "h", 2)).passed
    # the recursion with a dropped term fails against the engine's bar
    recursion = P._recursion
    monkeypatch.setattr(P, "_recursion", lambda kk: sp.MatAdd(*recursion(kk).args[:-1]))
    assert not P.bar_h_check(2, 1).passed
    general = P._reindexed(matrix_jacobian(attention_cell(1), "h", "h", 1), 1, P.i)
    wrong = sp.MatAdd(*general.args[:1])  # the value path dropped
    assert not P.numeric_bar_h_check(wrong, 2).passed


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(tmp_path):
    bodies = [derive.answer(SET + p).latex for p in "abcdef"]
    bodies += [derive.model("attention_rnn").show("latex", {"k": 2}),
               derive.model("attention_rnn_inf").show("latex", {"T": 2})]
    (tmp_path / "att.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb,mathtools}\n"
        "\\begin{document}\n" + "\n\n".join(bodies) + "\n\\end{document}\n")
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "att.tex"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


# --- show carries the 1.2.2 answers; the REPL; CLI names ---------------------------------------

def test_show_carries_the_answers_in_every_format():
    m = derive.model("attention_rnn")
    shown = m.show("text", {"k": 2})
    assert shown.startswith("attention_rnn (k = 2): ")
    assert "dimension of a(t): 3 (k + 1)" in shown
    assert "for i in {1, ..., k}" in shown and "sum_{t > T} (dh(t)/dh(T))^T" in shown
    tex = m.show("latex", {"k": 3})
    assert r"a^{(t)} \in \mathbb{R}^{4}" in tex and r"\frac{dl}{dh^{(T)}}" in tex
    assert r"\sum_{j=0}^{k} \exp w_j^{(t)}" in tex
    out = m.show("json", {"k": 2, "n": 2})
    assert out["model"] == "attention_rnn" and out["dims"] == {"k": 2, "n": 2}
    assert out["dimension_of_a"] == 3 and len(out["system"]) == 5
    assert set(out["dl_dh_T"]) == {"given_totals", "recursion"}
    inf = derive.model("attention_rnn_inf").show("json", {"T": 2})
    assert inf["model"] == "attention_rnn_inf" and inf["dims"] == {"T": 2, "n": 3}


def test_repl_attributes_delegate_to_the_default_k():
    m = derive.model("attention_rnn")
    inner = m.model(m.default_k)
    assert m.equations == inner.equations and m.adjoints == inner.adjoints
    assert m.weight_grads == inner.weight_grads
    assert m.jacobian("h", lag=2) == inner.jacobian("h", lag=2)
    assert m._repr_latex_() == inner._repr_latex_()
    inst = inner.random_instance(0, 3, {"n": 2})
    assert np.array_equal(m.bptt(inst["params"], inst["inputs"], inst["upstream"],
                                 dims={"n": 2}).grads["Q_1"],
                          inner.bptt(inst["params"], inst["inputs"], inst["upstream"],
                                     dims={"n": 2}).grads["Q_1"])


def test_cli_names_the_model_asked_for():
    bad = _cli("show", "attention_rnn", "--dim", "q=2")
    assert bad.returncode == 2 and "attention_rnn has no dimension 'q'" in bad.stderr
    assert "attention_rnn_2" not in bad.stderr and "k" in bad.stderr
    bad = _cli("grad", "attention_rnn_inf", "--dim", "T=3", "--T", "2", "--json")
    assert bad.returncode == 2 and bad.stderr.startswith("derive: error: --dim T")
    assert "Traceback" not in bad.stderr
    bad = _cli("grad", "attention_rnn_inf", "--dim", "m=3", "--json")
    assert bad.returncode == 2 and "attention_rnn_inf has no dimension 'm'" in bad.stderr


def test_total_derivative_form_check_catches_a_missing_transpose():
    from derive.answers import attention_rnn as P

    assert P.total_form_check().passed

    def untransposed(direct, totals, later):
        return direct + sum((D @ u for D, u in zip(totals, later, strict=True)),
                            np.zeros_like(direct))

    assert not P.total_form_check(form=untransposed).passed


def test_lag2_jacobian_and_recursion_are_checked_at_n3():
    names_e = [c.name for c in derive.answer(SET + "e").checks]
    assert any("dh(t)/dh(t-2) elementwise" in name and "n=3" in name for name in names_e)
    names_f = [c.name for c in derive.answer(SET + "f").checks]
    assert "dl/dh(T) recursion at k=2 (n=3)" in names_f
