"""Answers to cmsc25500-midterm/4: sequence normalisation (4a), its causal running-estimate
variant with a derived backward pass (4b), and whether it fits a Transformer (4c).

Result keys (formulas parse with ``sympy.sympify(s, locals=...)`` giving ``beta``, ``gamma``
as symbols; sequences are functions of time: ``h(t)``, ``y(t)``, ``mu(t)``, ``sigma2(t)``,
``hhat(t)``, ``r(t)``, ``ybar(t) = dL/dy(t)``, ``hbar(s) = dL/dh(s)``; one feature, every
feature ``k = 1..K`` alike):

``cmsc25500-midterm/4a``
    ``parameters`` (name -> shape), ``constants``, ``forward`` (equations), ``notes``.
``cmsc25500-midterm/4b``
    ``definition`` (text), ``parameters``, ``constants``, ``forward``, ``forward_streaming``
    (Welford's recursion), ``backward`` (``beta_bar``, ``gamma_bar``, ``hbar(s)``),
    ``backward_streaming`` (reverse recursion with accumulators ``A, B, C``),
    ``verified_T`` (sizes at which the backward equals SymPy's derivative exactly),
    ``sympy_derivative_T2`` (SymPy's own gradient at ``T = 2``, keyed ``h_1``, ``h_2``), ``notes``,
    ``alternative_ema`` (the moving-average variant: ``definition``, ``parameters``,
    ``hyperparameters``, ``initial``, ``forward``, ``backward`` with ``mubar``, ``sigma2bar``).
``cmsc25500-midterm/4c``
    ``verdict``, ``argument``, ``recommendation`` (text), ``demonstration`` (measured
    changes, see ``derive.seqnorm.transformer_demo``).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from derive import seqnorm as sn
from derive.answers import Answer, problem
from derive.checking import Check

_NAMES = {sn.h: "h", sn.y: "y", sn.mu: r"\mu", sn.sigma2: r"{\sigma^{2}}", sn.hhat: r"\hat{h}",
          sn.r: "r", sn.ybar: r"\overline{y}", sn.hbar: r"\overline{h}", sn.M2: "{M_{2}}",
          sn.A: "A", sn.B: "B", sn.C: "C", sn.mubar: r"\overline{\mu}",
          sn.sigma2bar: r"\overline{\sigma^{2}}"}
_SYMBOLS = {sn.mu_all: r"\mu", sn.sigma2_all: r"{\sigma^{2}}", sn.gamma_bar: r"\overline{\gamma}",
            sn.beta_bar: r"\overline{\beta}"}
PARAMETERS = {"gamma": ["K"], "beta": ["K"]}
CONSTANTS = "epsilon > 0, a fixed small constant for numerical stability (not trained)"


def to_latex(expr: sp.Basic) -> str:
    """Sequences as subscripts (``h_t``), bars as overlines."""
    names = dict(_SYMBOLS)
    stand_ins: dict = {}

    def sub(e: AppliedUndef) -> sp.Symbol:
        key = (e.func, e.args[0])
        if key not in stand_ins:
            stand_ins[key] = sp.Dummy()
            names[stand_ins[key]] = f"{_NAMES[e.func]}_{{{sp.latex(e.args[0])}}}"
        return stand_ins[key]

    shown = expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func in _NAMES, sub)
    return sp.latex(shown, symbol_names=names)


def _align(equations: list[sp.Eq]) -> str:
    lines = [f"{to_latex(e.lhs)} &= {to_latex(e.rhs)}" for e in equations]
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"


def _text(equations: list[sp.Eq]) -> list[str]:
    return [f"  {e.lhs} = {e.rhs}" for e in equations]


@problem("cmsc25500-midterm/4a")
def sequence_norm(pid: str) -> Answer:
    forward = sn.sequence_norm_forward()
    notes = (
        "Batch norm with the time steps of one sequence as the batch: for each feature k the "
        "mean and variance are taken over t = 1..T, so every output y(t) depends on the whole "
        "sequence h(1..T). No running averages are needed at inference (the statistics come "
        "from the sequence itself), but nothing can be output before the last step is known."
    )
    results = {"parameters": PARAMETERS, "constants": CONSTANTS, "forward": forward,
               "notes": notes}
    text = "\n".join(["Trainable parameters: gamma, beta in R^K (one scale and one shift per "
                      "feature); " + CONSTANTS + ".",
                      "Forward pass, for each feature k (elementwise in k):",
                      *_text(forward), notes])
    latex = "\n".join([
        r"Trainable parameters: $\gamma, \beta \in \mathbb{R}^K$, a scale and a shift per "
        r"feature ($\epsilon > 0$ is a fixed constant). For each feature $k$ (all operations are"
        r" elementwise in $k$), with the $T$ time steps of one sequence as the batch:",
        _align(forward),
        r"Every $y_t$ depends on the whole sequence $h_1, \dots, h_T$: no output can be formed "
        r"before the last step of the layer below is known.",
    ])
    return Answer(pid, results, text, latex, sn.sequence_norm_checks())


EMA_DEFINITION = (
    "exponential moving averages, as batch norm keeps its running estimates: "
    "mu(t) = rho mu(t-1) + (1 - rho) h(t), sigma2(t) = rho sigma2(t-1) + (1 - rho) "
    "(h(t) - mu(t))^2, from mu(0) = 0, sigma2(0) = 1, with momentum rho in [0, 1) a "
    "hyperparameter; it forgets old steps, at the price of biased early estimates."
)


@problem("cmsc25500-midterm/4b")
def causal_sequence_norm(pid: str) -> Answer:
    forward, streaming = sn.causal_forward(), sn.causal_streaming_forward()
    backward, reverse = sn.causal_backward(), sn.causal_streaming_backward()
    definition = (
        "Causal sequence norm: at step t, normalise h(t) with the running (cumulative) mean and "
        "biased variance of h(1..t), i.e. of everything seen so far; Welford's recursion keeps "
        "them in O(K) state, so layer B can run at step t right after layer A."
    )
    notes = (
        "Parameters are those of 4a (gamma, beta in R^K); there is no momentum hyperparameter "
        "(an exponential moving average would add one). At t = 1 the variance is 0 and "
        "h(1) - mu(1) = 0, so y(1) = beta whatever h(1) is, and early steps use noisy "
        "statistics. The backward pass is itself a reverse-time recursion with three "
        "accumulators per feature: O(TK) time, O(K) extra memory."
    )
    results = {
        "definition": definition,
        "parameters": PARAMETERS,
        "constants": CONSTANTS,
        "forward": forward,
        "forward_streaming": streaming,
        "backward": backward,
        "backward_streaming": reverse,
        "verified_T": list(sn.EXACT_SIZES),
        "sympy_derivative_T2": _sympy_derivative(2),
        "notes": notes,
        "alternative_ema": {
            "definition": EMA_DEFINITION,
            "parameters": PARAMETERS,
            "hyperparameters": {"rho": "momentum of the moving averages, 0 <= rho < 1"},
            "initial": sn.EMA_INITIAL,
            "forward": sn.ema_forward(),
            "backward": sn.ema_backward(),
        },
    }
    checks = (sn.exact_checks() + [sn.streaming_check(), sn.welford_check()]
              + sn.numeric_checks() + [sn.ema_exact_check(), sn.ema_numeric_check()])
    text = "\n".join([
        definition,
        "Trainable parameters: gamma, beta in R^K; " + CONSTANTS + ".",
        "Forward (per feature):", *_text(forward),
        "Streaming forward (mu(0) = M2(0) = 0):", *_text(streaming),
        "Backward, given ybar(t) = dL/dy(t):", *_text(backward),
        "The same hbar as a reverse recursion (A(T+1) = B(T+1) = C(T+1) = 0):",
        *_text(reverse),
        "SymPy's derivative of ybar_1 y_1 + ybar_2 y_2 at T = 2, which the equations reproduce:",
        *(f"  dL/d{k} = {v}" for k, v in results["sympy_derivative_T2"].items()),
        notes,
        "Alternative: " + EMA_DEFINITION,
        *_text(sn.ema_forward()),
        "  backward (mubar(T+1) = sigma2bar(T+1) = 0):",
        *_text(sn.ema_backward()),
    ])
    latex = "\n".join([
        r"\textbf{Definition.} At step $t$ normalise $h_t$ with the running (cumulative) mean "
        r"and biased variance of $h_1, \dots, h_t$; trainable parameters $\gamma, \beta \in "
        r"\mathbb{R}^K$ as in (a), $\epsilon > 0$ fixed. Per feature:",
        _align(forward),
        r"computed in one pass by Welford's recursion ($\mu_0 = M_{2,0} = 0$, $O(K)$ state):",
        _align(streaming),
        r"\textbf{Backward.} Given $\overline{y}_t = \partial L / \partial y_t$: $h_s$ reaches "
        r"the loss through $\hat{h}_s$ and through $\mu_t$ and $\sigma^2_t$ for every $t \ge s$, "
        r"with $\partial\mu_t/\partial h_s = 1/t$, $\partial\sigma^2_t/\partial h_s = "
        r"2(h_s - \mu_t)/t$, and $\partial\sigma^2_t/\partial\mu_t = 0$ (the deviations from "
        r"$\mu_t$ sum to zero). Hence",
        _align(backward),
        r"or, as a reverse-time recursion ($A_{T+1} = B_{T+1} = C_{T+1} = 0$), $O(TK)$ time and "
        r"$O(K)$ extra memory:",
        _align(reverse),
        r"These equations equal SymPy's derivative of $\sum_t \overline{y}_t y_t$ exactly for "
        r"$T = 1, \dots, 5$, and the NumPy kernel agrees with complex-step and central "
        r"differences. Note $y_1 = \beta$ whatever $h_1$ is (zero variance, zero deviation), and "
        r"early steps see noisy statistics. For instance, at $T = 2$ SymPy's gradient of "
        r"$\overline{y}_1 y_1 + \overline{y}_2 y_2$ is",
        r"\[ " + r", \qquad ".join(
            rf"\frac{{\partial L}}{{\partial {sp.latex(sp.Symbol(k))}}} = "
            + sp.latex(v, symbol_names={sp.Symbol("ybar_2"): r"\overline{y}_2"})
            for k, v in results["sympy_derivative_T2"].items()) + r", \]",
        r"proportional to $\epsilon$: with two samples the normalised value is "
        r"$\pm 1$ up to $\epsilon$, so it barely depends on $h$.",
        "",
        r"\textbf{Alternative: moving averages.} Batch norm's running estimates are exponential "
        r"moving averages with a momentum hyperparameter $\rho \in [0, 1)$, started at "
        r"$\mu_0 = 0$, $\sigma^2_0 = 1$ (same trainable $\gamma, \beta$):",
        _align(sn.ema_forward()),
        r"Its backward pass is a reverse recursion ($\overline{\mu}_{T+1} = "
        r"\overline{\sigma^2}_{T+1} = 0$; $\overline{\gamma}, \overline{\beta}$ as above with "
        r"$\hat{h}_t = (h_t - \mu_t) r_t$), also equal to SymPy's derivative exactly "
        r"($T = 1, 2, 3$) and to complex-step derivatives:",
        _align(sn.ema_backward()[:3]),
    ])
    return Answer(pid, results, text, latex, checks)


def _sympy_derivative(n: int) -> dict[str, sp.Expr]:
    """SymPy's gradient of ``sum_t ybar_t y_t`` at ``T = n``, by name of the input."""
    c = sn.concrete(n)
    return {str(hi): sp.factor(sp.simplify(sp.diff(c.loss, hi))) for hi in c.h}


@problem("cmsc25500-midterm/4c")
def transformer(pid: str) -> Answer:
    demo = sn.transformer_demo()
    verdict = (
        "Not as defined in (a): sequence norm mixes statistics across positions, which breaks "
        "a Transformer decoder's causal masking and depends on sequence length and padding. "
        "The causal variant of (b) is admissible but poor; use layer norm (per-token "
        "statistics over features), which is what Transformers do."
    )
    argument = (
        "A Transformer processes all positions in parallel and, in a decoder, position t may "
        "only see tokens 1..t (the attention mask). Sequence norm's mean and variance at "
        "every position include future tokens, so the output at t changes when a later token "
        "changes: information leaks from the future during training and is unavailable at "
        "generation time (train/test mismatch; already generated positions would also have to "
        "be recomputed as the sequence grows, defeating key/value caching). In an encoder there "
        "is no causality constraint, but the statistics depend on the length and content of "
        "each sequence, padding tokens shift them unless masked, and a short sequence gives "
        "noisy estimates. The running-estimate variant is causal and could replace each "
        "normalisation, but its statistics at early positions come from few tokens (y(1) = "
        "beta: the first token is erased) and differ by position."
    )
    recommendation = (
        "Normalise each token over its own features (layer norm, or RMSNorm): no statistic "
        "crosses positions, so causality, variable lengths and padding are all unaffected. "
        "Place it before each attention and feed-forward sublayer (pre-LN) as in current "
        "Transformers."
    )
    results = {"verdict": verdict, "argument": argument, "recommendation": recommendation,
               "demonstration": demo}
    checks = [
        Check.exact("sequence norm leaks the future: y(t<T) changes with h(T)",
                    "numeric demonstration", demo["leak_sequence_norm"] > 1e-3,
                    f"max change {demo['leak_sequence_norm']:.3g}"),
        Check.exact("causal sequence norm does not: y(t<T) unchanged, exactly",
                    "numeric demonstration", demo["leak_causal_sequence_norm"] == 0.0),
        Check.exact("layer norm does not: y(t<T) unchanged, exactly", "numeric demonstration",
                    demo["leak_layer_norm"] == 0.0),
        Check.exact("padding changes sequence norm's outputs, not layer norm's",
                    "numeric demonstration",
                    demo["padding_sequence_norm"] > 1e-3 and demo["padding_layer_norm"] == 0.0,
                    f"sequence norm {demo['padding_sequence_norm']:.3g}, layer norm "
                    f"{demo['padding_layer_norm']:.3g}"),
        Check.exact("causal sequence norm erases the first token: y(1) = beta",
                    "numeric demonstration", demo["first_output_causal_sequence_norm"] == 0.0
                    and demo["first_output_layer_norm"] > 1e-3),
    ]
    table = "\n".join(
        f"  {name:22s} future leak {demo['leak_' + name]:.3g}, padding "
        f"{demo['padding_' + name]:.3g}, y(1) change {demo['first_output_' + name]:.3g}"
        for name in ("sequence_norm", "causal_sequence_norm", "layer_norm"))
    text = "\n".join([verdict, argument, recommendation,
                      "Measured (8 tokens, 4 features; change of outputs):", table])
    rows = " \\\\\n".join(
        f"{label} & {demo['leak_' + name]:.3g} & {demo['padding_' + name]:.3g} & "
        f"{demo['first_output_' + name]:.3g}"
        for label, name in (("sequence norm (a)", "sequence_norm"),
                            ("causal sequence norm (b)", "causal_sequence_norm"),
                            ("layer norm", "layer_norm")))
    latex = "\n".join([
        r"\textbf{Verdict.} " + verdict,
        "",
        argument.replace("1..t", r"$1, \dots, t$").replace("y(1) =\nbeta", r"$y_1 = \beta$")
        .replace("y(1) = beta", r"$y_1 = \beta$"),
        "",
        r"\textbf{Instead.} " + recommendation,
        "",
        r"Measured on a random sequence of 8 tokens with 4 features: the largest change of the "
        r"outputs $y_1, \dots, y_7$ when only $h_8$ changes, of the real tokens' outputs when "
        r"three zero pad tokens are appended, and of $y_1$ when $h_1$ changes.",
        r"\begin{center}\begin{tabular}{lrrr}",
        r"\hline normalisation & future leak & padding & $y_1$ change \\ \hline",
        rows + r" \\ \hline",
        r"\end{tabular}\end{center}",
    ])
    return Answer(pid, results, text, latex, checks)
