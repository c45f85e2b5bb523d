"""A ``conv`` part: one convolution layer's sizes, answered with the convolution topic's
general formulas at those sizes (output size, ``∂y/∂W``, ``∂y/∂x``, ``∂l/∂W``, ``∂l/∂x``).

Asks: ``output_size``, ``jacobians``.
"""

from __future__ import annotations

from derive.answers import Answer
from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.problemset.spec import Part, check_keys
from derive.topics.conv import render, shape_checks, verify
from derive.topics.conv.spec import ConvSpec

ASKS = {"output_size": "the output size", "jacobians": "the four Jacobians"}
KEYS = {"sizes"}
NAMES = {1: ("C", "L", "K", "S", "D", "P", "F"), 2: ("C", "H", "W", "K", "S", "D", "P", "F")}
MAX_CHECKED_ENTRIES = 4096  # the numeric check at the given sizes, when they are small


def validate(part: Part) -> ConvSpec:
    check_keys(part, KEYS, {"sizes"}, ASKS)
    sizes = part.fields["sizes"]
    rank = 1 if isinstance(sizes, dict) and "L" in sizes else 2
    if not isinstance(sizes, dict) or set(sizes) != set(NAMES[rank]) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in sizes.values()):
        raise part.fail(f"sizes = {sizes!r} does not give a convolution",
                        "give every size as an integer: sizes = { C = 3, H = 5, W = 7, K = 3, "
                        "S = 2, D = 1, P = 0, F = 4 } (L instead of H, W for a 1-D layer)",
                        "sizes")
    try:
        return ConvSpec.from_dims(rank, sizes)
    except DeriveError as exc:
        raise part.fail(str(exc), "choose sizes for which the filter fits the padded input",
                        "sizes") from None


def answer(part: Part, notation: dict[str, str], pid: str) -> Answer:
    spec = validate(part)
    checks: list[Check] = []
    if "jacobians" in part.ask:
        body = render.as_latex(spec.rank, spec)
        checks += verify.check_exact(spec.rank)
        if max(spec.size(spec.x_shape), spec.size(spec.W_shape)) <= MAX_CHECKED_ENTRIES:
            checks += verify.check_kernels_vs_formulas(spec.rank, [spec])
            checks += verify.check_complex_step(spec.rank, [spec])
    else:
        body = ""
    sizes = ", ".join(f"{n} = {v}" for n, v in spec.dims.items())
    outs = ", ".join(f"{n}_{{out}} = {v}" for n, v in zip(spec.spatial_names, spec.out_sizes,
                                                          strict=True))
    y_space = r" \times ".join(map(str, spec.y_shape))
    lead = (rf"\paragraph{{Output size.}} With ${sizes}$, each spatial size is "
            r"$\lfloor (n + 2P - D(K-1) - 1)/S \rfloor + 1$, so "
            rf"${outs}$ and $y \in \mathbb{{R}}^{{{y_space}}}$.")
    checks += [c for c in shape_checks.all_checks(spec.rank)]
    results = {"dims": spec.dims, "output_shape": list(spec.y_shape),
               "describe": render.describe(spec.rank, spec)["results"]}
    return Answer(pid, results, "", lead + ("\n\n" + body if body else ""), checks, {})
