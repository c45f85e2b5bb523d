"""Answers on the LSTM's BPTT: csc421-hw4/1a-c and rnn-cnn-hw/2.1-2.3 (input-first names).

Result keys: ``bar_h, bar_c, bar_g, bar_o, bar_f, bar_i`` (1a, 2.1) and ``bar_w_ix``
(``bar_w_xi`` for 2.2) plus ``weight_grads`` (every weight) hold SymPy formulas in the
names of ``derive show lstm``: ``h(t - 1)``, ``bar_c(t + 1)``, ``dL_dh(t)``. 1c and 2.3
hold ``limits`` (the bars with f = 1, i = o = 0) and ``regimes`` (measured gradient norms).
"""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check
from derive.core.cell import _name_and_time, _timed_atoms, t
from derive.core.primitives import sigma
from derive.models import get as registered_model
from derive.printing.figures import pgfplot
from derive.printing.latex import align

GATE_ORDER = ["h", "c", "g", "o", "f", "i"]


def _model(pid: str):
    """rnn-cnn-hw/2 names the weights input-first (w_xi); its own cell says so."""
    return registered_model("lstm_input_first" if pid.startswith("rnn-cnn-hw") else "lstm")


def _seed(pid: str) -> int:
    """Each set's checks draw their own random instance."""
    return 0 if pid.startswith("csc421") else 3


def _bars(model) -> dict[str, sp.Eq]:
    return {name: eq for name, eq in model.adjoints.items() if name in GATE_ORDER}


# --- checks of 1a and 1b, each on its own result ---------------------------------------------
#
# The reference is the forward pass alone: the cell's equations unrolled over T steps, with
# sigma written out as 1/(1 + exp(-z)) so that not even the engine's derivative rule for sigma
# is shared with what is checked. A bar dL/dv(s) is the derivative of the loss with respect to
# a nudge added to v(s) after it is computed; a weight gradient, with respect to the weight.

DIGITS = 30
SYMBOLIC_TOLERANCE = 1e-25  # 30-digit arithmetic on both sides
FLOAT_TOLERANCE = 1e-12  # double precision against a complex step of 1e-30
CENTRAL_TOLERANCE = 1e-6  # central differences, step 1e-6: truncation ~1e-12
SHORT_T, LONG_T = 3, 20


def _logistic(expr: sp.Expr) -> sp.Expr:
    return expr.replace(sigma, lambda z: 1 / (1 + sp.exp(-z)))


def _instance(model, steps: int, seed: int) -> dict:
    """Weights, inputs, initial states and upstream gradients, rounded so that the 30-digit
    and the double-precision computations start from the same numbers."""
    rng = np.random.default_rng(seed)

    def draw(n=None):
        return np.round(0.5 * rng.standard_normal(n), 12)

    return {"params": {p: float(draw()) for p in model.cell.parameters},
            "x": list(draw(steps)), "h0": float(draw()), "c0": float(draw()),
            "upstream": list(draw(steps))}


def _step_env(expr: sp.Expr, step: int, lookup) -> dict:
    """Each signal read by ``expr`` (``i(t + 1)``, ``bar_c(t)``) -> its value at ``step``."""
    env = {}
    for atom in _timed_atoms(expr):
        name, time = _name_and_time(atom)
        if name is not None:
            env[atom] = lookup(name, step + int(time - t))
    return env


def _unrolled(model, inst: dict, steps: int, weights: dict, nudges: dict,
              modules: str = "numpy") -> tuple[dict, object]:
    """Forward values and the loss ``sum_s u(s) h(s)``; ``weights`` and ``nudges[(v, s)]``
    (added to ``v(s)``) are NumPy arrays (``modules="numpy"``) or mpmath numbers."""
    values = {("h", 0): inst["h0"], ("c", 0): inst["c0"]}
    values.update({("x", s): inst["x"][s - 1] for s in range(1, steps + 1)})
    for s in range(1, steps + 1):
        for eq in model.cell.equations:
            rhs = _logistic(eq.rhs)
            env = _step_env(rhs, s, lambda n, st: values[(n, st)])
            atoms = sorted(env, key=str)
            fn = _lambdified(rhs, (*atoms, *(model.cell.parameters[p] for p in weights)),
                             modules)
            value = fn(*(env[a] for a in atoms), *weights.values())
            values[(eq.signal.name, s)] = value + nudges.get((eq.signal.name, s), 0)
    loss = sum(inst["upstream"][s - 1] * values[("h", s)] for s in range(1, steps + 1))
    return values, loss


@functools.cache
def _lambdified(expr: sp.Expr, args: tuple, modules: str) -> object:
    return sp.lambdify(args, expr, modules)


def _evaluate_bars(bars: dict[str, sp.Eq], values: dict, upstream: list, steps: int,
                   weights: dict) -> dict:
    """The bar equations ``bars`` (name -> Eq, in the order they are computed) evaluated
    backwards from ``T``; a bar or value past ``T`` is 0."""
    out: dict[tuple[str, int], object] = {}

    def lookup(name: str, step: int):
        if step > steps:
            return 0
        if name.startswith("bar_"):
            return out[(name[4:], step)]
        if name.startswith("dL_d"):
            return upstream[step - 1]
        return values[(name, step)]

    for s in range(steps, 0, -1):
        for name, eq in bars.items():
            env = _step_env(eq.rhs, s, lookup)
            env.update(weights)
            out[(name, s)] = eq.rhs.xreplace(env)
    return out


def _evaluate_sums(grads: dict[str, sp.Eq], lookup, steps: int, weights: dict) -> dict:
    """Each weight gradient ``Sum(summand, (t, lo, hi))`` evaluated term by term."""
    out = {}
    for name, eq in grads.items():
        total = 0
        for summand, (var, lo, hi) in [(eq.rhs.function, eq.rhs.limits[0])]:
            hi = int(hi.subs({s: steps for s in hi.free_symbols}))
            for s in range(int(lo), hi + 1):
                term = summand.subs(var, t)
                env = _step_env(term, s, lookup)
                env.update(weights)
                total += term.xreplace(env)
        out[name] = total
    return out


def _relative(pairs) -> float:
    return max(float(abs(a - e) / max(1, abs(e))) for a, e in pairs)


@functools.cache
def _symbolic_reference(model, steps: int, seed: int) -> tuple[dict, dict, dict]:
    """(instance, forward values, dL/d of every nudge and weight) to 30 digits: a complex step
    of 1e-40 in 60-digit arithmetic (no cancellation, truncation error ~1e-80)."""
    inst = _instance(model, steps, seed)
    nudged = [(eq.signal.name, s) for s in range(1, steps + 1) for eq in model.cell.equations]
    with mpmath.workdps(2 * DIGITS):
        h = mpmath.mpf("1e-40")
        exact = {k: mpmath.mpf(v) if isinstance(v, float) else [mpmath.mpf(x) for x in v]
                 for k, v in inst.items() if k != "params"}
        weights = {p: mpmath.mpf(v) for p, v in inst["params"].items()}
        grads = {}
        for key in [*nudged, *weights]:
            w = dict(weights)
            if key in w:
                w[key] = w[key] + 1j * h
            _, loss = _unrolled(model, exact, steps, w,
                                {key: 1j * h} if key not in w else {}, "mpmath")
            grads[key] = sp.Float(str(mpmath.im(loss) / h), DIGITS)
        values, _ = _unrolled(model, exact, steps, weights, {}, "mpmath")
        values = {k: sp.Float(str(v), DIGITS) for k, v in values.items()}
    return inst, values, grads


def _complex_step(model, inst: dict, steps: int, what: list) -> dict:
    """Im L(v + ih) / h for each nudge ``(v, s)`` or weight name in ``what``, one batch
    element per quantity, in the independent NumPy forward pass."""
    h = 1e-30
    n = len(what)
    weights = {p: np.full(n, v, dtype=complex) for p, v in inst["params"].items()}
    nudges: dict = {}
    for b, key in enumerate(what):
        if isinstance(key, tuple):
            nudges.setdefault(key, np.zeros(n, dtype=complex))[b] = 1j * h
        else:
            weights[key][b] += 1j * h
    _, loss = _unrolled(model, inst, steps, weights, nudges)
    return {key: float(loss[b].imag / h) for b, key in enumerate(what)}


def _central(model, inst: dict, steps: int, what: list, h: float = 1e-6) -> dict:
    """(L(v + h) - L(v - h)) / 2h for each nudge or weight in ``what`` (as ``_complex_step``)."""
    n = len(what)
    out = dict.fromkeys(what, 0.0)
    for sign in (1, -1):
        weights = {p: np.full(n, v) for p, v in inst["params"].items()}
        nudges: dict = {}
        for b, key in enumerate(what):
            if isinstance(key, tuple):
                nudges.setdefault(key, np.zeros(n))[b] = sign * h
            else:
                weights[key][b] += sign * h
        _, loss = _unrolled(model, inst, steps, weights, nudges)
        for b, key in enumerate(what):
            out[key] += sign * float(loss[b]) / (2 * h)
    return out


def _kernel_run(model, inst: dict, steps: int):
    p = {k: np.array(v) for k, v in inst["params"].items()}
    return model.bptt(p, {"x": np.array(inst["x"]).reshape(steps, 1)},
                      {"h": np.array(inst["upstream"]).reshape(steps, 1)},
                      {"h": np.array([inst["h0"]]), "c": np.array([inst["c0"]])})


def _form_check(bars: dict[str, sp.Eq]) -> Check:
    """What the question asks of the form: forward values and bars at t and t + 1 only, gate
    derivatives through the gates' values (no derivative left, no sigma of a weighted sum)."""
    bad = []
    for name, eq in bars.items():
        rhs = eq.rhs
        if rhs.has(sp.Derivative, sp.Subs, sigma):
            bad.append(f"the bar of {name} keeps a derivative or a sigma")
        for atom in _timed_atoms(rhs):
            sig, time = _name_and_time(atom)
            offset = int(time - t)
            if sig is None:
                continue
            if sig.startswith("bar_") and offset not in (0, 1):
                bad.append(f"the bar of {name} reads the bar of {sig[4:]} at offset {offset}")
            elif offset not in (-1, 0, 1):
                bad.append(f"the bar of {name} reads {sig} at offset {offset}")
        for fn in rhs.atoms(sp.tanh):
            if fn.args[0].free_symbols - {t}:
                bad.append(f"the bar of {name} recomputes a pre-activation")
    return Check.exact("each bar uses only forward values and bars at t and t + 1",
                       "the six equations shown", not bad,
                       "; ".join(bad[:3]) if bad else "no derivative left unevaluated")


def bar_checks(model, bars: dict[str, sp.Eq] | None = None, seed: int = 0) -> list[Check]:
    """The six bar equations of 1a (default: the derived ones), every bar at every step."""
    bars = _bars(model) if bars is None else bars
    inst, values, expected = _symbolic_reference(model, SHORT_T, seed)
    weights = {model.cell.parameters[p]: sp.Float(v, DIGITS) for p, v in inst["params"].items()}
    derived = _evaluate_bars(bars, values, [sp.Float(u, DIGITS) for u in inst["upstream"]],
                             SHORT_T, weights)
    keys = [(n, s) for s in range(1, SHORT_T + 1) for n in bars]
    sym_err = _relative((sp.N(derived[k], DIGITS), expected[k]) for k in keys)

    long_inst = _instance(model, LONG_T, seed + 1)
    long_keys = [(n, s) for s in range(1, LONG_T + 1) for n in bars]
    cs = _complex_step(model, long_inst, LONG_T, long_keys)
    floats = {k: float(v) for k, v in long_inst["params"].items()}
    long_values, _ = _unrolled(model, long_inst, LONG_T,
                               {p: np.array(v) for p, v in floats.items()}, {})
    float_bars = _evaluate_bars(bars, {k: float(v) for k, v in long_values.items()},
                                long_inst["upstream"], LONG_T,
                                {model.cell.parameters[p]: v for p, v in floats.items()})
    cs_err = _relative((complex(float_bars[k]), cs[k]) for k in long_keys)
    cd = _central(model, long_inst, LONG_T, long_keys)
    cd_err = _relative((complex(float_bars[k]), cd[k]) for k in long_keys)
    return [
        _form_check(bars),
        Check(f"every bar at every step, 30 digits (T = {SHORT_T})",
              "complex step of the unrolled loss, 60 digits: each quantity nudged",
              sym_err, SYMBOLIC_TOLERANCE, f"{len(keys)} bars; sigma as 1/(1 + exp(−z))"),
        Check(f"every bar at every step, double precision (T = {LONG_T})",
              "complex step: each quantity nudged by an imaginary 1e-30 in the forward pass",
              cs_err, FLOAT_TOLERANCE, f"{len(long_keys)} bars"),
        Check(f"every bar at every step, double precision (T = {LONG_T})",
              "central differences: each quantity nudged by 1e-6 in the forward pass",
              cd_err, CENTRAL_TOLERANCE, f"{len(long_keys)} bars"),
    ]


def weight_checks(model, grads: dict[str, sp.Eq] | None = None, seed: int = 0) -> list[Check]:
    """The eight sums over t of 1b (default: the derived ones), each evaluated term by term
    from the bars of 1a and compared with the derivative of the loss in that weight."""
    grads = model.weight_grads if grads is None else grads
    inst, values, expected = _symbolic_reference(model, SHORT_T, seed)
    weights = {model.cell.parameters[p]: sp.Float(v, DIGITS) for p, v in inst["params"].items()}
    upstream = [sp.Float(u, DIGITS) for u in inst["upstream"]]
    bars = _evaluate_bars(_bars(model), values, upstream, SHORT_T, weights)

    def lookup(values, bars):
        def get(name: str, step: int):
            if name.startswith("bar_"):
                return bars[(name[4:], step)]
            return values[(name, step)]
        return get

    sums = _evaluate_sums(grads, lookup(values, bars), SHORT_T, weights)
    sym_err = _relative((sp.N(sums[p], DIGITS), expected[p]) for p in grads)

    long_inst = _instance(model, LONG_T, seed + 1)
    run = _kernel_run(model, long_inst, LONG_T)
    run_values = {(n, s): float(v[0].real) for n, series in run.values.items()
                  for s, v in series.items()}
    run_bars = {(n, s): float(v[0].real) for n, series in run.bars.items()
                for s, v in series.items()}
    floats = {model.cell.parameters[p]: v for p, v in long_inst["params"].items()}
    long_sums = _evaluate_sums(grads, lookup(run_values, run_bars), LONG_T, floats)
    cs = _complex_step(model, long_inst, LONG_T, list(grads))
    cd = _central(model, long_inst, LONG_T, list(grads))
    cs_err = _relative((float(long_sums[p]), cs[p]) for p in grads)
    cd_err = _relative((float(long_sums[p]), cd[p]) for p in grads)
    n = len(grads)
    return [
        Check(f"the {n} sums over t, 30 digits (T = {SHORT_T})",
              "complex step of the unrolled loss, 60 digits: each weight nudged",
              sym_err, SYMBOLIC_TOLERANCE, "bars from the equations of the previous part"),
        Check(f"the {n} sums over t, double precision (T = {LONG_T})",
              "complex step: each weight nudged by an imaginary 1e-30", cs_err,
              FLOAT_TOLERANCE, "bars and forward values from the compiled kernels"),
        Check(f"the {n} sums over t, double precision (T = {LONG_T})",
              "central differences of the loss, step 1e-6", cd_err, CENTRAL_TOLERANCE,
              f"{n} weights"),
    ]


UPDATE_STEP = 1e-6  # a learning rate small enough that the loss change is first order


def update_check(model, key: str, update: sp.Expr, seed: int = 0) -> Check:
    """One gradient-descent step ``update`` (a formula in the weight, ``alpha`` and the
    weight's derived sum over t) changes the loss by ``-alpha * gradient**2`` to first order,
    the loss evaluated by the forward pass alone."""
    inst = _instance(model, LONG_T, seed + 1)
    run = _kernel_run(model, inst, LONG_T)
    values = {(n, s): float(v[0].real) for n, series in run.values.items()
              for s, v in series.items()}
    bars = {(n, s): float(v[0].real) for n, series in run.bars.items() for s, v in series.items()}
    floats = {model.cell.parameters[p]: v for p, v in inst["params"].items()}
    grads = model.weight_grads
    grad = float(_evaluate_sums({key: grads[key]}, lambda n, s: bars[(n[4:], s)]
                                if n.startswith("bar_") else values[(n, s)], LONG_T,
                                floats)[key])
    new = float(update.xreplace({grads[key].rhs: grad}).subs(
        {sp.Symbol("alpha"): UPDATE_STEP, model.cell.parameters[key]: inst["params"][key]}))

    def loss(weight: float) -> float:
        weights = {p: np.array(v) for p, v in inst["params"].items()}
        weights[key] = np.array(weight)
        return float(_unrolled(model, inst, LONG_T, weights, {})[1])

    ratio = (loss(new) - loss(inst["params"][key])) / (-UPDATE_STEP * grad**2)
    return Check(f"one update step lowers the loss by the learning rate times the squared "
                 f"gradient (T = {LONG_T})", "the loss of the forward pass, before and after",
                 abs(ratio - 1), 1e-4, f"learning rate 1e-6; ratio {ratio:.6f}")


@problem("csc421-hw4/1a", "rnn-cnn-hw/2.1", model="lstm")
def bptt_equations(pid: str) -> Answer:
    model = _model(pid)
    bars = _bars(model)
    return from_template(pid, {f"bar_{name}": bars[name].rhs for name in GATE_ORDER},
                         bar_checks(model, seed=_seed(pid)), template="csc421-hw4/1a.tex",
                         forward=align(model.equations.values()),
                         bars=align([bars[name] for name in GATE_ORDER]))


@problem("csc421-hw4/1b", "rnn-cnn-hw/2.2", model="lstm")
def weight_gradient(pid: str) -> Answer:
    input_first = pid.startswith("rnn-cnn-hw")
    model = _model(pid)
    grads = model.weight_grads
    key = "w_xi" if input_first else "w_ix"
    asked = grads[key]
    results = {f"bar_{key}": asked.rhs,
               "weight_grads": {str(e.lhs): e.rhs for e in grads.values()}}
    checks = weight_checks(model, seed=_seed(pid))
    if input_first:
        results["update"] = sp.Symbol(key) - sp.Symbol("alpha") * asked.rhs
        checks.append(update_check(model, key, results["update"], seed=_seed(pid)))
    return from_template(pid, results, checks, template="csc421-hw4/1b.tex",
                         asked=align([asked]), input_first=input_first,
                         weight=sp.Symbol(key), gradient=asked.lhs,
                         others=align([grads[n] for n in grads if n != key]))


# --- 1c: forget gates near 1, input and output gates near 0 ----------------------------------

def limit_of_bars(model=None) -> dict[str, sp.Expr]:
    """The derived bars of h and c with f = 1, i = o = 0 at every step, the gate bars of
    step t + 1 substituted from their own derived equations."""
    model = model or registered_model("lstm")
    sig = model.cell.signals
    bars = {name: model.derivation.bar_rhs(name) for name in model.cell.signals}
    later = {sig[g].bar(t + 1): bars[g].subs(t, t + 1) for g in ("i", "f", "o", "g")}
    limit = {}
    for lag in (0, 1):
        limit.update({sig["f"](t + lag): 1, sig["i"](t + lag): 0, sig["o"](t + lag): 0})
    return {name: sp.expand(bars[name].xreplace(later).xreplace(limit)) for name in ("h", "c")}


# The regime's weights by role (gate, source): both namings spell a weight with the same two
# letters, w_ix and w_xi alike; every input is x = 1, so a gate sits at sigma(w_x + w_h h).
def _regime_params(model, w_fx: float) -> dict[str, np.ndarray]:
    by_role = {"ix": -6.0, "ih": 0.5, "fx": w_fx, "fh": 0.5, "ox": -6.0, "oh": 0.5,
               "gx": 1.0, "gh": 0.5}
    roles = {frozenset(role): value for role, value in by_role.items()}
    return {p: np.array(roles[frozenset(p[2:])]) for p in model.cell.parameters}


@functools.cache
def regime_norms(name: str = "lstm", steps: int = 200) -> dict[str, dict[str, list[float]]]:
    """|bar h(t)| and |bar c(t)| for t = T..0 with dL/dh at the last step only, in the
    regime of the question and in a contrasting one (forget gates near 0)."""
    model = registered_model(name)
    out = {}
    for regime, w_fx in (("forget near 1", 6.0), ("forget near 0", -6.0)):
        params = _regime_params(model, w_fx)
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


FLOOR = 1e-30  # the figure's lowest value; the f ~ 0 curve leaves the plot below it
CONTRAST_LAG = 10


def _measures(norms: dict) -> dict[str, float]:
    near, far = norms["forget near 1"], norms["forget near 0"]
    top = near["bar_c"][0]
    return {
        "growth": max(near["bar_c"][1:]) / top,  # the largest |bar c(t)|, t < T
        "kept": near["bar_c"][-1] / top,  # |bar c(0)| / |bar c(T)|
        "forget_product": float(np.prod(near["f"])),
        "leak": max(near["bar_h"][1:]) / near["bar_h"][0],
        "contrast": far["bar_c"][CONTRAST_LAG] / far["bar_c"][0],
    }


def _regime_checks(model, norms: dict, limits: dict) -> list[Check]:
    sig = model.cell.signals
    m = _measures(norms)
    steps = len(norms["forget near 1"]["t"]) - 1
    limit = "the derived equations with f = 1, i = o = 0 substituted"
    return [
        Check.exact("in the limit, dL/dc(t) = dL/dc(t + 1)", limit,
                    sp.simplify(limits["c"] - sig["c"].bar(t + 1)) == 0,
                    "the difference simplifies to 0"),
        Check.exact("in the limit, dL/dh(t) is the loss term of step t only", limit,
                    sp.simplify(limits["h"] - sig["h"].direct(t)) == 0,
                    "the difference simplifies to 0"),
        Check(f"growth of |dL/dc(t)| over t < T, relative to t = T (f near 1, T = {steps})",
              "none: at most 1e-12", max(0.0, m["growth"] - 1.0), 1e-12,
              f"largest ratio {m['growth']:.4f}", measures="excess of the largest ratio over 1"),
        Check(f"|dL/dc(T)| / |dL/dc(0)| over T = {steps} steps (f near 1)",
              "at most 2: the gradient survives", 1 / m["kept"], 2.0, measures="ratio"),
        Check(f"|dL/dc(0)| / |dL/dc(T)| against the product of the {steps} forget gates",
              "relative difference at most 1%", abs(m["kept"] / m["forget_product"] - 1),
              0.01, f"ratio {m['kept']:.4f}, product {m['forget_product']:.4f}",
              measures="relative difference"),
        Check("largest |dL/dh(t)| for t < T, relative to t = T (f near 1)",
              "at most 0.05: only the direct term", m["leak"], 0.05, measures="ratio"),
        Check(f"contrast, f near 0: |dL/dc(T − {CONTRAST_LAG})| / |dL/dc(T)|",
              "at most one millionth: vanishes", m["contrast"], 1e-6, measures="ratio"),
    ]


BARS_PART = {"csc421-hw4": "1a", "rnn-cnn-hw": "2.1"}  # where each set derives the bars


def _figure(norms: dict) -> tuple[str, str]:
    """The question's regime on a linear axis: the cell gradient, the forget-gate product it
    follows, and the hidden-state gradient, each relative to its value at t = T."""
    near = norms["forget near 1"]
    steps = len(near["t"]) - 1
    times = near["t"]  # T, T-1, ..., 0
    # prod_{s=t+1}^{T} f(s); near["f"][s - 1] is f at step s
    products = [float(np.prod(near["f"][tm:])) for tm in times]

    def relative(series: list[float]) -> tuple[list[int], list[float]]:
        return times, [v / series[0] for v in series]

    source = pgfplot(
        {r"$|\overline{c^{(t)}}| / |\overline{c^{(T)}}|$": relative(near["bar_c"]),
         r"$f^{(t+1)} \cdots f^{(T)}$": (times, products),
         r"$|\overline{h^{(t)}}| / |\overline{h^{(T)}}|$": relative(near["bar_h"])},
        xlabel="$t$", ylabel="relative to $t = T$")
    # a linear axis from 0 to just above 1: growth would show as a curve above 1
    source = source.replace("[dvplot, ", f"[dvplot, no markers, xmin=0, xmax={steps}, ymin=0, "
                            "ymax=1.15, ", 1)
    # the product lies on the cell gradient: dashed, over it, so that both show
    first = source.index(r"\addplot coordinates")
    second = source.index(r"\addplot coordinates", first + 1)
    source = source[:second] + r"\addplot+[densely dashed, very thick] coordinates" + \
        source[second + len(r"\addplot coordinates"):]
    caption = (
        f"The regime of the question over T = {steps} steps (every input 1, forget gates "
        f"about {np.mean(near['f']):.4f}, input and output gates about "
        f"{np.mean(near['i']):.4f}), loss at the last step only, linear axis: the cell "
        "state's gradient relative to its value at t = T, the product of the forget gates "
        "from t+1 to T, and the hidden state's gradient relative to its value at t = T. No "
        "curve rises above 1 (no explosion); the cell state's gradient decays slowly, "
        "as the forget-gate product (dashed), which it follows; the hidden state's gradient is "
        f"below {max(near['bar_h'][1:]) / near['bar_h'][0]:.0e} of its value at T at every "
        "earlier step (its direct term is zero before T)."
    )
    return caption, source


@problem("csc421-hw4/1c", "rnn-cnn-hw/2.3", model="lstm")
def no_explosion(pid: str) -> Answer:
    model = _model(pid)
    limits = limit_of_bars(model)
    norms = regime_norms(model.name)
    near = norms["forget near 1"]
    m = _measures(norms)
    steps = len(near["t"]) - 1
    f_mean = float(np.mean(near["f"]))
    sig = model.cell.signals
    caption, figure = _figure(norms)
    results = {"limits": {f"bar_{k}": v for k, v in limits.items()},
               "regimes": {k: {"bar_c_ratio": v["bar_c"][-1] / v["bar_c"][0],
                               "max_bar_c_growth": max(v["bar_c"]) / v["bar_c"][0]}
                           for k, v in norms.items()}}
    return from_template(
        pid, results, _regime_checks(model, norms, limits), figures={caption: figure},
        template="csc421-hw4/1c.tex", part=BARS_PART[pid.split("/")[0]],
        cell_bar=align([model.adjoints["c"]]),
        limits=align([sp.Eq(sig["c"].bar(t), limits["c"], evaluate=False),
                      sp.Eq(sig["h"].bar(t), limits["h"], evaluate=False)]),
        steps=steps, f_mean=f"{f_mean:.5f}", i_mean=f"{np.mean(near['i']):.4f}",
        o_mean=f"{np.mean(near['o']):.4f}", kept=f"{m['kept']:.3f}",
        forget_product=f"{m['forget_product']:.3f}",
        f_power=f"{round(f_mean, 5) ** steps:.3f}", contrast=m["contrast"],
        contrast_lag=CONTRAST_LAG)
