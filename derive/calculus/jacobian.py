"""Matrix Jacobians of vector cells in closed form: ``d of(t) / d wrt(t - lag)``.

Forward mode over a cell's equations: every node gets the linear map ``delta -> d node``
(``delta`` a perturbation of ``wrt(t - lag)``), written as a sum of ``coefficient * M`` with
``M`` a matrix expression with one column per entry of ``wrt``. Each primitive has its JVP
rule: ``A X`` gives ``A J_X``; ``a (.) X`` gives ``diag(a) J_X``; a row ``X^T`` inside a product
``u X^T r`` gives the outer product ``u r^T J_X``; ``f.(z)`` gives ``diag(f'.(z)) J_z``; a
softmax entry gives ``sum_j a_i (delta_ij - a_j) J_{w_j}``. Other values of earlier steps are
held fixed; values at ``t`` are followed through their own equations.

1x1 quantities (softmax entries, scores) are scalars in the result (``a_1(t) V_1``), written
as applied functions of the time, like scalar cells' signals. The result is then collected:
terms with the same matrix are merged, outer products with the same row are merged, and a
column that contains a defined signal's right-hand side (``sum_i a_i v_i``) names it
(``h(t)``), so the AttentionRNN Jacobian reads ``a_1 (v_1 - h(t)) r^T + a_1 V_1``.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.calculus.adjoint import Namer
from derive.core.cell import Cell, t
from derive.core.errors import DeriveError
from derive.core.primitives import JVP, Terms, product, rule_for, scalar_of


class _Forward:
    def __init__(self, cell: Cell, wrt: sp.MatrixSymbol) -> None:
        self.cell = cell
        self.wrt = wrt
        self.name = Namer(cell)
        self.now = {eq.signal(t): eq.rhs for eq in cell.equations}
        self.memo: dict[sp.Basic, Terms] = {}
        self.live = {wrt, *self.now}

    def scalar(self, node: sp.Basic) -> sp.Expr:
        return scalar_of(self.name(node))

    def jac(self, node: sp.Basic) -> Terms:
        if node not in self.memo:
            self.memo[node] = self._jac(node)
        return self.memo[node]

    def _jac(self, node: sp.Basic) -> Terms:
        if node == self.wrt:
            return [(sp.Integer(1), sp.Identity(self.wrt.shape[0]))]
        if isinstance(node, sp.MatrixSymbol):
            return self.jac(self.now[node]) if node in self.now else []
        if not isinstance(node, MatrixExpr) or not (node.atoms(sp.MatrixSymbol) & self.live):
            return []  # a constant, a weight product, or values held fixed
        rule = rule_for(JVP, node)
        if rule is None:
            raise DeriveError(f"no Jacobian rule for {type(node).__name__}: {node}")
        return rule(node, self)


def jacobian_terms(cell: Cell, of: str, wrt: str, lag: int) -> Terms:
    """The raw terms of ``d of(t) / d wrt(t - lag)``."""
    for arg, value in (("of", of), ("wrt", wrt)):
        if value not in cell.signals:
            raise DeriveError(f"{arg}: cell {cell.name!r} has no signal {value!r}")
    if not cell.signals[wrt].is_matrix or cell.signals[wrt].shape[1] != 1:
        raise DeriveError(f"wrt: {wrt!r} is not a column vector")
    if lag < 0 or (lag == 0 and of == wrt):
        raise DeriveError(f"lag must be >= 1 for of == wrt, got {lag}")
    forward = _Forward(cell, cell.signals[wrt](t - lag))
    terms = forward.jac(cell.signals[of](t))
    return [(c, forward.name(m)) for c, m in terms]


def _outer(m: MatrixExpr) -> tuple[MatrixExpr, MatrixExpr] | None:
    """``(u, r)`` with ``m = u r``, ``u`` a column (the first column-shaped prefix)."""
    if not isinstance(m, sp.MatMul):
        return None
    coeff, factors = m.as_coeff_matrices()
    if coeff != 1:
        return None
    for i, f in enumerate(factors[:-1]):
        if f.shape[1] == 1:
            return product(factors[: i + 1]), product(factors[i + 1:])
    return None


def _common_factor(coeffs: list[sp.Expr]) -> sp.Expr:
    common = coeffs[0]
    for c in coeffs[1:]:
        common = sp.gcd(common, c)
    return sp.factor(common)


def _name_combination(column: list[tuple[sp.Expr, MatrixExpr]], cell: Cell, namer: Namer
                      ) -> tuple[sp.Expr, MatrixExpr]:
    """``sum_i c_i u_i`` as ``factor * body``: a common scalar factored out, and a defined
    signal's right-hand side ``sum_j s_j u_j`` replaced by its name where that leaves fewer
    terms (``a_1 (1 - a_1) v_1 - a_0 a_1 v_0 - ...`` becomes ``a_1 (v_1 - h(t))``)."""
    coeffs = [sp.expand(c) for c, _ in column]
    factor = _common_factor(coeffs)
    reduced: dict[MatrixExpr, sp.Expr] = {}
    for c, (_, u) in zip(coeffs, column, strict=True):
        reduced[u] = sp.expand(reduced.get(u, 0) + sp.cancel(c / factor))
    best: tuple = (sum(1 for c in reduced.values() if c != 0), reduced, None, 0)
    for eq in cell.equations:
        rhs = eq.rhs
        if not isinstance(rhs, sp.MatAdd) or eq.signal.shape[1] != 1:
            continue
        parts: dict[MatrixExpr, sp.Expr] = {}
        for arg in rhs.args:
            if not isinstance(arg, sp.MatMul):
                break
            coeff, factors = arg.as_coeff_matrices()
            scalars = [f for f in factors if f.shape == (1, 1)]
            vector = [f for f in factors if f.shape != (1, 1)]
            parts[namer(product(vector))] = coeff * sp.Mul(*[scalar_of(namer(f))
                                                              for f in scalars])
        else:
            shared = [u for u in parts if reduced.get(u, 0) != 0]
            if not shared:
                continue
            lam = sp.cancel(-reduced[shared[0]] / parts[shared[0]])
            trial = dict(reduced)
            for u, s in parts.items():
                trial[u] = sp.expand(trial.get(u, 0) + lam * s)
            count = sum(1 for c in trial.values() if c != 0) + 1
            if count < best[0] or (count == best[0] and best[2] is None):  # prefer the name
                best = (count, trial, eq.signal(t), lam)
    _, final, named, lam = best
    terms = [u if c == 1 else c * u for u, c in final.items() if c != 0]
    if named is not None:
        terms.append(named if lam == -1 else -lam * named)
    body = sp.MatAdd(*terms) if len(terms) > 1 else terms[0]
    return factor, body


def _sum_rows(rows: list[MatrixExpr]) -> MatrixExpr:
    """``r_1 + r_2 + ...``, with a first factor they all share taken out: ``h^T (A + B)``."""
    if len(rows) == 1:
        return rows[0]
    heads = [r.args[0] if isinstance(r, sp.MatMul) and len(r.args) > 1 else None
             for r in rows]
    if heads[0] is not None and all(h == heads[0] for h in heads):
        tails = [product(list(r.args[1:])) for r in rows]
        return sp.MatMul(heads[0], sp.MatAdd(*tails))
    return sp.MatAdd(*rows)


def _merge_diagonals(m: MatrixExpr) -> MatrixExpr:
    """``diag(a) diag(b) X`` -> ``diag(a (.) b) X``."""
    if not isinstance(m, sp.MatMul):
        return m
    coeff, factors = m.as_coeff_matrices()
    out: list[MatrixExpr] = []
    for f in factors:
        if isinstance(f, sp.DiagMatrix) and out and isinstance(out[-1], sp.DiagMatrix):
            out[-1] = sp.DiagMatrix(_hadamard(out[-1].args[0], f.args[0]))
        else:
            out.append(f)
    body = product(out)
    return body if coeff == 1 else coeff * body


def _hadamard(*vectors: MatrixExpr) -> MatrixExpr:
    args = [a for v in vectors for a in (v.args if isinstance(v, sp.HadamardProduct) else [v])]
    return sp.HadamardProduct(*args) if len(args) > 1 else args[0]


def _sum_diagonals(plain: list[MatrixExpr]) -> list[MatrixExpr]:
    """``diag(a) X + diag(b) X`` -> ``diag(a + b) X``, common Hadamard factors outside:
    ``diag((h - W_x x) (.) c (.) (1 - c)) W_h``."""
    groups: dict[MatrixExpr | None, list[MatrixExpr]] = {}
    rest = []
    for m in plain:
        coeff, factors = m.as_coeff_matrices() if isinstance(m, sp.MatMul) else (1, [m])
        if len(factors) >= 2 and isinstance(factors[0], sp.DiagMatrix):
            vector = factors[0].args[0]
            groups.setdefault(product(factors[1:]), []).append(
                vector if coeff == 1 else coeff * vector)
        else:
            rest.append(m)
    out = []
    for tail, vectors in groups.items():
        if len(vectors) == 1:
            out.append(sp.MatMul(sp.DiagMatrix(vectors[0]), tail))
            continue
        parts = [_signed_factors(v) for v in vectors]
        common = [f for f in parts[0][1] if all(f in p[1] for p in parts[1:])]
        summands = []
        for sign, factors in parts:
            left = [f for f in factors if f not in common]
            body = _hadamard(*left) if left else sp.OneMatrix(*vectors[0].shape)
            summands.append(body if sign == 1 else sign * body)
        total = sp.MatAdd(*summands)
        out.append(sp.MatMul(sp.DiagMatrix(_hadamard(total, *common) if common else total),
                             tail))
    return out + rest


def _signed_factors(v: MatrixExpr) -> tuple[sp.Expr, list[MatrixExpr]]:
    coeff = 1
    if isinstance(v, sp.MatMul):
        coeff, factors = v.as_coeff_matrices()
        v = product(factors)
    return coeff, list(v.args) if isinstance(v, sp.HadamardProduct) else [v]


def collect(terms: Terms, cell: Cell) -> MatrixExpr:
    """``sum c M`` merged: equal matrices, outer products ``u r`` sharing ``r`` (their
    columns combined and named), then rows sharing the same column."""
    merged: dict[MatrixExpr, sp.Expr] = {}
    for c, m in terms:
        m = _merge_diagonals(m.doit())  # flatten products, drop identities
        merged[m] = merged.get(m, 0) + c
    by_row: dict[MatrixExpr, list[tuple[sp.Expr, MatrixExpr]]] = {}
    plain: list[MatrixExpr] = []
    namer = Namer(cell)
    for m, c in merged.items():
        c = sp.factor(c)
        if c == 0:
            continue
        split = _outer(m)
        if split is None:
            plain.append(m if c == 1 else c * m)
        else:
            by_row.setdefault(split[1], []).append((c, split[0]))
    by_column: dict[tuple, list[MatrixExpr]] = {}
    for row, column in by_row.items():
        by_column.setdefault(_name_combination(column, cell, namer), []).append(row)
    out = []
    for (factor, body), rows in by_column.items():
        outer = sp.MatMul(body, _sum_rows(rows))
        out.append(outer if factor == 1 else factor * outer)
    out += _sum_diagonals(plain)
    return sp.MatAdd(*out) if len(out) > 1 else out[0]


def matrix_jacobian(cell: Cell, of: str, wrt: str | None = None, lag: int = 1) -> MatrixExpr:
    """``d of(t) / d wrt(t - lag)`` in matrix notation, other earlier values held fixed."""
    wrt = wrt or of
    terms = jacobian_terms(cell, of, wrt, lag)
    if not terms:
        return sp.ZeroMatrix(cell.signals[of].shape[0], cell.signals[wrt].shape[0])
    return collect(terms, cell)
