"""Sequence normalisation (batch norm along the time axis of one sequence): the definitions,
the causal running-estimate variant's backward pass, NumPy kernels and their checks.

Every feature ``k = 1..K`` is normalised on its own, so the equations are written for one
feature, with sequences as functions of time: ``h(t)``, ``y(t)``, ``t = 1..T``.

Sequence norm (non-causal, 4a): statistics over the whole sequence,
    mu = (1/T) sum_t h(t),  sigma2 = (1/T) sum_t (h(t) - mu)^2,
    y(t) = gamma (h(t) - mu) / sqrt(sigma2 + epsilon) + beta.

Causal sequence norm (4b): the *running* statistics of ``h(1..t)``, the cumulative mean
and (biased) variance, which a streaming pass keeps with Welford's recursion:
    mu(t) = (1/t) sum_{s<=t} h(s),  sigma2(t) = (1/t) sum_{s<=t} (h(s) - mu(t))^2,
    y(t) = gamma (h(t) - mu(t)) / sqrt(sigma2(t) + epsilon) + beta.
Trainable: ``gamma, beta in R^K``; ``epsilon > 0`` is a fixed constant.

The backward pass is derived, not written: the streaming forward becomes a recurrent cell
(:func:`cell_from`) and the engine's reverse sweep gives its adjoint recurrences
(:func:`derived_backward`); the EMA variant likewise. The closed form and the NumPy kernel
are checked against them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike
from sympy.core.function import AppliedUndef

from derive.calculus.adjoint import derive_adjoints
from derive.checks.check import Check, relative_error
from derive.core.cell import Cell, shift
from derive.core.errors import DeriveError, positive_int

t, s, T = sp.symbols("t s T", integer=True, positive=True)
gamma, beta = sp.symbols("gamma beta")
epsilon = sp.Symbol("epsilon", positive=True)
mu_all, sigma2_all = sp.symbols("mu sigma2")
h, y, ybar, hbar = (sp.Function(n) for n in ("h", "y", "ybar", "hbar"))
mu, sigma2, hhat, r = (sp.Function(n) for n in ("mu", "sigma2", "hhat", "r"))
M2, A, B, C = (sp.Function(n) for n in ("M2", "A", "B", "C"))
gamma_bar, beta_bar = sp.symbols("gamma_bar beta_bar")

COMPLEX_STEP_TOLERANCE = 1e-12
CENTRAL_TOLERANCE = 1e-7  # step 1e-6: truncation ~1e-12, rounding ~1e-10 relative
EXACT_SIZES = range(1, 6)


# ---------------------------------------------------------------- definitions (SymPy)
def sequence_norm_forward() -> list[sp.Eq]:
    """4a: batch norm over the time axis of one sequence, per feature."""
    return [
        sp.Eq(mu_all, sp.Sum(h(t), (t, 1, T)) / T),
        sp.Eq(sigma2_all, sp.Sum((h(t) - mu_all) ** 2, (t, 1, T)) / T),
        sp.Eq(hhat(t), (h(t) - mu_all) / sp.sqrt(sigma2_all + epsilon)),
        sp.Eq(y(t), gamma * hhat(t) + beta),
    ]


def causal_forward() -> list[sp.Eq]:
    """4b: the running (cumulative) statistics of ``h(1..t)``, per feature."""
    return [
        sp.Eq(mu(t), sp.Sum(h(s), (s, 1, t)) / t),
        sp.Eq(sigma2(t), sp.Sum((h(s) - mu(t)) ** 2, (s, 1, t)) / t),
        sp.Eq(r(t), 1 / sp.sqrt(sigma2(t) + epsilon)),
        sp.Eq(hhat(t), (h(t) - mu(t)) * r(t)),
        sp.Eq(y(t), gamma * hhat(t) + beta),
    ]


def causal_streaming_forward() -> list[sp.Eq]:
    """Welford's recursion for the same statistics (``mu(0) = M2(0) = 0``): O(K) state."""
    return [
        sp.Eq(mu(t), mu(t - 1) + (h(t) - mu(t - 1)) / t),
        sp.Eq(M2(t), M2(t - 1) + (h(t) - mu(t - 1)) * (h(t) - mu(t))),
        sp.Eq(sigma2(t), M2(t) / t),
    ]


def causal_backward() -> list[sp.Eq]:
    """A closed form of the causal variant's gradient, given ``ybar(t) = dL/dy(t)``: the
    derived recurrences (:func:`derived_backward`) summed, as the NumPy kernel computes it.

    Chain rule through the forward: ``h(s)`` reaches the loss through ``hhat(s)`` and
    through ``mu(t)`` and ``sigma2(t)`` for every ``t >= s`` (with ``d mu(t)/d h(s) = 1/t``,
    ``d sigma2(t)/d h(s) = 2 (h(s) - mu(t)) / t``, and ``d sigma2(t)/d mu(t) = 0`` because
    the deviations from ``mu(t)`` sum to zero). Verified against SymPy's derivative of the
    forward at ``T = 1..5`` by :func:`exact_checks`.
    """
    return [
        sp.Eq(beta_bar, sp.Sum(ybar(t), (t, 1, T))),
        sp.Eq(gamma_bar, sp.Sum(ybar(t) * hhat(t), (t, 1, T))),
        sp.Eq(hbar(s), gamma * (ybar(s) * r(s) - sp.Sum(
            ybar(t) * r(t) / t * (1 + hhat(t) * r(t) * (h(s) - mu(t))), (t, s, T)))),
    ]


def causal_streaming_backward() -> list[sp.Eq]:
    """The same ``hbar`` as a reverse-time recursion (``A(T+1) = B(T+1) = C(T+1) = 0``)."""
    return [
        sp.Eq(A(s), A(s + 1) + ybar(s) * r(s) / s),
        sp.Eq(B(s), B(s + 1) + ybar(s) * r(s) ** 2 * hhat(s) / s),
        sp.Eq(C(s), C(s + 1) + ybar(s) * r(s) ** 2 * hhat(s) * mu(s) / s),
        sp.Eq(hbar(s), gamma * (ybar(s) * r(s) - A(s) - h(s) * B(s) + C(s))),
    ]


# ---------------------------------------------------------------- concrete sizes
@dataclass(frozen=True)
class Concrete:
    """The causal forward instantiated at ``T = n`` (one feature), from the definitions."""

    n: int
    h: tuple[sp.Symbol, ...]
    ybar: tuple[sp.Symbol, ...]
    mu: list[sp.Expr]
    sigma2: list[sp.Expr]
    y: list[sp.Expr]
    loss: sp.Expr  # sum_t ybar_t y_t: its gradient is the backward pass


def _apply(expr: sp.Expr, table: dict[sp.Function, Callable[[int], sp.Expr]]) -> sp.Expr:
    """Replace applied functions ``f(i)`` (integer ``i``) by ``table[f](i)``."""
    return expr.replace(
        lambda e: isinstance(e, AppliedUndef) and e.func in table and e.args[0].is_Integer,
        lambda e: table[e.func](int(e.args[0])),
    )


@functools.cache
def concrete(n: int) -> Concrete:
    hs = sp.symbols(f"h_1:{n + 1}")
    ys = sp.symbols(f"ybar_1:{n + 1}")
    defs = {e.lhs.func: e.rhs for e in causal_forward()}
    table: dict = {h: lambda i: hs[i - 1], ybar: lambda i: ys[i - 1]}
    mus = [_apply(defs[mu].subs(t, i).doit(), table) for i in range(1, n + 1)]
    table[mu] = lambda i: mus[i - 1]
    vs = [_apply(defs[sigma2].subs(t, i).doit(), table) for i in range(1, n + 1)]
    table[sigma2] = lambda i: vs[i - 1]
    for name in (r, hhat, y):
        values = [_apply(defs[name].subs(t, i), table) for i in range(1, n + 1)]
        table[name] = lambda i, v=values: v[i - 1]
    outs = [table[y](i) for i in range(1, n + 1)]
    loss = sum(ys[i] * outs[i] for i in range(n))
    return Concrete(n, hs, ys, mus, vs, outs, loss)


def _general_at(equation_rhs: sp.Expr, c: Concrete, **at: int) -> sp.Expr:
    """A general equation's right-hand side at ``T = c.n`` (and ``s`` etc.)."""
    expr = equation_rhs.subs({T: c.n, **{sp.Symbol(k, integer=True, positive=True): v
                                         for k, v in at.items()}}).doit()
    rs = [1 / sp.sqrt(v + epsilon) for v in c.sigma2]
    table = {h: lambda i: c.h[i - 1], ybar: lambda i: c.ybar[i - 1],
             mu: lambda i: c.mu[i - 1], sigma2: lambda i: c.sigma2[i - 1],
             r: lambda i: rs[i - 1], hhat: lambda i: (c.h[i - 1] - c.mu[i - 1]) * rs[i - 1]}
    return _apply(expr, table)


def _vanishes(expr: sp.Expr, c: Concrete) -> bool:
    """Exact zero test: each ``sigma2(t) + epsilon`` becomes ``1/R_t^2`` with ``R_t > 0``,
    which turns both sides into polynomials in ``h, ybar, gamma, R`` (and rationals)."""
    rs = sp.symbols(f"R_1:{c.n + 1}", positive=True)
    bases = {v + epsilon: 1 / rs[i] ** 2 for i, v in enumerate(c.sigma2)}
    return sp.expand(expr.xreplace(bases)) == 0


def exact_checks(backward: list[sp.Eq] | None = None,
                 sizes: range = EXACT_SIZES) -> list[Check]:
    """The general backward equations against SymPy's derivative of the forward, exactly."""
    eqs = {e.lhs if e.lhs.is_Symbol else e.lhs.func: e.rhs
           for e in (causal_backward() if backward is None else backward)}
    bad: list[str] = []
    for n in sizes:
        c = concrete(n)
        if not _vanishes(sp.diff(c.loss, beta) - _general_at(eqs[beta_bar], c), c):
            bad.append(f"beta_bar at T={n}")
        if not _vanishes(sp.diff(c.loss, gamma) - _general_at(eqs[gamma_bar], c), c):
            bad.append(f"gamma_bar at T={n}")
        for i in range(1, n + 1):
            if not _vanishes(sp.diff(c.loss, c.h[i - 1]) - _general_at(eqs[hbar], c, s=i), c):
                bad.append(f"hbar({i}) at T={n}")
    sizes = list(sizes)
    checks = [Check.exact(
        f"closed form of the gradient = SymPy derivative (T={sizes[0]}..{sizes[-1]})",
        "SymPy's derivative of the loss, exact", not bad,
        "mismatch: " + ", ".join(bad) if bad else "gradients of h, gamma and beta all equal")]
    # the statistics' identity the derivation uses: d sigma2(t) / d mu(t) = 0
    c = concrete(4)
    m = sp.Symbol("m")
    sig = sum((hi - m) ** 2 for hi in c.h) / 4
    checks.append(Check.exact("the variance's derivative in the mean is 0 at the running mean",
                              "SymPy", sp.simplify(sp.diff(sig, m).subs(m, c.mu[3])) == 0))
    checks.append(two_feature_check(eqs))
    return checks


def two_feature_check(eqs: dict, n: int = 3) -> Check:
    """K = 2: the loss over both features, differentiated by SymPy; each feature's gradient is
    the general equation with that feature's gamma, and no gradient crosses features."""
    c = concrete(n)
    second = {**{hi: sp.Symbol(f"{hi}_2") for hi in c.h},
              **{yi: sp.Symbol(f"{yi}_2") for yi in c.ybar},
              gamma: sp.Symbol("gamma_2"), beta: sp.Symbol("beta_2")}
    loss = c.loss + c.loss.xreplace(second)
    ok = True
    for rename in ({}, second):
        for i in range(1, n + 1):
            general = _general_at(eqs[hbar], c, s=i).xreplace(rename)
            h_i = c.h[i - 1].xreplace(rename) if rename else c.h[i - 1]
            ok &= _vanishes((sp.diff(loss, h_i) - general).xreplace(
                {v: k for k, v in rename.items()}), c)
    ok &= sp.diff(sp.diff(loss, c.h[0]), second[c.h[1]]) == 0
    ok &= _vanishes(sp.diff(loss, gamma) - _general_at(eqs[gamma_bar], c), c)
    return Check.exact(f"two features (K=2, T={n}): per-feature gradients, none across",
                       "SymPy's derivative, exact", bool(ok))


def welford_check(sizes: range = range(1, 5)) -> Check:
    """Welford's recursion gives the same running statistics as the definitions."""
    ok = True
    for n in sizes:
        c = concrete(n)
        mus, m2 = [sp.Integer(0)], [sp.Integer(0)]
        for i in range(1, n + 1):
            hi = c.h[i - 1]
            mus.append(mus[-1] + (hi - mus[-1]) / i)
            m2.append(m2[-1] + (hi - mus[-2]) * (hi - mus[-1]))
            ok &= sp.simplify(mus[i] - c.mu[i - 1]) == 0
            ok &= sp.simplify(m2[i] / i - c.sigma2[i - 1]) == 0
    return Check.exact("Welford recursion = cumulative mean and variance (T=1..4)",
                       "SymPy", bool(ok))


# ---------------------------------------------------------------- NumPy kernels
def _validate(hs: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> None:
    if hs.ndim != 2 or hs.shape[0] < 1 or hs.shape[1] < 1:
        raise DeriveError(f"h must have shape (T, K) with T, K >= 1, got {hs.shape}")
    k = hs.shape[1]
    for name, v in (("gamma", g), ("beta", b)):
        if v.shape != (k,):
            raise DeriveError(f"{name} must have shape ({k},) (K from h), got {v.shape}")
    if not (isinstance(eps, int | float) and eps > 0):
        raise DeriveError(f"epsilon must be a positive number, got {eps!r}")


@dataclass
class Cache:
    h: np.ndarray
    mu: np.ndarray  # (T, K) running means
    r: np.ndarray  # (T, K) 1/sqrt(sigma2(t) + epsilon)
    hhat: np.ndarray
    gamma: np.ndarray
    eps: float


def causal_forward_np(hs: ArrayLike, g: ArrayLike, b: ArrayLike,
                      eps: float = 1e-5) -> tuple[np.ndarray, Cache]:
    """Causal sequence norm of ``h`` ``(T, K)``, one pass (Welford); complex input allowed."""
    hs, g, b = np.asarray(hs), np.asarray(g), np.asarray(b)
    _validate(hs, g, b, eps)
    dtype = np.result_type(hs, g, b, float)
    n, k = hs.shape
    mus = np.empty((n, k), dtype)
    rs = np.empty((n, k), dtype)
    mean, m2 = np.zeros(k, dtype), np.zeros(k, dtype)
    for i in range(n):
        prev = mean
        mean = prev + (hs[i] - prev) / (i + 1)
        m2 = m2 + (hs[i] - prev) * (hs[i] - mean)
        mus[i], rs[i] = mean, 1 / np.sqrt(m2 / (i + 1) + eps)
    norm = (hs - mus) * rs
    return g * norm + b, Cache(hs, mus, rs, norm, g, eps)


def causal_backward_np(ybars: ArrayLike, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hbar, gamma_bar, beta_bar)`` by the reverse recursion: O(T K)."""
    ybars = np.asarray(ybars)
    if ybars.shape != cache.h.shape:
        raise DeriveError(f"ybar must have the shape of h {cache.h.shape}, got {ybars.shape}")
    n = ybars.shape[0]
    steps = np.arange(1, n + 1)[:, None]
    a = ybars * cache.r / steps
    bterm = a * cache.r * cache.hhat
    cterm = bterm * cache.mu
    def rev(x: np.ndarray) -> np.ndarray:  # sums over t >= s
        return np.cumsum(x[::-1], axis=0)[::-1]

    hb = cache.gamma * (ybars * cache.r - rev(a) - cache.h * rev(bterm) + rev(cterm))
    return hb, (ybars * cache.hhat).sum(axis=0), ybars.sum(axis=0)


def sequence_norm_np(hs: ArrayLike, g: ArrayLike, b: ArrayLike,
                     eps: float = 1e-5) -> np.ndarray:
    """Non-causal sequence norm (statistics over all of ``h``), ``(T, K)``."""
    hs, g, b = np.asarray(hs), np.asarray(g), np.asarray(b)
    _validate(hs, g, b, eps)
    mean = hs.mean(axis=0)
    var = ((hs - mean) ** 2).mean(axis=0)
    return g * (hs - mean) / np.sqrt(var + eps) + b


def layer_norm_np(hs: ArrayLike, g: ArrayLike, b: ArrayLike, eps: float = 1e-5) -> np.ndarray:
    """Layer norm: statistics over the features of each token, none across time."""
    hs, g, b = np.asarray(hs), np.asarray(g), np.asarray(b)
    _validate(hs, g, b, eps)
    mean = hs.mean(axis=1, keepdims=True)
    var = ((hs - mean) ** 2).mean(axis=1, keepdims=True)
    return g * (hs - mean) / np.sqrt(var + eps) + b


# ---------------------------------------------------------------- numeric checks
def random_instance(seed: int = 0, n: int = 12, k: int = 3
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random ``(h, gamma, beta, ybar)`` with ``h`` and ``ybar`` of shape ``(n, k)``."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, k)) * 2 + 1, rng.normal(size=k), rng.normal(size=k),
            rng.normal(size=(n, k)))


def numeric_checks(backward: Callable = causal_backward_np, seed: int = 0, n: int = 12,
                   k: int = 3, eps: float = 1e-3) -> list[Check]:
    """``backward`` against complex-step and central-difference derivatives of the forward."""
    positive_int("T", n)
    positive_int("K", k)
    hs, g, b, ybars = random_instance(seed, n, k)
    _, cache = causal_forward_np(hs, g, b, eps)
    hb, gb, bb = backward(ybars, cache)
    got = np.concatenate([hb.ravel(), gb, bb])

    def loss(hh, gg, bbeta):
        out, _ = causal_forward_np(hh, gg, bbeta, eps)
        return (ybars * out).sum()

    def derivatives(perturb: Callable[[Callable], float]) -> np.ndarray:
        out = []
        for idx in np.ndindex(hs.shape):
            out.append(perturb(lambda d, i=idx: loss(_bump(hs, i, d), g, b)))
        for name in ("gamma", "beta"):
            for j in range(k):
                out.append(perturb(lambda d, j=j, nm=name: loss(
                    hs, _bump(g, (j,), d) if nm == "gamma" else g,
                    _bump(b, (j,), d) if nm == "beta" else b)))
        return np.array(out)

    step_cs = 1e-30
    cs = derivatives(lambda f: (f(1j * step_cs)).imag / step_cs)
    step_cd = 1e-6
    cd = derivatives(lambda f: (f(step_cd) - f(-step_cd)).real / (2 * step_cd))
    return [
        Check(f"causal backward vs complex step (T={n}, K={k})", "complex-step, step 1e-30",
              relative_error(got, cs), COMPLEX_STEP_TOLERANCE,
              "gradients of h, gamma and beta; error relative to max(1, |expected|)"),
        Check(f"causal backward vs central differences (T={n}, K={k})",
              "central differences, step 1e-6", relative_error(got, cd), CENTRAL_TOLERANCE),
    ]


def _bump(x: np.ndarray, idx: tuple, d: complex) -> np.ndarray:
    out = np.array(x, dtype=complex if isinstance(d, complex) else float)
    out[idx] += d
    return out


def streaming_check(sizes: range = range(1, 5)) -> Check:
    """The reverse recursion (A, B, C) gives SymPy's derivative exactly."""
    eqs = {e.lhs.func: e.rhs for e in causal_streaming_backward()}
    bad = []
    for n in sizes:
        c = concrete(n)
        acc = {A: {n + 1: sp.Integer(0)}, B: {n + 1: sp.Integer(0)}, C: {n + 1: sp.Integer(0)}}
        for i in range(n, 0, -1):
            table = {f: (lambda j, f=f, acc=acc: acc[f][j]) for f in acc}
            for f in (A, B, C):
                acc[f][i] = _apply(_general_at(eqs[f].subs(s, i), c), table)
            table = {f: (lambda j, f=f, acc=acc: acc[f][j]) for f in acc}
            got = _apply(_general_at(eqs[hbar].subs(s, i), c), table)
            if not _vanishes(sp.diff(c.loss, c.h[i - 1]) - got, c):
                bad.append(f"hbar({i}) at T={n}")
    return Check.exact("the kernel's three running sums = SymPy derivative (T=1..4)",
                       "SymPy's derivative, exact", not bad, ", ".join(bad))


def sequence_norm_checks(seed: int = 0, n: int = 5, k: int = 2) -> list[Check]:
    """4a: the NumPy kernel against the SymPy definition, and what it normalises to."""
    eqs = sequence_norm_forward()
    hs_sym = sp.symbols(f"h_1:{n + 1}")
    table = {h: lambda i: hs_sym[i - 1]}
    mean = _apply(eqs[0].rhs.subs(T, n).doit(), table)
    var = _apply(eqs[1].rhs.subs({T: n, mu_all: mean}).doit(), table)
    outs = [_apply(eqs[3].rhs.subs(hhat(t), eqs[2].rhs).subs(
        {mu_all: mean, sigma2_all: var, t: i}), table) for i in range(1, n + 1)]
    fn = sp.lambdify([hs_sym, gamma, beta, epsilon], outs, "numpy")
    hs, g, b, _ = random_instance(seed, n, k)
    eps = 1e-3
    ref = np.stack([np.array(fn(hs[:, j], g[j], b[j], eps), dtype=float) for j in range(k)], 1)
    got = sequence_norm_np(hs, g, b, eps)
    norm = (got - b) / g
    var_np = hs.var(axis=0)
    moments = max(np.abs(norm.mean(axis=0)).max(),
                  np.abs((norm**2).mean(axis=0) - var_np / (var_np + eps)).max())
    return [
        Check(f"sequence norm kernel = SymPy forward (T={n}, K={k})", "lambdified definition",
              relative_error(got, ref), 1e-12),
        Check("normalised sequence has mean 0 and the predicted variance",
              "NumPy moments", float(moments), 1e-12,
              "variance v/(v + epsilon) for a sequence of variance v"),
    ]


def transformer_demo(seed: int = 0, n: int = 8, k: int = 4, eps: float = 1e-5) -> dict:
    """What each normalisation does to causality and to padding, measured.

    ``leak_*``: the largest change of an output ``y(t)``, ``t < T``, when only the last
    token ``h(T)`` changes. ``padding_*``: the largest change of the real tokens' outputs
    when three zero pad tokens are appended. ``first_output_*``: change of ``y(1)`` when
    ``h(1)`` changes (the causal variant's ``y(1) = beta`` whatever ``h(1)`` is).
    """
    rng = np.random.default_rng(seed)
    hs = rng.normal(size=(n, k)) * 2 + 1
    g, b = rng.normal(size=k), rng.normal(size=k)
    changed = hs.copy()
    changed[-1] += rng.normal(size=k) * 3
    padded = np.vstack([hs, np.zeros((3, k))])
    first = hs.copy()
    first[0] += rng.normal(size=k) * 3

    def causal(x):
        return causal_forward_np(x, g, b, eps)[0]

    def seq(x):
        return sequence_norm_np(x, g, b, eps)

    def ln(x):
        return layer_norm_np(x, g, b, eps)

    out = {}
    for name, fn in (("sequence_norm", seq), ("causal_sequence_norm", causal),
                     ("layer_norm", ln)):
        base = fn(hs)
        out[f"leak_{name}"] = float(np.abs(fn(changed)[:-1] - base[:-1]).max())
        out[f"padding_{name}"] = float(np.abs(fn(padded)[:n] - base).max())
        out[f"first_output_{name}"] = float(np.abs(fn(first)[0] - base[0]).max())
    return out


# ---------------------------------------------------------------- alternative: moving averages
rho = sp.Symbol("rho")  # the moving averages' momentum, 0 <= rho < 1 (a hyperparameter)
mubar, sigma2bar = sp.Function("mubar"), sp.Function("sigma2bar")
EMA_INITIAL = {"mu(0)": 0, "sigma2(0)": 1}  # batch norm's usual initial running statistics


def ema_forward() -> list[sp.Eq]:
    """The exponential-moving-average variant, ``mu(0) = 0``, ``sigma2(0) = 1``."""
    return [
        sp.Eq(mu(t), rho * mu(t - 1) + (1 - rho) * h(t)),
        sp.Eq(sigma2(t), rho * sigma2(t - 1) + (1 - rho) * (h(t) - mu(t)) ** 2),
        sp.Eq(r(t), 1 / sp.sqrt(sigma2(t) + epsilon)),
        sp.Eq(y(t), gamma * (h(t) - mu(t)) * r(t) + beta),
    ]


def ema_backward() -> list[sp.Eq]:
    """Its backward pass, derived by the engine from :func:`ema_forward` (a cell with states
    ``mu, sigma2``): the reverse recursion of ``sigma2bar``, ``mubar``, ``hbar``
    (``mubar(T+1) = sigma2bar(T+1) = 0``), the same-step bars of ``y`` and ``r`` substituted
    in, then ``gamma_bar``, ``beta_bar``."""
    return list(_ema_backward())


@functools.cache
def _ema_backward() -> tuple[sp.Eq, ...]:
    adj = derive_adjoints(cell_from("ema_sequence_norm", ema_forward()))
    bars = {name: _rename_r(adj.bar_rhs(name)) for name in ("y", "r", "sigma2", "mu", "h")}
    for name in ("r", "sigma2", "mu", "h"):  # y and r are same-step: write them out
        for inner in ("y", "r"):
            if inner != name:
                bars[name] = bars[name].replace(
                    lambda e, i=inner: isinstance(e, AppliedUndef)
                    and e.func.__name__ == f"bar_{i}",
                    lambda e, i=inner: shift(bars[i], int(e.args[0] - CELL_T)))
    names = {"bar_sigma2": sigma2bar, "bar_mu": mubar, "bar_h": hbar, "dL_dy": ybar}

    def ours(expr: sp.Expr) -> sp.Expr:
        renamed = expr.replace(lambda e: isinstance(e, AppliedUndef)
                               and e.func.__name__ in names,
                               lambda e: names[e.func.__name__](e.args[0]))
        return renamed.xreplace({CELL_T: t})

    eqs = [sp.Eq(f(t), ours(bars[name])) for f, name in
           ((sigma2bar, "sigma2"), (mubar, "mu"), (hbar, "h"))]
    for name, symbol in (("gamma", gamma_bar), ("beta", beta_bar)):
        summand = ours(adj.grad_summand(name).replace(
            lambda e: isinstance(e, AppliedUndef) and e.func.__name__ == "bar_y",
            lambda e: shift(bars["y"], int(e.args[0] - CELL_T))))
        eqs.append(sp.Eq(symbol, sp.Sum(summand, (t, 1, T))))
    return tuple(eqs)


def _ema_mismatches(eqs: dict, n: int) -> list[str]:
    """Which EMA backward equations differ from SymPy's derivative at ``T = n``."""
    defs = {e.lhs.func: e.rhs for e in ema_forward()}
    hs, ys = sp.symbols(f"h_1:{n + 1}"), sp.symbols(f"ybar_1:{n + 1}")
    vals: dict = {mu: {0: sp.Integer(EMA_INITIAL["mu(0)"])},
                  sigma2: {0: sp.Integer(EMA_INITIAL["sigma2(0)"])}, r: {}, y: {},
                  sigma2bar: {n + 1: sp.Integer(0)}, mubar: {n + 1: sp.Integer(0)}, hbar: {}}
    table = {h: lambda i: hs[i - 1], ybar: lambda i: ys[i - 1]}
    table.update({f: (lambda i, f=f: vals[f][i]) for f in vals})
    for i in range(1, n + 1):
        for f in (mu, sigma2, r, y):
            vals[f][i] = _apply(defs[f].subs(t, i), table)
    loss = sum(ys[i - 1] * vals[y][i] for i in range(1, n + 1))
    for i in range(n, 0, -1):
        for f in (sigma2bar, mubar, hbar):
            vals[f][i] = _apply(eqs[f].subs(t, i), table)
    rs = sp.symbols(f"R_1:{n + 1}", positive=True)
    bases = {vals[sigma2][i] + epsilon: 1 / rs[i - 1] ** 2 for i in range(1, n + 1)}
    bad = [f"hbar({i}) at T={n}" for i in range(1, n + 1)
           if sp.expand((sp.diff(loss, hs[i - 1]) - vals[hbar][i]).xreplace(bases)) != 0]
    for name, param in ((gamma_bar, gamma), (beta_bar, beta)):
        general = _apply(eqs[name].subs(T, n).doit(), table)
        if sp.expand((sp.diff(loss, param) - general).xreplace(bases)) != 0:
            bad.append(f"{name} at T={n}")
    return bad


def ema_exact_check(backward: list[sp.Eq] | None = None, sizes: range = range(1, 4)) -> Check:
    """The EMA backward recursion against SymPy's derivative of the EMA forward, exactly."""
    eqs = {e.lhs if e.lhs.is_Symbol else e.lhs.func: e.rhs
           for e in (ema_backward() if backward is None else backward)}
    bad = [m for n in sizes for m in _ema_mismatches(eqs, n)]
    return Check.exact(f"EMA backward = SymPy derivative of the EMA forward "
                       f"(T={sizes[0]}..{sizes[-1]})", "SymPy's derivative, exact", not bad,
                       ", ".join(bad))


def ema_forward_np(hs: ArrayLike, g: ArrayLike, b: ArrayLike, momentum: float,
                   eps: float = 1e-5) -> tuple[np.ndarray, dict]:
    """The EMA variant in NumPy (complex input allowed); returns ``y`` and a cache."""
    hs, g, b = np.asarray(hs), np.asarray(g), np.asarray(b)
    _validate(hs, g, b, eps)
    if not (isinstance(momentum, int | float) and 0 <= momentum < 1):
        raise DeriveError(f"momentum rho must be in [0, 1), got {momentum!r}")
    dtype = np.result_type(hs, g, b, float)
    mus, rs = np.empty(hs.shape, dtype), np.empty(hs.shape, dtype)
    mean = np.full(hs.shape[1], float(EMA_INITIAL["mu(0)"]), dtype)
    var = np.full(hs.shape[1], float(EMA_INITIAL["sigma2(0)"]), dtype)
    for i in range(hs.shape[0]):
        mean = momentum * mean + (1 - momentum) * hs[i]
        var = momentum * var + (1 - momentum) * (hs[i] - mean) ** 2
        mus[i], rs[i] = mean, 1 / np.sqrt(var + eps)
    return g * (hs - mus) * rs + b, {"h": hs, "mu": mus, "r": rs, "gamma": g, "rho": momentum}


def ema_backward_np(ybars: ArrayLike, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hbar, gamma_bar, beta_bar)`` of the EMA variant by its reverse recursion."""
    ybars = np.asarray(ybars)
    hs, mus, rs, g, p = cache["h"], cache["mu"], cache["r"], cache["gamma"], cache["rho"]
    if ybars.shape != hs.shape:
        raise DeriveError(f"ybar must have the shape of h {hs.shape}, got {ybars.shape}")
    hb = np.empty(hs.shape, np.result_type(ybars, hs))
    vbar = mbar = np.zeros(hs.shape[1], hb.dtype)
    for i in range(hs.shape[0] - 1, -1, -1):
        d = hs[i] - mus[i]
        vbar = -g * ybars[i] * d * rs[i] ** 3 / 2 + p * vbar
        mbar = -g * ybars[i] * rs[i] - 2 * (1 - p) * d * vbar + p * mbar
        hb[i] = g * ybars[i] * rs[i] + 2 * (1 - p) * d * vbar + (1 - p) * mbar
    return hb, (ybars * (hs - mus) * rs).sum(axis=0), ybars.sum(axis=0)


def ema_numeric_check(backward: Callable = ema_backward_np, seed: int = 0, n: int = 10,
                      k: int = 3, momentum: float = 0.9, eps: float = 1e-3) -> Check:
    """The EMA backward against complex-step derivatives of the EMA forward."""
    hs, g, b, ybars = random_instance(seed, n, k)
    _, cache = ema_forward_np(hs, g, b, momentum, eps)
    hb, gb, bb = backward(ybars, cache)
    expected = []
    for idx in np.ndindex(hs.shape):
        out, _ = ema_forward_np(_bump(hs, idx, 1e-30j), g, b, momentum, eps)
        expected.append((ybars * out).sum().imag / 1e-30)
    for j in range(k):
        out, _ = ema_forward_np(hs, _bump(g, (j,), 1e-30j), b, momentum, eps)
        expected.append((ybars * out).sum().imag / 1e-30)
    for j in range(k):
        out, _ = ema_forward_np(hs, g, _bump(b, (j,), 1e-30j), momentum, eps)
        expected.append((ybars * out).sum().imag / 1e-30)
    got = np.concatenate([hb.ravel(), gb, bb])
    return Check(f"EMA backward vs complex step (T={n}, K={k}, rho={momentum})",
                 "complex-step, step 1e-30", relative_error(got, np.array(expected)),
                 COMPLEX_STEP_TOLERANCE)


# ---------------------------------------------------------------- the derived backward pass
# The causal forward written as a recurrent cell (Welford's recursion); the engine's reverse
# sweep gives the adjoint recurrences. The step number enters as an input ``n(t) = t``: a
# literal ``t`` in an equation would not move when the engine shifts it to ``t + 1``.
CELL_T = Cell.t
DERIVED_ORDER = ("y", "hhat", "r", "sigma2", "M2", "mu", "h")  # the reverse sweep's order


def cell_from(name: str, equations: list[sp.Eq]) -> Cell:
    """A recurrent cell from forward equations ``f(t) = ...`` written with this module's
    sequences: a sequence never defined is an input, ``gamma`` and ``beta`` are the weights,
    the last equation's quantity is the output, and a literal ``t`` (the step number) becomes
    the input ``n(t)``, which the engine shifts with everything else."""
    cell = Cell(name)
    defined = [e.lhs.func.__name__ for e in equations]
    read = {f.func.__name__ for e in equations for f in e.rhs.atoms(AppliedUndef)}
    for signal in sorted(read - set(defined)):
        cell.input(signal)
    for signal in dict.fromkeys(defined):
        cell.state(signal)
    cell.params("gamma beta")
    step = None
    for e in equations:
        rhs = e.rhs.replace(lambda x: isinstance(x, AppliedUndef),
                            lambda x: cell.signals[x.func.__name__](x.args[0].subs(t, cell.t)))
        if t in rhs.free_symbols:
            step = cell.input("n")(cell.t) if step is None else step
            rhs = rhs.xreplace({t: step})
        cell.let(e.lhs.func.__name__, rhs)
    cell.output(defined[-1])
    return cell


def causal_cell() -> Cell:
    """The causal forward as a cell: Welford's recursion (states ``mu, M2``, ``mu(0) = M2(0)
    = 0``), then the normalisation of :func:`causal_forward`."""
    return cell_from("causal_sequence_norm",
                     [*causal_streaming_forward(), *causal_forward()[2:]])


def _rename_r(expr: sp.Expr) -> sp.Expr:
    """``(sigma2(t) + epsilon)^(-3/2)`` is ``r(t)^3``: name it so, as for ``r`` itself."""
    def is_power(e: sp.Basic) -> bool:
        return (isinstance(e, sp.Pow) and e.exp == sp.Rational(-3, 2)
                and isinstance(e.base, sp.Add) and epsilon in e.base.args
                and len(e.base.args) == 2)

    def to_r(e: sp.Pow) -> sp.Expr:
        (var,) = [a for a in e.base.args if a != epsilon]
        if not (isinstance(var, AppliedUndef) and var.func == sigma2):
            return e
        return r(var.args[0]) ** 3
    return expr.replace(is_power, to_r)


@functools.cache
def derived_backward() -> tuple[sp.Eq, ...]:
    """The backward pass, derived by the engine from :func:`causal_cell`: one adjoint
    recurrence per forward quantity (``bar_v(T+1) = 0``), then ``gamma_bar``, ``beta_bar``."""
    adj = derive_adjoints(causal_cell())
    cell = adj.cell
    eqs = [sp.Eq(cell.signals[name].bar(CELL_T), _rename_r(adj.bar_rhs(name)))
           for name in DERIVED_ORDER]
    for name, symbol in (("gamma", gamma_bar), ("beta", beta_bar)):
        eqs.append(sp.Eq(symbol, sp.Sum(adj.grad_summand(name), (CELL_T, 1, T))))
    return tuple(eqs)


def _derived_table(eqs: list[sp.Eq]) -> tuple[dict, dict]:
    """``{signal name: rhs}`` of the bars and ``{gamma_bar|beta_bar: rhs}``."""
    bars, grads = {}, {}
    for e in eqs:
        if e.lhs.is_Symbol:
            grads[e.lhs] = e.rhs
        else:
            bars[e.lhs.func.__name__.removeprefix("bar_")] = e.rhs
    return bars, grads


def _resolve(expr: sp.Expr, got: dict, value: Callable[[str, int], sp.Expr],
             ybars: Callable[[int], sp.Expr]) -> sp.Expr:
    """``expr`` at integer times: bars from ``got`` (0 past the end), ``dL_dy(i)`` from
    ``ybars``, the step number ``n(i) = i``, forward quantities from ``value``."""
    def lookup(e: AppliedUndef) -> sp.Expr:
        name, when = e.func.__name__, int(e.args[0])
        if name.startswith("bar_"):
            return got.get((name[4:], when), sp.Integer(0))
        if name.startswith("dL_d"):
            return ybars(when)
        return sp.Integer(when) if name == "n" else value(name, when)

    return expr.replace(lambda e: isinstance(e, AppliedUndef) and e.args[0].is_Integer, lookup)


def _sweep(bars: dict, value: Callable[[str, int], sp.Expr], n: int,
           ybars: Callable[[int], sp.Expr]) -> dict[tuple[str, int], sp.Expr]:
    """Evaluate the adjoint recurrences from ``t = n`` down to 1 (``bar_v(n+1) = 0``)."""
    got: dict[tuple[str, int], sp.Expr] = {}
    for i in range(n, 0, -1):
        for name in DERIVED_ORDER:
            got[(name, i)] = _resolve(bars[name].subs(CELL_T, i), got, value, ybars)
    return got


def derived_exact_check(backward: list[sp.Eq] | None = None,
                        sizes: range = EXACT_SIZES) -> Check:
    """The derived recurrences, swept at ``T = n`` over the forward values of the definition
    (cumulative sums, not Welford), against SymPy's derivative of that definition, exactly."""
    bars, grads = _derived_table(list(derived_backward() if backward is None else backward))
    bad: list[str] = []
    for n in sizes:
        c = concrete(n)
        rs = [1 / sp.sqrt(v + epsilon) for v in c.sigma2]
        values = {"h": c.h, "mu": c.mu, "sigma2": c.sigma2, "r": rs,
                  "M2": [(i + 1) * v for i, v in enumerate(c.sigma2)],
                  "hhat": [(c.h[i] - c.mu[i]) * rs[i] for i in range(n)]}

        def value(name: str, i: int, values=values, n=n) -> sp.Expr:
            # mu(0) = M2(0) = 0; past the end only bars that are 0 multiply them
            return values[name][i - 1] if 1 <= i <= n else sp.Integer(0)

        got = _sweep(bars, value, n, lambda i, c=c: c.ybar[i - 1])
        for i in range(1, n + 1):
            if not _vanishes(sp.diff(c.loss, c.h[i - 1]) - got[("h", i)], c):
                bad.append(f"hbar({i}) at T={n}")
        for symbol, param in ((gamma_bar, gamma), (beta_bar, beta)):
            summand = grads[symbol].function
            total = sp.Add(*[_resolve(summand.subs(CELL_T, i), got, value,
                                      lambda j, c=c: c.ybar[j - 1]) for i in range(1, n + 1)])
            if not _vanishes(sp.diff(c.loss, param) - total, c):
                bad.append(f"{symbol} at T={n}")
    sizes = list(sizes)
    return Check.exact(
        f"derived backward = SymPy derivative of the forward (T={sizes[0]}..{sizes[-1]})",
        "SymPy's derivative of the loss, exact", not bad,
        "mismatch: " + ", ".join(bad) if bad else "every bar of h, and both weight gradients")


@functools.cache
def _derived_kernels() -> dict[str, tuple[Callable, tuple[AppliedUndef, ...]]]:
    """Each derived recurrence (and weight-gradient summand) lambdified, with the
    time-indexed quantities it reads."""
    bars, grads = _derived_table(list(derived_backward()))
    rhs_of = {**bars, **{str(k): v.function for k, v in grads.items()}}
    out = {}
    for name, rhs in rhs_of.items():
        reads = tuple(sorted(rhs.atoms(AppliedUndef), key=str))
        stand = sp.symbols(f"a0:{len(reads)}")
        plain = rhs.xreplace(dict(zip(reads, stand, strict=True)))
        out[name] = (sp.lambdify([stand, gamma, epsilon], plain, "numpy"), reads)
    return out


def derived_backward_np(ybars: ArrayLike, cache: Cache) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """``(hbar, gamma_bar, beta_bar)`` by sweeping the derived recurrences in NumPy, one step
    at a time: slow, but it is the derivation itself, for checking the kernel."""
    ybars = np.asarray(ybars)
    if ybars.shape != cache.h.shape:
        raise DeriveError(f"ybar must have the shape of h {cache.h.shape}, got {ybars.shape}")
    n, k = ybars.shape
    var = 1 / cache.r**2 - cache.eps
    forward = {"h": cache.h, "mu": cache.mu, "r": cache.r, "hhat": cache.hhat, "sigma2": var,
               "M2": var * np.arange(1, n + 1)[:, None]}
    zero = np.zeros(k, np.result_type(ybars, cache.h))
    got: dict[tuple[str, int], np.ndarray] = {}

    def lookup(e: AppliedUndef, i: int) -> np.ndarray:
        name, when = e.func.__name__, i + int(e.args[0] - CELL_T)
        if name.startswith("bar_"):
            return got.get((name[4:], when), zero)
        if name.startswith("dL_d"):
            return ybars[when - 1]
        if name == "n":
            return np.full(k, float(when))
        return forward[name][when - 1] if 1 <= when <= n else zero  # mu(0) = M2(0) = 0

    kernels = _derived_kernels()
    for i in range(n, 0, -1):
        for name in DERIVED_ORDER:
            fn, reads = kernels[name]
            got[(name, i)] = fn([lookup(e, i) for e in reads], cache.gamma, cache.eps) + zero
    hb = np.stack([got[("h", i)] for i in range(1, n + 1)])
    weights = []
    for symbol in (gamma_bar, beta_bar):
        fn, reads = kernels[str(symbol)]
        weights.append(sum(fn([lookup(e, i) for e in reads], cache.gamma, cache.eps) + zero
                           for i in range(1, n + 1)))
    return hb, weights[0], weights[1]


def kernel_vs_derived_check(backward: Callable = causal_backward_np, seed: int = 1,
                            n: int = 12, k: int = 3, eps: float = 1e-3) -> Check:
    """The NumPy kernel (closed-form running sums) against the derived recurrences."""
    hs, g, b, ybars = random_instance(seed, n, k)
    _, cache = causal_forward_np(hs, g, b, eps)
    got = np.concatenate([x.ravel() for x in backward(ybars, cache)])
    want = np.concatenate([x.ravel() for x in derived_backward_np(ybars, cache)])
    return Check(f"NumPy kernel = derived recurrences (T={n}, K={k})",
                 "the derived recurrences, evaluated in NumPy", relative_error(got, want), 1e-12)
