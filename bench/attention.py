"""AttentionRNN(k) benchmark: derivation and compilation time as k grows, and BPTT throughput
of the derived kernels against a hand-written NumPy forward and backward pass.

Run by hand: ``.venv/bin/python bench/attention.py`` (each k is derived in a fresh process,
so every figure is a cold derivation). Figures go to bench/attention.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

KS = (1, 2, 4, 8, 16, 32, 64)
BATCH, N, STEPS, K = 1000, 16, 64, 8
REPEATS = 5


def one_k(k: int) -> dict:
    """Cold: build the cell, derive its BPTT (n symbolic), compile kernels at n = 16."""
    t0 = time.perf_counter()
    from derive.calculus.adjoint import derive_adjoints
    from derive.models.attention_rnn import attention_cell, n
    from derive.numeric.kernels import compile_kernels

    t1 = time.perf_counter()
    cell = attention_cell(k)
    adjoints = derive_adjoints(cell)
    t2 = time.perf_counter()
    compile_kernels(cell, adjoints, {n: N})
    t3 = time.perf_counter()
    terms = sum(len(v) for v in adjoints.bars.values()) + sum(len(v) for v in
                                                               adjoints.grads.values())
    return {"k": k, "import": t1 - t0, "derive": t2 - t1, "compile": t3 - t2, "terms": terms}


def hand_bptt(Q, K_, V, xs, upstream):
    """AttentionRNN(k) forward and backward, written by hand with the k + 1 entries stacked
    (batched matrix products throughout). Q, K_, V: (k+1, n, n); xs, upstream: (T, B, n).
    Returns (hs, grads, bar_x)."""
    steps, batch, n = xs.shape
    k1 = Q.shape[0]
    Qt, Kt, Vt = (np.swapaxes(m, 1, 2) for m in (Q, K_, V))
    hs = np.zeros((steps + 1, batch, n))  # hs[0] = 0, h(t) at hs[t]
    saved = []
    for t in range(1, steps + 1):
        src = np.zeros((k1, batch, n))  # entry-major: one (B, n) @ (n, n) product per entry
        src[0] = xs[t - 1]
        for i in range(1, min(k1, t)):
            src[i] = hs[t - i]
        q, kk, v = src @ Qt, src @ Kt, src @ Vt  # (k+1, B, n)
        w = np.sum(q * kk, axis=2)  # (k+1, B)
        a = np.exp(w - w.max(axis=0))
        a /= a.sum(axis=0)
        hs[t] = np.sum(a[:, :, None] * v, axis=0)
        saved.append((src, q, kk, v, a))
    bar_h = np.zeros((steps + 1, batch, n))
    bar_h[1:] = upstream
    gQ, gK, gV = np.zeros_like(Q), np.zeros_like(K_), np.zeros_like(V)
    bar_x = np.zeros_like(xs)
    for t in range(steps, 0, -1):
        src, q, kk, v, a = saved[t - 1]
        gh = bar_h[t]
        bar_a = np.sum(v * gh, axis=2)  # (k+1, B)
        bar_v = a[:, :, None] * gh
        bar_w = a * (bar_a - np.sum(a * bar_a, axis=0))
        bar_q = bar_w[:, :, None] * kk
        bar_k = bar_w[:, :, None] * q
        gQ += np.swapaxes(bar_q, 1, 2) @ src
        gK += np.swapaxes(bar_k, 1, 2) @ src
        gV += np.swapaxes(bar_v, 1, 2) @ src
        bar_src = bar_q @ Q + bar_k @ K_ + bar_v @ V
        bar_x[t - 1] = bar_src[0]
        for i in range(1, min(k1, t)):
            bar_h[t - i] += bar_src[i]
    return hs[1:], {"Q": gQ, "K": gK, "V": gV}, bar_x


def throughput() -> dict:
    import derive

    model = derive.model("attention_rnn").model(K)
    rng = np.random.default_rng(0)
    Q, K_, V = (0.3 * rng.standard_normal((K + 1, N, N)) for _ in range(3))
    xs = rng.standard_normal((STEPS, BATCH, N))
    up = rng.standard_normal((STEPS, BATCH, N))
    params = {f"{g}_{i}": m[i] for g, m in (("Q", Q), ("K", K_), ("V", V)) for i in range(K + 1)}
    t0 = time.perf_counter()
    model.bptt(params, {"x": xs[:, :1]}, {"h": up[:, :1]}, dims={"n": N})  # compile once
    compile_s = time.perf_counter() - t0

    def engine():
        return model.bptt(params, {"x": xs}, {"h": up}, dims={"n": N})

    def best(fn):
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return min(times), out

    engine_s, result = best(engine)
    hand_s, (hs, grads, bar_x) = best(lambda: hand_bptt(Q, K_, V, xs, up))
    # the two must agree before their times mean anything
    err = max(float(np.max(np.abs(result.grads[f"{g}_{i}"] - grads[g][i])))
              / max(1.0, float(np.max(np.abs(grads[g][i]))))
              for g in "QKV" for i in range(K + 1))
    return {"engine": engine_s, "hand": hand_s, "ratio": engine_s / hand_s,
            "max_rel_grad_difference": err, "first_compile": compile_s}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one-k":
        print(json.dumps(one_k(int(sys.argv[2]))))
        return
    print(f"derive + compile, each k cold in a fresh process (n symbolic; kernels at n = {N})")
    print(f"{'k':>4} {'derive s':>9} {'compile s':>10} {'total s':>8} {'terms':>7}")
    for k in KS:
        out = subprocess.run([sys.executable, __file__, "--one-k", str(k)], check=True,
                             capture_output=True, text=True).stdout
        row = json.loads(out)
        print(f"{k:>4} {row['derive']:>9.3f} {row['compile']:>10.3f} "
              f"{row['derive'] + row['compile']:>8.3f} {row['terms']:>7}", flush=True)
    tp = throughput()
    print(f"\nBPTT, batch {BATCH}, n = {N}, T = {STEPS}, k = {K} (best of {REPEATS})")
    print(f"  derived kernels: {tp['engine']:.3f} s")
    print(f"  hand-written:    {tp['hand']:.3f} s")
    print(f"  ratio:           {tp['ratio']:.2f}x")
    print(f"  gradients agree to {tp['max_rel_grad_difference']:.1e} (relative)")


if __name__ == "__main__":
    main()
