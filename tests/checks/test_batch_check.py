"""The batch check: a batch of instances against each run alone, shown catching a kernel that
mixes batch elements."""

import sympy as sp

import derive.numeric.kernels
from derive import Cell, elementwise, recurrent_model, sigma
from derive.checks.recurrent import batch_check

n, m = sp.symbols("n m", integer=True, positive=True)


def scalar_gate_cell() -> Cell:
    # a scalar signal g(t) scales a vector: (B,) against (B, m, 1) in the kernels
    cell = Cell("scalar_gate", dims=(n, m))
    t = cell.t
    x, s, h = cell.input("x", (n, 1)), cell.input("s"), cell.state("h", (m, 1))
    W, U, w = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("w")
    g = cell.let("g", sigma(w * s(t)))
    cell.let("h", elementwise(sp.tanh, g(t) * (W * x(t)) + U * h(t - 1)))
    cell.output("h")
    return cell


def test_batch_check_passes_on_a_cell_mixing_scalars_and_vectors():
    model = recurrent_model(scalar_gate_cell, dims={"n": 2, "m": 3})
    check = batch_check(model)
    assert check.passed, check
    assert all(c.passed for c in model.checks())


def test_batch_check_catches_a_scalar_broadcast_against_the_wrong_axis(monkeypatch):
    # without the (B,) -> (B, 1, 1) reshape, a batch's scalars meet the vectors' rows
    monkeypatch.setitem(derive.numeric.kernels._NAMESPACE, "_scalar", lambda c: c)
    model = recurrent_model(scalar_gate_cell, dims={"n": 2, "m": 3})
    check = batch_check(model)
    assert not check.passed


def test_the_elementwise_check_refuses_sizes_past_the_terms_limit(monkeypatch):
    import pytest

    from derive import DeriveError
    from derive.checks.recurrent import elementwise_checks

    model = recurrent_model(scalar_gate_cell, dims={"n": 2, "m": 3})
    assert elementwise_checks(model, {"n": 2, "m": 3})[0].passed
    with pytest.raises(DeriveError, match="DERIVE_MAX_TERMS"):
        elementwise_checks(model, {"n": 1000, "m": 1000})
    monkeypatch.setenv("DERIVE_MAX_TERMS", "10")
    with pytest.raises(DeriveError, match="above the limit of 10 "):
        elementwise_checks(model, {"n": 2, "m": 3})
