"""Answer to cmsc25500-midterm/2: which activations are poor choices after batch norm.

Result keys (``derive answer ID --format json``): ``verdicts`` (activation label ->
``"poor"`` or ``"fine"``), ``reasons`` (label -> text), ``measurements`` (label -> dict of
floats: ``zero_gradient_fraction``, ``zero_output_fraction``, ``mean_abs_derivative``,
``output_mean``, ``output_std``, ``superposition_error``, ``bn_gradients`` (``gamma``,
``beta``), ``fraction_above_10``, ``saturated_fraction``), ``relu_baseline`` (the same
for ReLU), ``mirrored_relu_error`` (max ``|W min(0,x) - (-W) ReLU(-x)|``), ``samples``.
"""

from __future__ import annotations

import math

import numpy as np

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, relative_error
from derive.topics import activations as A

SAMPLES = 200_000
TAIL_10 = 0.5 * math.erfc(10 / math.sqrt(2))  # P(z > 10) for z ~ N(0, 1)
_S = (1 + math.sqrt(1 - 4 * 0.01)) / 2  # sigma(z) where sigma'(z) = sigma(1 - sigma) = 0.01
SATURATION_Z = math.log(_S / (1 - _S))

# Why each measurement comes out as it does (the verdict itself is computed), as the results
# give it; the answer typesets the same reasons from its template (cmsc25500-midterm/2.tex).
NOTES = {
    "min0": "min(0, x) = -ReLU(-x): a mirrored ReLU. The sign is absorbed by the next "
    "layer's weights (and BN's gamma, whose sign is free), so it is exactly as expressive "
    "as ReLU, with the same half of the inputs passing gradient.",
    "scaled": "Linear. Linear -> BN -> x/sqrt(2) -> Linear is an affine map at inference "
    "(BN with fixed statistics is affine), so stacking such layers adds no expressive "
    "power; BN's gamma and beta are affine and cannot add non-linearity.",
    "relu_shift": f"BN makes the input standard: P(z > 10) = {TAIL_10:.1e}, so the unit "
    "outputs 0 and passes zero gradient for essentially every input. BN's beta = 10 would "
    "compensate, but dL/dbeta is exactly 0 too, so beta never moves: the unit is dead.",
    "sigmoid": "The input BN was designed for: standardised inputs sit in sigma's "
    f"non-saturated range (sigma' > 0.01 for |z| < {SATURATION_Z:.2f}), so no unit is "
    "saturated, and gamma sets how non-linear the unit is. Gradients still shrink through "
    "it: sigma' <= 1/4 everywhere, so each sigmoid layer scales them by at most 1/4 and a "
    "deep stack of them can still make them vanish.",
    "sign": "Derivative zero everywhere except at 0 (where it is undefined): no gradient "
    "reaches the layer's weights, BN's gamma and beta, or anything below.",
}


def derivative_check(act: A.Activation, eps: float = 1e-6) -> Check:
    """The activation's derivative against central differences, away from its kinks."""
    x = np.linspace(-12.0, 12.0, 2401)
    x = x[np.min(np.abs(x[:, None] - np.array([0.0, 10.0])), axis=1) > 1e-3]
    numeric = (act.f(x + eps) - act.f(x - eps)) / (2 * eps)
    return Check(f"derivative of {act.label}", "central differences",
                 relative_error(act.df(x), numeric), 1e-6, f"{x.size} points in [-12, 12]")


def _latex_number(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e4:
        mant, exp = f"{v:.1e}".split("e")
        return f"{mant}\\times 10^{{{int(exp)}}}"
    return f"{v:.3f}"


@problem("cmsc25500-midterm/2")
def answer_2(pid: str) -> Answer:
    measured = {name: A.measure(name, SAMPLES) for name in A.ACTIVATIONS}
    baseline = A.measure("relu", SAMPLES)
    mirrored = A.mirrored_relu_error()
    verdicts, reasons, checks = {}, {}, []
    for name, act in A.ACTIVATIONS.items():
        v, why = A.verdict(measured[name])
        verdicts[act.label], reasons[act.label] = v, f"{why}. {NOTES[name]}"
        checks.append(derivative_check(act))
    m = measured
    checks += [
        Check("min(0,x) is a mirrored ReLU", "(-W) ReLU(-x)", mirrored, 0.0,
              "W min(0,x) exactly"),
        Check.exact("min(0,x) passes gradient where ReLU does", "ReLU's fraction",
                    abs(m["min0"]["zero_gradient_fraction"]
                        - baseline["zero_gradient_fraction"]) < 0.01,
                    f"{1 - m['min0']['zero_gradient_fraction']:.3f} vs "
                    f"{1 - baseline['zero_gradient_fraction']:.3f}"),
        Check("x/sqrt(2) network is linear", "superposition",
              m["scaled"]["superposition_error"], A.LINEAR_TOLERANCE,
              measures="superposition error"),
        Check.exact("the other four are non-linear", "superposition error > 1e-3",
                    all(m[n]["superposition_error"] > 1e-3 for n in m if n != "scaled")),
        Check.exact("ReLU(x-10): no standardised input above 10", "0 of samples",
                    m["relu_shift"]["fraction_above_10"] == 0.0, f"{SAMPLES} samples"),
        Check.exact("ReLU(x-10), sign: BN's gamma and beta get zero gradient", "0.0 exactly",
                    all(m[n]["bn_gradients"][p] == 0.0
                        for n in ("relu_shift", "sign") for p in ("gamma", "beta"))),
        Check.exact("sigmoid: almost no input saturated", "slope below 0.01 on under 0.1%",
                    m["sigmoid"]["saturated_fraction"] < 1e-3,
                    f"{m['sigmoid']['saturated_fraction']:.2e}"),
    ]
    results = {
        "verdicts": verdicts,
        "reasons": reasons,
        "measurements": {A.ACTIVATIONS[n].label: m[n] for n in m},
        "relu_baseline": baseline,
        "mirrored_relu_error": mirrored,
        "samples": SAMPLES,
    }
    rows = [
        (n, A.ACTIVATIONS[n].latex, verdicts[A.ACTIVATIONS[n].label],
         [_latex_number(x) for x in (
             m[n]["zero_gradient_fraction"], m[n]["mean_abs_derivative"],
             m[n]["rms_derivative"], m[n]["superposition_error"])])
        for n in m
    ]
    return from_template(pid, results, checks, rows=rows, samples=f"{SAMPLES:,}",
                         relu_dead=f"{baseline['zero_gradient_fraction']:.0%}",
                         mirrored=_latex_number(mirrored), tail_10=TAIL_10,
                         saturation_z=f"{SATURATION_Z:.2f}")

