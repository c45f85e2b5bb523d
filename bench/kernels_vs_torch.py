"""The generated BPTT kernels against the hand-written NumPy BPTT (bench/engine.py,
bench/attention.py) and PyTorch's CPU autograd, side by side in one process on the same
arrays (float64): the LSTM (B = 10,000, T = 100), the gated RNN and AttentionRNN(8).

    .venv/bin/python bench/kernels_vs_torch.py [--repeat 5]

PyTorch is optional (``pip install torch==2.13.0``, or the ``bench`` extra): without it the
torch column is skipped with a message. Each repeat runs the three implementations one after
another, so all see the same load; the best of the repeats is reported, and every
implementation's gradients are compared with the generated kernels' before any time counts.
Figures go to bench/kernels_vs_torch.md by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one thread for every library (BLAS under NumPy, PyTorch's intra-op pool): the same work on
# the same core, and no thread spinning on a machine other jobs share
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the hand-written BPTTs beside it

from attention import hand_bptt  # noqa: E402
from engine import hand_gated, hand_lstm  # noqa: E402

import derive  # noqa: E402

try:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:  # optional: the bench says so and runs the rest
    torch = None


# --- PyTorch: the same forward passes, differentiated by autograd --------------------------


def torch_lstm(p: dict, xs: np.ndarray, up: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> dict:
    w = {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    x = torch.from_numpy(xs).requires_grad_(True)
    u = torch.from_numpy(up)
    h, c = torch.from_numpy(h0), torch.from_numpy(c0)
    loss = 0.0
    for t in range(xs.shape[0]):
        i = torch.sigmoid(w["w_ix"] * x[t] + w["w_ih"] * h)
        f = torch.sigmoid(w["w_fx"] * x[t] + w["w_fh"] * h)
        o = torch.sigmoid(w["w_ox"] * x[t] + w["w_oh"] * h)
        g = torch.tanh(w["w_gx"] * x[t] + w["w_gh"] * h)
        c = f * c + i * g
        h = o * torch.tanh(c)
        loss = loss + torch.sum(u[t] * h)
    loss.backward()
    return {**{k: v.grad.item() for k, v in w.items()}, "x": x.grad.numpy()}


def torch_gated(p: dict, xs: np.ndarray, up: np.ndarray, h0: np.ndarray) -> dict:
    w = {k: torch.from_numpy(v).clone().requires_grad_(True) for k, v in p.items()}
    x = torch.from_numpy(xs).requires_grad_(True)
    u = torch.from_numpy(up)
    h = torch.from_numpy(h0)
    loss = 0.0
    for t in range(xs.shape[0]):
        c = torch.sigmoid(x[t] @ w["W_c"].T + h @ w["W_h"].T)
        h = c * h + (1 - c) * (x[t] @ w["W_x"].T)
        loss = loss + torch.sum(u[t] * h)
    loss.backward()
    return {**{k: v.grad.numpy() for k, v in w.items()}, "x": x.grad.numpy()}


def torch_attention(Q: np.ndarray, K: np.ndarray, V: np.ndarray, xs: np.ndarray,
                    up: np.ndarray) -> dict:
    """AttentionRNN(k) with the k + 1 entries stacked, as the hand-written NumPy is."""
    q_w, k_w, v_w = (torch.from_numpy(m).clone().requires_grad_(True) for m in (Q, K, V))
    x = torch.from_numpy(xs).requires_grad_(True)
    u = torch.from_numpy(up)
    steps, batch, n = xs.shape
    k1 = Q.shape[0]
    zero = torch.zeros((batch, n), dtype=torch.float64)
    hs: list = []
    loss = 0.0
    for t in range(steps):
        src = torch.stack([x[t]] + [hs[t - i] if t - i >= 0 else zero for i in range(1, k1)])
        q, kk, v = (src @ m.transpose(1, 2) for m in (q_w, k_w, v_w))  # (k+1, B, n)
        a = torch.softmax(torch.sum(q * kk, dim=2), dim=0)  # (k+1, B)
        h = torch.sum(a[:, :, None] * v, dim=0)
        hs.append(h)
        loss = loss + torch.sum(u[t] * h)
    loss.backward()
    return {"Q": q_w.grad.numpy(), "K": k_w.grad.numpy(), "V": v_w.grad.numpy(),
            "x": x.grad.numpy()}


# --- the three, side by side ---------------------------------------------------------------


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def side_by_side(runs: dict, repeat: int) -> dict[str, float]:
    """Best wall time of each implementation, the implementations alternating every repeat."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            best[name] = min(best[name], timed(fn)[0])
    return best


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def lstm_case(batch: int, steps: int) -> tuple[dict, dict]:
    model = derive.model("lstm")
    inst = model.random_instance(0, steps, batch=batch)
    p, xs, up = inst["params"], inst["inputs"]["x"], inst["upstream"]["h"]
    h0, c0 = inst["initial"]["h"], inst["initial"]["c"]
    model.kernels()

    def generated():
        return model.bptt(p, inst["inputs"], inst["upstream"], inst["initial"], keep_bars=False)

    runs = {"generated": generated, "hand NumPy": lambda: hand_lstm(p, xs, up, h0, c0)}
    ref = generated()
    errors = {"hand NumPy": max(rel(hand_lstm(p, xs, up, h0, c0)[k], ref.grads[k]) for k in p)}
    if torch is not None:
        runs["torch"] = lambda: torch_lstm(p, xs, up, h0, c0)
        got = torch_lstm(p, xs, up, h0, c0)
        errors["torch"] = max(max(rel(got[k], ref.grads[k]) for k in p),
                              rel(got["x"], np.stack([ref.bars["x"][s] for s in
                                                      range(1, steps + 1)])))
    return runs, errors


def gated_case(batch: int, steps: int, size: int) -> tuple[dict, dict]:
    model = derive.model("gated_rnn")
    dims = {"n": size, "m": size}
    inst = model.random_instance(0, steps, dims, batch=batch)
    p, xs, up, h0 = (inst["params"], inst["inputs"]["x"], inst["upstream"]["h"],
                     inst["initial"]["h"])
    model.kernels(dims)

    def generated():
        return model.bptt(p, inst["inputs"], inst["upstream"], inst["initial"], dims,
                          keep_bars=False)

    runs = {"generated": generated, "hand NumPy": lambda: hand_gated(p, xs, up, h0)}
    ref = generated()
    errors = {"hand NumPy": max(rel(hand_gated(p, xs, up, h0)[k], ref.grads[k]) for k in p)}
    if torch is not None:
        runs["torch"] = lambda: torch_gated(p, xs, up, h0)
        got = torch_gated(p, xs, up, h0)
        errors["torch"] = max(rel(got[k], ref.grads[k]) for k in p)
    return runs, errors


def attention_case(batch: int, steps: int, size: int, k: int) -> tuple[dict, dict]:
    model = derive.model("attention_rnn").model(k)
    rng = np.random.default_rng(0)
    Q, K, V = (0.3 * rng.standard_normal((k + 1, size, size)) for _ in range(3))
    xs = rng.standard_normal((steps, batch, size))
    up = rng.standard_normal((steps, batch, size))
    params = {f"{g}_{i}": m[i] for g, m in (("Q", Q), ("K", K), ("V", V)) for i in range(k + 1)}
    dims = {"n": size}
    model.kernels(dims)

    def generated():
        return model.bptt(params, {"x": xs}, {"h": up}, dims=dims, keep_bars=False)

    runs = {"generated": generated, "hand NumPy": lambda: hand_bptt(Q, K, V, xs, up)}
    ref = generated()
    _, grads, _ = hand_bptt(Q, K, V, xs, up)
    errors = {"hand NumPy": max(rel(grads[g][i], ref.grads[f"{g}_{i}"])
                                for g in "QKV" for i in range(k + 1))}
    if torch is not None:
        runs["torch"] = lambda: torch_attention(Q, K, V, xs, up)
        got = torch_attention(Q, K, V, xs, up)
        errors["torch"] = max(rel(got[g][i], ref.grads[f"{g}_{i}"])
                              for g in "QKV" for i in range(k + 1))
    return runs, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10_000, help="the LSTM's batch")
    parser.add_argument("--T", type=int, default=100, help="the LSTM's steps")
    args = parser.parse_args()

    if torch is None:
        print("PyTorch is not importable: its column is skipped "
              "(pip install torch==2.13.0 to include it)")
    else:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"NumPy {np.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}; best of {args.repeat}, float64\n")
    cases = {
        f"lstm (B = {args.batch:,}, T = {args.T})": lambda: lstm_case(args.batch, args.T),
        "gated_rnn (B = 1,000, T = 100, n = m = 16)": lambda: gated_case(1000, 100, 16),
        "attention_rnn k = 8 (B = 1,000, T = 64, n = 16)": lambda: attention_case(1000, 64,
                                                                                  16, 8),
    }
    header = "| case | generated s | hand NumPy s | torch s | generated / hand | " \
             "generated / torch | gradients vs generated (relative) |"
    rows = []
    for label, build in cases.items():
        runs, errors = build()
        best = side_by_side(runs, args.repeat)
        gen = best["generated"]
        torch_s = best.get("torch")
        rows.append(
            f"| {label} | {gen:.3f} | {best['hand NumPy']:.3f} | "
            f"{'-' if torch_s is None else f'{torch_s:.3f}'} | "
            f"{gen / best['hand NumPy']:.2f} | "
            f"{'-' if torch_s is None else f'{gen / torch_s:.2f}'} | "
            f"{', '.join(f'{n} {e:.0e}' for n, e in errors.items())} |")
        print(rows[-1], flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}\n")
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
