"""Independent implementations the convolution checks compare against.

Plain loops over every term of the forward sum (and its chain rule), and the two named
operations the derived gradients are: ``dl/dW`` is a valid cross-correlation of the padded
input with the stride-dilated upstream gradient, sampled every ``D``; ``dl/dx`` is a
transposed convolution, a full convolution of the stride-dilated upstream gradient with
the ``D``-dilated kernel, cropped by ``P``. None of these reads the derived formulas.
"""

from __future__ import annotations

import itertools

import numpy as np

from derive.topics.conv.spec import ConvSpec


def _grid(shape):
    return itertools.product(*(range(n) for n in shape))


def _terms(spec: ConvSpec):
    """Every term of the forward sum: (f, output pos, c, kernel offset, unpadded input pos),
    only those that read the input (terms on the zero padding contribute nothing)."""
    for f, c in itertools.product(range(spec.F), range(spec.C)):
        for out in _grid(spec.out_sizes):
            for ker in _grid([spec.K] * spec.rank):
                pos = tuple(spec.S * i + spec.D * m - spec.P for i, m in zip(out, ker, strict=True))
                if all(0 <= p < n for p, n in zip(pos, spec.sizes, strict=True)):
                    yield f, out, c, ker, pos


def loop_forward(W: np.ndarray, x: np.ndarray, spec: ConvSpec) -> np.ndarray:
    y = np.zeros(spec.y_shape, dtype=np.result_type(W, x))
    for f, out, c, ker, pos in _terms(spec):
        y[(f, *out)] += W[(f, c, *ker)] * x[(c, *pos)]
    return y


def loop_grads(W: np.ndarray, x: np.ndarray, ybar: np.ndarray, spec: ConvSpec):
    """The chain rule term by term: each product ``W x`` in ``y`` sends ``ybar x`` to ``W``
    and ``ybar W`` to ``x``."""
    gW = np.zeros(spec.W_shape, dtype=np.result_type(x, ybar))
    gx = np.zeros(spec.x_shape, dtype=np.result_type(W, ybar))
    for f, out, c, ker, pos in _terms(spec):
        gW[(f, c, *ker)] += ybar[(f, *out)] * x[(c, *pos)]
        gx[(c, *pos)] += ybar[(f, *out)] * W[(f, c, *ker)]
    return gW, gx


def dilate(a: np.ndarray, step: int, axes: tuple[int, ...]) -> np.ndarray:
    """Insert ``step - 1`` zeros between neighbouring entries along ``axes``."""
    shape = list(a.shape)
    for ax in axes:
        shape[ax] = (a.shape[ax] - 1) * step + 1
    out = np.zeros(shape, dtype=a.dtype)
    out[tuple(slice(None, None, step) if ax in axes else slice(None) for ax in range(a.ndim))] = a
    return out


def correlate_valid(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``out[t] = sum_s a[t + s] k[s]`` over the positions where ``k`` fits inside ``a``."""
    size = tuple(na - nk + 1 for na, nk in zip(a.shape, k.shape, strict=True))
    out = np.zeros(size, dtype=np.result_type(a, k))
    for s in _grid(k.shape):
        out += k[s] * a[tuple(slice(o, o + n) for o, n in zip(s, size, strict=True))]
    return out


def convolve_full(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``out[t] = sum_s k[s] a[t - s]`` over every overlap."""
    size = tuple(na + nk - 1 for na, nk in zip(a.shape, k.shape, strict=True))
    out = np.zeros(size, dtype=np.result_type(a, k))
    for s in _grid(k.shape):
        out[tuple(slice(o, o + n) for o, n in zip(s, a.shape, strict=True))] += k[s] * a
    return out


def weight_grad_as_correlation(x: np.ndarray, ybar: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dl/dW[f, c]``: correlate ``x_pad[c]`` with ``ybar[f]`` dilated by ``S``; keep lags
    ``0, D, .., D(K-1)``."""
    spatial = tuple(range(spec.rank))
    xp = np.pad(x, [(0, 0)] + [(spec.P, spec.P)] * spec.rank)
    keep = tuple(slice(0, spec.D * (spec.K - 1) + 1, spec.D) for _ in spatial)
    out = np.zeros(spec.W_shape, dtype=np.result_type(x, ybar))
    for f, c in itertools.product(range(spec.F), range(spec.C)):
        kernel = dilate(ybar[f], spec.S, spatial)
        out[f, c] = correlate_valid(xp[c], kernel)[keep]
    return out


def input_grad_as_transposed_conv(W: np.ndarray, ybar: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dl/dx[c] = sum_f crop_P(full_conv(dilate_S(ybar[f]), dilate_D(W[f, c])))``: the
    transposed convolution (positions past the last window get zero gradient)."""
    spatial = tuple(range(spec.rank))
    padded = tuple(n + 2 * spec.P for n in spec.sizes)
    out = np.zeros((spec.C, *padded), dtype=np.result_type(W, ybar))
    for f, c in itertools.product(range(spec.F), range(spec.C)):
        full = convolve_full(dilate(ybar[f], spec.S, spatial), dilate(W[f, c], spec.D, spatial))
        out[(c, *(slice(0, n) for n in full.shape))] += full
    return out[(slice(None), *(slice(spec.P, spec.P + n) for n in spec.sizes))]
