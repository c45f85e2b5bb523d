"""The schedule counts from closed forms for any T, against the instrumented runs; the cost
of a run estimated first and refused above the limits; and M required or refused by name."""

from __future__ import annotations

import pytest

from derive.core.errors import DeriveError
from derive.topics import memory_bptt as S


def test_closed_form_counts_equal_the_measured_ones():
    for T in range(1, 45):
        for schedule in ("plain", "bisection"):
            assert S.closed_form_counts(schedule, T) == S.trace(schedule, T)
        for M in range(1, T):
            for schedule in ("uniform", "revolve"):
                assert S.closed_form_counts(schedule, T, M) == S.trace(schedule, T, M)


def test_bisection_steps_bit_by_bit_equal_the_popcount_sum():
    for T in [*range(1, 600), 1023, 1024, 1025, 4097]:
        assert S.bisection_steps(T) == sum(i.bit_count() for i in range(T))
    assert S.bisection_steps(2**40) == 2**39 * 40


def test_revolve_repetitions_by_bisection_equal_the_linear_search():
    for M in range(1, 8):
        for T in range(1, 300):
            r = 0
            while S.beta(M, r) < T:
                r += 1
            assert S.revolve_repetitions(T, M) == r
    # r = T - 1 with one slot, found in O(log^2 T) steps, not T of them
    assert S.revolve_repetitions(10**18, 1) == 10**18 - 1
    assert S.revolve_steps(10**9, 10**9 - 1) == 10**9 - 1  # enough slots: one sweep
    assert S.revolve_repetitions(10**9, 10**9 - 1) == 1


def test_runs_are_refused_from_their_estimated_cost(monkeypatch):
    monkeypatch.setenv("DERIVE_MAX_STEPS", "1000")
    with pytest.raises(DeriveError, match="uniform schedule over T=200 steps needs about "
                                          "20,100 steps"):
        S.trace("uniform", 200, 1)
    both = S.bisection_steps(200) + 200 + 199 + 200  # the schedule's and plain BPTT's
    with pytest.raises(DeriveError, match=f"DERIVE_MAX_STEPS={both} to allow it"):
        S.compare_with_plain("bisection", 200)
    assert S.trace("revolve", 40, 3).forward_steps == S.revolve_steps(40, 3)
    monkeypatch.setenv("DERIVE_MAX_MEMORY", "1K")
    with pytest.raises(DeriveError, match="DERIVE_MAX_MEMORY"):
        S.random_instance(1000)


@pytest.mark.parametrize("schedule, M, message", [
    ("revolve", None, "M, the number of memory slots, is required for the revolve schedule"),
    ("uniform", None, "M, the number of memory slots, is required for the uniform schedule"),
    ("plain", 3, "M applies only to uniform and revolve; the plain schedule sets its own "
                 "memory, got M=3"),
    ("bisection", 2, "the bisection schedule sets its own memory, got M=2"),
])
def test_M_is_required_or_refused_by_name(schedule, M, message):
    for run in (S.closed_form_counts, S.trace):
        with pytest.raises(DeriveError, match=message):
            run(schedule, 10, M)


def test_revolve_peak_slots_equal_m_in_a_trace_of_longer_sequences():
    # the closed form reports M: held here against traces well past the exhaustive range above
    for M in range(1, 7):
        for T in [*range(M + 1, 300, 7), 997]:
            assert S.trace("revolve", T, M).peak_slots == M, (T, M)
