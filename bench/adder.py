"""Benchmark: the binary-addition verifier over every pair of n-bit numbers, and the search.

Run by hand: ``.venv/bin/python bench/adder.py``. Prints the best of several runs.
"""

from __future__ import annotations

import time

from derive.topics import binary_adder as adder


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    found = adder.search()
    print(f"search (first call, {found.codes_tried} codes): {time.perf_counter() - start:.3f} s")
    w = found.weights
    for n_max in (8, 10, 11):
        pairs = sum(4**n for n in range(1, n_max + 1))
        t = best_of(lambda n=n_max: adder.verify(w, n))
        print(f"verify all pairs, n = 1..{n_max:2d} ({pairs:8d} pairs): {t:.3f} s "
              f"({pairs / t / 1e6:.1f} M pairs/s)")
    seed = {"W_xh": [[-1, -1], [1, 1], [0, 0]], "W_hh": [[0, 0, 0], [0, 0, 0], [1, 2, 1]],
            "W_hy": [[-1, 0, -1]], "b_h": [-1.5, -1.5, -1.5], "b_y": 1.5}
    t = best_of(lambda: adder.verify(seed, 10))
    print(f"verify failing weights (stops at the first counterexample): {t * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
