"""Momentum (csc421-hw4/3): the derived inverse and det = beta^D, and their checks failing
on planted errors."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from derive import answer
from derive.cli import main
from derive.core.errors import DeriveError
from derive.topics import momentum as m


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "derive.cli", *argv],
                          capture_output=True, text=True, timeout=300)


def test_inverse_is_solved_and_composes():
    inv = m.derive_inverse()
    assert inv[m.THETA] == m.THETA_NEXT - m.P_NEXT
    checks = m.inverse_checks()
    assert all(c.passed for c in checks), checks


def test_numeric_inverse_against_a_reference_loop():
    # reference: undo the two updates by hand, for a log-cosh objective
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 3))

    def grad(x):
        return A.T @ np.tanh(A @ x)

    th, pk = rng.normal(size=3), rng.normal(size=3)
    t1, p1 = m.step(th, pk, 0.1, 0.9, grad)
    tb, pb = m.inverse_step(t1, p1, 0.1, 0.9, grad)
    assert np.allclose(tb, t1 - p1) and np.allclose(pb, (p1 + 0.1 * grad(t1 - p1)) / 0.9)
    assert np.allclose(np.concatenate([tb, pb]), np.concatenate([th, pk]), rtol=1e-13)


@pytest.mark.parametrize("planted", ["theta_sign", "p_sign", "grad_at_wrong_point"])
def test_inverse_checks_catch_a_wrong_inverse(planted):
    inv = dict(m.derive_inverse())
    if planted == "theta_sign":
        inv[m.THETA] = m.THETA_NEXT + m.P_NEXT
    elif planted == "p_sign":
        inv[m.P] = (m.P_NEXT - m.alpha * m.grad_J(m.THETA_NEXT - m.P_NEXT)) / m.beta
    else:
        inv[m.P] = (m.P_NEXT + m.alpha * m.grad_J(m.THETA_NEXT)) / m.beta
    checks = m.inverse_checks(inv)
    assert [c.passed for c in checks] == [False, False, False, False]
    assert "components" in checks[2].name and checks[3].error > 1e-3


def test_determinant_is_beta_to_the_D_with_checks():
    assert m.jacobian_determinant() == m.beta**m.D
    j1, j2 = m.step_jacobians()
    assert m._det(j1) == m.beta**m.D and m._det(j2) == 1
    checks = m.determinant_checks(dims=range(1, 4))
    assert all(c.passed for c in checks), checks


@pytest.mark.parametrize("wrong", [m.beta ** (m.D + 1), m.beta ** (2 * m.D), m.beta])
def test_determinant_checks_catch_a_wrong_exponent(wrong):
    checks = {c.name.split(" (")[0]: c for c in m.determinant_checks(wrong, dims=range(2, 4))}
    failed = [name for name, c in checks.items() if not c.passed]
    assert any("finite-difference" in n for n in failed)
    assert any("symbolic D" in n for n in failed)
    assert any("Schur" in n for n in failed)


def test_fd_determinant_independent_reference():
    # an independent numeric Jacobian: perturb the NumPy step directly, nonlinear J
    obj = m.nonquadratic_objective(seed=5, d=4)
    b, a = 0.8, 0.2
    s = np.random.default_rng(0).normal(size=8)

    def f(v):
        return np.concatenate(m.step(v[:4], v[4:], a, b, obj.grad))

    jac = np.stack([(f(s + 1e-6 * e) - f(s - 1e-6 * e)) / 2e-6 for e in np.eye(8)], axis=1)
    assert np.linalg.det(jac) == pytest.approx(b**4, rel=1e-6)


def test_beta_zero_has_no_inverse():
    with pytest.raises(DeriveError, match=r"beta.*0"):
        m.derive_inverse(0)
    with pytest.raises(DeriveError, match="beta=0.0"):
        m.inverse_step(np.zeros(2), np.zeros(2), 0.1, 0.0, lambda x: x)
    with pytest.raises(DeriveError, match="beta"):
        m.derive_inverse("abc")
    expected = 2 * (m.P_NEXT + m.alpha * m.grad_J(m.THETA_NEXT - m.P_NEXT))
    assert sp.expand(m.derive_inverse(0.5)[m.P] - expected) == 0


def test_answers_json_parse_back():
    a = answer("csc421-hw4/3a")
    b = answer("csc421-hw4/3b")
    assert a.passed and b.passed
    from derive.printing.jsonable import to_json

    locs = {"beta": sp.Symbol("beta")}
    parsed = sp.sympify(to_json(b.results)["determinant"], locals=locs)
    assert parsed == sp.Symbol("beta") ** sp.Symbol("D")
    p_k = sp.sympify(to_json(a.results)["p_k"], locals=locs)
    assert "grad_J" in str(p_k) and sp.Symbol("beta") in p_k.free_symbols


def test_cli_answer_and_model(capsys):
    assert main(["answer", "csc421-hw4/3b", "--format", "json"]) == 0
    assert '"determinant": "beta**D"' in capsys.readouterr().out
    assert main(["check", "momentum"]) == 0
    assert "0 failed" in capsys.readouterr().out
    for argv in (["show", "momentum", "--dim", "K=2"], ["show", "momentum", "--dim", "D=40"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("derive: error:") and "Traceback" not in err


def test_show_bad_input_api():
    from derive.models.momentum import Momentum

    for dims in ({"D": 0}, {"D": 7}, {"D": "2"}):
        with pytest.raises(DeriveError, match="--dim D must be an integer from 1 to 6"):
            Momentum().show("text", dims)
    with pytest.raises(DeriveError, match="format must be"):
        Momentum().show("xml")


def test_cli_error_in_a_subprocess():
    proc = run("grad", "momentum")
    assert proc.returncode == 2
    assert proc.stderr.startswith("derive: error: momentum has no BPTT gradient instance")
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_latex_bodies_compile(tmp_path):
    from derive.models.momentum import Momentum

    bodies = [answer("csc421-hw4/3a").latex, answer("csc421-hw4/3b").latex,
              Momentum().show("latex", {"D": 2})]
    doc = ("\\documentclass{article}\\usepackage{amsmath,amssymb,booktabs}\\begin{document}\n"
           + "\n\n".join(bodies) + "\n\\end{document}\n")
    (tmp_path / "a.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "a.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_latex_in_textbook_order():
    a, b = answer("csc421-hw4/3a").latex, answer("csc421-hw4/3b").latex
    assert r"\beta \mathbf{p}^{(k)} - \alpha \nabla\mathcal{J}" in a
    assert r"\boldsymbol{\theta}^{(k)} + \mathbf{p}^{(k+1)}" in a
    assert r"\boldsymbol{\theta}^{(k+1)} - \mathbf{p}^{(k+1)}" in a
    assert r"I - \alpha H & \beta I" in b
    assert r"\mathbf{p}^{(k)} \beta" not in a and r"- \alpha H + I" not in b
    # the order is only the printing: the expressions are still the derived ones
    assert m.derive_inverse()[m.THETA] == m.THETA_NEXT - m.P_NEXT


def test_check_text_reads_as_words():
    for c in [*answer("csc421-hw4/3a").checks, *answer("csc421-hw4/3b").checks]:
        shown = c.name + c.against + c.detail
        assert "**" not in shown and "^-1" not in shown and "domain-ge" not in shown
