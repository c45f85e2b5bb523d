"""Matrix Jacobians of vector cells: closed forms against SymPy's elementwise Jacobians and
against complex steps through an independent NumPy step; planted errors are caught."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import derive
from derive.calculus.jacobian import matrix_jacobian
from derive.checks.jacobian import jacobian_check
from derive.core.errors import DeriveError
from derive.core.zero import exactly_zero
from derive.printing.latex import latex
from derive.printing.text import text


def _sizes(model, *values):
    symbols = list(model.dim_symbols.values())
    return [{s: v for s in symbols} for v in values]


def test_gated_rnn_jacobian_reads_as_expected():
    m = derive.model("gated_rnn")
    J = m.jacobian("h")
    assert text(J) == "diag((-W_x*x(t) + h(t - 1)) (.) (-c(t) + 1) (.) c(t))*W_h + diag(c(t))"
    assert r"\operatorname{diag}\left(c^{(t)}\right)" in latex(J)
    assert jacobian_check(m.cell, "h", "h", 1, J, _sizes(m, 1, 2, 3)).passed


def test_attention_jacobian_closed_form():
    a = derive.model("attention_rnn").model(2)
    J = a.jacobian("h")
    assert text(J) == "a_1(t)*(-h(t) + v_1(t))*((k_1(t))^T*Q_1 + (q_1(t))^T*K_1) + a_1(t)*V_1"
    assert jacobian_check(a.cell, "h", "h", 1, J, _sizes(a, 1, 2)).passed
    J2 = a.jacobian("h", lag=2)
    assert "a_2(t)" in text(J2) and "V_2" in text(J2)
    assert jacobian_check(a.cell, "h", "h", 2, J2, _sizes(a, 1, 2)).passed


def test_attention_jacobian_against_complex_step():
    """The closed form at a random point against complex steps of a NumPy step written here."""
    rng = np.random.default_rng(1)
    n = 3
    Q, K, V = (0.5 * rng.normal(size=(3, n, n)) for _ in range(3))
    x, h1, h2 = (rng.normal(size=n) for _ in range(3))

    def step(h1):
        src = [x, h1, h2]
        w = np.array([(Q[i] @ s) @ (K[i] @ s) for i, s in enumerate(src)])
        a = np.exp(w - w.real.max())
        a = a / a.sum()
        return sum(a[i] * V[i] @ s for i, s in enumerate(src)), a

    h, a = step(h1)
    numeric = np.array([step(h1 + 1e-30j * e)[0].imag / 1e-30 for e in np.eye(n)]).T
    model = derive.model("attention_rnn").model(2)
    J = model.jacobian("h")
    N = model.dim_symbols["n"]
    values = {"h(t)": h, "h(t - 1)": h1, "V_1": V[1], "Q_1": Q[1], "K_1": K[1],
              "v_1(t)": V[1] @ h1, "q_1(t)": Q[1] @ h1, "k_1(t)": K[1] @ h1}
    env = {}
    for atom in J.xreplace({N: n}).atoms(sp.MatrixSymbol):
        v = values[atom.name]
        env[atom] = sp.ImmutableMatrix(v.reshape(n, -1))
    for f in J.atoms(sp.core.function.AppliedUndef):
        env[f] = sp.Float(a[1])
    closed = np.array(J.xreplace({N: n}).xreplace(env).as_explicit().tolist(), dtype=float)
    assert np.max(np.abs(closed - numeric)) < 1e-12


def test_planted_errors_are_caught():
    m = derive.model("gated_rnn")
    J = m.jacobian("h")
    dropped = J.args[0]  # one of the two terms
    assert not jacobian_check(m.cell, "h", "h", 1, dropped, _sizes(m, 1, 2)).passed
    a = derive.model("attention_rnn").model(2)
    Ja = a.jacobian("h")
    flipped = sp.MatAdd(*[-term if i == 0 else term for i, term in enumerate(Ja.args)])
    assert not jacobian_check(a.cell, "h", "h", 1, flipped, _sizes(a, 1)).passed
    off_by_one = a.jacobian("h", lag=2)  # the lag-2 Jacobian offered as the lag-1 one
    assert not jacobian_check(a.cell, "h", "h", 1, off_by_one, _sizes(a, 1)).passed


def test_exactly_zero_on_softmax_identities():
    u, v = sp.symbols("u v")
    a = sp.exp(u) / (sp.exp(u) + sp.exp(v))
    b = sp.exp(v) / (sp.exp(u) + sp.exp(v))
    assert exactly_zero(sp.diff(a, u) - a * (1 - a))
    assert exactly_zero(sp.diff(a, v) + a * b)
    assert exactly_zero(sp.exp(u + v) - sp.exp(u) * sp.exp(v))
    assert not exactly_zero(sp.diff(a, v) - a * b)
    assert not exactly_zero(sp.exp(2 * u) - sp.exp(u))


def test_bad_input():
    m = derive.model("gated_rnn")
    with pytest.raises(DeriveError, match="wrt"):
        m.jacobian("h", "nope")
    with pytest.raises(DeriveError, match="lag"):
        matrix_jacobian(m.cell, "h", "h", 0)
    with pytest.raises(DeriveError, match="lag"):
        matrix_jacobian(m.cell, "h", "h", -1)


def test_no_dependence_is_zero():
    a = derive.model("attention_rnn").model(1)
    J = a.jacobian("h", lag=3)  # AttentionRNN(1) does not read h(t - 3)
    assert isinstance(J, sp.ZeroMatrix)
