"""Convolution Jacobians: the derived formulas, the kernels and every checker (with planted
errors), against references that live here (np.correlate, np.convolve, dense linear maps)."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from derive import answer
from derive.answers.convolution import EXACT_SPECS_1C, SPEC_1C, _check_swapped_roles
from derive.checks.check import counted
from derive.core.errors import DeriveError
from derive.topics.conv import kernels, verify
from derive.topics.conv.jacobians import (
    KER_IDX,
    OUT_IDX,
    W_,
    D,
    P,
    Result,
    S,
    c,
    collapse,
    forward,
    general,
    index_ranges,
    x_,
)
from derive.topics.conv.spec import ConvSpec
from test_conv_shapes import assert_latex_balanced

SPEC_D2 = ConvSpec(2, (9,), 3, 2, 2, 1, 2)   # stride, dilation and padding > 1
SPECS_1D = [SPEC_1C, SPEC_D2, ConvSpec(3, (11,), 4, 3, 2, 3, 2), ConvSpec(1, (5,), 5, 1, 1, 0, 2)]
SPECS_2D = [ConvSpec(2, (5, 7), 3, 2, 1, 0, 1), ConvSpec(2, (6, 5), 2, 2, 2, 1, 3)]


# --- references independent of derive.topics.conv -------------------------------------------------

def numpy_forward_1d(W, x, spec):
    """np.correlate of each padded channel with the dilated kernel, every S-th output."""
    xp = np.pad(x, [(0, 0), (spec.P, spec.P)])
    y = []
    for f in range(spec.F):
        total = 0
        for ch in range(spec.C):
            k = np.zeros(spec.D * (spec.K - 1) + 1)
            k[::spec.D] = W[f, ch]
            total = total + np.correlate(xp[ch], k, mode="valid")[::spec.S]
        y.append(total)
    return np.array(y)


def numpy_forward_2d(W, x, spec):
    """Windows of the padded input (sliding_window_view), dilated and strided, times W."""
    xp = np.pad(x, [(0, 0), (spec.P, spec.P), (spec.P, spec.P)])
    extent = spec.D * (spec.K - 1) + 1
    win = sliding_window_view(xp, (extent, extent), axis=(1, 2))
    win = win[:, ::spec.S, ::spec.S, ::spec.D, ::spec.D]
    return np.einsum("chwab,fcab->fhw", win, W)


def numpy_forward(W, x, spec):
    return (numpy_forward_1d if spec.rank == 1 else numpy_forward_2d)(W, x, spec)


def dense_grads(W, x, ybar, spec):
    """The gradients as transposed dense Jacobians of the linear maps W -> y and x -> y,
    columns obtained by pushing unit vectors through the NumPy reference."""
    def jac(fn, shape):
        cols = []
        for k in range(int(np.prod(shape))):
            e = np.zeros(int(np.prod(shape)))
            e[k] = 1.0
            cols.append(fn(e.reshape(shape)).ravel())
        return np.array(cols).T

    JW = jac(lambda w: numpy_forward(w, x, spec), spec.W_shape)
    Jx = jac(lambda v: numpy_forward(W, v, spec), spec.x_shape)
    return (JW.T @ ybar.ravel()).reshape(spec.W_shape), (Jx.T @ ybar.ravel()).reshape(spec.x_shape)


# --- the derived formulas ------------------------------------------------------------------

def test_general_formulas_have_the_expected_structure():
    g = general(1)
    assert g["dy_dW"].rhs.has(sp.KroneckerDelta) and not g["dy_dW"].rhs.has(sp.Sum)
    # the delta in S*i + D*m stays inside the sum over m: it is not solvable by division
    assert isinstance(g["dy_dx"].rhs, sp.Sum) and g["dy_dx"].rhs.limits[0][0] == KER_IDX[0]
    assert isinstance(g["dl_dW"].rhs, sp.Sum) and g["dl_dW"].rhs.limits[0][0] == OUT_IDX[0]
    assert g["dl_dW"].rhs.function.has(x_[c, S * OUT_IDX[0] + D * KER_IDX[0] - P])
    assert [str(s) for s in g["dl_dx"].shape] == ["C", "L"]
    assert [str(s) for s in general(2)["dy_dx"].shape] == ["F", "H_out", "W_out", "C", "H", "W"]


def test_collapse_keeps_deltas_with_a_coefficient():
    ranges = index_ranges(1)
    m, i = KER_IDX[0], OUT_IDX[0]
    p = sp.Symbol("p", integer=True)
    kept = sp.Sum(W_[0, 0, m] * sp.KroneckerDelta(p, 2 * m + i), (m, 0, 2))
    assert collapse(kept, ranges) == kept
    c2 = sp.Symbol("c_2", integer=True)
    gone = sp.Sum(W_[0, c, 1] * sp.KroneckerDelta(c, c2), (c, 0, sp.Symbol("C", integer=True,
                                                                             positive=True) - 1))
    assert collapse(gone, ranges) == W_[0, c2, 1]


def test_exact_checks_pass_1d():
    assert all(ch.passed for ch in verify.check_exact(1))


def test_exact_checks_pass_2d_small():
    assert all(ch.passed for ch in verify.check_exact(2, specs=(ConvSpec(1, (3, 4), 2, 2, 1, 1,
                                                                          2),)))


def _planted(key, rhs):
    res = general(1)[key]
    return {key: Result(key, res.lhs, rhs, res.shape, res.indices)}


def test_exact_check_catches_sympy_doit_division_trap():
    """Sum.doit() collapses the delta in D*m by dividing by D: wrong for D = 2."""
    fwd = forward(1)
    p, a = sp.symbols("p a", integer=True)
    naive = sp.diff(fwd.rhs, x_[a, p]).doit().xreplace({a: c})
    f = sp.Symbol("f", integer=True)
    assert naive.has(W_[f, c, (P - S * OUT_IDX[0] + p) / D])
    checks = verify.check_exact(1, specs=(SPEC_D2,), results=_planted("dy_dx", naive))
    assert not checks[0].passed and "differ" in checks[0].detail


def test_exact_check_catches_a_flipped_sign():
    wrong = -general(1)["dl_dW"].rhs
    assert not verify.check_exact(1, specs=(SPEC_1C,), results=_planted("dl_dW", wrong))[0].passed


def test_exact_check_catches_a_dropped_padding_term():
    wrong = general(1)["dy_dW"].rhs.xreplace({P: 0})
    assert verify.check_exact(1, specs=(SPEC_1C,), results=_planted("dy_dW", wrong))[0].passed
    assert not verify.check_exact(1, specs=(SPEC_D2,), results=_planted("dy_dW", wrong))[0].passed


def test_1_1c_general_formulas_checked_at_two_sizes():
    a = answer("dsga1008-hw2/1.1c")
    exact = [ch for ch in a.checks if ch.name.endswith("the general formula")]
    assert len(exact) == 4 and all(ch.passed for ch in exact)
    for ch in exact:
        assert "at 2 sizes (C = 5, L = 7, K = 3, S = 2, D = 1, P = 0, F = 1; " \
               "C = 2, L = 9, K = 3, S = 2, D = 2, P = 1, F = 2)" in ch.detail, ch.detail
    # errors the 1.1c sizes alone cannot see (P = 0, D = 1), caught at the second size
    for key, wrong in (("dy_dW", general(1)["dy_dW"].rhs.xreplace({P: 0})),
                       ("dl_dx", general(1)["dl_dx"].rhs.xreplace({D: 1}))):
        assert verify.check_exact(1, specs=(SPEC_1C,), results=_planted(key, wrong))[0].passed
        checks = verify.check_exact(1, specs=EXACT_SPECS_1C, results=_planted(key, wrong))
        assert not checks[0].passed and "differ" in checks[0].detail


def test_check_details_count_in_words():
    assert counted(1, "size") == "1 size" and counted(2, "size") == "2 sizes"
    assert counted(1, "entry", "entries") == "1 entry"
    detail = verify.check_exact(1, specs=(SPEC_1C,), results={"dl_dW": general(1)["dl_dW"]})[0]
    assert detail.detail.startswith("15 entries at 1 size (C = 5, L = 7,"), detail.detail


def test_exact_check_catches_a_wrong_dilation():
    wrong = general(1)["dl_dx"].rhs.xreplace({D: 1})  # the dilation dropped
    assert not verify.check_exact(1, specs=(SPEC_D2,), results=_planted("dl_dx", wrong))[0].passed


# --- kernels against the references here --------------------------------------------------

@pytest.mark.parametrize("spec", SPECS_1D + SPECS_2D, ids=lambda s: str(s.dims))
def test_kernels_against_numpy_references(spec):
    W, x, ybar = verify.random_instance(spec, seed=11)
    np.testing.assert_allclose(kernels.forward(W, x, spec), numpy_forward(W, x, spec),
                               rtol=0, atol=1e-13)
    gW, gx = kernels.grads(W, x, ybar, spec)
    dW, dx = dense_grads(W, x, ybar, spec)
    np.testing.assert_allclose(gW, dW, rtol=0, atol=1e-13)
    np.testing.assert_allclose(gx, dx, rtol=0, atol=1e-13)


@pytest.mark.parametrize("spec", SPECS_1D, ids=lambda s: str(s.dims))
def test_named_operations_with_numpy_correlate_and_convolve(spec):
    """dl/dW = np.correlate(x_pad, ybar dilated by S) at lags 0, D, ..; dl/dx = the full
    np.convolve of the dilated ybar with the dilated kernel, cropped by P."""
    W, x, ybar = verify.random_instance(spec, seed=12)
    gW, gx = kernels.grads(W, x, ybar, spec)
    xp = np.pad(x, [(0, 0), (spec.P, spec.P)])
    n_pad = spec.sizes[0] + 2 * spec.P
    for f in range(spec.F):
        u = np.zeros((ybar.shape[1] - 1) * spec.S + 1)
        u[::spec.S] = ybar[f]
        for ch in range(spec.C):
            corr = np.correlate(xp[ch], u, mode="valid")
            np.testing.assert_allclose(gW[f, ch], corr[::spec.D][:spec.K], atol=1e-13)
    want = np.zeros((spec.C, n_pad))
    for f in range(spec.F):
        u = np.zeros((ybar.shape[1] - 1) * spec.S + 1)
        u[::spec.S] = ybar[f]
        for ch in range(spec.C):
            k = np.zeros(spec.D * (spec.K - 1) + 1)
            k[::spec.D] = W[f, ch]
            full = np.convolve(u, k)
            want[ch, :full.size] += full
    np.testing.assert_allclose(gx, want[:, spec.P:spec.P + spec.sizes[0]], atol=1e-13)


# --- every numeric checker passes, and catches a planted error -----------------------------

def flipped(W, x, ybar, spec):
    gW, gx = kernels.grads(W, x, ybar, spec)
    return -gW, gx


def flipped_x(W, x, ybar, spec):
    gW, gx = kernels.grads(W, x, ybar, spec)
    return gW, -gx


def slightly_off(W, x, ybar, spec):
    gW, gx = kernels.grads(W, x, ybar, spec)
    return gW * (1 + 1e-5), gx


def off_by_one(W, x, ybar, spec):
    """The input gradient shifted by one position (a classic indexing slip)."""
    gW, gx = kernels.grads(W, x, ybar, spec)
    return gW, np.roll(gx, 1, axis=-1)


@pytest.mark.parametrize("rank", [1, 2])
def test_numeric_checks_pass(rank):
    for fn in (verify.check_kernels_vs_formulas, verify.check_complex_step, verify.check_central,
               verify.check_loops, verify.check_named):
        checks = fn(rank) if fn is not verify.check_kernels_vs_formulas or rank == 1 else fn(
            rank, specs=(ConvSpec(1, (3, 4), 2, 2, 1, 1, 2),))
        for ch in checks:
            assert ch.passed, (fn.__name__, ch)
            assert ch.error <= ch.tolerance


def test_complex_step_catches_a_flipped_sign():
    checks = verify.check_complex_step(1, grads=flipped)
    assert not checks[0].passed and checks[1].passed
    checks = verify.check_complex_step(2, grads=flipped_x)
    assert checks[0].passed and not checks[1].passed


def test_complex_step_tolerance_and_measured_error():
    for ch in verify.check_complex_step(1):
        assert ch.tolerance == 1e-12 and ch.error < 1e-14


def test_central_differences_catch_a_small_error():
    checks = verify.check_central(1, grads=slightly_off)
    assert not checks[0].passed


def test_loops_catch_an_off_by_one():
    checks = verify.check_loops(1, grads=off_by_one)
    assert not checks[2].passed


def test_loops_catch_a_wrong_forward():
    checks = verify.check_loops(1, forward=lambda W, x, spec: 1.0001 * kernels.forward(W, x,
                                                                                        spec))
    assert not checks[0].passed


def test_named_checks_catch_errors():
    checks = verify.check_named(1, grads=off_by_one)
    assert checks[0].passed and not checks[1].passed
    checks = verify.check_named(2, grads=flipped)
    assert not checks[0].passed


def test_kernels_vs_formulas_catch_errors():
    checks = verify.check_kernels_vs_formulas(1, grads=flipped)
    assert not checks[0].passed and checks[1].passed


def test_swapped_roles_check():
    assert _check_swapped_roles(SPEC_1C).passed
    assert _check_swapped_roles(SPEC_D2).passed
    assert not _check_swapped_roles(SPEC_1C, grads=flipped).passed


# --- the 1.1c answer ----------------------------------------------------------------------

def test_answer_1_1c():
    a = answer("dsga1008-hw2/1.1c")
    r = a.results
    assert r["instance"] == {"C": 5, "L": 7, "K": 3, "S": 2, "D": 1, "P": 0, "F": 1}
    assert r["i"]["dimension"] == [1, 3]
    assert r["ii"]["dimension"] == [1, 3, 1, 5, 3] and r["ii"]["matrix_dimension"] == [3, 15]
    assert r["iii"]["dimension"] == [1, 3, 5, 7] and r["iii"]["matrix_dimension"] == [3, 35]
    assert r["iv"]["dimension"] == [1, 5, 3]
    assert r["dl_dx"]["dimension"] == [5, 7]
    assert "correlation" in r["iv"]["is"] and "transposed convolution" in r["dl_dx"]["is"]
    assert r["general"]["iv"]["dimension"] == ["F", "C", "K"]
    assert all(ch.passed for ch in a.checks), [ch for ch in a.checks if not ch.passed]

    # the explicit arrays, at random numbers, equal the NumPy kernels
    W, x, ybar = verify.random_instance(SPEC_1C, seed=5)
    values = {}
    for base, arr in (("W", W), ("x", x), ("ybar", ybar)):
        for idx in np.ndindex(arr.shape):
            values[sp.IndexedBase(base)[idx]] = arr[idx]

    def numeric(nested):
        return np.array(sp.Array(nested).subs(values).tolist(), dtype=float)

    gW, gx = kernels.grads(W, x, ybar, SPEC_1C)
    np.testing.assert_allclose(numeric(r["i"]["array"]), kernels.forward(W, x, SPEC_1C),
                               atol=1e-13)
    np.testing.assert_allclose(numeric(r["iv"]["array"]), gW, atol=1e-13)
    np.testing.assert_allclose(numeric(r["dl_dx"]["array"]), gx, atol=1e-13)
    jac = numeric(r["iii"]["array"]).reshape(3, 35)
    np.testing.assert_allclose(jac.T @ ybar.ravel(), gx.ravel(), atol=1e-13)
    jac_w = numeric(r["ii"]["array"]).reshape(3, 15)
    np.testing.assert_allclose(jac_w.T @ ybar.ravel(), gW.ravel(), atol=1e-13)

    assert_latex_balanced(a.latex)
    for part in ("(i)", "(ii)", "(iii)", "(iv)", "Going beyond", "General sizes"):
        assert part in a.latex
    for part in ("i) ", "ii) ", "iii) ", "iv) ", "Going beyond"):
        assert part in a.text


def test_model_api_bad_input():
    from derive.models import get

    m = get("conv1d")
    with pytest.raises(DeriveError, match="stride must be >= 1, got 0"):
        m.grad_instance(dims={"S": 0})
    with pytest.raises(DeriveError, match="dilation must be >= 1, got 0"):
        m.grad_instance(dims={"D": 0})
    with pytest.raises(DeriveError, match="padding must be non-negative, got -1"):
        m.grad_instance(dims={"P": -1})
    with pytest.raises(DeriveError, match="kernel 9"):
        m.grad_instance(dims={"K": 9})
    with pytest.raises(DeriveError, match="T"):
        m.grad_instance(T=4)
    with pytest.raises(DeriveError, match="'H'"):
        m.grad_instance(dims={"H": 4})
    with pytest.raises(DeriveError, match="seed"):
        m.grad_instance(seed=-1)
    with pytest.raises(DeriveError, match="format"):
        m.show("html")
    with pytest.raises(DeriveError, match="along W"):
        get("conv2d").grad_instance(dims={"W": 2, "K": 3})
    with pytest.raises(DeriveError, match="entries"):
        m.grad_instance(dims={"C": 10_000, "L": 10_000})


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(tmp_path):
    from derive.models import get

    bodies = [answer(f"dsga1008-hw2/1.1{p}").latex for p in "abc"]
    bodies += [get("conv1d").show("latex"), get("conv2d").show("latex", {"P": 1})]
    (tmp_path / "conv.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb,mathtools}\n"
        "\\begin{document}\n" + "\n\n".join(bodies) + "\n\\end{document}\n")
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "conv.tex"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
