"""Answers to csc421-hw4/3: gradient descent with momentum is reversible (3a) and scales
state-space volume by beta^D per step (3b).

Result keys (``derive answer ID --format json``); formulas parse with
``sympy.sympify(s, locals={"beta": sympy.Symbol("beta")})`` (plain ``beta`` is SymPy's
beta function), ``theta``, ``p`` and ``grad_J`` are functions of the step index ``k``:

``csc421-hw4/3a``
    ``forward`` (the two update equations), ``inverse`` (``theta(k) = ...``, ``p(k) = ...``,
    in the order they are computed), ``theta_k``, ``p_k`` (their right-hand sides),
    ``condition`` (when the inverse exists), ``algorithm`` (the inverse step in words).
``csc421-hw4/3b``
    ``jacobian_step1``, ``jacobian_step2`` (2x2 blocks, ``I`` the ``D x D`` identity, ``H``
    the Hessian of ``J`` at ``theta(k)``), ``jacobian`` (their product ``J2 J1``),
    ``det_step1``, ``det_step2``, ``determinant`` (``beta**D``), ``verified_dims``.
"""

from __future__ import annotations

import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.topics import momentum as m


@problem("csc421-hw4/3a")
def inverse_answer(pid: str) -> Answer:
    inv = m.derive_inverse()
    forward = m.forward_equations()
    equations = [sp.Eq(m.THETA, inv[m.THETA]), sp.Eq(m.P, inv[m.P])]
    condition = "beta != 0"
    p_from_theta = inv[m.P].xreplace({inv[m.THETA]: m.THETA})  # reuse theta(k) once known
    algorithm = (
        f"Undo the two updates in reverse order: first theta(k) = {inv[m.THETA]} "
        f"(the theta update solved for theta(k)); then, with theta(k) known, "
        f"p(k) = {p_from_theta} (the p update solved for p(k)). "
        "This needs beta != 0; with beta = 0, p(k+1) does not depend on p(k) and the map "
        "is not invertible."
    )
    results = {
        "forward": forward,
        "inverse": equations,
        "theta_k": inv[m.THETA],
        "p_k": inv[m.P],
        "condition": condition,
        "algorithm": algorithm,
    }
    return from_template(pid, results, m.inverse_checks(),
                         forward=[(m.to_latex(e.lhs), m.to_latex(e.rhs)) for e in forward],
                         theta=m.to_latex(m.THETA), p=m.to_latex(m.P),
                         theta_k=m.to_latex(inv[m.THETA]), p_k=m.to_latex(inv[m.P]),
                         p_from_theta=m.to_latex(p_from_theta))


@problem("csc421-hw4/3b")
def determinant_answer(pid: str) -> Answer:
    j1, j2 = m.step_jacobians()
    full = m.full_jacobian()
    det1, det2 = m._det(j1), m._det(j2)
    det = m.jacobian_determinant()
    results = {
        "jacobian_step1": m.block_strings(j1),
        "jacobian_step2": m.block_strings(j2),
        "jacobian": m.block_strings(full),
        "det_step1": det1,
        "det_step2": det2,
        "determinant": det,
        "verified_dims": list(range(1, 7)),
    }
    return from_template(pid, results, m.determinant_checks(), j1=m.block_latex(j1),
                         j2=m.block_latex(j2), full=m.block_latex(full), det1=det1, det2=det2,
                         det=det)
