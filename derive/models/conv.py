"""Models ``conv1d`` and ``conv2d``: a cross-correlation layer (no bias) and its Jacobians.

``y[f, i] = sum_c sum_m W[f, c, m] x_pad[c, S*i + D*m]`` (2-D: one more spatial index).
Dims: ``C, L, K, S, D, P, F`` (1-D) and ``C, H, W, K, S, D, P, F`` (2-D); the defaults are
the ``dsga1008-hw2/1.1c`` layer (1-D) and its 2-D analogue. ``derive grad`` follows the
contract: params ``W``, inputs ``x``, upstream and outputs ``y``, no initial states.
"""

from __future__ import annotations

from typing import Any

from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.models import register
from derive.printing.display import latex_to_markdown, markdown_escape
from derive.printing.jsonable import to_json
from derive.topics.conv import kernels, render, verify
from derive.topics.conv.spec import DEFAULTS, ConvSpec

FORMATS = ("text", "latex", "json")


class ConvModel:
    """A cross-correlation layer of spatial rank 1 or 2."""

    nonnegative_dims = ("P",)  # no padding is padding 0: --dim P=0 is valid

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.name = f"conv{rank}d"
        self.summary = SUMMARIES[rank]
        self.dimension_names = tuple(DEFAULTS[rank])

    def spec(self, dims: dict[str, int] | None = None) -> ConvSpec:
        return ConvSpec.from_dims(self.rank, dims)

    def show(self, fmt: str = "text", dims: dict[str, int] | None = None) -> Any:
        """The derived index expressions; with ``dims``, also their values at those sizes."""
        if fmt not in FORMATS:
            raise DeriveError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        spec = self.spec(dims) if dims else None
        if fmt == "json":
            return to_json({"model": self.name, **render.describe(self.rank, spec)})
        if fmt == "latex":
            return render.as_latex(self.rank, spec)
        return render.as_text(self.rank, spec)

    def grad_instance(self, seed: int = 0, T: int | None = None,
                      dims: dict[str, int] | None = None) -> dict:
        """A random layer (normal, scale 0.5: ``W``, then ``x``, then the upstream ``y``) and
        the gradients of ``l = sum(upstream * y)``."""
        if T is not None:
            raise DeriveError(f"--T is not meaningful for {self.name} (a convolution has no "
                              f"time steps), got {T}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise DeriveError(f"--seed must be a non-negative integer, got {seed!r}")
        spec = self.spec(dims)
        W, x, ybar = verify.random_instance(spec, seed)
        gW, gx = kernels.grads(W, x, ybar, spec)
        return {
            "model": self.name,
            "dims": spec.dims,
            "params": {"W": W},
            "inputs": {"x": x},
            "initial": {},
            "upstream": {"y": ybar},
            "outputs": {"y": kernels.forward(W, x, spec)},
            "grads": {"params": {"W": gW}, "inputs": {"x": gx}, "initial": {}},
        }

    def checks(self) -> list[Check]:
        return verify.all_checks(self.rank)

    def __repr__(self) -> str:
        return f"<ConvModel {self.name}: dims {', '.join(self.dimension_names)}>"

    def _repr_markdown_(self) -> str:
        """Jupyter: the derived index expressions, prose and math (``show("latex")``)."""
        return f"**{self.name}**: {markdown_escape(self.summary)}\n\n" + \
            latex_to_markdown(self.show("latex"))


SUMMARIES = {
    1: "1-D convolution (cross-correlation, no bias): dy/dW, dy/dx, dl/dW, dl/dx",
    2: "2-D convolution (cross-correlation, no bias): dy/dW, dy/dx, dl/dW, dl/dx",
}


@register("conv1d", SUMMARIES[1])
def conv1d() -> ConvModel:
    return ConvModel(1)


@register("conv2d", SUMMARIES[2])
def conv2d() -> ConvModel:
    return ConvModel(2)
