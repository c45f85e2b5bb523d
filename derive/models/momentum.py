"""The model ``momentum``: gradient descent with momentum as a reversible map on (theta, p)."""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.models import register
from derive.printing.display import latex_to_markdown, markdown_escape
from derive.printing.latex import course_latex
from derive.topics import momentum as m

MAX_SHOWN_D = 6


def exact_beta(value: object) -> Any:
    """``beta`` as SymPy computes with it: a short fraction when the number is one (0.5 ->
    1/2, so the determinant prints ``(1/2)**D``), else the number itself (``nsimplify`` turns
    1e-320 into 0, which has no inverse though 1e-320 has). Messages show the value given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # not a number: the derivation names it
    if not math.isfinite(value):
        raise DeriveError(f"beta must be finite, got beta={value!r}")
    if value == 0:
        raise DeriveError(f"beta must be non-zero for the momentum step to be invertible, got "
                          f"beta={value!r}: with beta = 0 the new velocity forgets p(k), so f "
                          "has no inverse")
    simple = sp.nsimplify(value)
    if simple != 0 and float(simple) == value and len(str(simple)) <= 24:
        return simple
    return sp.Float(repr(value), 15)  # the decimal as given (the float of 1e-320 is 9.9999e-321)


class Momentum:
    name = "momentum"
    summary = "gradient descent with momentum: inverse map and det of the Jacobian (beta^D)"
    real_dims = ("beta",)  # --dim beta=0.9 substitutes a value (beta = 0 has no inverse)
    dimension_names = ("D", "beta")

    def show(self, fmt: str = "text", dims: dict[str, Any] | None = None) -> Any:
        dims = dict(dims or {})
        unknown = set(dims) - {"D", "beta"}
        if unknown:
            name = sorted(unknown)[0]
            raise DeriveError(f"momentum has only D and beta, got --dim {name}={dims[name]}")
        beta_value = dims.pop("beta", None)
        d = dims.get("D")
        if d is not None and (isinstance(d, bool) or not isinstance(d, int)
                              or not 1 <= d <= MAX_SHOWN_D):
            raise DeriveError(f"--dim D must be an integer from 1 to {MAX_SHOWN_D} to write out, "
                              f"got {d!r}")
        if fmt not in ("text", "latex", "json"):
            raise DeriveError(f"format must be text, latex or json, got {fmt!r}")
        # a rational beta keeps the inverse exact; beta = 0 is a DeriveError: f has no inverse
        value = None if beta_value is None else exact_beta(beta_value)
        inv = m.derive_inverse(value)
        j1, j2 = m.step_jacobians()
        det = m.jacobian_determinant()
        if value is not None:
            j1, det = j1.subs(m.beta, value), det.subs(m.beta, value)
        explicit = m.components(d).jacobian if d else None
        if explicit is not None and value is not None:
            explicit = explicit.subs(m.beta, value)
        if fmt == "json":
            out: dict[str, Any] = {
                "forward": [str(e) for e in m.forward_equations()],
                "inverse": {str(v): str(inv[v]) for v in (m.THETA, m.P)},
                "jacobian_step1": m.block_strings(j1),
                "jacobian_step2": m.block_strings(j2),
                "determinant": str(det),
            }
            if explicit is not None:
                out["jacobian_explicit"] = [[str(x) for x in row] for row in explicit.tolist()]
            return out
        if fmt == "latex":
            body = [
                r"\begin{align*}",
                *(f"{m.to_latex(e.lhs)} &= {m.to_latex(e.rhs)} \\\\"
                  for e in m.forward_equations()),
                *(f"{m.to_latex(v)} &= {m.to_latex(inv[v])} \\\\" for v in (m.THETA, m.P)),
                r"J_1 &= " + m.block_latex(j1) + r", \quad J_2 = " + m.block_latex(j2) + r" \\",
                r"\det J_2 J_1 &= " + course_latex(det),
                r"\end{align*}",
            ]
            if explicit is not None:
                body.append(r"\[ " + course_latex(explicit) + r" \]")
            return "\n".join(body)
        lines = ["forward:"]
        lines += [f"  {e.lhs} = {e.rhs}" for e in m.forward_equations()]
        lines += ["inverse:"] + [f"  {v} = {inv[v]}" for v in (m.THETA, m.P)]
        lines += [f"J1 = {m.block_strings(j1)}", f"J2 = {m.block_strings(j2)}",
                  f"det ds(k+1)/ds(k) = det J2 det J1 = {det}"]
        if explicit is not None:
            lines += [f"ds(k+1)/ds(k) at D={d}:", sp.pretty(explicit)]
        return "\n".join(lines)

    def grad_instance(self, seed: int = 0, T: int | None = None,
                      dims: dict[str, int] | None = None) -> dict:
        raise DeriveError("momentum has no BPTT gradient instance")

    def __repr__(self) -> str:
        return f"<Momentum {self.name}: dims {', '.join(self.dimension_names)}>"

    def _repr_markdown_(self) -> str:
        """Jupyter: the step, its inverse, the Jacobians and their determinant."""
        return f"**{self.name}**: {markdown_escape(self.summary)}\n\n" + \
            latex_to_markdown(self.show("latex"))

    def checks(self) -> list[Check]:
        return m.inverse_checks() + m.determinant_checks()


@register(Momentum.name, Momentum.summary)
def momentum() -> Momentum:
    return Momentum()
