"""Memory-limited BPTT: measured forward steps and peak slots against the closed forms.

Run by hand: ``.venv/bin/python bench/schedules.py`` (a few minutes: M = 1 at T = 10,000
is 5e7 traced steps). Prints Markdown tables; the figures are recorded in bench/schedules.md.
"""

from __future__ import annotations

import time

import numpy as np

from derive.topics import memory_bptt as S

TS = [10, 100, 1000, 10000]
MS = [1, 2, 4, 8, 16]


def counts_table() -> None:
    print("| T | M | uniform steps | formula | revolve steps | t(T,M) | peak slots u/r | ok |")
    print("|---:|---:|---:|---:|---:|---:|---:|:--:|")
    for T in TS:
        for M in sorted({*MS, max(1, (T - 1).bit_length())}):
            if M >= T:
                continue
            u, r = S.trace("uniform", T, M), S.trace("revolve", T, M)
            fu, fr = S.uniform_steps(T, M), S.revolve_steps(T, M)
            ok = u.forward_steps == fu and r.forward_steps == fr and max(
                u.peak_slots, r.peak_slots) <= M
            print(f"| {T} | {M} | {u.forward_steps} | {fu} | {r.forward_steps} | {fr} "
                  f"| {u.peak_slots}/{r.peak_slots} | {'yes' if ok else 'NO'} |")


def bisection_table() -> None:
    print("\n| T | bisection steps | sum popcount | (T/2) log2 T | peak slots | "
          "ceil(log2 T) | ok |")
    print("|---:|---:|---:|---:|---:|---:|:--:|")
    for T in [*TS, 1024, 4096, 8192]:
        b = S.trace("bisection", T)
        closed = S.bisection_steps(T)
        power = f"{T * (T.bit_length() - 1) // 2}" if T & (T - 1) == 0 else "-"
        ok = (b.forward_steps == closed == S.bisection_steps_recurrence(T)
              and b.peak_slots == S.bisection_slots(T))
        print(f"| {T} | {b.forward_steps} | {closed} | {power} | {b.peak_slots} "
              f"| {S.bisection_slots(T)} | {'yes' if ok else 'NO'} |")


def full_sweep() -> None:
    """Every T in 2..600 (every M < min(T, 9)) and the bisection for T up to 10,000."""
    start = time.perf_counter()
    bad = 0
    for T in range(2, 601):
        for M in range(1, min(T, 9)):
            bad += S.trace("revolve", T, M).forward_steps != S.revolve_steps(T, M)
            bad += S.trace("uniform", T, M).forward_steps != S.uniform_steps(T, M)
    for T in range(1, 10001, 37):
        bad += S.trace("bisection", T).forward_steps != S.bisection_steps(T)
    print(f"\nsweep T=2..600, M=1..8 (revolve, uniform) and bisection T<=10000 step 37: "
          f"{bad} mismatches ({time.perf_counter() - start:.1f} s)")


def numeric_runs() -> None:
    """The RNN itself at T = 10,000: gradients against plain BPTT."""
    print("\n| schedule | T | M | forward steps | peak slots | max rel. error vs plain | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    inst = S.random_instance(10000, K=8, C=4, seed=0)
    want, _ = S.run("plain", inst)
    for schedule, M in [("bisection", None), ("revolve", 14), ("revolve", 4), ("uniform", 100)]:
        start = time.perf_counter()
        got, c = S.run(schedule, inst, M)
        err = max(float(np.max(np.abs(got[k] - want[k]) / np.maximum(1, np.abs(want[k]))))
                  for k in want)
        print(f"| {schedule} | {c.T} | {M if M else '-'} | {c.forward_steps} | {c.peak_slots} "
              f"| {err:.1e} | {time.perf_counter() - start:.1f} |")


if __name__ == "__main__":
    counts_table()
    bisection_table()
    numeric_runs()
    full_sweep()
