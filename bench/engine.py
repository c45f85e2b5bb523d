"""Benchmark of the engine: cold derivation time per model, and the BPTT throughput of the
generated kernels against a hand-written NumPy BPTT of the same cell, in one run.

    .venv/bin/python bench/engine.py [--batch 10000] [--T 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from derive.models.gated_rnn import gated_rnn
from derive.models.lstm import lstm


def sig(a):
    return 1 / (1 + np.exp(-a))


def hand_lstm(p, xs, up, h0, c0):
    """Forward and backward of the univariate LSTM, written by hand."""
    steps = len(xs)
    h, c = [h0], [c0]
    gates = []
    for t in range(steps):
        x = xs[t]
        i = sig(p["w_ix"] * x + p["w_ih"] * h[-1])
        f = sig(p["w_fx"] * x + p["w_fh"] * h[-1])
        o = sig(p["w_ox"] * x + p["w_oh"] * h[-1])
        g = np.tanh(p["w_gx"] * x + p["w_gh"] * h[-1])
        c.append(f * c[-1] + i * g)
        h.append(o * np.tanh(c[-1]))
        gates.append((i, f, o, g))
    grads = {k: 0.0 for k in p}
    dh_next = np.zeros_like(h0)
    dc_next = np.zeros_like(c0)
    f_next = np.zeros_like(c0)
    for t in range(steps - 1, -1, -1):
        i, f, o, g = gates[t]
        dh = up[t] + dh_next
        tc = np.tanh(c[t + 1])
        dc = dh * o * (1 - tc * tc) + dc_next * f_next
        di, df, do, dg = dc * g, dc * c[t], dh * tc, dc * i
        zi, zf, zo, zg = di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)
        x, hp = xs[t], h[t]
        for gate, z in (("i", zi), ("f", zf), ("o", zo), ("g", zg)):
            grads[f"w_{gate}x"] += np.sum(z * x)
            grads[f"w_{gate}h"] += np.sum(z * hp)
        grads.setdefault("x", []).append(  # the input's gradient, as the kernels give it
            zi * p["w_ix"] + zf * p["w_fx"] + zo * p["w_ox"] + zg * p["w_gx"])
        dh_next = zi * p["w_ih"] + zf * p["w_fh"] + zo * p["w_oh"] + zg * p["w_gh"]
        dc_next, f_next = dc, f
    return grads


def hand_gated(p, xs, up, h0):
    """Forward and backward of the gated RNN, written by hand (rows are batch elements)."""
    steps = len(xs)
    h, cs = [h0], []
    for t in range(steps):
        c = sig(xs[t] @ p["W_c"].T + h[-1] @ p["W_h"].T)
        h.append(c * h[-1] + (1 - c) * (xs[t] @ p["W_x"].T))
        cs.append(c)
    grads: dict = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros_like(h0)
    for t in range(steps - 1, -1, -1):
        c, x, hp = cs[t], xs[t], h[t]
        dh = up[t] + dh_next
        dc = dh * (hp - x @ p["W_x"].T)
        dz = dc * c * (1 - c)
        grads["W_c"] += dz.T @ x
        grads["W_h"] += dz.T @ hp
        grads["W_x"] += (dh * (1 - c)).T @ x
        grads.setdefault("x", []).append(dz @ p["W_c"] + (dh * (1 - c)) @ p["W_x"])
        dh_next = dh * c + dz @ p["W_h"]
    return grads


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print("cold derivation (cell -> bars, weight gradients -> compiled kernels):")
    for factory, dims in ((lstm, None), (gated_rnn, {"n": 16, "m": 16})):
        start = time.perf_counter()
        model = factory()
        _ = model.derivation  # derived on first access
        derived = time.perf_counter() - start
        model.kernels(dims)
        total = time.perf_counter() - start
        print(f"  {model.name:10s} derive {derived:6.3f} s   derive + compile {total:6.3f} s")

    print(f"\nBPTT throughput, batch {args.batch}, T = {args.T} (best of {args.repeat}):")
    model = lstm()
    inst = model.random_instance(0, args.T, batch=args.batch)
    p = inst["params"]
    xs, up = inst["inputs"]["x"], inst["upstream"]["h"]
    h0, c0 = inst["initial"]["h"], inst["initial"]["c"]
    model.kernels()
    derived = model.bptt(p, inst["inputs"], inst["upstream"], inst["initial"])
    hand = hand_lstm(p, xs, up, h0, c0)
    agree = max(abs(derived.grads[k] - hand[k]) / max(1, abs(hand[k])) for k in p)
    t_gen = best_of(args.repeat, lambda: model.bptt(p, inst["inputs"], inst["upstream"],
                                                     inst["initial"], keep_bars=False))
    t_all = best_of(args.repeat, lambda: model.bptt(p, inst["inputs"], inst["upstream"],
                                                     inst["initial"]))
    t_hand = best_of(args.repeat, lambda: hand_lstm(p, xs, up, h0, c0))
    print(f"  lstm       generated {t_gen:6.3f} s   hand-written {t_hand:6.3f} s   "
          f"ratio {t_gen / t_hand:5.2f}   max rel. difference {agree:.1e}")
    print(f"             keeping every bar of every step: {t_all:6.3f} s, "
          f"ratio {t_all / t_hand:5.2f}")

    model = gated_rnn()
    dims = {"n": 16, "m": 16}
    batch = max(1, args.batch // 10)
    inst = model.random_instance(0, args.T, dims, batch=batch)
    p = inst["params"]
    xs, up = inst["inputs"]["x"], inst["upstream"]["h"]
    h0 = inst["initial"]["h"]
    model.kernels(dims)
    derived = model.bptt(p, inst["inputs"], inst["upstream"], inst["initial"], dims)
    hand = hand_gated(p, xs, up, h0)
    agree = max(float(np.max(np.abs(derived.grads[k] - hand[k]))) for k in p)
    t_gen = best_of(args.repeat, lambda: model.bptt(p, inst["inputs"], inst["upstream"],
                                                     inst["initial"], dims, keep_bars=False))
    t_hand = best_of(args.repeat, lambda: hand_gated(p, xs, up, h0))
    print(f"  gated_rnn  generated {t_gen:6.3f} s   hand-written {t_hand:6.3f} s   "
          f"ratio {t_gen / t_hand:5.2f}   max abs. difference {agree:.1e}   "
          f"(batch {batch}, n = m = 16)")


if __name__ == "__main__":
    main()
