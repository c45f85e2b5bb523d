"""Answers to cmsc25500-midterm/5a and 5b: memory-limited BPTT by recomputation.

Result keys (``derive answer ID --format json``):

5a: ``cost_model`` (text), ``pseudocode`` (text), ``recurrence`` (text),
``forward_steps_power_of_two`` (formula in ``T``), ``forward_steps_general`` (text),
``peak_slots`` (formula in ``T``), ``table`` (rows with integer keys ``T``,
``bisection_steps``, ``bisection_slots``, ``revolve_steps`` (revolve with the same number of
slots), ``plain_steps``), ``gradient_error`` (max relative error against plain BPTT).

5b: ``cost_model``, ``uniform_steps`` (exact formula in ``T, M``, with ceilings),
``uniform_steps_divisible`` (the same when ``M`` divides ``T``),
``uniform_steps_m1`` and ``evaluations_m1`` (formulas in ``T``), ``revolve_steps``
(formula in ``T, M, r``), ``revolve_r`` (text), ``ratio_to_full_memory`` (text), ``table``
(rows with integer keys ``T``, ``M``, ``uniform_steps``, ``revolve_steps``, ``plain_steps``,
``uniform_slots``, ``revolve_slots``), ``gradient_error``.

Every count in a table is measured by running the schedule (instrumented cell and slot
store); the checks compare it with the closed form.
"""

from __future__ import annotations

import inspect
import math
import re
import textwrap
from collections.abc import Callable

import numpy as np
import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, relative_error
from derive.printing.figures import tikz_graph
from derive.printing.latex import course_latex
from derive.topics import memory_bptt as S

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


def _source(*functions: Callable) -> str:
    """The code the checks run, as printed in the answer (docstrings left out: they are
    written for the library's reader, and the answer says the same in prose)."""
    out = []
    for fn in functions:
        code = textwrap.dedent(inspect.getsource(fn)).rstrip()
        out.append(re.sub(r'\n\s*"""[\s\S]*?"""', "", code, count=1))
    return "\n\n".join(out)


def _ordered_latex(expr: sp.Expr, later: tuple[sp.Symbol, ...] = (),
                   earlier: tuple[sp.Symbol, ...] = ()) -> str:
    """``expr`` with the given symbols sorted after (or before) the others, as textbooks
    write them: ``T (T + M - 2)``, ``r T``."""
    rename = {v: sp.Symbol(f"zz{v.name}", **v.assumptions0) for v in later}
    rename |= {v: sp.Symbol(f"AA{v.name}", **v.assumptions0) for v in earlier}
    return course_latex(expr.xreplace(rename),
                    symbol_names={new: course_latex(old) for old, new in rename.items()})


PSEUDOCODE = _source(S._advance, S.bisection_bptt, S.RNNCell.reverse)
TREE_T = 8  # the recursion tree drawn in 5a


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


def tree_check(tree: list[S.TreeNode]) -> Check:
    """The drawn recursion tree against what the schedule does: its advances and reverse
    steps, in order, equal those recorded from a run of :func:`bisection_bptt`."""
    T = tree[0].stop
    drawn, recorded = S.tree_events(tree), S.recorded_events(T)
    return Check.exact(f"recursion tree of the figure (T={T})",
                       "advances and reverse steps recorded from the schedule",
                       drawn == recorded, f"{len(recorded)} events")


def tree_figure(tree: list[S.TreeNode]) -> str:
    """The recursion tree as TikZ: a node per call, placed over the steps it reverses."""
    nodes: dict[str, tuple] = {}
    edges: list[tuple] = []
    for node in tree:
        x, y = 1.5 * (node.start + node.stop) / 2, -1.5 * node.depth
        key = f"{node.start}-{node.stop}"
        if node.mid is None:
            nodes[key] = (f"${node.stop}$", x, y, "output")
        else:
            nodes[key] = (f"$({node.start}, {node.stop}]$", x, y, "param")
            edges.append((key, f"{node.start}-{node.mid}"))
            edges.append((key, f"{node.mid}-{node.stop}", f"$+{node.mid - node.start}$"))
    return tikz_graph(nodes, [e for e in edges if e[1] in nodes])


# uniform checkpoints: segments of L steps, n of them, the last of l steps; reversing a
# segment of L steps recomputes 0 + 1 + ... + (L-1) states, and reaching the next
# checkpoint costs L more
L_, N_, LAST_ = sp.symbols("L n l", positive=True, integer=True)
UNIFORM_SEGMENTS = (N_ - 1) * L_ * (L_ + 1) / 2 + LAST_ * (LAST_ - 1) / 2
UNIFORM_EXACT = UNIFORM_SEGMENTS.subs(LAST_, T_ - (N_ - 1) * L_).subs(
    N_, sp.ceiling(T_ / L_)).subs(L_, sp.ceiling(T_ / M_))
UNIFORM_DIVISIBLE = sp.factor(UNIFORM_SEGMENTS.subs(LAST_, T_ - (N_ - 1) * L_).subs(
    {N_: M_, L_: T_ / M_}))


def _uniform_closed_form_checks(exact: sp.Expr = UNIFORM_EXACT,
                                divisible: sp.Expr = UNIFORM_DIVISIBLE) -> list[Check]:
    """The symbolic forms agree with the exact count function where they apply."""
    ok_m1 = all(S.uniform_steps(T, 1) == T * (T - 1) // 2 for T in range(2, 300))
    ok_exact = all(S.uniform_steps(T, M) == exact.subs({T_: T, M_: M})
                   for M in range(1, 12) for T in range(M + 1, 120))
    ok_div = all(S.uniform_steps(T, M) == divisible.subs({T_: T, M_: M})
                 for M in range(1, 12) for T in range(2 * M, 200, M))
    return [
        Check.exact("uniform steps, M=1", "T(T-1)/2, T=2..299", ok_m1),
        Check.exact("uniform steps, exact formula (any T > M)",
                    "(n-1)L(L+1)/2 + l(l-1)/2, M < T < 120", ok_exact,
                    "L = ceil(T/M) steps per segment, n = ceil(T/L) segments, "
                    "l = T - (n-1)L in the last"),
        Check.exact("uniform steps, M divides T", "T(T+M-2)/(2M)", ok_div),
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
        "\\legend{uniform, revolve, plain}\n"
        "\\end{loglogaxis}\n\\end{tikzpicture}"
    )


def revolve_estimates(T: int, M: int) -> tuple[float, float]:
    """The large-``T`` forms of the optimal count ``t(T, M)``: ``M/(M+1) ((M! T)^(1/M) -
    (M+1)/2) T`` and its leading term ``M/(M+1) (M!)^(1/M) T^(1+1/M)``."""
    root = (math.factorial(M) * T) ** (1 / M)
    return M / (M + 1) * (root - (M + 1) / 2) * T, M / (M + 1) * root * T


def revolve_constant(T: int, M: int) -> dict:
    """The exact optimum at ``(T, M)`` and both estimates, rounded, for the text."""
    refined, leading = revolve_estimates(T, M)
    return {"T": T, "M": M, "exact": S.revolve_steps(T, M), "refined": round(refined),
            "leading": round(leading)}


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
            S.bisection_steps, "sum of popcount(i) over i < T, T=1..299"),
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
            lambda T: int(power_form.subs(T_, T)), "(T/2) log2 T, T=1..4096"),
    ]
    revolve_checks = [gradient_check("revolve", S.revolve_bptt, instance,
                                     S.bisection_slots(instance.x.shape[0]))]
    tree = S.bisection_tree(TREE_T)
    checks += [*revolve_checks, tree_check(tree)]
    # against plain BPTT only: the central-difference check measures plain BPTT itself
    error = max(c.error for c in (checks[1], *revolve_checks))
    saving = rows[Ts.index(1000)]
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
    return from_template(
        pid, results, checks, saving=saving, tree_T=TREE_T, fd_error=checks[0].error,
        figures={f"The recursion of the bisection schedule for T = {TREE_T}, as it runs. A "
                 "box (s, e] reverses steps s+1, ..., e from the stored state at s: it first "
                 "advances to the midpoint m (the m - s forward steps label the edge to its "
                 "right child), then recurses right, then left. A green square t is the "
                 "reverse step t; they run from t = T down to 1. Every level advances T/2 = "
                 f"{TREE_T // 2} steps, {S.bisection_steps(TREE_T)} in all.":
                 tree_figure(tree)})


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
                     S.uniform_steps, "the exact formula of the text"),
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
    revolve_form = r_ * T_ - sp.binomial(M_ + r_, M_ + 1)
    ratio_text = (
        "With a slot for every state (M = T) one forward pass suffices: T - 1 forward "
        "steps, linear in T. With a constant M, exact BPTT by uniform checkpoints costs "
        "about T^2/(2M) forward steps: quadratic in T, i.e. about T/(2M) times the M = T "
        "cost (M = 1: T(T-1)/2 steps, T(T+1)/2 evaluations). The optimal binomial "
        "schedule lowers this to r T - beta(M+1, r-1) = M/(M+1) r T where T = beta(M, r), "
        "with r ~ (M! T)^(1/M) - (M+1)/2: about M/(M+1) (M!)^(1/M) T^(1+1/M) steps for "
        "large T, still superlinear for constant M, but sub-quadratic for M >= 2; with "
        "M ~ log2 T slots it is O(T log T)."
    )
    results = {
        "cost_model": COST_MODEL,
        "uniform_steps": UNIFORM_EXACT,
        "uniform_steps_divisible": UNIFORM_DIVISIBLE,
        "uniform_steps_m1": T_ * (T_ - 1) / 2,
        "evaluations_m1": T_ * (T_ + 1) / 2,
        "revolve_steps": revolve_form,
        "revolve_r": "the integer r with binomial(M + r - 1, M) < T <= binomial(M + r, M)",
        "ratio_to_full_memory": ratio_text,
        "table": rows,
        "gradient_error": error,
    }
    return from_template(
        pid, results, checks, constant=revolve_constant(1000, 4),
        figures={"Forward steps against T with M = 4 slots": _figure(rows, 4)},
        divisible=_ordered_latex(UNIFORM_DIVISIBLE, later=(M_,)),
        example_steps=S.uniform_steps(10, 4),
        r_times_T=_ordered_latex(r_ * T_, earlier=(r_,)),
        binomial=sp.binomial(M_ + r_, M_ + 1))
