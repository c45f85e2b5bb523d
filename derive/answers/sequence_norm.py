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
    (Welford's recursion), ``backward`` (the adjoint recurrences derived from the streaming
    forward by the engine: ``bar_y(t)`` ... ``bar_h(t)``, then ``gamma_bar``, ``beta_bar``;
    ``dL_dy(t)`` is the upstream gradient, ``n(t) = t`` the step number),
    ``backward_closed_form`` (``beta_bar``, ``gamma_bar``, ``hbar(s)`` summed in closed form),
    ``backward_streaming`` (that closed form as the kernel's running sums ``A, B, C``),
    ``verified_T`` (sizes at which the backward equals SymPy's derivative exactly),
    ``sympy_derivative_T2`` (SymPy's own gradient at ``T = 2``, keyed ``h_1``, ``h_2``), ``notes``,
    ``alternative_ema`` (the moving-average variant: ``definition``, ``parameters``,
    ``hyperparameters``, ``initial``, ``forward``, ``backward`` with ``mubar``, ``sigma2bar``).
``cmsc25500-midterm/4c``
    ``verdict``, ``argument``, ``recommendation`` (text), ``demonstration`` (measured
    changes, see ``derive.topics.sequence_norm.transformer_demo``).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check
from derive.printing.latex import course_latex
from derive.topics import sequence_norm as sn

# one feature's sequences print with time as a superscript: h(t) is h^{(t)}, M2(t) M_2^{(t)}
_BASES = {"h": "h", "y": "y", "mu": r"\mu", "sigma2": r"\sigma", "hhat": r"\hat{h}", "r": "r",
          "M2": "M", "A": "A", "B": "B", "C": "C"}
_SUFFIX = {"sigma2": "^{2}"}  # (sigma^{(t)})^2
_PRE_SUB = {"M2": "_2"}  # M_2^{(t)}
_BARRED = {"ybar": "y", "hbar": "h", "mubar": "mu", "sigma2bar": "sigma2"}
_SYMBOLS = {"mu": r"\mu", "sigma2": r"\sigma^{2}", "gamma_bar": r"\overline{\gamma}",
            "beta_bar": r"\overline{\beta}"}
PARAMETERS = {"gamma": ["K"], "beta": ["K"]}
CONSTANTS = "epsilon > 0, a fixed small constant for numerical stability (not trained)"


def _timed(name: str, time: sp.Expr | str) -> str:
    """A sequence at a step, time as a superscript as the course writes it: ``h^{(t)}``,
    ``M_2^{(t)}``, ``(sigma^{(t)})^2``."""
    when = time if isinstance(time, str) else course_latex(time)
    out = f"{_BASES[name]}{_PRE_SUB.get(name, '')}^{{({when})}}"
    return rf"\bigl({out}\bigr){_SUFFIX[name]}" if name in _SUFFIX else out


def _bar_offset(term: sp.Basic) -> int:
    """The latest time step of a bar in ``term`` (0 if none): same-step terms print first."""
    offsets = [int(e.args[0].as_coeff_add()[0]) for e in term.atoms(AppliedUndef)
               if e.func.__name__.startswith("bar_") and e.args[0].as_coeff_add()[0].is_Integer]
    return max(offsets, default=0)


class _Printer(LatexPrinter):
    """Textbook order: positive terms first (``h_t - mu_t``), bare constants last
    (``gamma hhat_t + beta``), a common factor outside (``2 (1 - rho)``), and in a
    product numbers, then constants, then forward quantities, then bars."""

    def __init__(self, names: dict[sp.Symbol, str] | None = None) -> None:
        super().__init__({"order": "none", "mul_symbol": None})
        self.names = names or {}

    def _print_Symbol(self, expr, style="plain"):
        if expr in self.names:
            return self.names[expr]
        if expr.name in _SYMBOLS:
            return _SYMBOLS[expr.name]
        if expr.name.startswith("ybar_"):
            return rf"\overline{{{_timed('y', expr.name[5:])}}}"
        base, _, when = expr.name.partition("_")
        if base in _BASES and when.isdigit():  # h_1: a step of a concrete sequence
            return _timed(base, when)
        return super()._print_Symbol(expr, style)

    def _print_Function(self, expr, exp=None):
        if not isinstance(expr, AppliedUndef):
            return super()._print_Function(expr, exp)
        name, (time,) = expr.func.__name__, expr.args
        if name == "n":  # the step number n(t) = t
            out = course_latex(time)
            return out if exp is None else rf"\left({out}\right)^{{{exp}}}"
        if name.startswith("dL_d"):
            return rf"\frac{{\partial L}}{{\partial {_timed(name[4:], time)}}}"
        if name.startswith("bar_") or name in _BARRED:
            base = _BARRED.get(name, name[4:])
            out = rf"\overline{{{_timed(base, time)}}}"
        else:
            out = _timed(name, time)
        if exp is None or name.startswith("bar_") or name in _BARRED:
            return out if exp is None else f"{out}^{{{exp}}}"
        return rf"\left({out}\right)^{{{exp}}}"  # time is already a superscript

    _print_AppliedUndef = _print_Function

    def _print_Add(self, expr, order=None):
        terms = sorted(expr.args, key=lambda a: (_bar_offset(a), a.could_extract_minus_sign(),
                                                 a.is_Symbol, not isinstance(a, AppliedUndef)))
        tex = ""
        for i, term in enumerate(terms):
            if i and term.could_extract_minus_sign():
                tex, term = tex + " - ", -term
            elif i:
                tex += " + "
            printed = self._print(term)
            tex += rf"\left({printed}\right)" if self._needs_add_brackets(term) else printed
        return tex

    def _print_Mul(self, expr):
        if not isinstance(expr, sp.Mul):  # SymPy prints 1/x through here too
            return super()._print_Mul(expr)
        args = []
        for f in expr.args:  # 2 - 2 rho is 2 (1 - rho)
            coeff, rest = f.primitive() if f.is_Add else (sp.Integer(1), f)
            args += [coeff, rest] if coeff.is_Integer and coeff > 1 else [f]

        def rank(f: sp.Basic) -> int:
            if f.is_Number:
                return 0
            if not f.atoms(AppliedUndef):
                return 1 if f.is_Symbol else 2
            if any(e.func.__name__.startswith(("bar_", "dL_d")) or e.func.__name__ in _BARRED
                   for e in f.atoms(AppliedUndef)):
                return 5
            return 3 if not f.is_Add else 4

        ordered = sorted(args, key=rank)
        if ordered == list(expr.args):
            return super()._print_Mul(expr)
        numbers = [f for f in ordered if f.is_Number]
        if len(numbers) > 1:  # unevaluated products print every number: combine them
            ordered = [sp.Mul(*numbers)] + [f for f in ordered if not f.is_Number]
        return super()._print_Mul(sp.Mul(*ordered, evaluate=False))


def _steps(expr: sp.Basic, names: dict[sp.Symbol, str]) -> sp.Basic:
    """The step number ``n(t)`` is ``t``; a factor in steps alone prints as one fraction
    (``1 - 1/(t + 1)`` is ``t/(t + 1)``), kept whole as a stand-in named in ``names``."""
    if not isinstance(expr, sp.Expr):
        return expr
    shown = expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func.__name__ == "n",
                         lambda e: e.args[0])

    def stand_in(e: sp.Expr) -> sp.Symbol:
        symbol = sp.Symbol(f"step_fraction_{len(names)}")
        names[symbol] = course_latex(sp.factor(sp.together(e)))
        return symbol

    return shown.replace(
        lambda e: e.is_Add and e.free_symbols and not e.atoms(AppliedUndef)
        and all(v.name == "t" for v in e.free_symbols) and e.has(sp.Pow), stand_in)


def to_latex(expr: sp.Basic) -> str:
    """Time as a superscript (``h^{(t)}``), bars as overlines, in textbook order."""
    names: dict[sp.Symbol, str] = {}
    shown = _steps(expr, names)
    return _Printer(names).doprint(shown)


def _rows(equations: list[sp.Eq]) -> list[tuple[str, str]]:
    """The equations as rows of a display: (left side, right side)."""
    return [(to_latex(e.lhs), to_latex(e.rhs)) for e in equations]


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
    return from_template(pid, results, sn.sequence_norm_checks(), forward=_rows(forward))


EMA_DEFINITION = (
    "exponential moving averages, as batch norm keeps its running estimates: "
    "mu(t) = rho mu(t-1) + (1 - rho) h(t), sigma2(t) = rho sigma2(t-1) + (1 - rho) "
    "(h(t) - mu(t))^2, from mu(0) = 0, sigma2(0) = 1, with momentum rho in [0, 1) a "
    "hyperparameter; it forgets old steps, at the price of biased early estimates."
)


def _split(equation: sp.Eq) -> tuple[str, str]:
    """One long recurrence over two lines: the same-step terms, then those at ``t + 1``."""
    terms = sorted(sp.Add.make_args(equation.rhs), key=lambda a: sn_offset(a))
    now = [a for a in terms if sn_offset(a) <= 0]
    later = [a for a in terms if sn_offset(a) > 0]
    if not now or not later:
        return to_latex(equation.lhs), to_latex(equation.rhs)
    rest = to_latex(sp.Add(*later))
    rest = rest if rest.startswith("-") else "+ " + rest
    return to_latex(equation.lhs), f"{to_latex(sp.Add(*now))} \\\\\n&\\quad {rest}"


def sn_offset(term: sp.Basic) -> int:
    return _bar_offset(term)


@problem("cmsc25500-midterm/4b")
def causal_sequence_norm(pid: str) -> Answer:
    forward, streaming = sn.causal_forward(), sn.causal_streaming_forward()
    derived = list(sn.derived_backward())
    closed, reverse = sn.causal_backward(), sn.causal_streaming_backward()
    definition = (
        "Causal sequence norm: at step t, normalise h(t) with the running (cumulative) mean and "
        "biased variance of h(1..t), i.e. of everything seen so far; Welford's recursion keeps "
        "them in O(K) state, so layer B can run at step t right after layer A."
    )
    notes = (
        "Parameters are those of 4a (gamma, beta in R^K); there is no momentum hyperparameter "
        "(an exponential moving average would add one). At t = 1 the variance is 0 and "
        "h(1) - mu(1) = 0, so y(1) = beta whatever h(1) is, and early steps use noisy "
        "statistics. The backward pass is itself a reverse-time recursion carrying two "
        "accumulators per feature (the bars of mu and M2): O(TK) time, O(K) extra memory."
    )
    results = {
        "definition": definition,
        "parameters": PARAMETERS,
        "constants": CONSTANTS,
        "forward": forward,
        "forward_streaming": streaming,
        "backward": derived,
        "backward_closed_form": closed,
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
    checks = ([sn.derived_exact_check(), sn.kernel_vs_derived_check()] + sn.numeric_checks()
              + sn.exact_checks() + [sn.streaming_check(), sn.welford_check()]
              + [sn.ema_exact_check(), sn.ema_numeric_check()])
    rows = [_split(e) if isinstance(e.rhs, sp.Add) and len(e.rhs.args) > 3
            else (to_latex(e.lhs), to_latex(e.rhs)) for e in derived]
    gradient = [(to_latex(sp.Symbol(k)), to_latex(v))
                for k, v in results["sympy_derivative_T2"].items()]
    return from_template(pid, results, checks, forward=_rows(forward),
                         streaming=_rows(streaming), backward=rows, gradient_T2=gradient,
                         ema_forward=_rows(sn.ema_forward()),
                         ema_backward=_rows(sn.ema_backward()[:3]))


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
    measured = {name: [f"{demo[what + '_' + name]:.3g}"
                       for what in ("leak", "padding", "first_output")]
                for name in ("sequence_norm", "causal_sequence_norm", "layer_norm")}
    return from_template(pid, results, checks, measured=measured)
