"""Model sizes checked before anything is built: the terms of an AttentionRNN derivation in
closed form, the entries and steps of a gradient instance, the names --dim may set."""

from __future__ import annotations

import pytest

import derive
from derive.cli.arguments import dimension_names
from derive.core.errors import DeriveError
from derive.recurrent.arrays import instance_cost
from derive.topics.attention import (
    attention_cell,
    attention_inf_cell,
    attention_inf_terms,
    attention_terms,
    derivation_terms,
)


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    for name in ("DERIVE_MAX_MEMORY", "DERIVE_MAX_STEPS", "DERIVE_MAX_TERMS"):
        monkeypatch.delenv(name, raising=False)


def test_attention_terms_in_closed_form_count_the_built_cells():
    for k in range(1, 5):
        assert attention_terms(k) == derivation_terms(attention_cell(k))
    for steps in range(1, 5):
        assert attention_inf_terms(steps) == derivation_terms(attention_inf_cell(steps))


def test_attention_sizes_are_refused_before_building(monkeypatch):
    m = derive.model("attention_rnn")
    with pytest.raises(DeriveError, match=r"AttentionRNN\(k=1,000,000,000\) needs about "
                                          r"9,000,000,008 terms"):
        m.model(10**9)
    inf = derive.model("attention_rnn_inf")
    with pytest.raises(DeriveError, match=r"T=1,000 steps needs about 4,503,500 terms"):
        inf.grad_instance(T=1000)
    monkeypatch.setenv("DERIVE_MAX_TERMS", "80")
    with pytest.raises(DeriveError, match=r"AttentionRNN\(k=9\) needs about 89 terms .* "
                                          "DERIVE_MAX_TERMS=89 to allow it"):
        attention_cell(9)
    monkeypatch.setenv("DERIVE_MAX_TERMS", "89")
    assert attention_cell(9).name == "attention_rnn_9"  # raised, the limit allows it


def test_instance_cost_counts_the_arrays():
    lstm = derive.model("lstm")
    drawn, kept, steps = instance_cost(lstm, 10, lstm.dims_for(None))
    # 8 weights, an input and an upstream per step, two initial states
    assert drawn == 8 + 10 * 2 + 2
    assert steps == 2 * 10 * len(lstm.cell.equations)
    gated = derive.model("gated_rnn")
    drawn, _, _ = instance_cost(gated, 4, gated.dims_for({"n": 5, "m": 7}))
    assert drawn == (7 * 5 + 7 * 7 + 7 * 5) + 4 * (5 + 7) + 7


def test_gradient_instances_are_refused_before_drawing():
    gated = derive.model("gated_rnn")
    with pytest.raises(DeriveError, match=r"gated_rnn over T=6 steps \(n=100,000, "
                                          r"m=100,000\) needs about .* TB of memory"):
        gated.grad_instance(dims={"n": 100_000, "m": 100_000})
    with pytest.raises(DeriveError, match="DERIVE_MAX_MEMORY"):
        gated.random_instance(0, 10**9, {"n": 3, "m": 2})
    with pytest.raises(DeriveError, match=r"attention_rnn \(k=2\) over T=6 steps"):
        derive.model("attention_rnn").grad_instance(dims={"n": 100_000})


def test_every_model_names_its_dimensions():
    names = {name: dimension_names(derive.model(name)) for name in derive.models()}
    assert names["lstm"] == () and names["gated_rnn"] == ("n", "m")
    assert names["attention_rnn"] == ("n", "k") and names["momentum"] == ("D", "beta")
    assert names["conv2d"] == ("C", "H", "W", "K", "S", "D", "P", "F")
    assert all(v is not None for v in names.values())


def test_a_tiny_beta_keeps_its_value():
    from derive.models.momentum import exact_beta

    assert str(exact_beta(0.5)) == "1/2" and str(exact_beta(1e-20)) == "1/100000000000000000000"
    assert exact_beta(1e-320) != 0 and "e-320" in str(exact_beta(1e-320))
    with pytest.raises(DeriveError, match="got beta=0.0"):
        exact_beta(0.0)
    text = derive.model("momentum").show("text", {"beta": 1e-320})
    assert "1.0e-320**D" in text
