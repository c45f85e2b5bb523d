"""Answers on the LSTM's BPTT: csc421-hw4/1a-c and rnn-cnn-hw/2.1-2.3 (input-first names).

Result keys: ``bar_h, bar_c, bar_g, bar_o, bar_f, bar_i`` (1a, 2.1) and ``bar_w_ix``
(``bar_w_xi`` for 2.2) plus ``weight_grads`` (every weight) hold SymPy formulas in the
names of ``derive show lstm``: ``h(t - 1)``, ``bar_c(t + 1)``, ``dL_dh(t)``. 1c and 2.3
hold ``limits`` (the bars with f = 1, i = o = 0) and ``regimes`` (measured gradient norms).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

import derive
from derive.answers import Answer, problem
from derive.cell import t
from derive.checking import Check
from derive.figures import pgfplot
from derive.latex import align, latex, text

GATE_ORDER = ["h", "c", "g", "o", "f", "i"]


def _model(pid: str):
    """rnn-cnn-hw/2 names the weights input-first (w_xi); its own cell says so."""
    return derive.model("lstm_input_first" if pid.startswith("rnn-cnn-hw") else "lstm")


def _bars(model) -> dict[str, sp.Eq]:
    return {name: eq for name, eq in model.adjoints.items() if name in GATE_ORDER}


def _forward_latex(model) -> str:
    return align(model.equations.values())


@problem("csc421-hw4/1a", "rnn-cnn-hw/2.1")
def bptt_equations(pid: str) -> Answer:
    model = _model(pid)
    bars = _bars(model)
    ordered = [bars[name] for name in GATE_ORDER]
    body = (
        "Forward pass (the definition the derivation starts from):\n"
        + _forward_latex(model)
        + "\nEvery bar collects one term per use of its variable: $h^{(t)}$ is read by the "
        "four gates at step $t+1$ and by the loss at $t$; $c^{(t)}$ by $h^{(t)}$ and by "
        "$c^{(t+1)}$; each gate by $c^{(t)}$ or $h^{(t)}$. The derivatives "
        r"$\sigma'(z) = \sigma(z)(1-\sigma(z))$ and $\tanh'(z) = 1 - \tanh^2(z)$ are written "
        "through the gates' own values. With $\\overline{v^{(T+1)}} = 0$ for every $v$:\n"
        + align(ordered)
    )
    plain = "\n".join(f"{text(e.lhs)} = {text(e.rhs)}" for e in ordered)
    return Answer(
        id=pid,
        results={f"bar_{name}": bars[name].rhs for name in GATE_ORDER},
        text=plain,
        latex=body,
        checks=model.checks(),
    )


@problem("csc421-hw4/1b", "rnn-cnn-hw/2.2")
def weight_gradient(pid: str) -> Answer:
    input_first = pid.startswith("rnn-cnn-hw")
    model = _model(pid)
    grads = model.weight_grads
    key = "w_xi" if input_first else "w_ix"
    asked = grads[key]
    others = [grads[n] for n in grads if n != key]
    lr = sp.Symbol("alpha")
    update = (rf"With learning rate $\alpha$, gradient descent updates "
              rf"${latex(sp.Symbol(key))} \leftarrow {latex(sp.Symbol(key))} - \alpha\, "
              rf"{latex(asked.lhs)}$." if input_first else "")
    body = (
        "The weight is shared by every step, so its bar sums the contribution of each step "
        "through the input gate it feeds:\n" + align([asked]) + update
        + "\nThe other seven weights, derived the same way:\n" + align(others)
    )
    results = {f"bar_{key}": asked.rhs,
               "weight_grads": {str(e.lhs): e.rhs for e in grads.values()}}
    if input_first:
        results["update"] = sp.Symbol(key) - lr * asked.rhs
    return Answer(
        id=pid,
        results=results,
        text=f"{text(asked.lhs)} = {text(asked.rhs)}\n"
        + "\n".join(f"{text(e.lhs)} = {text(e.rhs)}" for e in others),
        latex=body,
        checks=model.checks(),
    )


# --- 1c: forget gates near 1, input and output gates near 0 ----------------------------------

def limit_of_bars() -> dict[str, sp.Expr]:
    """The derived bars of h and c with f = 1, i = o = 0 at every step, the gate bars of
    step t + 1 substituted from their own derived equations."""
    model = derive.model("lstm")
    sig = model.cell.signals
    bars = {name: model.derivation.bar_rhs(name) for name in model.cell.signals}
    later = {sig[g].bar(t + 1): bars[g].subs(t, t + 1) for g in ("i", "f", "o", "g")}
    limit = {}
    for lag in (0, 1):
        limit.update({sig["f"](t + lag): 1, sig["i"](t + lag): 0, sig["o"](t + lag): 0})
    return {name: sp.expand(bars[name].xreplace(later).xreplace(limit)) for name in ("h", "c")}


@functools.cache
def regime_norms(steps: int = 200) -> dict[str, dict[str, list[float]]]:
    """|bar h(t)| and |bar c(t)| for t = T..0 with dL/dh at the last step only, in the
    regime of the question and in a contrasting one (forget gates near 0)."""
    model = derive.model("lstm")
    out = {}
    for regime, w_fx in (("forget near 1", 6.0), ("forget near 0", -6.0)):
        params = {"w_ix": np.array(-6.0), "w_ih": np.array(0.5), "w_fx": np.array(w_fx),
                  "w_fh": np.array(0.5), "w_ox": np.array(-6.0), "w_oh": np.array(0.5),
                  "w_gx": np.array(1.0), "w_gh": np.array(0.5)}
        inputs = {"x": np.ones((steps, 1))}
        upstream = np.zeros((steps, 1))
        upstream[-1] = 1.0
        result = model.bptt(params, inputs, {"h": upstream},
                            {"h": np.zeros(1), "c": np.zeros(1)})
        times = list(range(steps, -1, -1))
        out[regime] = {
            "t": times,
            "bar_h": [float(abs(result.bars["h"][s][0])) for s in times],
            "bar_c": [float(abs(result.bars["c"][s][0])) for s in times],
            "f": [float(result.values["f"][s][0]) for s in range(1, steps + 1)],
            "i": [float(result.values["i"][s][0]) for s in range(1, steps + 1)],
            "o": [float(result.values["o"][s][0]) for s in range(1, steps + 1)],
        }
    return out


def _regime_checks(norms: dict, limits: dict) -> list[Check]:
    model = derive.model("lstm")
    sig = model.cell.signals
    near = norms["forget near 1"]
    far = norms["forget near 0"]
    top = near["bar_c"][0]
    growth = max(near["bar_c"]) / top
    kept = near["bar_c"][-1] / top
    leak = max(near["bar_h"][1:]) / near["bar_h"][0]
    return [
        Check.exact("limit: bar c(t) = bar c(t+1)", "derived equations with f=1, i=o=0",
                    sp.simplify(limits["c"] - sig["c"].bar(t + 1)) == 0, str(limits["c"])),
        Check.exact("limit: bar h(t) = dL_t/dh(t)", "derived equations with f=1, i=o=0",
                    sp.simplify(limits["h"] - sig["h"].direct(t)) == 0, str(limits["h"])),
        Check("no growth of |bar c| over T=200", "max_t |bar c(t)| / |bar c(T)| <= 1",
              max(0.0, growth - 1.0), 1e-12, f"ratio {growth:.6f}"),
        Check("|bar c| survives 200 steps (f near 1)", "|bar c(0)| / |bar c(T)| >= 0.5",
              max(0.0, 0.5 - kept), 0.0, f"ratio {kept:.4f}"),
        Check("|bar h| stays near its direct term", "max_{t<T} |bar h(t)| / |bar h(T)| <= 0.05",
              max(0.0, leak - 0.05), 0.0, f"ratio {leak:.2e}"),
        Check("contrast: forget near 0 vanishes", "|bar c(T-10)| / |bar c(T)| <= 1e-6",
              max(0.0, far["bar_c"][10] / far["bar_c"][0] - 1e-6), 0.0,
              f"ratio {far['bar_c'][10] / far['bar_c'][0]:.2e}"),
    ]


@problem("csc421-hw4/1c", "rnn-cnn-hw/2.3")
def no_explosion(pid: str) -> Answer:
    model = derive.model("lstm")
    limits = limit_of_bars()
    norms = regime_norms()
    near = norms["forget near 1"]
    sig = model.cell.signals
    body = (
        "Read the two recursions of the answer to part (a). The memory cell's bar is\n"
        + align([model.adjoints["c"]])
        + "and every path back through $h$ goes through a gate derivative: each term of "
        r"$\overline{h^{(t)}}$ other than the direct one carries $i(1-i)$, $f(1-f)$, "
        r"$o(1-o)$, or $\overline{g^{(t+1)}} = \overline{c^{(t+1)}} i^{(t+1)}$. "
        "With forget gates $f \\approx 1$ and input and output gates $i, o \\approx 0$ these "
        "vanish and the recursions become (derived by substituting the limits into the "
        "equations above):\n"
        + align([sp.Eq(sig["c"].bar(t), limits["c"], evaluate=False),
                  sp.Eq(sig["h"].bar(t), limits["h"], evaluate=False)])
        + "So $\\overline{c^{(t)}}$ is copied backwards unchanged: multiplied by "
        "$f \\approx 1$ at every step, never by a weight, so it can neither explode nor "
        "vanish; and $\\overline{h^{(t)}}$ is only the local loss term, so no product of "
        "Jacobians through $h$ builds up. The cell is a linear, unit-gain path for the "
        "gradient (the constant error carousel).\n\n"
        f"Measured over $T = {len(near['t']) - 1}$ steps, with the loss at the last step only "
        f"and gates $f \\approx {np.mean(near['f']):.4f}$, $i \\approx {np.mean(near['i']):.4f}$, "
        f"$o \\approx {np.mean(near['o']):.4f}$: "
        f"$|\\overline{{c^{{(0)}}}}| / |\\overline{{c^{{(T)}}}}| = "
        f"{near['bar_c'][-1] / near['bar_c'][0]:.3f}$ (never above 1), while with forget gates "
        "near 0 the same ratio falls below $10^{-6}$ within 10 steps (see the figure)."
    )
    far = norms["forget near 0"]

    def relative(series: list[float], times: list[int]) -> tuple[list[int], list[float]]:
        # relative to the value at T; points below 1e-16 are round-off, left out
        kept = [(tm, v / series[0]) for tm, v in zip(times, series, strict=True)
                if v / series[0] >= 1e-16]
        return [tm for tm, _ in kept], [v for _, v in kept]

    figure = pgfplot(
        {r"$|\overline{c^{(t)}}|$, $f\approx 1$": relative(near["bar_c"], near["t"]),
         r"$|\overline{h^{(t)}}|$, $f\approx 1$": relative(near["bar_h"], near["t"]),
         r"$|\overline{c^{(t)}}|$, $f\approx 0$": relative(far["bar_c"], far["t"])},
        xlabel="$t$", ylabel=r"relative to $t = T$", logy=True)
    return Answer(
        id=pid,
        results={"limits": {f"bar_{k}": v for k, v in limits.items()},
                 "regimes": {k: {"bar_c_ratio": v["bar_c"][-1] / v["bar_c"][0],
                                 "max_bar_c_growth": max(v["bar_c"]) / v["bar_c"][0]}
                             for k, v in norms.items()}},
        text=(f"bar c(t) = {text(limits['c'])} and bar h(t) = {text(limits['h'])} in the limit "
              "f = 1, i = o = 0: the cell's gradient is carried back unchanged (no weight, gain "
              "f near 1), and h's bar is only its local term; measured ratio "
              f"|bar c(0)|/|bar c(T)| = {near['bar_c'][-1] / near['bar_c'][0]:.3f} over T = "
              f"{len(near['t']) - 1}."),
        latex=body,
        checks=_regime_checks(norms, limits),
        figures={"gradient magnitude against time (loss at the last step only)": figure},
    )
