"""NumPy kernels of a cross-correlation layer and of its derived gradients (1-D and 2-D).

Each kernel is the derived index expression read as a gather/scatter over the window
positions ``S*i + D*m`` of the zero-padded input:

    y[f, i]     = sum_{c,m} W[f, c, m] x_pad[c, S i + D m]
    dl/dW[f,c,m] = sum_i ybar[f, i] x_pad[c, S i + D m]
    dl/dx[c, p] = sum_{f,i,m} ybar[f, i] W[f, c, m] [S i + D m = p + P]

The arrays may be complex (the complex-step checks need it).
"""

from __future__ import annotations

import string

import numpy as np

from derive.topics.conv.spec import ConvSpec


def pad(x: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``x`` with ``P`` zeros on both sides of every spatial axis."""
    return np.pad(x, [(0, 0)] + [(spec.P, spec.P)] * spec.rank)


def window_index(spec: ConvSpec) -> tuple[np.ndarray, ...]:
    """Padded-input positions read by (output position, kernel offset), per spatial axis,
    shaped so that indexing ``x_pad[:, *index]`` gives ``(C, *out_sizes, *kernel)``."""
    r = spec.rank
    index = []
    for a, n_out in enumerate(spec.out_sizes):
        pos = spec.S * np.arange(n_out)[:, None] + spec.D * np.arange(spec.K)[None, :]
        shape = [1] * (2 * r)
        shape[a], shape[r + a] = n_out, spec.K
        index.append(pos.reshape(shape))
    return tuple(index)


def _letters(spec: ConvSpec) -> tuple[str, str]:
    """einsum letters for the output positions and the kernel offsets."""
    return string.ascii_lowercase[8:8 + spec.rank], string.ascii_lowercase[12:12 + spec.rank]


def forward(W: np.ndarray, x: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``y`` of shape ``(F, *out_sizes)``."""
    o, k = _letters(spec)
    windows = pad(x, spec)[(slice(None), *window_index(spec))]
    return np.einsum(f"fc{k},c{o}{k}->f{o}", W, windows)


def grad_W(x: np.ndarray, ybar: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dl/dW`` of shape ``(F, C, K, ...)``."""
    o, k = _letters(spec)
    windows = pad(x, spec)[(slice(None), *window_index(spec))]
    return np.einsum(f"f{o},c{o}{k}->fc{k}", ybar, windows)


def grad_x(W: np.ndarray, ybar: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """``dl/dx`` of shape ``(C, *sizes)``: every window scatters ``ybar * W`` back."""
    o, k = _letters(spec)
    contributions = np.einsum(f"f{o},fc{k}->c{o}{k}", ybar, W)
    padded = np.zeros((spec.C, *(n + 2 * spec.P for n in spec.sizes)),
                      dtype=np.result_type(W, ybar))
    np.add.at(padded, (slice(None), *window_index(spec)), contributions)
    inner = tuple(slice(spec.P, spec.P + n) for n in spec.sizes)
    return padded[(slice(None), *inner)]


def grads(W: np.ndarray, x: np.ndarray, ybar: np.ndarray, spec: ConvSpec):
    """``(dl/dW, dl/dx)`` for the loss ``l = sum(ybar * y)``."""
    return grad_W(x, ybar, spec), grad_x(W, ybar, spec)
