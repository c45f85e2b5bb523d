"""Answers to cmsc25500-midterm/5a and 5b: memory-limited BPTT by recomputation.

Result keys (``derive answer ID --format json``):

5a: ``cost_model`` (text), ``pseudocode`` (text), ``recurrence`` (text),
``forward_steps_power_of_two`` (formula in ``T``), ``forward_steps_general`` (text),
``peak_slots`` (formula in ``T``), ``table`` (rows with integer keys ``T``,
``bisection_steps``, ``bisection_slots``, ``revolve_steps`` (revolve with the same number of
slots), ``plain_steps``), ``gradient_error`` (max relative error against plain BPTT).

5b: ``cost_model``, ``uniform_steps`` (formula in ``T, M`` for ``M | T``),
``uniform_steps_m1`` and ``evaluations_m1`` (formulas in ``T``), ``revolve_steps``
(formula in ``T, M, r``), ``revolve_r`` (text), ``ratio_to_full_memory`` (text), ``table``
(rows with integer keys ``T``, ``M``, ``uniform_steps``, ``revolve_steps``, ``plain_steps``,
``uniform_slots``, ``revolve_slots``), ``gradient_error``.

Every count in a table is measured by running the schedule (instrumented cell and slot
store); the checks compare it with the closed form.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from derive import schedules as S
from derive.answers import Answer, problem
from derive.checking import Check, relative_error

T_, M_, r_ = sp.symbols("T M r", positive=True, integer=True)

GRADIENT_TOLERANCE = 1e-12
FD_TOLERANCE = 1e-6
_GRAD_NAMES = ("W_hh", "W_xh", "h0", "x")

COST_MODEL = (
    "Slots hold hidden states h_t (K-vectors); the state being advanced and bar h are "
    "working memory. The reverse step of step t takes h_{t-1}, re-evaluates the cell "
    "(tanh' needs h_t) and propagates bar h = dL/dh. Forward steps count advances of the "
    "cell outside reverse steps; cell evaluations = forward steps + T."
)

PSEUDOCODE = """\
reverse(s, e):            # h_s is held; reverse steps s+1..e
    if e - s == 1:
        reverse_step(h_s, e); return
    m = s + floor((e - s)/2)
    h_m = advance(h_s, s -> m)          # floor((e-s)/2) forward steps
    store h_m; reverse(m, e); free h_m  # right half first: bar h flows backwards
    reverse(s, m)
reverse_step(h_{t-1}, t):
    h_t = tanh(W_hh h_{t-1} + W_xh x_t)
    da = (dL_t/dh_t + bar h) * (1 - h_t^2)
    bar W_hh += da h_{t-1}^T;  bar W_xh += da x_t^T;  bar x_t = W_xh^T da
    bar h = W_hh^T da                   # becomes dL/dh_{t-1}
store h_0; reverse(0, T); bar h_0 = bar h"""


# ----------------------------------------------------------------------------- checks


def gradient_check(name: str, schedule: Callable, instance: S.Instance, M: int | None) -> Check:
    """The gradients of ``schedule(cell[, M])`` against plain BPTT on ``instance``."""
    reference = instance.cell()
    S.plain_bptt(reference)
    cell = instance.cell()
    schedule(cell) if M is None else schedule(cell, M)
    got, want = cell.gradients(), reference.gradients()
    error = max(relative_error(got[k], want[k]) for k in _GRAD_NAMES)
    where = f"T={instance.x.shape[0]}" + ("" if M is None else f", M={M}")
    return Check(f"{name} gradients ({where})", "plain BPTT", error, GRADIENT_TOLERANCE,
                 "gradients of W_hh, W_xh, h_0 and x")


def finite_difference_check(instance: S.Instance, eps: float = 1e-6) -> Check:
    """Plain BPTT against central differences of ``L = sum_t upstream_t . h_t``."""
    cell = instance.cell()
    S.plain_bptt(cell)
    grads = cell.gradients()
    params = {"W_hh": instance.W_hh, "W_xh": instance.W_xh, "h0": instance.h0, "x": instance.x}

    def loss(values):
        h, total = values["h0"], 0.0
        for t in range(values["x"].shape[0]):
            h = np.tanh(values["W_hh"] @ h + values["W_xh"] @ values["x"][t])
            total += float(instance.upstream[t] @ h)
        return total

    error = 0.0
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            for sign in (1, -1):
                shifted = {k: v.copy() for k, v in params.items()}
                shifted[name][index] += sign * eps
                numeric[index] += sign * loss(shifted) / (2 * eps)
        error = max(error, relative_error(grads[name], numeric))
    return Check(f"plain BPTT gradients (T={instance.x.shape[0]})", "central differences",
                 error, FD_TOLERANCE, f"eps={eps}")


def counts_check(name: str, measured: list[tuple[tuple, int]], closed_form: Callable,
                 formula: str) -> Check:
    """Measured counts ``[(args, count)]`` against ``closed_form(*args)``, exactly."""
    wrong = [(args, count, closed_form(*args)) for args, count in measured
             if count != closed_form(*args)]
    detail = f"{len(measured)} cases" if not wrong else (
        f"{len(wrong)} of {len(measured)} differ, first {wrong[0][0]}: measured "
        f"{wrong[0][1]}, formula {wrong[0][2]}")
    return Check.exact(name, formula, not wrong, detail)


def _uniform_closed_form_checks() -> list[Check]:
    """The symbolic forms agree with the exact count function where they apply."""
    ok_m1 = all(S.uniform_steps(T, 1) == T * (T - 1) // 2 for T in range(2, 300))
    form = T_ * (T_ - M_) / (2 * M_) + T_ - T_ / M_
    ok_div = all(
        S.uniform_steps(T, M) == form.subs({T_: T, M_: M})
        for M in range(1, 12) for T in range(2 * M, 200, M)
    )
    return [
        Check.exact("uniform steps, M=1", "T(T-1)/2, T=2..299", ok_m1),
        Check.exact("uniform steps, M divides T", str(form), ok_div),
    ]


# ----------------------------------------------------------------------------- measurements


def _table_5a(Ts: list[int]) -> list[dict]:
    rows = []
    for T in Ts:
        b = S.trace("bisection", T)
        slots = max(1, b.peak_slots)
        rows.append({
            "T": T,
            "bisection_steps": b.forward_steps,
            "bisection_slots": b.peak_slots,
            "revolve_steps": S.trace("revolve", T, slots).forward_steps if slots < T else T - 1,
            "plain_steps": S.trace("plain", T).forward_steps,
        })
    return rows


def _table_5b(Ts: list[int], Ms: list[int]) -> list[dict]:
    rows = []
    for T in Ts:
        plain = S.trace("plain", T)
        for M in Ms:
            if M >= T:
                continue
            u, v = S.trace("uniform", T, M), S.trace("revolve", T, M)
            rows.append({
                "T": T, "M": M,
                "uniform_steps": u.forward_steps, "revolve_steps": v.forward_steps,
                "plain_steps": plain.forward_steps,
                "uniform_slots": u.peak_slots, "revolve_slots": v.peak_slots,
            })
    return rows


def _figure(rows: list[dict], M: int) -> str:
    def coords(key: str) -> str:
        return " ".join(f"({r['T']},{r[key]})" for r in rows if r["M"] == M)

    return (
        "\\begin{tikzpicture}\n\\begin{loglogaxis}[xlabel={$T$}, ylabel={forward steps}, "
        f"legend pos=north west, title={{$M={M}$ slots}}]\n"
        f"\\addplot coordinates {{{coords('uniform_steps')}}};\n"
        f"\\addplot coordinates {{{coords('revolve_steps')}}};\n"
        f"\\addplot coordinates {{{coords('plain_steps')}}};\n"
        "\\legend{uniform, revolve, all states stored}\n"
        "\\end{loglogaxis}\n\\end{tikzpicture}"
    )


def _latex_table(header: list[str], keys: list[str], rows: list[dict]) -> str:
    lines = [
        "\\begin{tabular}{" + "r" * len(keys) + "}", "\\toprule",
        " & ".join(header) + " \\\\", "\\midrule",
    ]
    lines += [" & ".join(str(r[k]) for k in keys) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)


def _text_table(keys: list[str], rows: list[dict]) -> str:
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    head = "  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True))
    body = ["  ".join(str(r[k]).rjust(w) for k, w in zip(keys, widths, strict=True))
            for r in rows]
    return "\n".join([head, *body])


# ----------------------------------------------------------------------------- answers


@problem("cmsc25500-midterm/5a")
def answer_5a(pid: str) -> Answer:
    Ts = [2, 3, 7, 8, 16, 100, 128, 1000, 1024]
    rows = _table_5a(Ts)
    power_form = T_ * sp.log(T_, 2) / 2
    instance = S.random_instance(45, seed=1)
    checks = [
        finite_difference_check(S.random_instance(6, K=2, C=2, seed=2)),
        gradient_check("bisection", S.bisection_bptt, instance, None),
        counts_check(
            "bisection forward steps (measured)",
            [((T,), S.trace("bisection", T).forward_steps) for T in range(1, 300)],
            S.bisection_steps, "sum_{i<T} popcount(i), T=1..299"),
        counts_check(
            "bisection peak slots (measured)",
            [((T,), S.trace("bisection", T).peak_slots) for T in range(1, 300)],
            S.bisection_slots, "max(1, ceil(log2 T)), T=1..299"),
        counts_check(
            "bisection closed form vs recurrence",
            [((T,), S.bisection_steps_recurrence(T)) for T in range(1, 2049)],
            S.bisection_steps, "F(T) = floor(T/2) + F(floor(T/2)) + F(ceil(T/2)), T<=2048"),
        counts_check(
            "bisection steps at T = 2^k",
            [((2**k,), S.trace("bisection", 2**k).forward_steps) for k in range(0, 13)],
            lambda T: int(power_form.subs(T_, T)), str(power_form) + ", T=1..4096"),
    ]
    error = max(c.error for c in checks if c.name.startswith("bisection gradients"))
    keys = ["T", "bisection_steps", "bisection_slots", "revolve_steps", "plain_steps"]
    text = (
        "Recursive O(log T)-memory BPTT (bisection), exact.\n\n"
        f"Cost model: {COST_MODEL}\n\n{PSEUDOCODE}\n\n"
        "Forward steps: F(1) = 0, F(T) = floor(T/2) + F(floor(T/2)) + F(ceil(T/2)); "
        "solution F(T) = sum_{i=0}^{T-1} popcount(i), = (T/2) log2 T for T = 2^k, i.e. "
        "O(T log T). Peak slots: max(1, ceil(log2 T)) (the last step of a segment needs no "
        "slot). Revolve with the same slots is cheaper still (binomial schedule, see 5b).\n\n"
        + _text_table(keys, rows)
        + f"\n\nGradients (W_hh, W_xh, h_0, x) equal plain BPTT: max relative error {error:.1e}."
    )
    latex = (
        "\\textbf{Cost model.} Memory slots hold hidden states $h_t$; the state being "
        "advanced and $\\overline{h}$ are working memory. The reverse step of step $t$ "
        "takes $h_{t-1}$, re-evaluates $h_t$ (needed for $\\tanh'$), and sets "
        "$\\delta = (\\partial L_t/\\partial h_t + \\overline{h})\\odot(1-h_t^{2})$, "
        "$\\overline{W_{hh}} \\mathrel{+}= \\delta h_{t-1}^{\\top}$, "
        "$\\overline{W_{xh}} \\mathrel{+}= \\delta x_t^{\\top}$, "
        "$\\overline{x_t} = W_{xh}^{\\top}\\delta$, $\\overline{h} \\leftarrow "
        "W_{hh}^{\\top}\\delta$.\n\n"
        "\\textbf{Schedule (bisection).} To reverse steps $s+1..e$ from a stored $h_s$: if "
        "$e-s=1$ do the reverse step; otherwise advance to the midpoint "
        "$m = s + \\lfloor (e-s)/2 \\rfloor$, store $h_m$, reverse $m+1..e$ (right half "
        "first, since $\\overline{h}$ flows backwards), free $h_m$, reverse $s+1..m$.\n\n"
        "\\textbf{Cost.} Forward steps satisfy\n"
        "\\[ F(1)=0,\\qquad F(T) = \\lfloor T/2\\rfloor + F(\\lfloor T/2\\rfloor) + "
        "F(\\lceil T/2\\rceil), \\]\n"
        "solved by $F(T)=\\sum_{i=0}^{T-1}\\operatorname{popcount}(i)$; for $T=2^k$, "
        f"$F(T) = {sp.latex(power_form)} = \\tfrac{{T}}{{2}}\\log_2 T$. Peak slots: "
        "$\\max(1,\\lceil\\log_2 T\\rceil)$. Measured counts (revolve given the same number "
        "of slots as bisection; plain stores every state):\n\n"
        + _latex_table(["$T$", "bisection", "slots", "revolve", "plain"], keys, rows)
        + f"\n\nGradients equal plain BPTT to a relative error of ${error:.1e}$."
    )
    results = {
        "cost_model": COST_MODEL,
        "pseudocode": PSEUDOCODE,
        "recurrence": "F(1) = 0; F(T) = floor(T/2) + F(floor(T/2)) + F(ceiling(T/2))",
        "forward_steps_power_of_two": power_form,
        "forward_steps_general": "Sum(popcount(i), (i, 0, T - 1))",
        "peak_slots": sp.Max(1, sp.ceiling(sp.log(T_, 2))),
        "table": rows,
        "gradient_error": error,
    }
    return Answer(pid, results, text, latex, checks)


@problem("cmsc25500-midterm/5b")
def answer_5b(pid: str) -> Answer:
    Ts, Ms = [10, 30, 100, 300, 1000], [1, 2, 4, 8]
    rows = _table_5b(Ts, Ms)
    instance = S.random_instance(40, seed=3)
    grad_checks = [
        gradient_check(name, fn, instance, M)
        for name, fn in (("uniform", S.uniform_bptt), ("revolve", S.revolve_bptt))
        for M in (1, 3, 7)
    ]
    small = [(T, M) for T in range(2, 60) for M in range(1, min(T, 7))]
    checks = [
        *grad_checks,
        counts_check("uniform forward steps (measured)",
                     [((T, M), S.trace("uniform", T, M).forward_steps) for T, M in small]
                     + [((r["T"], r["M"]), r["uniform_steps"]) for r in rows],
                     S.uniform_steps, "(n-1)L + (n-1)L(L-1)/2 + l(l-1)/2"),
        counts_check("revolve forward steps (measured)",
                     [((T, M), S.trace("revolve", T, M).forward_steps) for T, M in small]
                     + [((r["T"], r["M"]), r["revolve_steps"]) for r in rows],
                     S.revolve_steps, "r T - beta(M+1, r-1)"),
        counts_check("revolve closed form vs brute-force optimum",
                     [((T, M), S.revolve_steps_dp(T, M)) for T, M in small],
                     S.revolve_steps, "min over split points, T<60, M<7"),
        Check.exact("peak slots within budget (measured)", "peak <= M",
                    all(max(r["uniform_slots"], r["revolve_slots"]) <= r["M"] for r in rows),
                    f"{len(rows)} cases"),
        *_uniform_closed_form_checks(),
    ]
    error = max(c.error for c in grad_checks)
    uniform_div = T_ * (T_ - M_) / (2 * M_) + T_ - T_ / M_
    revolve_form = r_ * T_ - sp.binomial(M_ + r_, M_ + 1)
    keys = ["T", "M", "uniform_steps", "revolve_steps", "plain_steps"]
    ratio_text = (
        "With a slot for every state (M = T) one forward pass suffices: T - 1 forward "
        "steps, linear in T. With a constant M, exact BPTT by uniform checkpoints costs "
        "about T^2/(2M) forward steps: quadratic in T, i.e. about T/(2M) times the M = T "
        "cost (M = 1: T(T-1)/2 steps, T(T+1)/2 evaluations). The optimal binomial "
        "schedule lowers this to r T - beta(M+1, r-1) with r ~ (M! T)^(1/M): about "
        "T^(1+1/M) (M!)^(1/M) steps, still superlinear for constant M, but sub-quadratic "
        "for M >= 2; with M ~ log2 T slots it is O(T log T)."
    )
    text = (
        "Constant memory M: cost of exact BPTT for large T.\n\n"
        f"Cost model: {COST_MODEL}\n\n"
        "Uniform checkpoints (every L = ceil(T/M) steps, recompute from the nearest): "
        f"{uniform_div} forward steps when M divides T.\n"
        "Binomial (revolve, optimal): t(T, M) = r T - beta(M+1, r-1), beta(s, r) = "
        "C(s+r, s), r the unique integer with beta(M, r-1) < T <= beta(M, r).\n\n"
        f"{ratio_text}\n\n" + _text_table(keys, rows)
        + f"\n\nGradients equal plain BPTT: max relative error {error:.1e}."
    )
    latex = (
        "\\textbf{Uniform checkpoints.} Store $h_0, h_L, h_{2L}, \\dots$ with "
        "$L=\\lceil T/M\\rceil$ during the forward pass; to reverse step $t$, recompute "
        "$h_{t-1}$ from the nearest checkpoint before it. When $M \\mid T$ the forward "
        "steps are\n"
        f"\\[ {sp.latex(uniform_div)} \\approx \\frac{{T^2}}{{2M}}, \\]\n"
        "so for $M=1$: $T(T-1)/2$ forward steps, $T(T+1)/2$ cell evaluations. Against "
        "$M=T$ (one forward pass, $T-1$ steps) the cost grows by a factor of about "
        "$T/(2M)$: quadratic instead of linear in $T$.\n\n"
        "\\textbf{Optimal (binomial, revolve).} With $\\beta(s,r)=\\binom{s+r}{s}$ and $r$ "
        "the integer with $\\beta(M,r-1) < T \\le \\beta(M,r)$, the fewest forward steps are\n"
        f"\\[ t(T,M) = {sp.latex(revolve_form)} = rT - \\beta(M+1, r-1), \\]\n"
        "about $(M!)^{1/M}\\,T^{1+1/M}$ for constant $M$: still superlinear, but far below "
        "$T^2/(2M)$ for $M\\ge 2$. Measured forward steps (peak slots never exceed $M$):\n\n"
        + _latex_table(["$T$", "$M$", "uniform", "revolve", "plain"], keys, rows)
        + f"\n\nGradients equal plain BPTT to a relative error of ${error:.1e}$."
    )
    results = {
        "cost_model": COST_MODEL,
        "uniform_steps": uniform_div,
        "uniform_steps_m1": T_ * (T_ - 1) / 2,
        "evaluations_m1": T_ * (T_ + 1) / 2,
        "revolve_steps": revolve_form,
        "revolve_r": "the integer r with binomial(M + r - 1, M) < T <= binomial(M + r, M)",
        "ratio_to_full_memory": ratio_text,
        "table": rows,
        "gradient_error": error,
    }
    return Answer(pid, results, text, latex, checks, {"forward_steps_M4": _figure(rows, 4)})
