"""1.2.1d: the exploding regime grows with distance, and its checks can fail."""

import numpy as np
import sympy as sp

import derive
from derive.answers import gated_rnn


def _transient_run() -> list[float]:
    """The earlier 'exploding' choice (W_c = 0, W_h = 8Q, W_x = 3I, Gaussian inputs): its
    norm peaks near distance 30, then vanishes."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    xs = 3 * rng.standard_normal((60, 4))
    norms, _ = gated_rnn._sensitivity({"W_c": 0 * np.eye(4), "W_h": 8 * q, "W_x": 3 * np.eye(4)},
                                      xs)
    return norms


def test_growth_check_fails_on_a_transient_that_dies_out():
    norms = _transient_run()
    assert max(norms) > 10  # a bump: the old check (peak >= 10) passed on it
    check = gated_rnn.growth_check(norms)
    assert not check.passed


def test_growth_check_fails_on_the_vanishing_run():
    assert not gated_rnn.growth_check(gated_rnn.regimes()["vanishing"]["norms"]).passed


def test_exploding_regime_grows_steadily_with_a_bounded_state():
    run = gated_rnn.regimes()["exploding"]
    norms = run["norms"]
    assert gated_rnn.growth_check(norms).passed
    # growth over every two steps, not a bump (the step out of h(0) = 0 moves by p, not 2p)
    assert all(norms[d + 2] > norms[d] for d in range(len(norms) - 3))
    assert run["state"] < 1.0


def test_answer_passes_and_reports_growth():
    d = derive.answer("dsga1008-hw2/1.2.1d")
    assert d.passed
    assert d.results["regimes"]["exploding_final_norm"] > 1e4
    assert d.results["regimes"]["exploding_growth_per_step"] > 0.1


def test_rewritten_jacobian_check_catches_a_flipped_sign():
    right = gated_rnn.rewritten_jacobian()
    wrong = right.xreplace({sp.Integer(-1): sp.Integer(1)})
    assert wrong != right
    assert all(c.passed for c in gated_rnn.jacobian_checks(right))
    assert not any(c.passed for c in gated_rnn.jacobian_checks(wrong))


def test_placed_diagrams_draw_every_edge_and_need_every_node():
    import pytest

    from derive.answers import attention_rnn
    from derive.printing.cellgraph import diagram

    for cell, places in ((derive.model("gated_rnn").cell, gated_rnn.GATED_PLACES),
                         (derive.model("attention_rnn").model(2).cell,
                          attention_rnn.attention_places())):
        drawn = gated_rnn.placed_cell_graph(cell, places)
        assert drawn.count(r"\draw[->") == len(diagram(cell).edges)
        partial = dict(places)
        partial.pop(("h", 0))
        with pytest.raises(ValueError, match="no position"):
            gated_rnn.placed_cell_graph(cell, partial)
