"""Text, LaTeX and JSON renderings of the derived convolution results."""

from __future__ import annotations

import sympy as sp

from derive.topics.conv import printing
from derive.topics.conv.jacobians import (
    Result,
    forward,
    general,
    out_size_formulas,
    substitutions,
)
from derive.topics.conv.spec import ConvSpec

KEYS = ("dy_dW", "dy_dx", "dl_dW", "dl_dx")

TITLES = {
    "dy_dW": "Jacobian of the output with respect to the weights",
    "dy_dx": "Jacobian of the output with respect to the input",
    "dl_dW": "gradient of the loss with respect to the weights",
    "dl_dx": "gradient of the loss with respect to the input",
}

NAMED = {
    "dl_dW": "a cross-correlation of the zero-padded input x with the upstream gradient ybar "
             "dilated by the stride S (S - 1 zeros between neighbouring entries), read at lags "
             "0, D, ..., D(K-1): the forward pass with ybar as the kernel and the roles of "
             "stride and dilation exchanged",
    "dl_dx": "a transposed convolution of ybar with W (stride S, dilation D, padding P): ybar "
             "dilated by S, fully convolved with the kernel dilated by D, cropped by P on each "
             "side; input positions that no window reads get gradient 0",
}

NAMED_LATEX = {
    "dl_dW": r"a cross-correlation of the zero-padded input $x$ with the upstream gradient "
             r"$\bar{y}$ dilated by the stride $S$ ($S-1$ zeros between neighbouring entries), "
             r"read at lags $0, D, \dots, D(K-1)$: the forward pass with $\bar{y}$ as the kernel "
             r"and the roles of stride and dilation exchanged",
    "dl_dx": r"a transposed convolution of $\bar{y}$ with $W$ (stride $S$, dilation $D$, "
             r"padding $P$): $\bar{y}$ dilated by $S$, fully convolved with the kernel dilated "
             r"by $D$, cropped by $P$ on each side; input positions that no window reads get "
             r"gradient $0$",
}

CONVENTION = ("indices start at 0; x[c, p] = 0 outside 0 <= p < {sizes} (zero padding P); "
              "ybar = dl/dy is the upstream gradient and l = sum ybar * y")


def convention(rank: int) -> str:
    return CONVENTION.format(sizes="L" if rank == 1 else "H (rows), W (columns)")


def lhs_text(result: Result) -> str:
    expr, (var, _) = result.lhs.args[0], result.lhs.args[1]
    return f"d {expr} / d {var}"


def lhs_latex(result: Result) -> str:
    expr, (var, _) = result.lhs.args[0], result.lhs.args[1]
    return rf"\frac{{\partial {printing.latex(expr)}}}{{\partial {printing.latex(var)}}}"


def output_rank(result: Result, rank: int) -> int:
    """How many leading axes of ``result.shape`` belong to the differentiated output."""
    return rank + 1 if result.key.startswith("dy_") else 0


def dimension(result: Result, spec: ConvSpec | None = None) -> list:
    """The shape: size names, or integers at the sizes of ``spec``."""
    if spec is None:
        return [str(n) for n in result.shape]
    values = substitutions(spec)
    return [int(sp.sympify(n).xreplace(values)) for n in result.shape]


def dimension_text(result: Result, rank: int, spec: ConvSpec | None = None) -> str:
    dims = [str(d) for d in dimension(result, spec)]
    k = output_rank(result, rank)
    if not k:
        return " x ".join(dims)
    return f"({' x '.join(dims[:k])}) x ({' x '.join(dims[k:])})"


def dimension_latex(result: Result, rank: int, spec: ConvSpec | None = None) -> str:
    dims = dimension(result, spec)
    parts = [printing.latex(sp.Symbol(d)) if isinstance(d, str) else str(d) for d in dims]
    k = output_rank(result, rank)
    if not k:
        return r"\mathbb{R}^{" + r" \times ".join(parts) + "}"
    return (r"\mathbb{R}^{(" + r" \times ".join(parts[:k]) + r") \times ("
            + r" \times ".join(parts[k:]) + ")}")


def math_latex(expr: sp.Expr) -> str:
    """LaTeX with a sum over several indices written as nested sums (``\\sum_c \\sum_m``),
    which reads better than one sum under a stack of limits."""
    if not isinstance(expr, sp.Sum):
        return printing.latex(expr)
    tex = printing.latex
    sums = " ".join(rf"\sum_{{{tex(v)}={tex(lo)}}}^{{{tex(hi)}}}" for v, lo, hi in expr.limits)
    body = math_latex(expr.function)
    if isinstance(expr.function, sp.Add):
        body = rf"\left({body}\right)"
    return f"{sums} {body}"


def at_sizes(expr: sp.Expr, spec: ConvSpec) -> sp.Expr:
    """A general formula with the sizes of ``spec`` put in (sums kept unexpanded)."""
    return expr.xreplace(substitutions(spec))


def describe(rank: int, spec: ConvSpec | None = None) -> dict:
    """The derived results as JSON-ready values (formulas as SymPy objects)."""
    fwd = forward(rank)
    out = {
        "convention": convention(rank),
        "forward": {"lhs": fwd.lhs, "expression": fwd.rhs},
        "output_size": {str(k): v for k, v in out_size_formulas(rank).items()},
        "results": {},
    }
    if spec is not None:
        out["dims"] = spec.dims
        out["forward"]["at_dims"] = at_sizes(fwd.rhs, spec)
        out["output_size_at_dims"] = dict(zip((str(k) for k in out_size_formulas(rank)),
                                              spec.out_sizes, strict=True))
    for key, result in general(rank).items():
        entry = {"lhs": lhs_text(result), "expression": result.rhs,
                 "dimension": dimension(result)}
        if spec is not None:
            entry["dimension_at_dims"] = dimension(result, spec)
            entry["expression_at_dims"] = at_sizes(result.rhs, spec)
        if key in NAMED:
            entry["is"] = NAMED[key]
        out["results"][key] = entry
    return out


def as_text(rank: int, spec: ConvSpec | None = None) -> str:
    fwd = forward(rank)
    txt = printing.text
    lines = [f"{rank}-D cross-correlation layer ({convention(rank)})",
             f"  {fwd.lhs} = {txt(fwd.rhs)}"]
    for a, (k, v) in enumerate(out_size_formulas(rank).items()):
        lines.append(f"  {k} = {txt(v)}" + (f" = {spec.out_sizes[a]}" if spec else ""))
    for key, result in general(rank).items():
        dim = dimension_text(result, rank)
        if spec is not None:
            dim += f" = {dimension_text(result, rank, spec)}"
        lines += [f"{key}: {TITLES[key]}, dimension {dim}",
                  f"  {lhs_text(result)} = {txt(result.rhs)}"]
        if spec is not None:
            lines.append(f"  at {spec.dims}: {txt(at_sizes(result.rhs, spec))}")
        if key in NAMED:
            lines.append(f"  that is {NAMED[key]}")
    return "\n".join(lines)


def as_latex(rank: int, spec: ConvSpec | None = None) -> str:
    fwd = forward(rank)
    parts = [rf"A {rank}-D cross-correlation layer (indices from $0$; $x$ is zero outside the "
             r"input: zero padding $P$; $\bar{y} = \partial l/\partial y$ is the upstream "
             r"gradient and $l = \sum \bar{y} \odot y$):",
             r"\[ " + printing.latex(fwd.lhs) + " = " + math_latex(fwd.rhs) + r" \]",
             r"\[ " + r",\quad ".join(f"{printing.latex(k)} = {printing.latex(v)}"
                                      for k, v in out_size_formulas(rank).items()) + r" \]"]
    for key, result in general(rank).items():
        dim = dimension_latex(result, rank)
        if spec is not None:
            dim += " = " + dimension_latex(result, rank, spec)
        parts.append(f"\nThe {TITLES[key]}, in ${dim}$:")
        parts.append(r"\[ " + lhs_latex(result) + " = " + math_latex(result.rhs) + r" \]")
        if key in NAMED_LATEX:
            parts.append(f"This is {NAMED_LATEX[key]}.")
    return "\n".join(parts)
