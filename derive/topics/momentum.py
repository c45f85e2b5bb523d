"""Gradient descent with momentum as a reversible map: its inverse and Jacobian determinant.

The step ``s(k+1) = f(s(k))`` on ``s = (theta, p)`` in ``R^D x R^D`` is

    p(k+1)     = beta p(k) - alpha grad_J(theta(k))
    theta(k+1) = theta(k) + p(k+1)

Everything here is derived from those two equations. The equations are linear in the
vectors ``theta`` and ``p`` (only vector additions and scalar multiples occur) apart from
``grad_J``, so SymPy can solve and differentiate them with one stand-in symbol per vector;
the componentwise checks at ``D = 1..6`` confirm each result. ``grad_J`` stands for the
gradient map and ``H`` for the Hessian of ``J``; ``I`` is the ``D x D`` identity.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.checks.check import Check, relative_error
from derive.core.errors import DeriveError

k = sp.Symbol("k", integer=True)
alpha, beta = sp.symbols("alpha beta")
D = sp.Symbol("D", integer=True, positive=True)
theta = sp.Function("theta")
p = sp.Function("p")
grad_J = sp.Function("grad_J")
H = sp.MatrixSymbol("H", D, D)  # the Hessian of J at theta(k)

# the two states, as the catalogue writes them
THETA, P = theta(k), p(k)
THETA_NEXT, P_NEXT = theta(k + 1), p(k + 1)

NUMERIC_TOLERANCE = 1e-12  # composition f^-1(f(s)) = s in double precision
FD_TOLERANCE = 1e-6  # central differences, step 1e-5: truncation error ~1e-10, rounding ~1e-11


def forward_equations() -> list[sp.Eq]:
    """The momentum step, in the order it is computed."""
    return [
        sp.Eq(P_NEXT, beta * P - alpha * grad_J(THETA)),
        sp.Eq(THETA_NEXT, THETA + P_NEXT),
    ]


def _solve_for(equation: sp.Eq, unknown: sp.Expr, beta_value) -> sp.Expr:
    solutions = sp.solve(equation, unknown, dict=True)
    if len(solutions) != 1:
        raise DeriveError(
            f"beta must be non-zero for the momentum step to be invertible, got beta={beta_value}: "
            f"p(k+1) = beta p(k) - alpha grad_J(theta(k)) then does not depend on p(k), "
            "so p(k) cannot be recovered"
        )
    return solutions[0][unknown]


@functools.cache
def _inverse() -> dict[sp.Expr, sp.Expr]:
    return derive_inverse()


def derive_inverse(beta_value: object = None) -> dict[sp.Expr, sp.Expr]:
    """``{theta(k): ..., p(k): ...}`` in terms of ``s(k+1)``, solved by SymPy.

    The step is triangular: the theta update gives ``theta(k)`` once ``p(k+1)`` is
    known, then the p update gives ``p(k)``. With ``beta_value`` given (a number), it is
    substituted first; ``beta = 0`` has no inverse and raises ``DeriveError``.
    """
    p_update, theta_update = forward_equations()
    if beta_value is not None:
        b = _beta_number(beta_value)
        p_update = p_update.subs(beta, b)
    theta_k = _solve_for(theta_update, THETA, beta_value)
    p_k = _solve_for(p_update.subs(THETA, theta_k), P, beta_value)
    return {THETA: theta_k, P: sp.factor_terms(p_k)}


def _beta_number(value: object) -> sp.Expr:
    if isinstance(value, bool):
        raise DeriveError(f"beta must be a real number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DeriveError(f"beta must be a real number, got {value!r}") from None
    if not np.isfinite(number):
        raise DeriveError(f"beta must be finite, got {value!r}")
    if number == 0:
        raise DeriveError(
            f"beta must be non-zero for the momentum step to be invertible, got beta={value!r}: "
            "with beta = 0 the new velocity forgets p(k), so f has no inverse"
        )
    return sp.nsimplify(number) if isinstance(value, int) else sp.Float(number)


# ---------------------------------------------------------------- the Jacobian
def step_maps() -> tuple[dict, dict]:
    """The two steps as maps of the state: step 1 updates p, step 2 updates theta."""
    p_update, theta_update = forward_equations()
    step1 = {THETA: THETA, P: p_update.rhs}
    step2 = {THETA: THETA + P, P: P}  # (theta, p(k+1)) -> (theta + p(k+1), p(k+1))
    return step1, step2


def _block_jacobian(step: dict) -> sp.BlockMatrix:
    """The 2x2 block Jacobian of a step, from SymPy derivatives of its stand-in form.

    Each block is d(out)/d(in) for vectors: a scalar coefficient times ``I``, except
    where ``grad_J`` is differentiated, which gives the Hessian ``H``.
    """
    t, q = sp.symbols("t q")  # plain symbols: SymPy differentiates w.r.t. symbols
    hessian_stand_in = sp.Symbol("H")
    ident, zero = sp.Identity(D), sp.ZeroMatrix(D, D)
    rows = []
    for out in (THETA, P):
        expr = step[out].subs({THETA: t, P: q})
        row = []
        for var in (t, q):
            d = sp.diff(expr, var).replace(
                lambda e: isinstance(e, sp.Derivative) and e.expr.func == grad_J,
                lambda e: hessian_stand_in,
            )
            d = sp.expand(d)
            coeff_h, rest = d.coeff(hessian_stand_in), d.subs(hessian_stand_in, 0)
            block = sp.MatMul(coeff_h, H).doit() if coeff_h != 0 else zero
            if rest != 0:
                block = ident * rest if block == zero else block + rest * ident
            row.append(block)
        rows.append(row)
    return sp.BlockMatrix(rows)


@functools.cache
def step_jacobians() -> tuple[sp.BlockMatrix, sp.BlockMatrix]:
    """``(J1, J2)``: the Jacobians of step 1 (p update) and step 2 (theta update)."""
    step1, step2 = step_maps()
    return _block_jacobian(step1), _block_jacobian(step2)


def _det(block: sp.Expr) -> sp.Expr:
    """SymPy's determinant of a block matrix of symbolic size (``det(I) = 1``)."""
    value = sp.det(block)
    return value.replace(
        lambda e: isinstance(e, sp.Determinant) and isinstance(e.arg, sp.Identity),
        lambda e: sp.Integer(1),
    )


@functools.cache
def jacobian_determinant() -> sp.Expr:
    """``det ds(k+1)/ds(k) = det J2 * det J1``, each by SymPy for symbolic ``D``."""
    j1, j2 = step_jacobians()
    return sp.powsimp(_det(j2) * _det(j1))


@functools.cache
def full_jacobian() -> sp.Expr:
    """``J2 J1`` multiplied out blockwise."""
    j1, j2 = step_jacobians()
    return sp.block_collapse(j2 * j1)


# ---------------------------------------------------------------- concrete D
@dataclass(frozen=True)
class Components:
    """The step written out in components for one concrete ``D``."""

    D: int
    theta: tuple[sp.Symbol, ...]
    p: tuple[sp.Symbol, ...]
    hessian: sp.Matrix  # symmetric matrix of symbols H_ij
    jacobian: sp.Matrix  # d s(k+1) / d s(k), Hessian entries replaced by H_ij
    j1: sp.Matrix
    j2: sp.Matrix


def components(d: int) -> Components:
    """Component form for ``D = d`` with ``J`` an unknown function (fully symbolic Hessian)."""
    th = sp.symbols(f"theta_1:{d + 1}")
    pp = sp.symbols(f"p_1:{d + 1}")
    q = sp.symbols(f"q_1:{d + 1}")  # the intermediate p(k+1)
    big_j = sp.Function("J")(*th)
    grad = [sp.diff(big_j, x) for x in th]
    p_next = [beta * pp[i] - alpha * grad[i] for i in range(d)]
    theta_next = [th[i] + p_next[i] for i in range(d)]
    state = sp.Matrix([*th, *pp])
    hess = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"H_{min(i, j) + 1}{max(i, j) + 1}"))
    to_h = {sp.diff(big_j, th[i], th[j]): hess[i, j] for i in range(d) for j in range(d)}
    jac = sp.Matrix([*theta_next, *p_next]).jacobian(state).xreplace(to_h)
    j1 = sp.Matrix([*th, *p_next]).jacobian(state).xreplace(to_h)
    j2 = sp.Matrix([th[i] + q[i] for i in range(d)] + list(q)).jacobian(sp.Matrix([*th, *q]))
    return Components(d, th, pp, hess, jac, j1, j2)


def _instantiate_block(block: sp.BlockMatrix, comp: Components) -> sp.Matrix:
    """A symbolic-size block matrix at ``D = comp.D`` with ``H`` the symmetric symbol matrix."""
    explicit = block.subs(D, comp.D).as_explicit()
    hsym = sp.MatrixSymbol("H", comp.D, comp.D)
    return explicit.xreplace({hsym[i, j]: comp.hessian[i, j] for i in range(comp.D)
                              for j in range(comp.D)})


# ---------------------------------------------------------------- numerics
@dataclass(frozen=True)
class Objective:
    """A non-quadratic test objective ``J`` with SymPy-derived gradient and Hessian."""

    D: int
    J: sp.Expr
    grad: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]


def nonquadratic_objective(seed: int = 0, d: int | None = None) -> Objective:
    """``J = sum_i log cosh(a_i . theta) + 1/4 sum_j c_j theta_j^4`` with random ``a, c``.

    The scalar profiles' derivatives come from SymPy; the chain rule through the linear
    map ``u = A theta`` assembles the gradient ``A^T phi'(u) + c theta^3`` and the Hessian
    ``A^T diag(phi''(u)) A + 3 diag(c theta^2)`` (cheap for any ``D``).
    """
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 8)) if d is None else d
    a = rng.normal(size=(d + 1, d))
    c = rng.uniform(0.1, 1.0, size=d)
    u = sp.Symbol("u")
    phi, psi = sp.log(sp.cosh(u)), u**4 / 4
    dphi, ddphi = (sp.lambdify(u, sp.diff(phi, u, n), "numpy") for n in (1, 2))
    dpsi, ddpsi = (sp.lambdify(u, sp.diff(psi, u, n), "numpy") for n in (1, 2))
    big_j = sum(phi.subs(u, sum(sp.Float(a[i, j]) * sp.Symbol(f"x_{j + 1}") for j in range(d)))
                for i in range(d + 1))

    def grad(theta_k: np.ndarray) -> np.ndarray:
        return a.T @ dphi(a @ theta_k) + c * dpsi(theta_k)

    def hessian(theta_k: np.ndarray) -> np.ndarray:
        return a.T @ (ddphi(a @ theta_k)[:, None] * a) + np.diag(c * ddpsi(theta_k))

    big_j += sum(sp.Float(c[j]) * psi.subs(u, sp.Symbol(f"x_{j + 1}")) for j in range(d))
    return Objective(d, big_j, grad, hessian)


def _numeric(exprs: Sequence[sp.Expr], grad: Callable) -> Callable:
    """Lambdify expressions of ``s(k+1)`` (vector stand-ins) with ``grad_J`` -> ``grad``."""
    t1, q1, a, b = sp.symbols("t1 q1 a b")
    subs = {THETA_NEXT: t1, P_NEXT: q1, alpha: a, beta: b}
    body = [e.xreplace(subs) for e in exprs]
    return sp.lambdify([t1, q1, a, b], body, modules=[{"grad_J": grad}, "numpy"])


def step(theta_k: np.ndarray, p_k: np.ndarray, alpha_value: float, beta_value: float,
         grad: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One momentum step ``f``, in NumPy."""
    p_next = beta_value * p_k - alpha_value * grad(theta_k)
    return theta_k + p_next, p_next


def inverse_step(theta_next: np.ndarray, p_next: np.ndarray, alpha_value: float,
                 beta_value: float, grad: Callable[[np.ndarray], np.ndarray],
                 inverse: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``f^-1``, evaluated from the derived inverse (or from ``inverse`` if given)."""
    _beta_number(beta_value)
    inv = _inverse() if inverse is None else inverse
    fn = _numeric([inv[THETA], inv[P]], grad)
    theta_k, p_k = fn(np.asarray(theta_next, float), np.asarray(p_next, float),
                      alpha_value, beta_value)
    return np.asarray(theta_k, dtype=float), np.asarray(p_k, dtype=float)


# ---------------------------------------------------------------- checks
def inverse_checks(inverse: dict | None = None, seed: int = 0) -> list[Check]:
    """Compose ``inverse`` (default: the derived one) with the forward map, both ways."""
    inv = derive_inverse() if inverse is None else inverse
    p_update, theta_update = forward_equations()
    forward = {THETA_NEXT: THETA + p_update.rhs, P_NEXT: p_update.rhs}
    checks = []
    # f^-1(f(s)) = s: substitute s(k+1) = f(s(k)) into the inverse
    back = [sp.expand(inv[v].xreplace(forward) - v) for v in (THETA, P)]
    checks.append(Check.exact(
        "undoing a step returns the state, symbolically", "SymPy, one symbol per vector",
        all(sp.simplify(e) == 0 for e in back), _residual_words(back)))
    # f(f^-1(s')) = s': the forward step applied to the inverse's output
    fwd_of_inv = {THETA: inv[THETA], P: inv[P]}
    p_new = p_update.rhs.xreplace(fwd_of_inv)
    res = [sp.expand(p_new - P_NEXT), sp.expand(inv[THETA] + p_new - THETA_NEXT)]
    checks.append(Check.exact(
        "stepping after undoing returns the state, symbolically",
        "SymPy, one symbol per vector",
        all(sp.simplify(e) == 0 for e in res), _residual_words(res)))
    checks.append(component_inverse_check(inv))
    # numerically for a non-quadratic J at a random D
    obj = nonquadratic_objective(seed)
    rng = np.random.default_rng(seed + 1)
    errs = []
    for _ in range(5):
        th, pk = rng.normal(size=obj.D), rng.normal(size=obj.D)
        a, b = rng.uniform(0.01, 0.5), rng.uniform(0.5, 0.99)
        t1, p1 = step(th, pk, a, b, obj.grad)
        tb, pb = inverse_step(t1, p1, a, b, obj.grad, inv)
        errs.append(relative_error(np.concatenate([tb, pb]), np.concatenate([th, pk])))
        t2, p2 = step(tb, pb, a, b, obj.grad)
        errs.append(relative_error(np.concatenate([t2, p2]), np.concatenate([t1, p1])))
    checks.append(Check(
        f"undoing then stepping and stepping then undoing, double precision (D = {obj.D})",
        "a log-cosh plus quartic objective, 5 random states", max(errs), NUMERIC_TOLERANCE,
        "largest relative error of the two compositions"))
    return checks


def _residual_words(residuals: list) -> str:
    zero = [sp.simplify(e) == 0 for e in residuals]
    if all(zero):
        return "both components simplify to 0"
    return "does not simplify to 0: " + " and ".join(
        name for name, ok in zip(("theta", "p"), zero, strict=True) if not ok)


def _component(expr: sp.Expr, i: int, field: list, theta_next: list, p_next: list) -> sp.Expr:
    """Component ``i`` of a vector stand-in expression of ``s(k+1)``, with ``grad_J``
    replaced by the vector field ``field`` evaluated componentwise at its argument."""
    d = len(field)

    def at(j: int, e: sp.Expr) -> sp.Expr:
        return e.xreplace({THETA_NEXT: theta_next[j], P_NEXT: p_next[j]})

    expr = expr.replace(
        lambda e: isinstance(e, sp.Function) and e.func == grad_J,
        lambda e: field[i](*(at(j, e.args[0]) for j in range(d))))
    return at(i, expr)


def component_inverse_check(inverse: dict, dims: Sequence[int] = range(1, 7)) -> Check:
    """The vector-form inverse written out in components, composed with the component forward
    map, for ``D`` in ``dims`` and an arbitrary vector field ``g`` in place of ``grad_J``."""
    bad = []
    for d in dims:
        th = sp.symbols(f"theta_1:{d + 1}")
        pp = sp.symbols(f"p_1:{d + 1}")
        g = [sp.Function(f"g_{i + 1}") for i in range(d)]
        p_next = [beta * pp[i] - alpha * g[i](*th) for i in range(d)]
        theta_next = [th[i] + p_next[i] for i in range(d)]
        for i in range(d):
            if sp.expand(_component(inverse[THETA], i, g, theta_next, p_next) - th[i]) != 0:
                bad.append(f"component {i + 1} of theta at D = {d}")
            if sp.expand(_component(inverse[P], i, g, theta_next, p_next) - pp[i]) != 0:
                bad.append(f"component {i + 1} of p at D = {d}")
    return Check.exact(
        f"undoing a step returns the state, in components (D = {dims[0]} to {dims[-1]})",
        "SymPy, an arbitrary vector field in place of the gradient", not bad,
        "mismatch: " + ", ".join(bad[:4]) if bad else "every component")


def _fd_jacobian(fn: Callable[[np.ndarray], np.ndarray], s: np.ndarray,
                 h: float = 1e-5) -> np.ndarray:
    cols = []
    for i in range(s.size):
        e = np.zeros_like(s)
        e[i] = h
        cols.append((fn(s + e) - fn(s - e)) / (2 * h))
    return np.stack(cols, axis=1)


def determinant_checks(determinant: sp.Expr | None = None, seed: int = 0,
                       dims: Sequence[int] = range(1, 7)) -> list[Check]:
    """Check ``det ds(k+1)/ds(k)`` (default: the derived ``beta**D``) and the factorisation."""
    det = jacobian_determinant() if determinant is None else determinant
    j1, j2 = step_jacobians()
    checks = []
    product_ok, factor_ok, schur_ok, direct_ok = True, True, True, True
    detail = []
    for d in dims:
        comp = components(d)
        claimed = det.subs(D, d)
        e1, e2 = _instantiate_block(j1, comp), _instantiate_block(j2, comp)
        product_ok &= (comp.jacobian - e2 * e1).is_zero_matrix
        factor_ok &= (comp.j1 - e1).is_zero_matrix and (comp.j2 - e2).is_zero_matrix
        # det via the Schur complement of the invertible beta*I block, all by SymPy
        jac = comp.jacobian
        a_, b_, c_, d_ = jac[:d, :d], jac[:d, d:], jac[d:, :d], jac[d:, d:]
        schur = (a_ - b_ * d_.inv() * c_).applyfunc(sp.cancel)
        by_schur = sp.factor(d_.det() * schur.det())
        ok = sp.simplify(by_schur - claimed) == 0 and sp.expand(
            comp.j1.det() * comp.j2.det() - claimed) == 0
        if d <= 3:  # a direct determinant of the full symbolic Jacobian is cheap only here
            direct = jac.det(method="domain-ge")
            direct_ok &= sp.expand(direct - claimed) == 0
        schur_ok &= ok
        if sp.simplify(by_schur - beta**d) != 0:
            detail.append(f"differs from beta to the power {d} at D = {d}")
    checks.append(Check.exact(
        f"the Jacobian of the step is J2 J1 (D = {dims[0]} to {dims[-1]}, symbolic Hessian)",
        "SymPy Jacobian of the step written in components", bool(product_ok and factor_ok),
        "the blocks written out with a symmetric matrix of Hessian symbols"))
    checks.append(Check.exact(
        f"det J1 det J2 and the Schur complement (D = {dims[0]} to {dims[-1]})",
        "SymPy determinants with a symbolic Hessian", bool(schur_ok),
        "; ".join(detail) or "both equal beta to the power D at every D"))
    checks.append(Check.exact(
        "the determinant of the whole Jacobian, directly (D = 1 to 3)",
        "SymPy determinant by Gaussian elimination", bool(direct_ok)))
    block_det = _det(full_jacobian())
    general = sp.simplify(block_det - det) == 0
    checks.append(Check.exact(
        "the block determinant for symbolic D", "SymPy determinant of the 2 by 2 block "
        "matrix (Schur complement)", bool(general),
        "beta to the power D" if sp.simplify(block_det - beta**D) == 0
        else "not beta to the power D"))
    # numerically: finite-difference Jacobian of f for a nonlinear J
    obj = nonquadratic_objective(seed)
    rng = np.random.default_rng(seed + 2)
    a, b = 0.3, float(rng.uniform(0.5, 0.95))
    s0 = rng.normal(size=2 * obj.D)

    def f(s: np.ndarray) -> np.ndarray:
        t1, p1 = step(s[: obj.D], s[obj.D:], a, b, obj.grad)
        return np.concatenate([t1, p1])

    fd = _fd_jacobian(f, s0)
    claimed = float(det.subs({D: obj.D, beta: b}))
    fd_det = float(np.linalg.det(fd))
    checks.append(Check(
        f"the determinant of a finite-difference Jacobian of the step (D = {obj.D})",
        "central differences, step 1e-5", abs(fd_det - claimed) / max(abs(claimed), 1e-300),
        FD_TOLERANCE, f"measured {fd_det:.12g}, derived {claimed:.12g}"))
    hess = obj.hessian(s0[: obj.D])
    e1 = np.block([[np.eye(obj.D), np.zeros((obj.D, obj.D))], [-a * hess, b * np.eye(obj.D)]])
    e2 = np.block([[np.eye(obj.D), np.eye(obj.D)], [np.zeros((obj.D, obj.D)), np.eye(obj.D)]])
    checks.append(Check(
        f"a finite-difference Jacobian of the step equals J2 J1 (D = {obj.D})",
        "central differences, step 1e-5", relative_error(fd, e2 @ e1), FD_TOLERANCE,
        "J1 and J2 evaluated with the objective's Hessian"))
    return checks


# ---------------------------------------------------------------- rendering
# Plain names for the printer, so that a product sorts as the textbook writes it (beta before
# p, alpha before grad J); ``symbol_names`` then typesets them in the course's notation.
_SHOWN = {THETA: sp.Symbol("theta_k"), P: sp.Symbol("p_k"),
          THETA_NEXT: sp.Symbol("theta_k1"), P_NEXT: sp.Symbol("p_k1")}
_LATEX_NAMES = {
    _SHOWN[THETA]: r"\boldsymbol{\theta}^{(k)}",
    _SHOWN[P]: r"\mathbf{p}^{(k)}",
    _SHOWN[THETA_NEXT]: r"\boldsymbol{\theta}^{(k+1)}",
    _SHOWN[P_NEXT]: r"\mathbf{p}^{(k+1)}",
}
_STATE_RANK = {_SHOWN[THETA]: 0, _SHOWN[THETA_NEXT]: 0, _SHOWN[P]: 1, _SHOWN[P_NEXT]: 1}


def _term_rank(term: sp.Expr) -> tuple[int, int]:
    """Textbook order of a sum: positive terms first, a bare theta, then a bare p, then the
    rest (``theta + p``, ``beta p - alpha grad J``, ``p + alpha grad J(...)``)."""
    return int(term.could_extract_minus_sign()), _STATE_RANK.get(term, 2)


def _textbook(expr: sp.Basic) -> sp.Basic:
    """``expr`` rebuilt unevaluated with every sum's terms in textbook order."""
    if not expr.args:
        return expr
    args = [_textbook(a) for a in expr.args]
    if isinstance(expr, sp.Add):
        return sp.Add(*sorted(args, key=_term_rank), evaluate=False)
    if isinstance(expr, sp.Mul):
        return sp.Mul(*args, evaluate=False)
    return expr.func(*args)


def to_latex(expr: sp.Basic) -> str:
    """LaTeX of a stand-in expression, in the course's vector notation and textbook order."""
    shown = expr.xreplace(_SHOWN).replace(grad_J, sp.Function(r"\nabla\mathcal{J}"))
    return sp.latex(_textbook(shown), symbol_names=_LATEX_NAMES, order="none")


def block_latex(block: sp.BlockMatrix) -> str:
    """A 2x2 block matrix as ``bmatrix`` with ``I`` and ``0`` blocks; in a sum of blocks the
    identity comes first (``I - alpha H``)."""

    def term(b: sp.Expr) -> str:
        return sp.latex(b).replace(r"\mathbb{I}", "I")

    def one(b: sp.Expr) -> str:
        if isinstance(b, sp.ZeroMatrix):
            return "0"
        if not isinstance(b, sp.MatAdd):
            return term(b)
        parts = [term(a) for a in sorted(b.args, key=lambda a: not isinstance(a, sp.Identity))]
        out = parts[0]
        for part in parts[1:]:
            out += f" - {part[1:].lstrip()}" if part.startswith("-") else f" + {part}"
        return out

    rows = [" & ".join(one(block.blocks[i, j]) for j in range(2)) for i in range(2)]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def block_strings(block: sp.BlockMatrix) -> list[list[str]]:
    """A block matrix as nested lists of block formulas (``I`` is the identity)."""
    return [[str(block.blocks[i, j]) for j in range(2)] for i in range(2)]
