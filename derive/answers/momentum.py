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

from derive.answers import Answer, problem
from derive.topics import momentum as m


def _forward_latex() -> str:
    return "\n".join(
        [r"\begin{align*}"]
        + [f"{m.to_latex(e.lhs)} &= {m.to_latex(e.rhs)}" + (r" \\" if i == 0 else "")
           for i, e in enumerate(m.forward_equations())]
        + [r"\end{align*}"]
    )


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
    text = "\n".join(
        ["Forward step s(k+1) = f(s(k)):"]
        + [f"  {e.lhs} = {e.rhs}" for e in forward]
        + ["Inverse s(k) = f^-1(s(k+1)) (solved by SymPy, theta update first):"]
        + [f"  {e.lhs} = {e.rhs}" for e in equations]
        + [f"Exists iff {condition}.", algorithm]
    )
    latex = "\n".join([
        r"The step $\mathbf{s}^{(k+1)} = f(\mathbf{s}^{(k)})$ is computed as",
        _forward_latex(),
        r"It is triangular: solving the $\boldsymbol{\theta}$ update for "
        r"$\boldsymbol{\theta}^{(k)}$ and then the $\mathbf{p}$ update for $\mathbf{p}^{(k)}$ "
        r"(SymPy's solution) gives the inverse",
        r"\begin{align*}",
        f"{m.to_latex(m.THETA)} &= {m.to_latex(inv[m.THETA])} \\\\",
        f"{m.to_latex(m.P)} &= {m.to_latex(inv[m.P])}",
        r"\end{align*}",
        r"i.e.\ first recover $\boldsymbol{\theta}^{(k)}$, then evaluate the gradient there: "
        f"${m.to_latex(m.P)} = {m.to_latex(p_from_theta)}$. "
        r"It exists if and only if $\beta \neq 0$: with $\beta = 0$ the new velocity does not "
        r"depend on $\mathbf{p}^{(k)}$, which is lost. Composing with $f$ in both orders gives "
        r"the identity symbolically (also written out in components for $D = 1, \dots, 6$) "
        r"and, for a non-quadratic $\mathcal{J}$, numerically.",
    ])
    return Answer(pid, results, text, latex, m.inverse_checks())


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
    text = "\n".join([
        "Write the step as two maps: step 1 (theta, p) -> (theta, beta p - alpha grad_J(theta)),",
        "step 2 (theta, p') -> (theta + p', p'). Their Jacobians (blocks, H = Hessian of J):",
        f"  J1 = {results['jacobian_step1']}   (block lower-triangular: det J1 = {det1})",
        f"  J2 = {results['jacobian_step2']}   (block upper-triangular: det J2 = {det2})",
        f"  ds(k+1)/ds(k) = J2 J1 = {results['jacobian']}",
        f"det ds(k+1)/ds(k) = det J2 * det J1 = {det}, for every D, alpha, point and "
        "twice-differentiable J.",
        "A step scales state-space volume by beta^D: for beta < 1 it contracts, so undoing "
        "steps in finite precision amplifies rounding by beta^-D per step (about "
        "-D log2(beta) bits of precision per step).",
    ])
    latex = "\n".join([
        r"Split the step into the velocity update and the position update:",
        r"$(\boldsymbol{\theta}, \mathbf{p}) \mapsto (\boldsymbol{\theta}, \beta\mathbf{p} - "
        r"\alpha\nabla\mathcal{J}(\boldsymbol{\theta}))$ and "
        r"$(\boldsymbol{\theta}, \mathbf{p}') \mapsto (\boldsymbol{\theta} + \mathbf{p}', "
        r"\mathbf{p}')$. Their Jacobians, with $H = \nabla^2\mathcal{J}(\boldsymbol{\theta}^{(k)})$"
        r" (derived by SymPy), are",
        r"\[ J_1 = " + m.block_latex(j1) + r", \qquad J_2 = " + m.block_latex(j2) + r", \]",
        r"and the chain rule gives",
        r"\[ \frac{\partial \mathbf{s}^{(k+1)}}{\partial \mathbf{s}^{(k)}} = J_2 J_1 = "
        + m.block_latex(full) + r". \]",
        r"$J_1$ is block lower-triangular, so its determinant is the product of the determinants"
        r" of its diagonal blocks: $\det J_1 = \det I \cdot \det(\beta I) = "
        + sp.latex(det1) + r"$. $J_2$ is block upper-triangular with identity diagonal blocks: "
        r"$\det J_2 = " + sp.latex(det2) + r"$. Hence",
        r"\[ \det \frac{\partial \mathbf{s}^{(k+1)}}{\partial \mathbf{s}^{(k)}} = "
        r"\det J_2 \, \det J_1 = " + sp.latex(det) + r", \]",
        r"independent of $\alpha$, of $\mathcal{J}$ and of the point. SymPy confirms both block "
        r"determinants for symbolic $D$, the factorisation and the determinant for "
        r"$D = 1, \dots, 6$ with a fully symbolic (symmetric) Hessian, and a finite-difference "
        r"Jacobian of a non-quadratic $\mathcal{J}$ agrees. Each step scales state-space volume "
        r"by $\beta^D$; for $\beta < 1$ running the dynamics backwards expands it by "
        r"$\beta^{-D}$, so about $-D\log_2\beta$ bits of precision are lost per reversed step.",
    ])
    return Answer(pid, results, text, latex, m.determinant_checks())
