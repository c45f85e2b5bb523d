"""Answers on the row/column image RNN of cmsc25500-midterm/6 (a-e).

Result keys (formulas are SymPy objects in the catalogue's symbols):

* ``cmsc25500-midterm/6a``: ``source`` (of the checked forward), ``equations``,
  ``implementation``.
* ``6b``: ``source`` (of the checked backward), ``implementation``, ``complex_step_error``,
  ``central_error``.
* ``6c``: ``receptive_field_size`` (formula in ``i, j``, 0-based), ``receptive_field``,
  ``scalars`` (times ``C``).
* ``6d``: ``flops``, ``flops_min``, ``conv3x3_flops``, ``ratio``, ``sequential_steps``,
  ``convention``.
* ``6e``: ``pros``, ``cons``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np
import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, counted, relative_error
from derive.checks.counts import (
    agree,
    agree_on_grid,
    claim,
    grid_samples,
)
from derive.topics.cnn.accounting import account
from derive.topics.cnn.bruteforce import naive_counts
from derive.topics.grid import image_rnn, mdrnn, pixelcnn
from derive.topics.grid.dag import longest_path

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


def _scan_reference(x: np.ndarray, params: dict) -> np.ndarray:
    """One sequence at a time (no vectorisation): the check of the vectorised forward."""
    batch, rows, cols, c = x.shape
    ya = np.zeros_like(x)
    for b in range(batch):
        for i in range(rows):
            h = np.zeros(c)
            for j in range(cols):
                h = np.tanh(params["W_hh_A"] @ h + params["W_xh_A"] @ x[b, i, j])
                ya[b, i, j] = h
    out = np.zeros_like(x)
    for b in range(batch):
        for j in range(cols):
            h = np.zeros(c)
            for i in range(rows):
                h = np.tanh(params["W_hh_B"] @ h + params["W_yh_B"] @ ya[b, i, j])
                out[b, i, j] = h
    return out


def _source(fn: Callable) -> str:
    """The code the checks run, as printed in the answer."""
    return inspect.getsource(fn).rstrip()


@problem("cmsc25500-midterm/6a")
def answer_6a(pid: str) -> Answer:
    x, params, _ = image_rnn.random_instance(2, 3, 4, 3, seed=1)
    _, hb = image_rnn.forward(x, params)
    err = relative_error(hb, _scan_reference(x, params))
    checks = [Check("vectorised forward (N = 2, H = 3, W = 4, C = 3)",
                    "one sequence at a time", err, 1e-14)]
    source = _source(image_rnn.forward)
    equations = ("hA[i,j] = tanh(W_hh^A hA[i,j-1] + W_xh^A x[i,j]); Y = H^A; "
                 "hB[i,j] = tanh(W_hh^B hB[i-1,j] + W_yh^B y[i,j]); zero initial states "
                 "(before j = 0 and before i = 0)")
    results = {"equations": equations, "source": source,
               "implementation": "derive.topics.grid.image_rnn.forward"}
    return from_template(pid, results, checks)


def gradient_checks(backward: Callable[..., dict] = image_rnn.backward) -> list[Check]:
    """``backward`` against complex-step (every entry) and central differences."""
    x, params, upstream = image_rnn.random_instance(2, 3, 4, 2, seed=3)
    grads = backward(x, params, upstream)
    step = 1e-30
    names = [*image_rnn.PARAMS, "X"]
    complex_err = central_err = 0.0
    for name in names:
        base = x if name == "X" else params[name]
        cs, cd = np.zeros(base.shape), np.zeros(base.shape)
        for idx in np.ndindex(base.shape):
            moved = {n: v.astype(complex) for n, v in params.items()}
            xc = x.astype(complex)
            target = xc if name == "X" else moved[name]
            target[idx] += 1j * step
            cs[idx] = np.sum(upstream * image_rnn.forward(xc, moved)[1]).imag / step
            values = []
            for sign in (1, -1):
                real = {n: v.copy() for n, v in params.items()}
                xr = x.copy()
                (xr if name == "X" else real[name])[idx] += sign * 1e-6
                values.append(np.sum(upstream * image_rnn.forward(xr, real)[1]))
            cd[idx] = (values[0] - values[1]) / 2e-6
        complex_err = max(complex_err, relative_error(grads[name], cs))
        central_err = max(central_err, relative_error(grads[name], cd))
    size = "N = 2, H = 3, W = 4, C = 2"
    return [
        Check(f"backward, all 5 gradients ({size})", "complex-step, h = 1e-30", complex_err,
              1e-12),
        Check(f"backward, all 5 gradients ({size})", "central differences, h = 1e-6",
              central_err, 1e-7),
    ]


@problem("cmsc25500-midterm/6b")
def answer_6b(pid: str) -> Answer:
    checks = gradient_checks()
    source = _source(image_rnn.backward)
    results = {"source": source, "implementation": "derive.topics.grid.image_rnn.backward",
               "complex_step_error": checks[0].error, "central_error": checks[1].error}
    return from_template(pid, results, checks)


FIELD_SIZE = (4, 5, 2)  # rows, columns, channels of the perturbed instance


@functools.cache
def _image_fields() -> np.ndarray:
    return image_rnn.perturbation_fields(*FIELD_SIZE)


def receptive_checks(size: sp.Expr) -> list[Check]:
    """A claimed receptive-field size of output (i, j) (0-based) against perturbation; and
    the field's shape: exactly the inputs above-left of (i, j)."""
    rows, cols, c = FIELD_SIZE
    dep = _image_fields()
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    samples = [({i: a, j: b}, int(dep[a, b].sum())) for a in range(rows) for b in range(cols)]
    shape_bad = []
    for a in range(rows):
        for b in range(cols):
            expected = np.zeros((rows, cols), dtype=bool)
            expected[: a + 1, : b + 1] = True
            if not np.array_equal(dep[a, b], expected):
                shape_bad.append((a, b))
    return [
        agree(f"receptive field size, every output ({rows} x {cols}, C = {c})",
              "perturbation of every input location", size, samples,
              f"every (i, j) of a {rows} by {cols} image", unit="output"),
        Check.exact(f"receptive field region, every output ({rows} x {cols}, C = {c})",
                    "perturbation of every input location", not shape_bad,
                    f"differs at {shape_bad}" if shape_bad else
                    "each output depends exactly on the inputs above-left of it"),
    ]


@problem("cmsc25500-midterm/6c")
def answer_6c(pid: str) -> Answer:
    size, region = image_rnn.receptive_field_formula()
    checks = receptive_checks(size)
    results = {"receptive_field_size": size, "receptive_field": region,
               "scalars": size * sp.Symbol("C", positive=True, integer=True)}
    return from_template(pid, results, checks)


MODULE_FLOP_GRID = {image_rnn.Hs: (1, 2, 3), image_rnn.Ws: (1, 2, 3), image_rnn.Cs: (1, 2, 3, 4)}
CONV_FLOP_GRID = {image_rnn.Hs: (2, 3, 4), image_rnn.Ws: (2, 3, 4), image_rnn.Cs: (1, 2, 3)}


@functools.cache
def _image_counts() -> dict[str, list]:
    """Operations counted by naive loops: the module (dense and minimum) and a 3x3 conv."""
    def conv3x3(a: int, b: int, c: int) -> int:
        table = account(f"conv {c} 3x3 same", (a, b, c))
        return naive_counts(table.layers, (a, b, c))[0]["flops"]

    return {"dense": grid_samples(MODULE_FLOP_GRID, image_rnn.naive_flops),
            "minimum": grid_samples(MODULE_FLOP_GRID, lambda a, b, c: image_rnn.naive_flops(
                a, b, c, dense=False)),
            "conv": grid_samples(CONV_FLOP_GRID, conv3x3)}


def flops_checks(dense: sp.Expr, minimum: sp.Expr, conv: sp.Expr) -> list[Check]:
    """Claimed FLOP formulas against instrumented naive loops (module and 3x3 conv)."""
    counts = _image_counts()
    return [agree_on_grid("module FLOPs (dense)", "instrumented naive loops", dense,
                          MODULE_FLOP_GRID, counts["dense"]),
            agree_on_grid("module FLOPs (minimum)", "instrumented naive loops", minimum,
                          MODULE_FLOP_GRID, counts["minimum"]),
            agree_on_grid("3 by 3 conv FLOPs", "instrumented naive conv loops", conv,
                          CONV_FLOP_GRID, counts["conv"])]


STEPS_GRID = {image_rnn.Hs: (1, 2, 3), image_rnn.Ws: (1, 2, 3)}


def sequential_steps_check(steps: sp.Expr) -> Check:
    """The module's sequential steps against the longest path of its dependency graph."""
    samples = grid_samples(STEPS_GRID, lambda a, b: longest_path(
        image_rnn.dependency_graph(a, b))[0])
    held_out = [({image_rnn.Hs: 7, image_rnn.Ws: 4},
                 longest_path(image_rnn.dependency_graph(7, 4))[0])]
    return agree_on_grid("sequential steps of the module", "longest path of its dependency "
                         "graph", steps, STEPS_GRID, samples, held_out)


@problem("cmsc25500-midterm/6d")
def answer_6d(pid: str) -> Answer:
    hs, ws = image_rnn.Hs, image_rnn.Ws
    dense, minimum = image_rnn.flops_formula(), image_rnn.flops_formula(dense=False)
    conv = image_rnn.conv3x3_flops_formula()
    ratio = sp.simplify(dense / conv)
    checks = [*flops_checks(dense, minimum, conv), sequential_steps_check(hs + ws)]
    convention = ("A C x C matrix-vector product costs C(2C - 1), a vector addition C, tanh "
                  "one per element; the conv counts 2 x 9C per output (with bias, padded "
                  "positions included).")
    results = {"flops": dense, "flops_min": minimum, "conv3x3_flops": conv, "ratio": ratio,
               "sequential_steps": hs + ws, "convention": convention}
    return from_template(pid, results, checks)


WEIGHT_GRID = {image_rnn.Cs: (1, 2, 3, 4)}


@functools.cache
def _weight_counts() -> dict[str, list]:
    """Weights of the built module and of a built 3x3 conv (with bias), C = 1..4."""
    def module(c: int) -> int:
        return sum(int(w.size) for w in image_rnn.random_instance(1, 1, 1, c)[1].values())

    def conv3x3(c: int) -> int:
        table = account(f"conv {c} 3x3 same", (3, 3, c))
        return naive_counts(table.layers, (3, 3, c))[0]["params"]

    return {"module": grid_samples(WEIGHT_GRID, module),
            "conv": grid_samples(WEIGHT_GRID, conv3x3)}


def pros_cons_checks(numbers: dict) -> list[Check]:
    """6e's numbers: the last output's field, both weight counts, the FLOP ratio."""
    rows, cols, _ = FIELD_SIZE
    counts, flops = _weight_counts(), _image_counts()
    measured_ratios = {sp.Rational(image_rnn.naive_flops(p[image_rnn.Hs], p[image_rnn.Ws],
                                                         p[image_rnn.Cs]), n)
                       for p, n in flops["conv"]}
    ratio_ok = measured_ratios == {numbers["ratio"]}
    return [
        claim(f"receptive field of the last output ({rows} by {cols})",
              "perturbation of every input location", numbers["last_field"],
              int(_image_fields()[rows - 1, cols - 1].sum())),
        agree_on_grid("module weights", "arrays of the built module", numbers["weights"],
                      WEIGHT_GRID, counts["module"]),
        agree_on_grid("3 by 3 conv weights (with bias)", "weights read by naive conv loops",
                      numbers["conv_weights"], WEIGHT_GRID, counts["conv"]),
        Check.exact("FLOP ratio, module to 3 by 3 conv", "instrumented naive loops, both",
                    ratio_ok, f"claimed {numbers['ratio']}, measured "
                    + ", ".join(str(r) for r in sorted(measured_ratios))
                    + f" at {counted(len(flops['conv']), 'size')}"),
    ]


EQUIVARIANCE_SIZE = (4, 5, 3, 2)  # rows, columns, channels, zero margin of the shifted image


def equivariance_check(forward_fn: Callable | None = None) -> Check:
    """The module commutes with shifts (zero-padding semantics): every shift of up to the
    margin, of an image framed by zeros."""
    rows, cols, c, margin = EQUIVARIANCE_SIZE
    error = image_rnn.shift_equivariance_error(rows, cols, c, margin, forward_fn=forward_fn)
    return Check(f"translation equivariance ({rows} x {cols}, C = {c}, shifts up to {margin})",
                 "the output of the shifted input against the shifted output", error, 1e-12)


@problem("cmsc25500-midterm/6e")
def answer_6e(pid: str) -> Answer:
    c = image_rnn.Cs
    rows, cols, _ = FIELD_SIZE
    size, _ = image_rnn.receptive_field_formula()
    i, j = sorted(size.free_symbols, key=str)
    numbers = {"ratio": sp.simplify(image_rnn.flops_formula()
                                    / image_rnn.conv3x3_flops_formula()),
               "last_field": int(size.subs({i: rows - 1, j: cols - 1})),
               "weights": 4 * c**2,  # four C x C matrices
               "conv_weights": 9 * c**2 + c}  # C filters of 3 x 3 x C, and C biases
    checks = [*pros_cons_checks(numbers), equivariance_check()]
    pros = [
        f"Global context in one layer: output (i, j) sees (i+1)(j+1) input locations (all "
        f"{numbers['last_field']} of a {rows} x {cols} input for the last one) against 9 for a "
        "3x3 conv.",
        f"Fewer FLOPs ({numbers['ratio']} of a 3x3 conv with C channels) and fewer weights "
        "(4C^2 against 9C^2 + C).",
    ]
    cons = [
        "Sequential: W + H dependent steps (RNN A then RNN B) where a conv is one parallel step.",
        "One-sided context: nothing below or right of (i, j) is seen. Four such modules, "
        "scanning from the four corners, give every output the whole image, at four times "
        "the cost.",
        "Position-dependent extent: the field of (i, j) is the (i+1)(j+1) locations above-left "
        "of it, so outputs near the top-left corner see little and those near the bottom-right "
        "see the whole image. The map itself is translation equivariant (zero initial states, "
        "no biases: both scans commute with shifts, like a zero-padded convolution); what "
        "changes with position is how much of the image lies above-left.",
        "Long recurrent paths make gradients vanish or explode across the image.",
    ]
    return from_template(pid, {"pros": pros, "cons": cons, "numbers": numbers}, checks,
                         size=size, rows=rows, cols=cols, shift=EQUIVARIANCE_SIZE[3],
                         equivariance=checks[-1].error)
