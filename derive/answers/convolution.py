"""Answers to dsga1008-hw2/1.1a-c: convolution output sizes and the 1-D layer's Jacobians.

Result keys (``derive answer ID --format json``):

``1.1a``: ``input`` [H, W], ``kernel`` [K_h, K_w], ``stride``, ``padding``, ``dilation``;
``output_shape`` [H_out, W_out] (integers: the map each filter produces; the question gives
no filter count) and ``spatial_shape`` (the same); ``channels`` "F" (the output has one
channel per filter); ``output_shape_formula`` [F, H_out, W_out] (a formula in the symbol F,
to compare a full tensor shape with); ``output_shape_one_filter``; ``window_rows`` /
``window_cols`` (the
first input row / column of every window, enumerated); ``height_steps`` / ``width_steps``
(the formula with the numbers put in); ``output_channels`` (why F and not C).

``1.1b``: ``output_shape`` [F, H_out, W_out] as SymPy expressions in C, H, W, K, P, S, D, F;
``H_out`` and ``W_out``; ``kernel_extent`` D(K-1)+1; ``special_cases`` (S=1, D=1, P=0 and
"same" padding) and ``condition`` (when the layer is defined).

``1.1c``: ``instance`` (the dims); ``convention``; parts ``i`` (the output), ``ii``
(dy/dW), ``iii`` (dy/dx), ``iv`` (dl/dW) and, beyond the question, ``dl_dx``: each with
``dimension`` (list of ints), ``entry`` (what is given), ``expression`` (the index
expression at these sizes, SymPy) and ``array`` (every entry, from SymPy's differentiation
of the forward definition; nested lists). ``ii``/``iii`` add ``matrix_dimension`` (the
Jacobian as a matrix). ``iv`` adds ``compare_with_i`` and ``is``; ``dl_dx`` adds ``is``.
``general``: the same five for general C, L, K, S, D, P, F (``dimension`` as size names,
``expression`` SymPy) and ``output_size`` {``L_out``: formula}.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, relative_error
from derive.topics.conv import kernels, printing, render, shape_checks, verify
from derive.topics.conv.jacobians import (
    KER_IDX,
    OUT_IDX,
    D,
    F,
    K,
    P,
    S,
    c,
    elementwise,
    evaluate,
    forward,
    general,
    out_size_formulas,
    padded_lookup,
    substitutions,
)
from derive.topics.conv.shapes import output_size
from derive.topics.conv.spec import ConvSpec

# dsga1008-hw2/1.1a
INPUT_1A = (21, 12)
KERNEL_1A = (4, 5)
STRIDE_1A = 4


def _steps(n: int, k: int, s: int) -> str:
    return f"floor(({n} + 2(0) - 1({k} - 1) - 1)/{s}) + 1 = floor({n - k}/{s}) + 1"


@problem("dsga1008-hw2/1.1a")
def output_size_21x12(pid: str) -> Answer:
    (H, W), (kh, kw), s = INPUT_1A, KERNEL_1A, STRIDE_1A
    h_out, w_out = output_size(H, kh, stride=s), output_size(W, kw, stride=s)
    rows = [r for r in range(H) if r % s == 0 and r + kh <= H]
    cols = [q for q in range(W) if q % s == 0 and q + kw <= W]
    # A direct NumPy convolution: 3 input channels, 2 filters.
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, H, W)), rng.normal(size=(2, 3, kh, kw))
    y = np.einsum("chwab,fcab->fhw", sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::s, ::s],
                  w)
    checks = [
        Check.exact("output height and width", "windows enumerated",
                    (h_out, w_out) == (len(rows), len(cols)),
                    f"windows start at rows {', '.join(map(str, rows))} and columns "
                    f"{', '.join(map(str, cols))}"),
        Check.exact("output shape", "NumPy convolution, C = 3 channels, F = 2 filters",
                    y.shape == (2, h_out, w_out),
                    f"NumPy gives {' × '.join(map(str, y.shape))}"),
        shape_checks.check_formula(),
    ]
    channels = ("the output has one channel per filter (F), not the C input channels: each "
                "filter sums over all input channels")
    results = {
        "input": list(INPUT_1A), "kernel": list(KERNEL_1A), "stride": s, "padding": 0,
        "dilation": 1,
        "output_shape": [h_out, w_out],
        "spatial_shape": [h_out, w_out],
        "channels": "F",
        "output_shape_formula": [sp.Symbol("F"), h_out, w_out],
        "output_shape_one_filter": [1, h_out, w_out],
        "window_rows": rows, "window_cols": cols,
        "height_steps": f"H_out = {_steps(H, kh, s)} = {h_out}",
        "width_steps": f"W_out = {_steps(W, kw, s)} = {w_out}",
        "output_channels": channels,
    }
    return from_template(pid, results, checks)


@problem("dsga1008-hw2/1.1b")
def output_size_general(pid: str) -> Answer:
    h_out, w_out = out_size_formulas(2).values()
    extent = D * (K - 1) + 1
    same = {S: 1, P: D * (K - 1) / 2}
    plain = {S: 1, D: 1, P: 0}
    results = {
        "output_shape": [F, h_out, w_out],
        "H_out": h_out,
        "W_out": w_out,
        "kernel_extent": extent,
        "special_cases": {
            "stride_1_no_dilation_no_padding": [F, h_out.xreplace(plain),
                                                w_out.xreplace(plain)],
            "stride_1_same_padding": [F, sp.expand(h_out.xreplace(same)),
                                      sp.expand(w_out.xreplace(same))],
        },
        "condition": "H + 2P >= D(K-1) + 1 and W + 2P >= D(K-1) + 1 (the dilated kernel fits "
                     "in the padded input; implied by H, W >= K when D = 1)",
    }
    checks = [shape_checks.check_formula(),
              shape_checks.check_formula(against=shape_checks.numpy_windows,
                                         name="NumPy sliding windows"),
              shape_checks.check_conv_shape(2)]
    return from_template(pid, results, checks, h_out=printing.latex(h_out),
                         w_out=printing.latex(w_out))


# dsga1008-hw2/1.1c: x in R^{5x7}, one filter, kernel 3, stride 2, no dilation or padding.
SPEC_1C = ConvSpec.from_dims(1)
# The general formulas are proved at the 1.1c sizes and at sizes with F, D and P above their
# 1.1c values (2 filters, dilation 2, padding 1): with P = 0 and D = 1 a dropped padding or
# dilation term would go unseen.
EXACT_SPECS_1C = (SPEC_1C, ConvSpec(2, (9,), 3, 2, 2, 1, 2))

PART_KEYS = {"i": "y", "ii": "dy_dW", "iii": "dy_dx", "iv": "dl_dW", "dl_dx": "dl_dx"}


def _general_parts() -> dict:
    fwd = forward(1)
    out = {"output_size": {str(k): v for k, v in out_size_formulas(1).items()},
           "i": {"dimension": ["F", "L_out"], "entry": str(fwd.lhs), "expression": fwd.rhs}}
    for part, key in PART_KEYS.items():
        if key == "y":
            continue
        result = general(1)[key]
        out[part] = {"dimension": render.dimension(result), "entry": render.lhs_text(result),
                     "expression": result.rhs}
        if key in render.NAMED:
            out[part]["is"] = render.NAMED[key]
    return out


def _channel_generic(key: str, free: dict) -> sp.Expr:
    """One entry of a general result at the 1.1c sizes, the channel ``c`` left symbolic."""
    rhs = forward(1).rhs.function if key == "y" else general(1)[key].rhs
    if key == "y":  # keep the sum over channels, expand the one over kernel offsets
        rhs = sp.Sum(rhs, (KER_IDX[0], 0, K - 1))
    value = evaluate(rhs, {**substitutions(SPEC_1C), **free}, padded_lookup(SPEC_1C))
    if key == "y":
        value = sp.Sum(value, (c, 0, SPEC_1C.C - 1))
    return value


def _matrix_latex(rows) -> str:
    body = r" \\ ".join(" & ".join(printing.latex(v) for v in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def _times(shape) -> str:
    """``[1, 5, 3]`` as ``1 \\times 5 \\times 3``."""
    return r" \times ".join(map(str, shape))


@problem("dsga1008-hw2/1.1c")
def conv1d_jacobians(pid: str) -> Answer:
    spec = SPEC_1C
    ref = elementwise(spec)
    values = substitutions(spec)
    L_out = spec.out_sizes[0]
    i, m = OUT_IDX[0], KER_IDX[0]
    parts: dict = {}
    fwd = forward(1)
    parts["i"] = {"dimension": list(spec.y_shape), "entry": str(fwd.lhs),
                  "expression": fwd.rhs.xreplace(values), "array": ref["y"].tolist()}
    for part, key in PART_KEYS.items():
        if key == "y":
            continue
        result = general(1)[key]
        parts[part] = {"dimension": render.dimension(result, spec),
                       "entry": render.lhs_text(result),
                       "expression": result.rhs.xreplace(values),
                       "array": ref[key].tolist()}
        if key.startswith("dy_"):
            dims = parts[part]["dimension"]
            parts[part]["matrix_dimension"] = [int(np.prod(dims[:2])), int(np.prod(dims[2:]))]
        if key in render.NAMED:
            parts[part]["is"] = render.NAMED[key]
    pos = (S * i + D * m - P).xreplace(values)
    dims_w = " x ".join(map(str, spec.W_shape))
    dims_y = " x ".join(map(str, spec.y_shape))
    compare = (f"dl/dW[0, c, m] = sum_i ybar[0, i] x[c, {pos}] reads x at the same positions "
               f"{pos} as y[0, i] = sum_c sum_m W[0, c, m] x[c, {pos}]: it is the same "
               f"cross-correlation with the upstream gradient ybar (dilated by the stride "
               f"{spec.S}) in the place of the kernel, done for each channel c separately (no "
               f"sum over c), giving K = {spec.K} values per channel read every D = {spec.D} "
               f"position(s) (the dilation plays the stride's role); dl/dW has W's dimension "
               f"{dims_w} while y is {dims_y}")
    parts["iv"]["compare_with_i"] = compare
    results = {"instance": spec.dims, "convention": render.convention(1), **parts,
               "general": _general_parts()}

    # Channel-generic displays, each checked against the elementwise arrays channel by channel.
    shown = {
        "y": [_channel_generic("y", {OUT_IDX[0]: k, sp.Symbol("f", integer=True): 0})
              for k in range(L_out)],
        "dl_dW": [_channel_generic("dl_dW", {m: k, sp.Symbol("f", integer=True): 0})
                  for k in range(spec.K)],
        "dl_dx": [_channel_generic("dl_dx", {sp.Symbol("p", integer=True): k})
                  for k in range(spec.sizes[0])],
    }
    bad = sum(sp.expand(shown["y"][k].doit() - ref["y"][0, k]) != 0 for k in range(L_out))
    for ch in range(spec.C):
        bad += any(sp.expand(shown["dl_dW"][k].xreplace({c: ch}) - ref["dl_dW"][0, ch, k]) != 0
                   for k in range(spec.K))
        bad += any(sp.expand(shown["dl_dx"][k].xreplace({c: ch}) - ref["dl_dx"][ch, k]) != 0
                   for k in range(spec.sizes[0]))
    checks = verify.check_exact(1, specs=EXACT_SPECS_1C)
    checks.append(Check.exact("the entries displayed for every channel c",
                              "SymPy's entry-by-entry derivatives, channel by channel",
                              bad == 0, f"all agree, for each of the {spec.C} channels"
                              if bad == 0 else f"{bad} differ"))
    checks += verify.check_complex_step(1, specs=(spec,))
    checks += verify.check_named(1, specs=(spec,))
    checks.append(_check_swapped_roles(spec))
    checks.append(shape_checks.check_formula())

    tex = printing.latex
    entries = {part: (render.lhs_latex(general(1)[key]),
                      render.math_latex(general(1)[key].rhs.xreplace(values)))
               for part, key in PART_KEYS.items() if key != "y"}
    return from_template(
        pid, results, checks, spec=spec,
        forward=(tex(fwd.lhs), render.math_latex(fwd.rhs.xreplace(values))),
        shown={key: [tex(v) for v in vs] for key, vs in shown.items()},
        dims={part: _times(parts[part]["dimension"]) for part in PART_KEYS}, entries=entries,
        dy_dW=[_matrix_latex(ref["dy_dW"][0, k, 0].tolist()) for k in range(L_out)],
        dy_dx=[_matrix_latex(ref["dy_dx"][0, k].tolist()) for k in range(L_out)],
        pos=tex(pos), W_shape=_times(spec.W_shape), y_shape=_times(spec.y_shape),
        named=render.NAMED_LATEX, general=render.as_latex(1).split("\n", 1)[1])


def _check_swapped_roles(spec: ConvSpec, grads=kernels.grads, seed: int = 6) -> Check:
    """dl/dW[f, c] == the forward layer run on x_pad[c] with kernel ybar[f], stride D and
    dilation S (first K outputs): part iv's comparison with part i, numerically."""
    W, x, ybar = verify.random_instance(spec, seed)
    gW, _ = grads(W, x, ybar, spec)
    L_out = spec.out_sizes[0]
    swapped = ConvSpec(1, (spec.sizes[0] + 2 * spec.P,), L_out, spec.D, spec.S, 0, 1)
    xp = kernels.pad(x, spec)
    via_forward = np.array([[kernels.forward(ybar[f][None, None, :], xp[ch][None, :],
                                             swapped)[0, :spec.K] for ch in range(spec.C)]
                            for f in range(spec.F)])
    return Check("dl/dW is the forward layer of part (i), the upstream gradient as kernel",
                 "the forward layer run on the padded x, stride and dilation exchanged",
                 relative_error(gW, via_forward), verify.NUMERIC_TOL,
                 "random W, x and upstream gradient")
