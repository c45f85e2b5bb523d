"""Brute-force counterparts of the CNN accounting, independent of its formulas.

* ``naive_counts`` runs a naive loop implementation of the layer list on counted scalars
  (:mod:`derive.topics.cnn.opcount`): the output shapes are where the loops end up, the FLOPs are
  the operations executed, the parameters are the distinct weights and biases the loops
  actually read. Slow: for small inputs only.
* ``perturbation_fields`` finds every output location's receptive field by perturbing
  one input pixel at a time (all pixels at once, as a batch) and recording which outputs
  change. Weights are all ones, biases zero and the base input zero, so every output is
  a non-negative integer and any dependent output strictly increases: max pools and ReLUs
  pass every increase, and integer arithmetic makes "unchanged" exact.
* ``check_counts`` and ``check_receptive`` compare claimed table rows (the ``as_json`` rows
  of :class:`derive.topics.cnn.accounting.Table`) with these brute forces; ``check_full_size``
  compares them with the NumPy implementation of :mod:`derive.topics.cnn.numpy_net`, run on the
  real network at its real size.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np

from derive.checks.check import Check, relative_error
from derive.core.errors import DeriveError
from derive.topics.cnn import numpy_net
from derive.topics.cnn.layers import Layer
from derive.topics.cnn.opcount import Num, OpCounter

NAIVE_KINDS = ("conv", "pool", "relu", "fc", "softmax")


def _positions(n: int, kernel: int, stride: int, padding: int) -> list[int]:
    """First padded-input coordinate of every window that fits (found by walking)."""
    starts, first = [], 0
    while first + kernel <= n + 2 * padding:
        starts.append(first - padding)
        first += stride
    return starts


def naive_counts(
    layers: Sequence[Layer], input_shape: tuple[int, int, int], seed: int = 0
) -> list[dict]:
    """Per layer: ``shape``, ``params`` (weights read) and ``flops`` (operations executed)."""
    rng = random.Random(seed)
    counter = OpCounter()
    h, w, c = input_shape
    act: list = [[[counter.num(rng.uniform(-1, 1)) for _ in range(c)] for _ in range(w)]
                 for _ in range(h)]
    rows = []
    for layer in layers:
        if layer.kind not in NAIVE_KINDS or layer.source is not None or layer.dilation > 1 \
                or layer.groups > 1 or not layer.bias:
            raise DeriveError(f"the naive counted loops cover {', '.join(NAIVE_KINDS)} "
                              f"(plain, in sequence); layer {layer.index} is {layer.label!r}: "
                              "check it with the NumPy implementation (numpy_net)")
        before = counter.total
        used: set = set()
        if layer.kind in ("conv", "pool"):
            kh, kw = layer.kernel
            (sh, sw), (ph, pw) = layer.stride, layer.padding
            n_rows, n_cols, n_ch = len(act), len(act[0]), len(act[0][0])
            pad_value = 0.0 if layer.kind == "conv" else float("-inf")

            def at(y: int, x: int, ch: int, n_rows=n_rows, n_cols=n_cols, pad=pad_value,
                   act=act):
                inside = 0 <= y < n_rows and 0 <= x < n_cols
                return act[y][x][ch] if inside else counter.num(pad)

            ys, xs = _positions(n_rows, kh, sh, ph), _positions(n_cols, kw, sw, pw)
            if layer.kind == "conv":
                weights = [[[[rng.uniform(-1, 1) for _ in range(kw)] for _ in range(kh)]
                            for _ in range(n_ch)] for _ in range(layer.filters)]
                bias = [rng.uniform(-1, 1) for _ in range(layer.filters)]
                out = []
                for y0 in ys:
                    line = []
                    for x0 in xs:
                        cell = []
                        for f in range(layer.filters):
                            acc = None
                            for ch in range(n_ch):
                                for a in range(kh):
                                    for b in range(kw):
                                        used.add((f, ch, a, b))
                                        term = at(y0 + a, x0 + b, ch) * weights[f][ch][a][b]
                                        acc = term if acc is None else acc + term
                            used.add(("bias", f))
                            cell.append(acc + bias[f])
                        line.append(cell)
                    out.append(line)
            else:
                out = []
                for y0 in ys:
                    line = []
                    for x0 in xs:
                        cell = []
                        for ch in range(n_ch):
                            best = None
                            for a in range(kh):
                                for b in range(kw):
                                    v = at(y0 + a, x0 + b, ch)
                                    if best is None or v > best:
                                        best = v
                            cell.append(best)
                        line.append(cell)
                    out.append(line)
            act = out
            shape: tuple[int, ...] = (len(act), len(act[0]), len(act[0][0]))
        elif layer.kind == "relu":
            zero = counter.num(0.0)

            def relu(v: Num, zero=zero) -> Num:
                return v if v > zero else zero

            if isinstance(act[0], list):
                act = [[[relu(v) for v in cell] for cell in line] for line in act]
                shape = (len(act), len(act[0]), len(act[0][0]))
            else:
                act = [relu(v) for v in act]
                shape = (len(act),)
        elif layer.kind == "fc":
            flat = ([v for line in act for cell in line for v in cell]
                    if isinstance(act[0], list) else list(act))
            out = []
            for j in range(layer.filters):
                acc = None
                for i, v in enumerate(flat):
                    used.add((j, i))
                    term = v * rng.uniform(-1, 1)
                    acc = term if acc is None else acc + term
                used.add(("bias", j))
                out.append(acc + rng.uniform(-1, 1))
            act = out
            shape = (len(act),)
        else:  # softmax over a vector
            exps = [v.exp() for v in act]
            total = exps[0]
            for e in exps[1:]:
                total = total + e
            act = [e / total for e in exps]
            shape = (len(act),)
        rows.append({"shape": list(shape), "params": len(used), "flops": counter.total - before})
    return rows


def perturbation_fields(
    layers: Sequence[Layer], input_shape: tuple[int, int, int]
) -> list[np.ndarray]:
    """Per layer, ``dep[y, x, p]``: output location ``(y, x)`` changes when input pixel ``p``
    (row-major) is perturbed. Vector outputs are reported as one location ``(0, 0)``."""
    h, w, _ = input_shape
    act = np.eye(h * w, dtype=np.int64).reshape(h * w, h, w)  # batch of one-hot inputs
    fields = []
    outputs = [act]  # the input, then every layer's: what ``from`` and ``add`` read
    for layer in layers:
        act = outputs[-1] if layer.source is None else outputs[layer.source]
        if layer.kind in ("conv", "pool", "avgpool"):
            kh, kw = layer.kernel
            (sh, sw), (ph, pw), d = layer.stride, layer.padding, layer.dilation
            padded = np.pad(act, ((0, 0), (ph, ph), (pw, pw)))  # zero: neutral for both
            ys = _positions(act.shape[1], d * (kh - 1) + 1, sh, ph)
            xs = _positions(act.shape[2], d * (kw - 1) + 1, sw, pw)
            out = np.zeros((act.shape[0], len(ys), len(xs)), dtype=np.int64)
            for a in range(kh):
                for b in range(kw):
                    tap = padded[:, a * d: a * d + sh * (len(ys) - 1) + 1: sh,
                                 b * d: b * d + sw * (len(xs) - 1) + 1: sw]
                    out = np.maximum(out, tap) if layer.kind == "pool" else out + tap
            act = out
        elif layer.kind in ("fc", "globalpool"):
            act = act.reshape(act.shape[0], -1).sum(axis=1).reshape(-1, 1, 1)
        elif layer.kind == "relu":
            act = np.maximum(act, 0)
        elif layer.kind == "add":
            act = act + outputs[layer.of]
        # softmax: every output depends on every entry of its input vector, whose entries
        # (after fc) all share one dependency set; the set passes through unchanged. Batch
        # norm with unit scale and zero shift, dropout at inference and flatten pass every
        # dependency through.
        outputs.append(act)
        fields.append(np.moveaxis(act > 0, 0, -1))
    return fields


def _first_mismatch(claimed: list[dict], found: list[dict], key: str) -> str:
    for row_c, row_f in zip(claimed, found, strict=True):
        if row_c[key] != row_f[key]:
            return (f"layer {row_c.get('index', '?')} ({row_c.get('layer', '?')}): claimed "
                    f"{key} {row_c[key]}, brute force {row_f[key]}")
    return ""


def check_counts(
    claimed: list[dict], layers: Sequence[Layer], input_shape: tuple[int, int, int],
    label: str = "",
) -> list[Check]:
    """Shapes, parameters and FLOPs of ``claimed`` (one row per layer, no input row) against
    the counted naive loops on ``input_shape``."""
    found = naive_counts(layers, input_shape)
    size = "x".join(map(str, input_shape))
    checks = []
    for key, what in (("shape", "loop bounds"), ("params", "weights read by the loops"),
                      ("flops", "operations executed")):
        bad = _first_mismatch(claimed, found, key)
        total = sum(r[key] for r in found) if key != "shape" else len(found)
        detail = bad or (f"all {len(found)} layers agree" +
                         (f"; total {total:,d}" if key != "shape" else ""))
        checks.append(Check.exact(f"{label}{key} per layer ({size} input)",
                                  f"naive counted loops: {what}", not bad, detail))
    return checks


def _fill(marks: np.ndarray) -> np.ndarray:
    """Along the last axis, mark everything between the first and the last mark."""
    after_first = np.maximum.accumulate(marks, axis=-1)
    before_last = np.maximum.accumulate(marks[..., ::-1], axis=-1)[..., ::-1]
    return after_first & before_last


def check_receptive(
    claimed: list[dict], layers: Sequence[Layer], input_shape: tuple[int, int, int],
    label: str = "",
) -> list[Check]:
    """Claimed coverage and receptive windows against perturbation of every input pixel."""
    h, w, _ = input_shape
    fields = perturbation_fields(layers, input_shape)
    covers_bad = window_bad = ""
    tight = locations = 0
    for row, dep in zip(claimed, fields, strict=True):
        where = f"layer {row.get('index', '?')} ({row.get('layer', '?')})"
        covers = bool(dep.all())
        if row["covers_input"] != covers and not covers_bad:
            covers_bad = (f"{where}: claimed covers_input={row['covers_input']}, perturbation "
                          f"finds {'every' if covers else 'not every'} location sees the input")
        (size_h, size_w), (jump_h, jump_w) = row["rf_size"], row["rf_jump"]
        start_h, start_w = row["rf_start"]
        if window_bad:
            continue
        rows_in = np.arange(h)[None, :] - (start_h + jump_h * np.arange(dep.shape[0]))[:, None]
        cols_in = np.arange(w)[None, :] - (start_w + jump_w * np.arange(dep.shape[1]))[:, None]
        row_box = (rows_in >= 0) & (rows_in < size_h)  # (output row, input row)
        col_box = (cols_in >= 0) & (cols_in < size_w)
        box = row_box[:, None, :, None] & col_box[None, :, None, :]
        field = dep.reshape(dep.shape[0], dep.shape[1], h, w)
        # the field must lie inside the window; it fills the window's part in the input
        # unless the window reaches into an intermediate layer's padding (or the stride
        # exceeds the kernel and leaves holes): count where the window is tight
        outside = np.argwhere((field & ~box).any(axis=(2, 3)))
        hull_rows, hull_cols = _fill(field.any(axis=3)), _fill(field.any(axis=2))
        hull = hull_rows[:, :, :, None] & hull_cols[:, :, None, :]
        tight += int((box == hull).all(axis=(2, 3)).sum())
        locations += dep.shape[0] * dep.shape[1]
        if len(outside):
            y, x = outside[0]
            window_bad = (f"{where}, output location ({y}, {x}): the field reaches outside "
                          "the claimed window")
    size = f"{h}×{w} input"
    hull = (f"all {locations:,d}" if tight == locations
            else f"{tight:,d} of the {locations:,d}")
    return [
        Check.exact(f"{label}whole-input coverage per layer ({size})",
                    "perturbation of every input pixel", not covers_bad,
                    covers_bad or f"all {len(fields)} layers agree"),
        Check.exact(f"{label}receptive window of every output location ({size})",
                    "perturbation of every input pixel", not window_bad,
                    window_bad or f"every location's field lies in its window; the window's "
                    f"part inside the input is the field's bounding box at {hull} output "
                    f"locations (counted over all {len(fields)} layers)"),
    ]


def scaled_copy(layers: Sequence[Layer], filters: int = 2, units: int = 3) -> list[Layer]:
    """The same layer list with at most ``filters`` conv filters and ``units`` fc outputs,
    small enough for the counted loops; kernels, strides and paddings are kept."""
    from dataclasses import replace

    return [replace(layer, filters=min(layer.filters, units if layer.kind == "fc" else filters))
            for layer in layers]


def check_full_size(
    claimed: list[dict], layers: Sequence[Layer], input_shape: tuple[int, int, int],
    flops: bool = True, runner: Callable[..., numpy_net.Run] = numpy_net.run, label: str = "",
) -> list[Check]:
    """Shapes, parameters and (with ``flops``) FLOPs of ``claimed`` against the NumPy
    implementation run on the real network at its real input size (:mod:`numpy_net`)."""
    counted = runner(layers, input_shape, counted=flops,
                     dtype=np.float64 if flops else np.float32)
    found = [{"shape": list(r.shape), "params": r.params, "flops": r.flops}
             for r in counted.layers]
    size = "×".join(map(str, input_shape))
    what = {
        "shape": ("output shape", "shapes of the arrays the NumPy implementation produces"),
        "params": ("parameters", "weight and bias entries the NumPy implementation creates"),
        "flops": ("FLOPs", "operations the NumPy implementation executes, one per element "
                           "of every array operation"),
    }
    checks = []
    for key in ("shape", "params", "flops")[: 3 if flops else 2]:
        bad = _first_mismatch(claimed, found, key)
        total = "" if key == "shape" else f"; total {sum(r[key] for r in found):,d}"
        name = f"{label}{what[key][0]} per layer, the real network ({size} input)"
        checks.append(Check.exact(name, what[key][1], not bad,
                                  bad or f"all {len(found)} layers agree{total}"))
    if flops:  # the counted loops must compute the network, not only count
        plain = runner(layers, input_shape)
        assert counted.output is not None and plain.output is not None
        checks.append(Check(f"{label}counted loops compute the network",
                            "the same network through whole-array products",
                            relative_error(counted.output, plain.output), 1e-12,
                            "same weights, same input; output of the last layer"))
    return checks
