"""A NumPy implementation of a layer list, run at full size, with an optional operation count.

The accounting's formulas are checked against what this implementation does, not against
another copy of the formulas:

* the weights of each layer are created from the tensor the layer receives (as a lazily
  initialised framework does), so a layer's parameter count is the number of weight and
  bias entries it actually made;
* the output shapes are the shapes of the arrays it produces;
* with ``counted=True`` every conv and fc layer is computed as one product and one
  accumulation per kernel tap (per input, for fc), a max pool as one comparison per extra
  window entry, and every array operation adds one FLOP per element it computes. The
  loops run over taps, not over output locations, so the count is exact and still fast at
  full size (the scalar counted loops of :mod:`derive.topics.cnn.bruteforce` are not).

The counted and the plain runs draw the same weights, so their outputs must agree: the
counted loops compute the network, not just a count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from derive.topics.cnn.layers import Layer

# fc weights are drawn and applied a block of input rows at a time, so a 200,704 x 1,024
# layer never holds its 205 million weights at once.
FC_BLOCK = 1 << 14


@dataclass
class LayerRun:
    """What one layer of the implementation made and did."""

    shape: tuple[int, ...]
    params: int
    flops: int = 0


@dataclass
class Run:
    """One forward pass of one example: per-layer records and the final output."""

    layers: list[LayerRun] = field(default_factory=list)
    output: np.ndarray | None = None

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.layers)


class _Count:
    """Elementwise operations executed, one per element computed."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, result: np.ndarray) -> np.ndarray:
        self.total += int(np.asarray(result).size)
        return result


def _fc_blocks(rng: np.random.Generator, n_in: int, n_out: int,
               dtype: type) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, n_in, FC_BLOCK):
        rows = min(FC_BLOCK, n_in - start)
        block = rng.random((rows, n_out), dtype=dtype)
        block -= 0.5
        block *= 2 / np.sqrt(n_in)
        yield start, block


def _windows(x: np.ndarray, layer: Layer, fill: float) -> np.ndarray:
    """(out rows, out cols, channels, kh, kw): every window the layer reads (its taps
    ``layer.dilation`` apart)."""
    (ph, pw), (sh, sw), d = layer.padding, layer.stride, layer.dilation
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), constant_values=fill)
    reach = (d * (layer.kernel[0] - 1) + 1, d * (layer.kernel[1] - 1) + 1)
    return sliding_window_view(xp, reach, axis=(0, 1))[::sh, ::sw, :, ::d, ::d]


def run(layers: Sequence[Layer], input_shape: tuple[int, int, int], counted: bool = False,
        seed: int = 0, dtype: type = np.float64) -> Run:
    """One example through ``layers``: a normal input, conv weights normal and fc weights
    uniform (cheaper to draw, for the 205-million-weight layers), scaled by the fan-in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape).astype(dtype)
    out = Run()
    outputs = [x]  # the input, then every layer's output: what ``from`` and ``add`` read
    for layer in layers:
        x = outputs[-1] if layer.source is None else outputs[layer.source]
        count = _Count()
        params = 0
        if layer.kind == "conv":
            c_in = x.shape[2]
            kh, kw = layer.kernel
            per_group = c_in // layer.groups
            weight = rng.standard_normal((layer.filters, per_group, kh, kw), dtype=dtype)
            weight /= np.sqrt(per_group * kh * kw)
            bias = rng.standard_normal(layer.filters, dtype=dtype) if layer.bias else None
            params = weight.size + (0 if bias is None else bias.size)
            win = _windows(x, layer, 0.0)
            f_per = layer.filters // layer.groups
            results = []
            for g in range(layer.groups):
                gw = weight[g * f_per:(g + 1) * f_per]
                gwin = win[:, :, g * per_group:(g + 1) * per_group]
                if counted:
                    acc = None
                    for c in range(per_group):
                        for a in range(kh):
                            for b in range(kw):
                                term = count(gwin[:, :, c, a, b, None] * gw[:, c, a, b])
                                acc = term if acc is None else count(acc + term)
                    assert acc is not None
                    results.append(acc)
                else:
                    results.append(np.tensordot(gwin, gw, axes=([2, 3, 4], [1, 2, 3])))
            x = np.concatenate(results, axis=2)
            if bias is not None:
                x = count(x + bias) if counted else x + bias
        elif layer.kind == "pool":
            win = _windows(x, layer, -np.inf)
            kh, kw = layer.kernel
            best = win[..., 0, 0]
            for a in range(kh):
                for b in range(kw):
                    if a or b:
                        best = count(np.maximum(best, win[..., a, b]))
            x = best
        elif layer.kind == "avgpool":
            win = _windows(x, layer, 0.0)  # padding counted in the window (PyTorch's default)
            kh, kw = layer.kernel
            total = win[..., 0, 0]
            for a in range(kh):
                for b in range(kw):
                    if a or b:
                        total = count(total + win[..., a, b])
            x = count(total / (kh * kw))
        elif layer.kind == "globalpool":
            total = x[0, 0]
            for i in range(x.shape[0]):
                for j in range(x.shape[1]):
                    if i or j:
                        total = count(total + x[i, j])
            x = count(total / (x.shape[0] * x.shape[1]))[None, None, :]
        elif layer.kind == "bn":
            channels = x.shape[-1]
            scale = rng.standard_normal(channels, dtype=dtype)
            shift = rng.standard_normal(channels, dtype=dtype)
            params = scale.size + shift.size
            x = count(count(x * scale) + shift)
        elif layer.kind == "dropout":
            x = x.copy()  # the identity at inference
        elif layer.kind == "flatten":
            x = x.reshape(-1)
        elif layer.kind == "add":
            x = count(x + outputs[layer.of])
        elif layer.kind == "relu":
            x = count(np.maximum(x, 0))
        elif layer.kind == "fc":
            flat = x.reshape(-1)
            bias = rng.standard_normal(layer.filters, dtype=dtype) if layer.bias else None
            acc = None
            for start, block in _fc_blocks(rng, flat.size, layer.filters, dtype):
                params += block.size
                if counted:
                    for i, row in enumerate(block):
                        term = count(flat[start + i] * row)
                        acc = term if acc is None else count(acc + term)
                else:
                    part = flat[start: start + len(block)] @ block
                    acc = part if acc is None else acc + part
            assert acc is not None
            if bias is not None:
                params += bias.size
                x = count(acc + bias) if counted else acc + bias
            else:
                x = acc
        else:  # softmax
            shifted = x - x.max()  # for stability; not counted (the convention leaves it out)
            e = count(np.exp(shifted))
            total = e[0]
            for v in e[1:]:
                total = count(total + v)
            x = count(e / total)
        outputs.append(x)
        out.layers.append(LayerRun(tuple(int(s) for s in x.shape), int(params), count.total))
    out.output = x
    return out
