"""A ``map`` part: an optimiser's update as a map of its state, asked for its inverse and the
determinant of its Jacobian (is the step reversible; does it keep volume?).

The update is a list of steps, computed in order, each giving one variable a new value
(``p' = mu p - alpha g(theta + mu p)``, then ``theta' = theta + p'``); ``g(v)`` is the gradient
of the objective at ``v`` and ``H`` its Hessian there. The variables are vectors of ``R^D`` and
every step is a linear combination of them and of gradients with scalar coefficients, so one
stand-in symbol per vector is exact (as in :mod:`derive.topics.momentum`); with
``coordinatewise = true`` the steps act entry by entry (square roots, products and quotients
of vectors allowed) on a separable objective, whose Hessian is diagonal. ``objective =
"quadratic"`` makes ``g(v) = A v - b``. Equations are read by the safe parser, never
evaluated; numbers are computed by walking the parsed expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from derive.answers import Answer
from derive.checks.check import Check, relative_error
from derive.grade.parse import ParseError, SymbolTable, parse_formula
from derive.printing.latex import latex
from derive.problemset.spec import Part, check_keys

ASKS = {"inverse": "the inverse of the step", "jacobian_determinant":
        "the determinant of the step's Jacobian"}
KEYS = {"variables", "params", "gradient", "steps", "objective", "coordinatewise"}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
D_CHECK = 3  # the size of the numeric check
FD_STEP, FD_TOLERANCE = 1e-6, 1e-6
k = sp.Symbol("k", integer=True)
H = sp.Symbol("H")  # the Hessian at the gradient's point (commutes with every coefficient)
A, b = sp.Symbol("A"), sp.Symbol("b")  # a quadratic objective's matrix and vector


@dataclass
class Update:
    """The parsed update: variables, the steps (variable, right-hand side in stand-ins)."""

    variables: list[str]
    params: list[str]
    gradient: str
    steps: list[tuple[str, sp.Expr, str]]  # (variable, rhs, the text)
    old: dict[str, sp.Symbol]
    new: dict[str, sp.Symbol]
    coordinatewise: bool
    quadratic: bool

    @property
    def g(self):
        return sp.Function(self.gradient)


def _names(part: Part, key: str, required: bool = True) -> list[str]:
    raw = part.fields.get(key, [])
    if not isinstance(raw, list) or (required and not raw) or not all(
            isinstance(n, str) and NAME.match(n) for n in raw):
        raise part.fail(f"{key} must be a list of names", f"write {key} = [\"theta\", \"p\"]",
                        key)
    return list(raw)


def validate(part: Part) -> Update:
    check_keys(part, KEYS, {"variables", "steps"}, ASKS)
    variables = _names(part, "variables")
    params = _names(part, "params", required=False)
    gradient = part.fields.get("gradient", "g")
    if not isinstance(gradient, str) or not NAME.match(gradient):
        raise part.fail(f"gradient = {gradient!r} is not a name", "write gradient = \"g\"",
                        "gradient")
    objective = part.fields.get("objective", "any")
    if objective not in ("any", "quadratic"):
        raise part.fail(f"objective = {objective!r}", "write objective = \"any\" or "
                        "\"quadratic\"", "objective")
    coordinatewise = part.fields.get("coordinatewise", False)
    if not isinstance(coordinatewise, bool):
        raise part.fail("coordinatewise must be true or false", "write coordinatewise = "
                        "true", "coordinatewise")
    clash = set(variables) & set(params) | ({gradient} & (set(variables) | set(params)))
    if clash:
        raise part.fail(f"{sorted(clash)[0]!r} is declared twice", "give the variables, "
                        "the parameters and the gradient different names", "variables")
    old = {v: sp.Symbol(v) for v in variables}
    new = {v: sp.Symbol(f"{v}_next") for v in variables}
    raw = part.fields["steps"]
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise part.fail("steps must be a list of updates", "write steps = [\"p' = mu p - "
                        "alpha g(theta)\", \"theta' = theta + p'\"]", "steps")
    steps: list[tuple[str, sp.Expr, str]] = []
    done: set[str] = set()
    for line in raw:
        lhs, sep, rhs = line.partition("=")
        name = lhs.strip().rstrip("'").strip()
        if not sep or not lhs.strip().endswith("'") or name not in old:
            raise part.fail(f"{line.strip()!r} is not an update of a variable",
                            "write \"v' = ...\" with v one of the variables", "steps", line)
        if name in done:
            raise part.fail(f"{name} is updated twice", "update each variable once",
                            "steps", line)
        for other in re.findall(r"([A-Za-z][A-Za-z0-9_]*)\s*'", rhs):
            if other not in done:
                raise part.fail(f"{line.strip()!r} reads {other}', which is not computed "
                                "before it", f"compute {other}' in an earlier step, or read "
                                f"the old value {other}", "steps", line)
        text = re.sub(r"([A-Za-z][A-Za-z0-9_]*)\s*'", r"\1_next", rhs)
        table = SymbolTable()
        for s in (*old.values(), *new.values()):
            table.symbols[s.name] = s
        for p in params:
            table.symbols[p] = sp.Symbol(p)
        table.functions[gradient] = sp.Function(gradient)
        try:
            expr = parse_formula(text, table)
        except ParseError as exc:
            raise part.fail(f"cannot read {line.strip()!r}: {exc}", "write plain math: mu p "
                            "- alpha g(theta)", "steps", line) from None
        known = {*old.values(), *(new[d] for d in done), *(sp.Symbol(p) for p in params)}
        unknown = sorted(s.name for s in expr.free_symbols - known)
        if unknown:
            raise part.fail(f"undefined symbol {unknown[0]!r} in {line.strip()!r}",
                            f"declare {unknown[0]} under params (a number) or variables",
                            "steps", line)
        for f in expr.atoms(AppliedUndef):
            if f.func.__name__ != gradient or len(f.args) != 1:
                raise part.fail(f"{f} is not the gradient {gradient}(...)",
                                f"write the gradient as {gradient}(point)", "steps", line)
        if not coordinatewise:
            calls = {f: sp.Dummy("grad") for f in expr.atoms(AppliedUndef)}
            atoms = [*old.values(), *new.values(), *calls.values()]
            linear = sp.expand(expr.xreplace(calls))
            rest = linear - sum(sp.diff(linear, a) * a for a in atoms if linear.has(a))
            nonlinear = any(sp.diff(linear, a).has(*atoms) for a in atoms if linear.has(a))
            if nonlinear or sp.simplify(rest) != 0:
                raise part.fail(f"{line.strip()!r} is not a sum of scalar multiples of the "
                                "state vectors and gradients", "write it so, or set "
                                "coordinatewise = true for a step that acts entry by entry "
                                "(a square root or a product of vectors)", "steps", line)
        steps.append((name, expr, line))
        done.add(name)
    return Update(variables, params, gradient, steps, old, new, coordinatewise,
                  objective == "quadratic")


def forward_map(update: Update) -> dict[str, sp.Expr]:
    """New value of every variable in terms of the old ones."""
    out = dict(update.old)
    values: dict[sp.Symbol, sp.Expr] = {}
    for name, rhs, _ in update.steps:
        out[name] = rhs.xreplace(values)
        values[update.new[name]] = out[name]
    return out


def _solve(update: Update, unknown: sp.Symbol, equation: sp.Expr) -> sp.Expr | None:
    """The unique solution of ``equation = 0`` for ``unknown``, or None when it is implicit
    (``unknown`` inside a gradient) or not unique."""
    if any(f.has(unknown) for f in equation.atoms(AppliedUndef)):
        return None
    solutions = sp.solve(equation, unknown, dict=True)
    if len(solutions) != 1:
        return None
    return sp.factor_terms(sp.simplify(solutions[0][unknown]))


def quadratic(expr: sp.Expr, update: Update) -> sp.Expr:
    return expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func == update.g,
                        lambda e: A * e.args[0] - b)


def inverse(update: Update) -> tuple[dict[str, sp.Expr] | None, list[sp.Eq]]:
    """The old state in terms of the new one, step by step backwards; or None and the
    implicit equations left (a gradient at a point that involves the unknown)."""
    state = dict(update.new)  # the values known so far, as expressions of the new state
    implicit: list[sp.Eq] = []
    for name, rhs, _ in reversed(update.steps):
        unknown = update.old[name]
        # before this step, the other variables hold their values after it
        env = {update.old[v]: state[v] for v in update.variables if v != name}
        env.update({update.new[v]: state[v] for v in update.variables if v != name})
        equation = rhs.xreplace(env) - state[name]
        if update.quadratic:
            equation = quadratic(equation, update)
        solved = _solve(update, unknown, equation)
        if solved is None:
            implicit.append(sp.Eq(state[name], rhs.xreplace(env)))
            return None, implicit
        state[name] = solved
    return state, implicit


def jacobian_matrix(update: Update) -> tuple[sp.Matrix, list[sp.Expr]]:
    """The Jacobian of the step in stand-ins: ``H`` where a gradient is differentiated;
    the points at which gradients are taken."""
    mapped = forward_map(update)
    if update.quadratic:
        mapped = {v: quadratic(e, update) for v, e in mapped.items()}
    calls = sorted({f for e in mapped.values() for f in e.atoms(AppliedUndef)
                    if f.func == update.g}, key=str)
    points = [f.args[0] for f in calls]
    # the chain rule through each gradient call: d g(x)/dw = H(x) dx/dw
    stand = {f: sp.Dummy(f"g{i}") for i, f in enumerate(calls)}
    hessians = [H if i == 0 else sp.Symbol(f"H_{i + 1}") for i in range(len(calls))]
    rows = []
    for v in update.variables:
        expr = mapped[v].xreplace(stand)
        row = []
        for w in update.variables:
            d = sp.diff(expr, update.old[w])
            for f, hess in zip(calls, hessians, strict=True):
                d += sp.diff(expr, stand[f]) * hess * sp.diff(f.args[0], update.old[w])
            d = d.xreplace({s_: f for f, s_ in stand.items()})
            d = d.subs(A, H) if update.quadratic else d
            row.append(sp.expand(d))
        rows.append(row)
    return sp.Matrix(rows), points


def determinant(update: Update) -> tuple[sp.Expr, str]:
    """``det`` of the 2x2-block (k x k-block) Jacobian as a scalar function of ``H`` (its
    blocks commute: every block is a polynomial in ``H``) and its LaTeX for D-vectors."""
    matrix, points = jacobian_matrix(update)
    det = sp.factor(matrix.det())
    shown = _display(update)
    if update.coordinatewise:
        det = sp.factor(sp.simplify(det))
        entry = det.subs(H, sp.Symbol("h_i")).xreplace(shown)
        return det, (rf"\prod_{{i=1}}^{{D}} \left({_tex(entry)}\right)"
                     if det.has(H) else _power(det.xreplace(shown)))
    if len(points) > 1 and det.has(H):
        raise ValueError("gradients at several points")
    if not det.has(H):
        return det, _power(det.xreplace(shown))
    poly = sp.Poly(sp.expand(det), H)
    terms = []
    for (power,), coefficient in sorted(poly.terms(), key=lambda t: t[0][0]):
        c = sp.factor(coefficient)
        block = "I" if power == 0 else ("H" if power == 1 else f"H^{{{power}}}")
        terms.append((c, block))
    body = " + ".join(f"{_tex(c.xreplace(shown))}\\,{blk}" if c != 1 else blk
                      for c, blk in terms)
    body = body.replace("+ -", "- ")
    return det, rf"\det\left({body}\right)"


def _tex(expr: sp.Expr) -> str:
    return latex(expr)


def _power(det: sp.Expr) -> str:
    """``det^D`` for a factor the same in every coordinate."""
    if det == 1:
        return "1"
    inner = _tex(det)
    return f"{inner}^{{D}}" if det.is_Symbol else rf"\left({inner}\right)^{{D}}"


def _display(update: Update) -> dict[sp.Symbol, sp.Basic]:
    """Stand-in symbols as the course writes them: ``theta^{(k)}``, ``theta^{(k+1)}``."""
    out: dict[sp.Symbol, sp.Basic] = {}
    for v in update.variables:
        out[update.old[v]] = sp.Function(v)(k)
        out[update.new[v]] = sp.Function(v)(k + 1)
    return out


# -- numbers, for the checks: the parsed expressions walked over NumPy arrays ---------------

@dataclass
class Objective:
    """A non-quadratic objective with a coupled Hessian: ``sum log cosh(C v) + v.Q v / 2``
    (separable when coordinatewise: ``C``, ``Q`` diagonal)."""

    C: np.ndarray
    Q: np.ndarray

    def grad(self, v: np.ndarray) -> np.ndarray:
        return self.C.T @ np.tanh(self.C @ v) + self.Q @ v

    def hessian(self, v: np.ndarray) -> np.ndarray:
        s = 1 - np.tanh(self.C @ v) ** 2
        return self.C.T @ (s[:, None] * self.C) + self.Q


def objective(seed: int, coordinatewise: bool, quadratic_only: bool) -> Objective:
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((D_CHECK, D_CHECK)) * (0.0 if quadratic_only else 1.0)
    Q = rng.standard_normal((D_CHECK, D_CHECK))
    Q = Q @ Q.T / D_CHECK + np.eye(D_CHECK)
    if coordinatewise:
        C, Q = np.diag(np.diag(C)), np.diag(np.diag(Q))
    return Objective(C, Q)


def evaluate(expr: sp.Basic, env: dict, update: Update, obj: Objective,
             hessian: np.ndarray | None = None) -> object:
    """``expr`` at numbers: symbols from ``env`` (arrays or floats), the gradient from
    ``obj``; ``H`` the matrix ``hessian`` (products of ``H`` are matrix products)."""
    def walk(e: sp.Basic) -> object:
        if e.is_Number:
            return float(e)
        if isinstance(e, sp.Symbol):
            if e == H:
                return hessian
            return env[e]
        if isinstance(e, AppliedUndef) and e.func == update.g:
            return obj.grad(np.asarray(walk(e.args[0]), dtype=float))
        if isinstance(e, sp.Add):
            return sum((walk(a) for a in e.args[1:]), walk(e.args[0]))
        if isinstance(e, sp.Mul):
            out = walk(e.args[0])
            for a in e.args[1:]:
                value = walk(a)
                both = isinstance(out, np.ndarray) and isinstance(value, np.ndarray)
                out = out @ value if both and (out.ndim == 2 or value.ndim == 2) else out * value
            return out
        if isinstance(e, sp.Pow):
            base, power = walk(e.args[0]), float(e.args[1])
            if isinstance(base, np.ndarray) and base.ndim == 2:
                return np.linalg.matrix_power(base, int(power))
            return np.power(base, power)
        raise ValueError(f"cannot evaluate {e.func.__name__}")
    return walk(expr)


def step_numeric(update: Update, obj: Objective, params: dict, state: np.ndarray
                 ) -> np.ndarray:
    """One step on a state vector ``(v_1, ..., v_n)`` stacked, each of ``D_CHECK`` entries."""
    env = dict(params)
    for i, v in enumerate(update.variables):
        env[update.old[v]] = state[i * D_CHECK:(i + 1) * D_CHECK]
    values = {v: env[update.old[v]] for v in update.variables}
    for name, rhs, _ in update.steps:
        values[name] = np.asarray(evaluate(quadratic(rhs, update) if update.quadratic else rhs,
                                           env, update, obj), dtype=float)
        env[update.new[name]] = values[name]
    return np.concatenate([values[v] for v in update.variables])


def determinant_check(update: Update, det: sp.Expr, seed: int = 0) -> Check:
    """The derived determinant against the determinant of a central-difference Jacobian of
    the step, on a non-quadratic objective at ``D = 3``."""
    obj = objective(seed, update.coordinatewise, update.quadratic)
    rng = np.random.default_rng(seed + 1)
    params = {sp.Symbol(p): float(rng.uniform(0.3, 0.9)) for p in update.params}
    if update.quadratic:  # g(v) = A v - b with A the objective's (constant) Hessian
        params[b] = rng.standard_normal(D_CHECK)
        params[A] = obj.Q
    n = len(update.variables) * D_CHECK
    state = rng.standard_normal(n)
    if update.coordinatewise:  # square roots of positive quantities: a positive state
        state = np.abs(state) + 0.5
    numeric = np.zeros((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = FD_STEP
        numeric[:, j] = (step_numeric(update, obj, params, state + e)
                         - step_numeric(update, obj, params, state - e)) / (2 * FD_STEP)
    env = dict(params)
    for i, v in enumerate(update.variables):
        env[update.old[v]] = state[i * D_CHECK:(i + 1) * D_CHECK]
    _, points = jacobian_matrix(update)
    if update.coordinatewise:  # entry by entry: H is the Hessian's diagonal, a vector
        point = np.asarray(evaluate(points[0], env, update, obj), dtype=float) if points \
            else np.zeros(D_CHECK)
        per = evaluate(det, env, update, obj, np.diag(obj.hessian(point)))
        derived = float(np.prod(np.broadcast_to(per, (D_CHECK,))))
    else:
        point = np.asarray(evaluate(points[0], env, update, obj), dtype=float) if points \
            else np.zeros(D_CHECK)
        hess = obj.hessian(point)
        poly = sp.Poly(sp.expand(det), H)
        total = np.zeros((D_CHECK, D_CHECK))
        for (power,), coefficient in poly.terms():
            c = float(evaluate(coefficient, env, update, obj))
            total = total + c * np.linalg.matrix_power(hess, power)
        derived = float(np.linalg.det(total))
    error = relative_error(derived, float(np.linalg.det(numeric)))
    return Check("determinant of the Jacobian (D = 3)",
                 "central differences of the step on a non-quadratic objective", error,
                 FD_TOLERANCE, f"{n} x {n} Jacobian")


def inverse_check(update: Update, inv: dict[str, sp.Expr]) -> Check:
    """The step applied to the inverse gives back the new state, exactly (the gradient an
    unknown function), and the inverse applied to the step gives back the old state."""
    mapped = forward_map(update)
    if update.quadratic:
        mapped = {v: quadratic(e, update) for v, e in mapped.items()}
    to_new = {update.old[v]: inv[v] for v in update.variables}
    back = {update.new[v]: mapped[v] for v in update.variables}
    ok = all(sp.simplify(mapped[v].xreplace(to_new) - update.new[v]) == 0
             for v in update.variables) and all(
        sp.simplify(inv[v].xreplace(back) - update.old[v]) == 0 for v in update.variables)
    return Check.exact("step after inverse, and inverse after step, are the identity",
                       "symbolic composition, the gradient an unknown function", ok,
                       f"{len(update.variables)} variables")


def answer(part: Part, notation: dict[str, str], pid: str) -> Answer:
    update = validate(part)
    shown = _display(update)
    body: list[str] = []
    results: dict[str, object] = {}
    checks: list[Check] = []
    rows = [sp.Eq(shown[update.new[name]], rhs.xreplace(shown), evaluate=False)
            for name, rhs, _ in update.steps]
    where = (r"each variable a vector of $\mathbb{R}^D$ updated entry by entry"
             if update.coordinatewise else r"each variable a vector of $\mathbb{R}^D$")
    # the gradient typeset as the steps print a call (the course printer would read a bare
    # symbol argument as a time, g^{(v)})
    at_v = sp.latex(update.g(sp.Symbol("v")))
    grad_words = (rf"${at_v} = A v - b$ (a quadratic objective, $A$ symmetric)"
                  if update.quadratic else
                  rf"${at_v}$ the gradient of the objective at $v$ and $H$ its Hessian there")
    body.append(rf"\paragraph{{The step.}} With {where}, {grad_words}:")
    body.append(r"\begin{align*}" + r" \\ ".join(f"{latex(e.lhs)} &= {latex(e.rhs)}"
                                                  for e in rows) + r"\end{align*}")
    if "inverse" in part.ask:
        inv, implicit = inverse(update)
        if inv is not None:
            body.append(r"\paragraph{Inverse.} Undoing the steps from the last to the first, "
                        "each solved for the variable it updated:")
            body.append(r"\begin{align*}" + r" \\ ".join(
                f"{latex(shown[update.old[v]])} &= {latex(inv[v].xreplace(shown))}"
                for v in update.variables) + r"\end{align*}")
            if update.quadratic:
                body.append(r"Here a quotient by an expression in $A$ means multiplying by "
                            r"its inverse matrix ($A$ commutes with it).")
            results["inverse"] = {v: inv[v] for v in update.variables}
            checks.append(inverse_check(update, inv))
        else:
            eq = implicit[-1]
            body.append(r"\paragraph{Inverse.} Undoing the steps backwards stops at an "
                        "equation whose unknown sits inside the gradient:")
            body.append(rf"\[ {latex(eq.lhs.xreplace(shown))} = "
                        rf"{latex(eq.rhs.xreplace(shown))}. \]")
            body.append("There is no closed form for a general objective: the old state is "
                        "a solution of this equation (for a quadratic objective it is linear "
                        "and solved exactly). Near a state where the Jacobian's determinant "
                        "below is not zero the step is locally invertible, by the inverse "
                        "function theorem.")
            results["inverse"] = "implicit"
    if "jacobian_determinant" in part.ask:
        try:
            det, det_tex = determinant(update)
        except ValueError:
            raise part.fail("the gradient is taken at several points, whose Hessians need "
                            "not commute", "ask for the determinant of a step with one "
                            "gradient point", "ask", "jacobian_determinant") from None
        if update.coordinatewise:
            body.append(r"\paragraph{Determinant of the Jacobian.} The step acts on each "
                        r"coordinate alone and the objective is separable ($h_i$ the $i$-th "
                        r"diagonal entry of its Hessian), so every block of the Jacobian is "
                        "diagonal and the determinant is the product, over the coordinates, of "
                        "the determinant of one coordinate's step:")
        else:
            body.append(r"\paragraph{Determinant of the Jacobian.} Every block of the Jacobian "
                        r"is a polynomial in $H$ (the identity $I$ where no gradient is "
                        r"differentiated), so the blocks commute and the determinant is that of "
                        "the matrix of their coefficients:")
        body.append(rf"\[ \det \frac{{\partial s^{{(k+1)}}}}{{\partial s^{{(k)}}}} = "
                    rf"{det_tex}. \]")
        if not det.has(H):
            body.append("It does not depend on the objective: the step "
                        + ("keeps volume." if det == 1 else
                           f"scales volume by the same factor everywhere, "
                           f"${latex(det)}$ per coordinate."))
        results["jacobian_determinant"] = det
        checks.append(determinant_check(update, det))
    return Answer(pid, results, "", "\n\n".join(body), checks, {})
