"""The checks of the convolution Jacobians: exact (symbolic) and numeric.

Every checker takes what it verifies as an argument (the derived results, the gradient
kernel), so a test can hand it a planted error and watch it fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import sympy as sp

from derive.checks.check import Check, counted, relative_error
from derive.topics.conv import kernels, reference, shape_checks
from derive.topics.conv.jacobians import Result, elementwise, entries, general, instantiate
from derive.topics.conv.spec import ConvSpec

COMPLEX_STEP = 1e-20
COMPLEX_STEP_TOL = 1e-12
CENTRAL_STEP = 1e-6
CENTRAL_TOL = 1e-7  # the loss is bilinear: only rounding, about eps * |l| / h, remains
NUMERIC_TOL = 1e-12

# Sizes at which the general formulas are proved entry by entry: the 1.1c instance, and
# sizes with stride, dilation and padding all above 1 (and a window that does not divide).
EXACT_SPECS = {
    1: (ConvSpec(5, (7,), 3, 2, 1, 0, 1), ConvSpec(2, (9,), 3, 2, 2, 1, 2),
        ConvSpec(2, (10,), 2, 3, 3, 2, 2)),
    2: (ConvSpec(1, (4, 5), 2, 2, 1, 1, 2), ConvSpec(1, (5, 4), 2, 1, 2, 1, 2)),
}
# Sizes for the numeric checks (cheap, so more of them).
NUMERIC_SPECS = {
    1: EXACT_SPECS[1] + (ConvSpec(3, (11,), 4, 3, 2, 3, 2), ConvSpec(1, (6,), 1, 1, 1, 0, 1)),
    2: EXACT_SPECS[2] + (ConvSpec(2, (8, 9), 3, 3, 2, 2, 2), ConvSpec(2, (5, 7), 3, 2, 1, 0, 1)),
}

GradFn = Callable[[np.ndarray, np.ndarray, np.ndarray, ConvSpec], tuple]


def random_instance(spec: ConvSpec, seed: int = 0, dtype=float):
    """``W``, ``x``, ``ybar`` drawn in that order, normal with scale 0.5."""
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(0.0, 0.5, shape).astype(dtype)
                 for shape in (spec.W_shape, spec.x_shape, spec.y_shape))


def _sizes(specs) -> str:
    """``C = 5, L = 7, K = 3, ...; C = 2, ...``: the sizes of each layer checked."""
    return "; ".join(", ".join(f"{k} = {v}" for k, v in s.dims.items()) for s in specs)


def _name(key: str) -> str:
    """``dl_dW`` -> ``dl/dW``, ``y`` -> ``y``."""
    return key.replace("_d", "/d")




def check_exact(rank: int, specs=None, results: dict[str, Result] | None = None) -> list[Check]:
    """General index expressions == SymPy's entry-by-entry derivatives (difference 0)."""
    specs = specs or EXACT_SPECS[rank]
    results = results or general(rank)
    checks = []
    for key, result in results.items():
        mismatches, total, first = 0, 0, ""
        for spec in specs:
            mine, ref = instantiate(result, spec), elementwise(spec)[key]
            if mine.shape != ref.shape:
                mismatches += 1
                first = first or f"shape {mine.shape} vs {ref.shape} at {spec.dims}"
                continue
            for idx, a, b in zip(itertools.product(*(range(n) for n in ref.shape)),
                                 entries(mine), entries(ref), strict=True):
                total += 1
                if sp.expand(a - b) != 0:
                    mismatches += 1
                    first = first or f"entry {idx} at {spec.dims}: {a} vs {b}"
        outcome = (f"; {mismatches} differ, first {first}" if mismatches
                   else "; every difference simplifies to 0")
        detail = (f"{counted(total, 'entry', 'entries')} at "
                  f"{counted(len(specs), 'size')} ({_sizes(specs)}){outcome}")
        checks.append(Check.exact(f"{_name(key)}: the general formula",
                                  "SymPy's entry-by-entry derivatives",
                                  mismatches == 0, detail))
    return checks


def check_kernels_vs_formulas(rank: int, specs=None, grads: GradFn = kernels.grads,
                              seed: int = 1) -> list[Check]:
    """The NumPy kernels == the general formulas evaluated at random numbers."""
    specs = specs or EXACT_SPECS[rank][:2]
    results = general(rank)
    err = {"dl_dW": 0.0, "dl_dx": 0.0}
    for spec in specs:
        W, x, ybar = random_instance(spec, seed)
        arrays = {"W": W, "x": x, "ybar": ybar}
        got = dict(zip(("dl_dW", "dl_dx"), grads(W, x, ybar, spec), strict=True))
        for key in err:
            formula = np.array(instantiate(results[key], spec, arrays).tolist(), dtype=float)
            err[key] = max(err[key], relative_error(got[key], formula))
    return [Check(f"{_name(key)} (NumPy) vs the general formula",
                  "the general formula evaluated at random numbers", e, NUMERIC_TOL,
                  f"at {_sizes(specs)}") for key, e in err.items()]


def _loss(W, x, ybar, spec):
    return np.sum(ybar * kernels.forward(W, x, spec))


def check_complex_step(rank: int, specs=None, grads: GradFn = kernels.grads,
                       seed: int = 2) -> list[Check]:
    """Gradients == Im l(v + i h e_k) / h for every entry of W and x."""
    return _difference_check(rank, specs, grads, seed, "complex step", COMPLEX_STEP_TOL)


def check_central(rank: int, specs=None, grads: GradFn = kernels.grads,
                  seed: int = 3) -> list[Check]:
    """Gradients == (l(v + h e_k) - l(v - h e_k)) / 2h for every entry of W and x."""
    return _difference_check(rank, specs, grads, seed, "central differences", CENTRAL_TOL)


def _difference_check(rank, specs, grads, seed, how, tol) -> list[Check]:
    specs = specs or NUMERIC_SPECS[rank][:3]
    err = {"W": 0.0, "x": 0.0}
    for spec in specs:
        W, x, ybar = random_instance(spec, seed)
        got = dict(zip(("W", "x"), grads(W, x, ybar, spec), strict=True))
        for name in err:
            values = {"W": W, "x": x}
            base = values[name]
            numeric = np.zeros(base.shape)
            for idx in np.ndindex(base.shape):
                if how == "complex step":
                    bumped = base.astype(complex)
                    bumped[idx] += 1j * COMPLEX_STEP
                    args = {**values, name: bumped}
                    numeric[idx] = _loss(args["W"], args["x"], ybar, spec).imag / COMPLEX_STEP
                else:
                    up, down = base.copy(), base.copy()
                    up[idx] += CENTRAL_STEP
                    down[idx] -= CENTRAL_STEP
                    lu = _loss(*({**values, name: up}[k] for k in ("W", "x")), ybar, spec)
                    ld = _loss(*({**values, name: down}[k] for k in ("W", "x")), ybar, spec)
                    numeric[idx] = (lu - ld) / (2 * CENTRAL_STEP)
            err[name] = max(err[name], relative_error(got[name], numeric))
    return [Check(f"dl/d{name} (NumPy) by {how}",
                  f"{how}, every entry of {name} perturbed", e, tol, f"at {_sizes(specs)}")
            for name, e in err.items()]


def check_loops(rank: int, specs=None, forward=kernels.forward,
                grads: GradFn = kernels.grads, seed: int = 4) -> list[Check]:
    """Kernels == plain loops over every term of the forward sum and its chain rule."""
    specs = specs or NUMERIC_SPECS[rank]
    err = {"y": 0.0, "dl_dW": 0.0, "dl_dx": 0.0}
    for spec in specs:
        W, x, ybar = random_instance(spec, seed)
        gW, gx = grads(W, x, ybar, spec)
        lW, lx = reference.loop_grads(W, x, ybar, spec)
        err["y"] = max(err["y"], relative_error(forward(W, x, spec),
                                                reference.loop_forward(W, x, spec)))
        err["dl_dW"] = max(err["dl_dW"], relative_error(gW, lW))
        err["dl_dx"] = max(err["dl_dx"], relative_error(gx, lx))
    return [Check(f"{_name(key)} (NumPy) vs plain loops", "independent loop implementation",
                  e, NUMERIC_TOL, f"{counted(len(specs), 'size')}: {_sizes(specs)}")
            for key, e in err.items()]


def check_named(rank: int, specs=None, grads: GradFn = kernels.grads,
                seed: int = 5) -> list[Check]:
    """dl/dW is the correlation of x_pad with the stride-dilated ybar (sampled every D);
    dl/dx is the transposed convolution of ybar with W."""
    specs = specs or NUMERIC_SPECS[rank]
    err_w = err_x = 0.0
    for spec in specs:
        W, x, ybar = random_instance(spec, seed)
        gW, gx = grads(W, x, ybar, spec)
        err_w = max(err_w, relative_error(gW, reference.weight_grad_as_correlation(x, ybar, spec)))
        err_x = max(err_x, relative_error(gx, reference.input_grad_as_transposed_conv(W, ybar,
                                                                                      spec)))
    where = f"{counted(len(specs), 'size')}: {_sizes(specs)}"
    return [
        Check("dl/dW is a cross-correlation",
              "padded x correlated with the upstream gradient dilated by S, read at lags 0, D, "
              "…, D(K − 1)", err_w, NUMERIC_TOL, where),
        Check("dl/dx is a transposed convolution",
              "the upstream gradient dilated by S, fully convolved with W dilated by D, "
              "cropped by P", err_x, NUMERIC_TOL, where),
    ]


def all_checks(rank: int) -> list[Check]:
    """Every check of the rank-``rank`` layer (``derive check conv1d`` / ``conv2d``)."""
    return (check_exact(rank) + check_kernels_vs_formulas(rank) + check_complex_step(rank)
            + check_central(rank) + check_loops(rank) + check_named(rank)
            + shape_checks.all_checks(rank))
