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

from derive.core.errors import DeriveError

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


class Elementwise(ElementwiseApplyFunction):
    """SymPy's ``f.(X)``, built the same way at every size: SymPy's own constructor calls
    ``f`` on a 1x1 matrix expression, which ``Max(0, X)`` and other functions refuse."""

    def __new__(cls, function, expr) -> Elementwise:
        expr = sp.sympify(expr)
        if not isinstance(expr, MatrixExpr):
            raise DeriveError(f"elementwise applies a function to a matrix, got {expr}")
        if not isinstance(function, sp.Lambda):
            if not callable(function):
                raise DeriveError(f"elementwise needs a function of one variable, got "
                                  f"{function!r}")
            d = sp.Dummy("d")
            try:
                function = sp.Lambda(d, function(d))
            except TypeError as exc:
                raise DeriveError(f"elementwise needs a function of one variable, got "
                                  f"{function!r} ({exc})") from None
        if len(function.variables) != 1:
            raise DeriveError(f"elementwise needs a function of one variable, got {function}")
        return MatrixExpr.__new__(cls, function, expr)


def elementwise(f: sp.FunctionClass | sp.Lambda, arg: MatrixExpr) -> MatrixExpr:
    """``f`` applied to every entry of ``arg`` (``sigma(W x)`` for a vector ``W x``); ``f``
    a SymPy function (``sigma``, ``sp.tanh``) or a ``Lambda`` (``Lambda(d, Max(0, d))``)."""
    return Elementwise(f, arg)


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
    d = sp.Dummy("d", real=True)  # so |d|' = sign(d), max(0, d)' = [d > 0]
    derivative = sp.Lambda(d, sp.diff(node.function(d), d))
    return Elementwise(derivative, node.expr)


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
    # y = c A_1 ... A_n:  bar A_i = c (A_1 ... A_{i-1})^T bar (A_{i+1} ... A_n)^T, and a
    # scalar coefficient c (a gain, a scalar signal) gets bar c = tr(bar^T A_1 ... A_n)
    coeff, factors = node.as_coeff_matrices()
    out = []
    if not coeff.is_number:
        rest = sp.MatMul(*factors).doit(deep=False) if len(factors) > 1 else factors[0]
        out.append((coeff, lambda: ScalarBar(bar, rest)))
    for i, factor in enumerate(factors):
        left = [f.T for f in reversed(factors[:i])]
        right = [f.T for f in reversed(factors[i + 1 :])]
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
    return [(node.arg, bar.T)]


@defvjp(ElementwiseApplyFunction)
def _vjp_elementwise(node, bar):
    # y = f.(z):  bar z = bar (.) f'.(z)
    return [(node.expr, sp.HadamardProduct(bar, _elementwise_derivative(node)))]


VJP[Elementwise] = _vjp_elementwise


class ScalarBar(sp.Expr):
    """``tr(bar^T M) = sum_ij bar_ij M_ij``: the bar of a scalar coefficient ``c`` in ``c M``.

    A scalar, so that a scalar weight's gradient is an ordinary scalar sum over ``t``. Its
    scalar factors pass to the scalar rules (``sympy.diff``) in :func:`matrix_vjp`."""

    is_commutative = True

    def __new__(cls, bar: MatrixExpr, matrix: MatrixExpr) -> ScalarBar:
        return sp.Expr.__new__(cls, bar, matrix)

    @property
    def bar(self) -> MatrixExpr:
        return self.args[0]

    @property
    def matrix(self) -> MatrixExpr:
        return self.args[1]

    def doit(self, **hints) -> sp.Expr:
        bar, matrix = (a.doit(**hints) for a in self.args)
        if isinstance(bar, sp.MatrixBase) and isinstance(matrix, sp.MatrixBase):
            return sp.Add(*[b * m for b, m in zip(bar, matrix, strict=True)])
        return ScalarBar(bar, matrix)

    def _sympystr(self, printer) -> str:
        return f"tr(({printer._print(self.bar)}).T*{printer._print(self.matrix)})"


def _reaches(node: sp.Basic, wrt: sp.Basic) -> bool:
    if isinstance(wrt, sp.Symbol | sp.MatrixSymbol):  # the fast test for weights and values
        return wrt in node.free_symbols or (hash(node) == hash(wrt) and node == wrt)
    return node == wrt or node.has(wrt)  # a scalar signal value, e.g. g(t) in g(t) W x


def matrix_vjp(expr: MatrixExpr, bar: MatrixExpr, wrt: sp.Basic) -> list[MatrixExpr]:
    """The terms of ``bar wrt`` contributed by ``expr`` whose bar is ``bar``.

    Reverse-mode over the expression tree: each node hands its bar to its children through
    its rule; the terms reaching ``wrt`` are returned (an empty list if ``expr`` does not
    depend on ``wrt``).
    """
    terms: list[MatrixExpr] = []

    fast = isinstance(wrt, sp.Symbol | sp.MatrixSymbol)

    def visit(node: sp.Basic, node_bar: MatrixExpr) -> None:
        if fast:  # weights and vector values: a free-symbol test
            if wrt not in node.free_symbols and (hash(node) != hash(wrt) or node != wrt):
                return
        elif not _reaches(node, wrt):
            return
        if not isinstance(node_bar, sp.Basic):
            node_bar = node_bar()  # a rule may defer building bars that are rarely needed
        if node == wrt:
            terms.append(node_bar)
            return
        if not isinstance(node, MatrixExpr):  # a scalar coefficient: the scalar rules
            derivative = sp.diff(node, wrt)
            if derivative != 0:
                terms.append(derivative * node_bar)
            return
        rule = VJP.get(type(node))
        if rule is None:
            known = ", ".join(sorted(t.__name__ for t in VJP))
            raise DeriveError(f"no derivative rule for {type(node).__name__} ({node}); the "
                              f"matrix primitives with rules: {known}")
        for child, child_bar in rule(node, node_bar):
            visit(child, child_bar)

    visit(expr, bar)
    return terms


# --- softmax -------------------------------------------------------------------------------


class SoftmaxEntry(MatrixExpr):
    """``softargmax(w_0, ..., w_k)_i``: entry ``i`` of the softmax of ``k + 1`` scores.

    Each score is a 1x1 matrix expression (``q^T k``) and so is the entry, so that
    ``a_i v_i`` is an ordinary matrix product. Its VJP is written through the node itself,
    ``bar w_j += a_i (delta_ij - a_j) bar a_i``, so the engine's renaming turns it into
    ``a_i(t) (1 - a_i(t))`` and ``a_i(t) a_j(t)``.
    """

    def __new__(cls, index: int, *scores: MatrixExpr) -> SoftmaxEntry:
        # no validation here: the VJP rule and every xreplace rebuild nodes by the thousand
        # for large k; softargmax() validates what a user writes
        return sp.Basic.__new__(cls, sp.Integer(index), *scores)

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def scores(self) -> tuple:
        return self.args[1:]

    @property
    def shape(self) -> tuple:
        return (sp.Integer(1), sp.Integer(1))

    def _entry(self, i, j, **kwargs) -> sp.Expr:
        values = [w.as_explicit()[0, 0] if isinstance(w, MatrixExpr) else w[0, 0]
                  for w in self.scores]
        return sp.exp(values[self.index]) / sp.Add(*[sp.exp(v) for v in values])

    def doit(self, **hints) -> MatrixExpr:
        if all(isinstance(w, sp.MatrixBase) for w in self.scores):
            return self.as_explicit()
        return self  # symbolic scores: nothing to evaluate

    def _eval_transpose(self) -> MatrixExpr:
        return self


def softargmax(*scores: MatrixExpr) -> list[SoftmaxEntry]:
    """The entries ``a_0, ..., a_k`` of ``softargmax(w_0, ..., w_k)``."""
    if not scores:
        raise ValueError("softargmax needs at least one score")
    for w in scores:
        if not isinstance(w, MatrixExpr) or tuple(w.shape) != (1, 1):
            raise ValueError(f"softargmax scores must be 1x1 matrices, got {w}")
    return [SoftmaxEntry(i, *scores) for i in range(len(scores))]


@defvjp(SoftmaxEntry)
def _vjp_softmax_entry(node, bar):
    # a_i = softargmax(w)_i:  bar w_j += a_i (delta_ij - a_j) bar a_i
    # Each bar is built only when its score is the one being differentiated (a callable is
    # a deferred bar), and built directly, all operands being 1x1: subtraction and negation
    # would call doit on the whole tree. Otherwise a cell with k + 1 entries costs k^3.
    def term(j: int) -> MatrixExpr:
        if j == node.index:
            one_minus = sp.MatAdd(sp.OneMatrix(1, 1), _negative(node))
            return sp.Basic.__new__(sp.HadamardProduct, bar, node, one_minus)
        other = SoftmaxEntry(j, *node.scores)
        return _negative(sp.Basic.__new__(sp.HadamardProduct, bar, node, other))

    return [(w, lambda j=j: term(j)) for j, w in enumerate(node.scores)]


def _negative(x: MatrixExpr) -> MatrixExpr:
    return sp.Basic.__new__(sp.MatMul, sp.S.NegativeOne, x)

