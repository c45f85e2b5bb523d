"""The primitives cells are written in, each beside its derivative rule.

Scalars are differentiated by ``sympy.diff``; the only scalar rule kept here is the
logistic sigmoid's ``fdiff``. Matrix expressions are differentiated in reverse mode by
the vector-Jacobian-product (VJP) registry below, one rule per primitive, in the style of
HIPS/autograd's ``defvjp``: a rule maps ``(node, bar)`` to the bars of the node's
children. SymPy's own ``MatrixSymbol.diff`` cannot serve: it raises on Hadamard products
of matrix products and silently returns 0 for indexed entries.

Derivatives of elementwise functions are written through their output where the calculus
allows (``sigma' = sigma (1 - sigma)``, ``tanh' = 1 - tanh^2``, ``exp' = exp``), so that
results read ``c (1 - c)`` once the output is renamed to its symbol.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixExpr

# --- scalar primitives -------------------------------------------------------------------


class sigma(sp.Function):  # noqa: N801 - the name of the function in every textbook
    """The logistic sigmoid, ``1 / (1 + exp(-x))``."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        y = sigma(self.args[0])
        return y * (1 - y)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _latex(self, printer, exp=None) -> str:
        arg = printer._print(self.args[0])
        base = rf"\sigma\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


# --- elementwise functions of matrices ---------------------------------------------------

# f -> f' written through the output y (and the input z where it cannot be)
ELEMENTWISE_DERIVATIVE: dict[object, Callable[[MatrixExpr, MatrixExpr], MatrixExpr]] = {
    sigma: lambda y, z: sp.HadamardProduct(y, sp.OneMatrix(*y.shape) - y),
    sp.tanh: lambda y, z: sp.OneMatrix(*y.shape) - sp.HadamardProduct(y, y),
    sp.exp: lambda y, z: y,
}


def elementwise(f: sp.FunctionClass, arg: MatrixExpr) -> MatrixExpr:
    """``f`` applied to every entry of ``arg`` (``sigma(W x)`` for a vector ``W x``)."""
    return ElementwiseApplyFunction(f, arg)


def elementwise_function(node: ElementwiseApplyFunction) -> object:
    """The scalar function a node applies: ``sigma`` for ``sigma.(W x)``."""
    body = node.function
    if isinstance(body, sp.Lambda) and len(body.variables) == 1:
        expr = body.expr
        if isinstance(expr, sp.Function) and expr.args == body.variables:
            return expr.func
    return body


def _elementwise_derivative(node: ElementwiseApplyFunction) -> MatrixExpr:
    f = elementwise_function(node)
    if f in ELEMENTWISE_DERIVATIVE:
        return ELEMENTWISE_DERIVATIVE[f](node, node.expr)
    d = sp.Dummy("d")
    derivative = sp.Lambda(d, sp.diff(node.function(d), d))
    return ElementwiseApplyFunction(derivative, node.expr)


# --- the VJP registry ----------------------------------------------------------------------

VJP: dict[type, Callable[[MatrixExpr, MatrixExpr], list[tuple[MatrixExpr, MatrixExpr]]]] = {}


def defvjp(node_type: type) -> Callable:
    """Register ``rule(node, bar) -> [(child, bar of child), ...]`` for ``node_type``."""

    def register(rule: Callable) -> Callable:
        VJP[node_type] = rule
        return rule

    return register


@defvjp(sp.MatAdd)
def _vjp_add(node, bar):
    return [(arg, bar) for arg in node.args]


@defvjp(sp.MatMul)
def _vjp_matmul(node, bar):
    # y = c A_1 ... A_n:  bar A_i = c (A_1 ... A_{i-1})^T bar (A_{i+1} ... A_n)^T
    coeff, factors = node.as_coeff_matrices()
    out = []
    for i, factor in enumerate(factors):
        left = [sp.Transpose(f) for f in reversed(factors[:i])]
        right = [sp.Transpose(f) for f in reversed(factors[i + 1 :])]
        child_bar = sp.MatMul(*left, bar, *right).doit(deep=False)
        out.append((factor, coeff * child_bar if coeff != 1 else child_bar))
    return out


@defvjp(sp.HadamardProduct)
def _vjp_hadamard(node, bar):
    # y = a (.) b (.) ...:  bar a = bar (.) b (.) ...
    out = []
    for i, arg in enumerate(node.args):
        others = node.args[:i] + node.args[i + 1 :]
        out.append((arg, sp.HadamardProduct(bar, *others)))
    return out


@defvjp(sp.Transpose)
def _vjp_transpose(node, bar):
    return [(node.arg, sp.Transpose(bar))]


@defvjp(ElementwiseApplyFunction)
def _vjp_elementwise(node, bar):
    # y = f.(z):  bar z = bar (.) f'.(z)
    return [(node.expr, sp.HadamardProduct(bar, _elementwise_derivative(node)))]


def matrix_vjp(expr: MatrixExpr, bar: MatrixExpr, wrt: sp.Basic) -> list[MatrixExpr]:
    """The terms of ``bar wrt`` contributed by ``expr`` whose bar is ``bar``.

    Reverse-mode over the expression tree: each node hands its bar to its children through
    its rule; the terms reaching ``wrt`` are returned (an empty list if ``expr`` does not
    depend on ``wrt``).
    """
    terms: list[MatrixExpr] = []

    def visit(node: sp.Basic, node_bar: MatrixExpr) -> None:
        if node == wrt:
            terms.append(node_bar)
            return
        if wrt not in node.free_symbols:
            return
        rule = VJP.get(type(node))
        if rule is None:
            raise NotImplementedError(f"no VJP rule for {type(node).__name__}: {node}")
        for child, child_bar in rule(node, node_bar):
            visit(child, child_bar)

    visit(expr, bar)
    return terms
