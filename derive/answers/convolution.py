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

from derive.answers import Answer, problem
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
    text = (f"Output: F x {h_out} x {w_out} for F filters ({h_out} x {w_out} per filter; "
            f"1 x {h_out} x {w_out} with one filter).\n"
            f"  {results['height_steps']} (windows start at rows {rows})\n"
            f"  {results['width_steps']} (windows start at columns {cols})\n"
            f"  Note: {channels}.")
    latex = (
        rf"With $H_\text{{out}} = \lfloor (H + 2P - D(K-1) - 1)/S \rfloor + 1$ per axis "
        rf"(no padding, no dilation, stride ${s}$):"
        "\n\\begin{align*}\n"
        rf"H_\text{{out}} &= \left\lfloor \frac{{{H} - {kh}}}{{{s}}} \right\rfloor + 1 = {h_out}"
        rf" &&\text{{(windows start at rows {', '.join(map(str, rows))})}},\\"
        "\n"
        rf"W_\text{{out}} &= \left\lfloor \frac{{{W} - {kw}}}{{{s}}} \right\rfloor + 1 = {w_out}"
        rf" &&\text{{(windows start at columns {', '.join(map(str, cols))})}}."
        "\n\\end{align*}\n"
        rf"The output is $F \times {h_out} \times {w_out}$ for $F$ filters "
        rf"(${h_out} \times {w_out}$ with one filter): {channels}."
    )
    return Answer(pid, results, text, latex, checks)


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
    plain_h, plain_w = results["special_cases"]["stride_1_no_dilation_no_padding"][1:]
    text = (f"Output: F x H_out x W_out with\n  H_out = {printing.text(h_out)}\n"
            f"  W_out = {printing.text(w_out)}\n"
            f"  (the dilated kernel spans D(K-1)+1 inputs; C does not appear: each of the F "
            f"filters sums over all C input channels)\n"
            f"  S=1, D=1, P=0: F x ({printing.text(plain_h)}) x ({printing.text(plain_w)}); "
            f"S=1, 2P = D(K-1) (same "
            f"padding): F x H x W")
    latex = (
        r"The output is $F \times H_\text{out} \times W_\text{out}$ with"
        "\n\\[ " + f"H_\\text{{out}} = {printing.latex(h_out)},\\qquad "
        f"W_\\text{{out}} = {printing.latex(w_out)}" + " \\]\n"
        r"The dilated kernel spans $D(K-1)+1$ input positions, the padded input has $H+2P$ "
        r"(resp.\ $W+2P$), and windows start every $S$ positions. The number of input channels "
        r"$C$ does not appear: each of the $F$ filters sums over all $C$ channels. With "
        r"$S = D = 1$, $P = 0$ this is $F \times (H-K+1) \times (W-K+1)$; with $S=1$ and "
        r"$2P = D(K-1)$ the spatial size is kept (``same'' padding). The formula is defined when "
        r"$H + 2P \ge D(K-1)+1$ (and likewise for $W$)."
    )
    return Answer(pid, results, text, latex, checks)


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


@problem("dsga1008-hw2/1.1c")
def conv1d_jacobians(pid: str) -> Answer:
    spec = SPEC_1C
    ref = elementwise(spec)
    values = substitutions(spec)
    L_out = spec.out_sizes[0]
    i, m, p = OUT_IDX[0], KER_IDX[0], sp.Symbol("p", integer=True)
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

    text = _text(spec, results, shown, compare)
    latex = _latex(spec, results, ref, shown, i, m, p)
    return Answer(pid, results, text, latex, checks)


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


def _text(spec, results, shown, compare) -> str:
    g = results["general"]
    lines = [f"1-D layer {spec.dims} ({results['convention']})"]
    labels = {"i": "i) output y = f_W(x)", "ii": "ii) dy/dW", "iii": "iii) dy/dx",
              "iv": "iv) dl/dW", "dl_dx": "beyond: dl/dx"}
    for part, label in labels.items():
        r = results[part]
        dim = " x ".join(map(str, r["dimension"]))
        extra = (f" (as a matrix {r['matrix_dimension'][0]} x {r['matrix_dimension'][1]})"
                 if "matrix_dimension" in r else "")
        lines.append(f"{label}: dimension {dim}{extra}")
        lines.append(f"   {r['entry']} = {printing.text(r['expression'])}")
        if "is" in r:
            lines.append(f"   that is {r['is']}")
    lines.append("   explicitly:")
    txt = printing.text
    lines += [f"   y[0, {k}] = {txt(v)}" for k, v in enumerate(shown["y"])]
    lines += [f"   dl/dW[0, c, {k}] = {txt(v)}" for k, v in enumerate(shown["dl_dW"])]
    lines += [f"   dl/dx[c, {k}] = {txt(v)}" for k, v in enumerate(shown["dl_dx"])]
    lines.append(f"   compare with i): {compare}")
    lines.append("Going beyond: general C, L, K, S, D, P, F")
    lines.append(f"   L_out = {printing.text(g['output_size']['L_out'])}")
    for part in labels:
        r = g[part]
        lines.append(f"   {labels[part]}: {' x '.join(r['dimension'])}; "
                     f"{r['entry']} = {printing.text(r['expression'])}")
    return "\n".join(lines)


def _latex(spec, results, ref, shown, i, m, p) -> str:
    f = sp.Symbol("f", integer=True)
    L_out = spec.out_sizes[0]
    fwd = forward(1)
    gen = general(1)
    values = substitutions(spec)
    pos = printing.latex((S * i + D * m - P).xreplace(values))
    L = spec.sizes[0]
    times = r" \times "
    out = [r"Indices start at $0$; $\bar{y} = \partial l/\partial y$ is the given upstream "
           rf"gradient. With $L = {L}$, $K = {spec.K}$, $S = {spec.S}$, $D = {spec.D}$, "
           rf"$P = {spec.P}$: $L_\text{{out}} = \lfloor ({L} + 2 \cdot {spec.P} - {spec.D}"
           rf"({spec.K} - 1) - 1)/{spec.S} \rfloor + 1 = {L_out}$."]

    out.append(r"\textbf{(i)} $f_W(x) = y \in \mathbb{R}^{" + rf"1 \times {L_out}" + "}$ with")
    positions = ", ".join(str(k) for k in range(L_out))
    out.append(r"\[ " + printing.latex(fwd.lhs) + " = "
               + render.math_latex(fwd.rhs.xreplace(substitutions(spec)))
               + rf", \qquad i = {positions}. \]")
    out.append(r"that is")
    out.append("\\begin{align*}\n" + " \\\\\n".join(
        rf"y_{{0,{k}}} &= {printing.latex(v)}" for k, v in enumerate(shown["y"]))
        + "\n\\end{align*}")

    def section(part, key, label, symbol):
        r = results[part]
        res = gen[key]
        dim = r" \times ".join(map(str, r["dimension"]))
        extra = ""
        if "matrix_dimension" in r:
            extra = (rf" (a ${r['matrix_dimension'][0]} \times {r['matrix_dimension'][1]}$ "
                     r"matrix once flattened)")
        out.append(rf"\textbf{{{label}}} ${symbol} \in \mathbb{{R}}^{{{dim}}}${extra}:")
        out.append(r"\[ " + render.lhs_latex(res) + " = "
                   + render.math_latex(res.rhs.xreplace(substitutions(spec))) + r" \]")

    section("ii", "dy_dW", "(ii)", r"\partial y/\partial W")
    out.append(r"Row $c$, column $m$ of the matrix below is "
               r"$\partial y_{0,i}/\partial W_{0,c,m}$:")
    out.append(r"\[ " + r",\quad ".join(
        rf"\frac{{\partial y_{{0,{k}}}}}{{\partial W}} = "
        + _matrix_latex(ref["dy_dW"][0, k, 0].tolist()) for k in range(L_out)) + r" \]")

    section("iii", "dy_dx", "(iii)", r"\partial y/\partial x")
    out.append(r"Row $c$, column $p$ below is $\partial y_{0,i}/\partial x_{c,p}$:")
    out.append("\\begin{align*}\n" + " \\\\\n".join(
        rf"\frac{{\partial y_{{0,{k}}}}}{{\partial x}} &= "
        + _matrix_latex(ref["dy_dx"][0, k].tolist()) for k in range(L_out)) + "\n\\end{align*}")

    section("iv", "dl_dW", "(iv)", r"\partial l/\partial W")
    out.append("that is, for every channel $c$,")
    out.append("\\begin{align*}\n" + " \\\\\n".join(
        rf"\frac{{\partial l}}{{\partial W_{{0,c,{k}}}}} &= {printing.latex(v)}"
        for k, v in enumerate(shown["dl_dW"])) + "\n\\end{align*}")
    out.append(
        rf"Compared with (i): $\partial l/\partial W_{{0,c,m}} = \sum_i \bar{{y}}_{{0,i}}\, "
        rf"x_{{c,{pos}}}$ reads $x$ at the same positions ${pos}$ as $y_{{0,i}} = "
        rf"\sum_{{c,m}} W_{{0,c,m}}\, x_{{c,{pos}}}$. It is the same cross-correlation with the "
        rf"upstream gradient $\bar{{y}}$ (dilated by the stride ${spec.S}$) in the place of the "
        rf"kernel, done for each channel separately (no sum over $c$), giving $K = {spec.K}$ "
        rf"values per channel read every $D = {spec.D}$ position: stride and dilation exchange "
        rf"roles. $\partial l/\partial W$ has the dimension of $W$, "
        rf"${times.join(map(str, spec.W_shape))}$, while $y$ is "
        rf"${times.join(map(str, spec.y_shape))}$. In general it is "
        + render.NAMED_LATEX["dl_dW"] + ".")

    section("dl_dx", "dl_dx", "Going beyond:", r"\partial l/\partial x")
    out.append("that is, for every channel $c$,")
    out.append("\\begin{align*}\n" + " \\\\\n".join(
        rf"\frac{{\partial l}}{{\partial x_{{c,{k}}}}} &= {printing.latex(v)}"
        for k, v in enumerate(shown["dl_dx"])) + "\n\\end{align*}")
    out.append("This is " + render.NAMED_LATEX["dl_dx"] + ".")

    out.append(r"\textbf{General sizes} $C, L, K, S, D, P, F$ (input $x \in \mathbb{R}^{C \times "
               r"L}$, $W \in \mathbb{R}^{F \times C \times K}$; $x$ is zero outside "
               r"$0 \le p < L$):")
    out.append(render.as_latex(1).split("\n", 1)[1])
    del f, i, m, p
    return "\n".join(out).replace("\n\\textbf{", "\n\n\\textbf{")
