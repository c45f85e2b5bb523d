"""The primitives cells are written in: one block per primitive, with its derivative rules
(reverse mode, VJP; forward mode, JVP), its NumPy lowering and its printing side by side, in
the manner of HIPS/autograd's ``numpy_vjps.py`` and JAX's ``lax.py``. Adding a primitive is one
block here (and a test).

Scalars are differentiated by ``sympy.diff``; the only scalar rule kept here is the logistic
sigmoid's ``fdiff``. Matrix expressions are differentiated by the registries below, one rule
per node type: a VJP rule maps ``(node, bar)`` to the bars of the node's children, a JVP rule
maps ``(node, forward)`` to the node's Jacobian as terms ``coefficient * matrix``. SymPy's own
``MatrixSymbol.diff`` cannot serve: it raises on Hadamard products of matrix products and
silently returns 0 for indexed entries. The entries of a vector primitive (the softmax) are
differentiated together by a rule of ``VECTOR_VJP``, ``(entries, bars) -> [(child, bar)]``, so
that their bars share what they have in common (the softmax's normaliser).

A lowering ``(printer, node) -> code`` writes NumPy code for batched operands (a leading
batch axis; a vector is ``(B, rows, 1)``); the helpers that code calls are registered with
``runtime``. Non-analytic functions act on the real part of their argument, so a complex-step
perturbation passes through the branch that applies.

Derivatives of elementwise functions are written through their output where the calculus
allows (``sigma' = sigma (1 - sigma)``, ``tanh' = 1 - tanh^2``, ``exp' = exp``), so that
results read ``c (1 - c)`` once the output is renamed to its symbol.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.core.cell import _name_and_time
from derive.core.errors import DeriveError

# --- the registries ------------------------------------------------------------------------

Terms = list[tuple[sp.Expr, MatrixExpr]]  # a Jacobian: sum of coefficient * matrix

VJP: dict[type, Callable[[MatrixExpr, MatrixExpr], list[tuple[sp.Basic, object]]]] = {}
JVP: dict[type, Callable[[MatrixExpr, object], Terms]] = {}
LOWER: dict[type, Callable[[object, sp.Basic], str]] = {}
RUNTIME: dict[str, Callable] = {}  # names the lowered NumPy code calls


def defvjp(*node_types: type) -> Callable:
    """Register ``rule(node, bar) -> [(child, bar of child), ...]`` for ``node_types``."""

    def register(rule: Callable) -> Callable:
        for node_type in node_types:
            VJP[node_type] = rule
        return rule

    return register


def defjvp(*node_types: type) -> Callable:
    """Register ``rule(node, forward) -> terms`` for ``node_types``; ``forward.jac(child)`` is
    a child's Jacobian, ``forward.name(expr)`` renames to the step's signals,
    ``forward.scalar(node)`` reads a 1x1 node as a scalar."""

    def register(rule: Callable) -> Callable:
        for node_type in node_types:
            JVP[node_type] = rule
        return rule

    return register


def deflower(*node_types: type) -> Callable:
    """Register ``lower(printer, node) -> NumPy code`` for ``node_types``."""

    def register(rule: Callable) -> Callable:
        for node_type in node_types:
            LOWER[node_type] = rule
        return rule

    return register


def runtime(fn: Callable) -> Callable:
    """A helper the lowered code calls by its name."""
    RUNTIME[fn.__name__] = fn
    return fn


def rule_for(table: dict[type, Callable], node: sp.Basic) -> Callable | None:
    """The rule of ``node``'s type or of its nearest registered base class."""
    for cls in type(node).__mro__:
        rule = table.get(cls)
        if rule is not None:
            return rule
    return None


def scalar_of(node: sp.Basic) -> sp.Expr:
    """A 1x1 matrix expression as a scalar: a timed 1x1 symbol becomes ``a_1(t)``."""
    if isinstance(node, sp.MatrixSymbol):
        name, time = _name_and_time(node)
        if name is not None:
            return sp.Function(name)(time)
    if isinstance(node, sp.MatMul):
        coeff, factors = node.as_coeff_matrices()
        if all(f.shape == (1, 1) for f in factors):
            return coeff * sp.Mul(*[scalar_of(f) for f in factors])
    return node[0, 0]


def product(factors: list[MatrixExpr]) -> MatrixExpr | None:
    """``A_1 ... A_n`` (None for no factor)."""
    if not factors:
        return None
    return sp.MatMul(*factors) if len(factors) > 1 else factors[0]


# --- sigma: the logistic sigmoid ---------------------------------------------------------------


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


@runtime
def sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x: sigma is 0, exactly
        return 1.0 / (1.0 + np.exp(-x))


@deflower(sigma)
def _lower_sigma(printer, node):
    return f"sigmoid({printer._print(node.args[0])})"


# --- elementwise functions of matrices: f.(X) ------------------------------------------------

# f -> (f' written through the output y (and the input z where it cannot be), its NumPy name)
ELEMENTWISE: dict[object, tuple[Callable[[MatrixExpr, MatrixExpr], MatrixExpr], str]] = {
    sigma: (lambda y, z: sp.HadamardProduct(y, sp.OneMatrix(*y.shape) - y), "sigmoid"),
    sp.tanh: (lambda y, z: sp.OneMatrix(*y.shape) - sp.HadamardProduct(y, y), "numpy.tanh"),
    sp.exp: (lambda y, z: y, "numpy.exp"),
}
_LATEX_NAMES = {"tanh": r"\tanh", "exp": r"\exp", "sigma": r"\sigma"}


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

    def _latex(self, printer, exp=None) -> str:
        f = elementwise_function(self)
        if isinstance(f, sp.Lambda):  # Lambda(d, max(0, d)): its body, entry by entry
            return print_body(printer, f, printer._print(self.expr), r"\left({}\right)")
        name = _LATEX_NAMES.get(getattr(f, "__name__", ""), None) or printer._print(f)
        return rf"{name}\left({printer._print(self.expr)}\right)"

    def _text(self, printer) -> str:
        f = elementwise_function(self)
        if isinstance(f, sp.Lambda):
            return print_body(printer, f, printer._print(self.expr), "({})")
        return f"{getattr(f, '__name__', printer._print(f))}({printer._print(self.expr)})"


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


def elementwise_derivative(node: ElementwiseApplyFunction) -> MatrixExpr:
    """``f'.(z)`` of ``f.(z)``: through the output for the functions of ``ELEMENTWISE``."""
    f = elementwise_function(node)
    if f in ELEMENTWISE:
        return ELEMENTWISE[f][0](node, node.expr)
    d = sp.Dummy("d", real=True)  # so |d|' = sign(d), max(0, d)' = [d > 0]
    derivative = sp.Lambda(d, sp.diff(node.function(d), d))
    return Elementwise(derivative, node.expr)


def print_body(printer, f: sp.Lambda, argument: str, brackets: str) -> str:
    """A one-variable ``Lambda``'s body printed with ``argument`` in place of its variable
    (in ``brackets`` unless the variable is an argument of a function: ``max(0, z)``); a
    printer honours ``printer._placeholders`` (dummy -> code)."""
    (d,) = f.variables
    direct = all(isinstance(node, sp.core.function.Application) and d in node.args
                 for node in sp.preorder_traversal(f.expr)
                 if d in getattr(node, "args", ()))
    if not direct:
        argument = brackets.format(argument)
    held = getattr(printer, "_placeholders", {})
    printer._placeholders = {**held, d: argument}
    try:
        return printer._print(f.expr)
    finally:
        printer._placeholders = held


@defvjp(ElementwiseApplyFunction)
def _vjp_elementwise(node, bar):
    # y = f.(z):  bar z = bar (.) f'.(z)
    return [(node.expr, sp.HadamardProduct(bar, elementwise_derivative(node)))]


@defjvp(ElementwiseApplyFunction)
def _jvp_elementwise(node, forward):
    # d f.(z) = diag(f'.(z)) dz
    diag = sp.DiagMatrix(forward.name(elementwise_derivative(node)))
    return [(c, sp.MatMul(diag, m)) for c, m in forward.jac(node.expr)]


@deflower(ElementwiseApplyFunction)
def _lower_elementwise(printer, node):
    f = elementwise_function(node)
    if f in ELEMENTWISE:
        return f"{ELEMENTWISE[f][1]}({printer._print(node.expr)})"
    # any other scalar function: its body, printed with the argument array in place of its
    # variable (NumPy's functions act entry by entry)
    return print_body(printer, node.function, printer._print(node.expr), "({})")


# --- sums: A + B ------------------------------------------------------------------------------


@defvjp(sp.MatAdd)
def _vjp_add(node, bar):
    return [(arg, bar) for arg in node.args]


@defjvp(sp.MatAdd)
def _jvp_add(node, forward):
    return [term for arg in node.args for term in forward.jac(arg)]


@deflower(sp.MatAdd)
def _lower_add(printer, node):
    # a matrix of ones in a sum broadcasts as the number 1
    return " + ".join("1.0" if isinstance(a, sp.OneMatrix) else f"({printer._print(a)})"
                      for a in node.args)


# --- products: c A_1 ... A_n ------------------------------------------------------------------


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


@defjvp(sp.MatMul)
def _jvp_matmul(node, forward):
    coeff, factors = node.as_coeff_matrices()
    out: Terms = []
    for i, factor in enumerate(factors):
        left, right = factors[:i], factors[i + 1:]
        if isinstance(factor, sp.Transpose) and factor.shape[0] == 1 and factor.shape[1] != 1:
            # u (J delta)^T r = u r^T J delta: the row's Jacobian is its column's
            inner = forward.jac(factor.arg)
            if not inner:
                continue
            row = sp.Transpose(product(right)) if right else None
            for c, m in inner:
                parts = [*left, *([row] if row is not None else []), m]
                out.append((coeff * c, sp.MatMul(*parts)))
            continue
        inner = forward.jac(factor)
        if not inner:
            continue
        if factor.shape[1] == 1:
            # L (J delta) s with s a product of 1x1 factors: a scalar
            if any(f.shape != (1, 1) for f in right):
                raise DeriveError(f"no Jacobian rule for the product {node}")
            s = sp.Mul(*[forward.scalar(f) for f in right])
            for c, m in inner:
                parts = [*left, m]
                out.append((coeff * s * c, sp.MatMul(*parts) if len(parts) > 1 else m))
        else:
            raise DeriveError(f"no Jacobian rule for the factor {factor} of {node}")
    return out


@runtime
def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` where a weight meets a batch of columns or rows: one matrix product for the
    whole batch instead of one small product per element."""
    if a.ndim == 2 and b.ndim == 3 and b.shape[-1] == 1:
        return (b[..., 0] @ a.T)[..., None]
    if a.ndim == 3 and b.ndim == 2 and a.shape[-2] == 1:
        return (a[:, 0, :] @ b)[:, None, :]
    # batches of 1x1 factors (softmax entries, scores) and of row-times-column products:
    # broadcasting, since NumPy's batched matmul runs one tiny product per element
    if a.ndim == 3 and b.ndim == 3:
        if (a.shape[-1] == 1 and b.shape[-2:] == (1, 1)) or \
                (a.shape[-2:] == (1, 1) and b.shape[-2] == 1):
            return a * b
        if a.shape[-2] == 1 and b.shape[-1] == 1:
            return np.sum(a[:, 0, :] * b[:, :, 0], axis=-1)[:, None, None]
    return np.matmul(a, b)


@runtime
def _scalar(c):
    """A scalar factor of a matrix: a batch of scalars ``(B,)`` as ``(B, 1, 1)``."""
    c = np.asarray(c)
    return c[..., None, None] if c.ndim == 1 else c


@deflower(sp.MatMul)
def _lower_matmul(printer, node):
    coeff, factors = node.as_coeff_matrices()
    body = printer._print(factors[-1])
    for factor in reversed(factors[:-1]):  # right to left: weights meet a batch
        body = f"_mm({printer._print(factor)}, {body})"
    if coeff == -1:
        return f"-({body})"
    if coeff == 1:
        return body
    if coeff.is_number:
        return f"({printer._print(coeff)}) * ({body})"
    # a scalar signal or weight scaling a matrix: a batch (B,) becomes (B, 1, 1)
    return f"_scalar({printer._print(coeff)}) * ({body})"


# --- elementwise products: a (.) b (.) ... ----------------------------------------------------


@defvjp(sp.HadamardProduct)
def _vjp_hadamard(node, bar):
    # y = a (.) b (.) ...:  bar a = bar (.) b (.) ...
    out = []
    for i, arg in enumerate(node.args):
        others = node.args[:i] + node.args[i + 1 :]
        out.append((arg, sp.HadamardProduct(bar, *others)))
    return out


@defjvp(sp.HadamardProduct)
def _jvp_hadamard(node, forward):
    # d (a (.) b) = diag(b) da + diag(a) db
    out = []
    for i, arg in enumerate(node.args):
        others = node.args[:i] + node.args[i + 1:]
        diag = sp.DiagMatrix(forward.name(sp.HadamardProduct(*others))
                             if len(others) > 1 else forward.name(others[0]))
        out += [(c, sp.MatMul(diag, m)) for c, m in forward.jac(arg)]
    return out


@deflower(sp.HadamardProduct)
def _lower_hadamard(printer, node):
    return " * ".join(f"({printer._print(a)})" for a in node.args)


# --- elementwise powers: a^p --------------------------------------------------------------------


@defvjp(sp.HadamardPower)
def _vjp_hadamard_power(node, bar):
    # y = a^p (entrywise, p a number):  bar a = bar (.) p a^(p-1)
    if node.exp.free_symbols:
        raise DeriveError(f"no derivative rule for a symbolic elementwise power: {node}")
    return [(node.base, sp.HadamardProduct(bar, node.exp * _power(node.base, node.exp - 1)))]


@defjvp(sp.HadamardPower)
def _jvp_hadamard_power(node, forward):
    if node.exp.free_symbols:
        raise DeriveError(f"no Jacobian rule for a symbolic elementwise power: {node}")
    diag = sp.DiagMatrix(forward.name(node.exp * _power(node.base, node.exp - 1)))
    return [(c, sp.MatMul(diag, m)) for c, m in forward.jac(node.base)]


def _power(base: MatrixExpr, exponent: sp.Expr) -> MatrixExpr:
    if exponent == 1:
        return base
    if exponent == 0:
        return sp.OneMatrix(*base.shape)
    return sp.HadamardPower(base, exponent)


@deflower(sp.HadamardPower)
def _lower_hadamard_power(printer, node):
    return f"({printer._print(node.base)}) ** ({printer._print(node.exp)})"


# --- transposes: A^T ----------------------------------------------------------------------------


@defvjp(sp.Transpose)
def _vjp_transpose(node, bar):
    return [(node.arg, bar.T)]


@defjvp(sp.Transpose)
def _jvp_transpose(node, forward):
    if node.shape != (1, 1):  # a row inside a product is the product's rule
        raise DeriveError(f"no Jacobian rule for the transpose {node}")
    return forward.jac(node.arg)


@deflower(sp.Transpose)
def _lower_transpose(printer, node):
    return f"numpy.swapaxes({printer._print(node.arg)}, -1, -2)"


# --- constant matrices: 1, 0 --------------------------------------------------------------------


@deflower(sp.OneMatrix)
def _lower_ones(printer, node):
    return f"numpy.ones({tuple(int(d) for d in node.shape)})"


@deflower(sp.ZeroMatrix)
def _lower_zeros(printer, node):
    return f"numpy.zeros({tuple(int(d) for d in node.shape)})"


# --- the bar of a scalar coefficient: tr(bar^T M) ----------------------------------------------


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

    def _text(self, printer) -> str:
        bar = printer._print(self.bar)
        if not isinstance(self.bar, sp.MatrixSymbol):
            bar = f"({bar})"
        return f"tr({bar}^T {printer._print(self.matrix)})"

    def _latex(self, printer, exp=None) -> str:
        bar = printer._print(self.bar)
        if not isinstance(self.bar, sp.MatrixSymbol):
            bar = rf"\left({bar}\right)"
        body = rf"\operatorname{{tr}}\left({bar}^{{\top}} {printer._print(self.matrix)}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


@deflower(ScalarBar)
def _lower_scalar_bar(printer, node):
    return (f"numpy.sum(({printer._print(node.bar)}) * ({printer._print(node.matrix)}), "
            "axis=(-2, -1))")


# --- softmax entries: softargmax(w_0, ..., w_k)_i -----------------------------------------------


class Scores(sp.Tuple):
    """The scores of one softmax as one node, shared by its entries; unlike SymPy's Tuple,
    its hash is computed once (a dict keyed by it costs no walk over ``k + 1`` scores)."""

    __hash__ = sp.Basic.__hash__


class SoftmaxEntry(MatrixExpr):
    """``softargmax(w_0, ..., w_k)_i``: entry ``i`` of the softmax of ``k + 1`` scores.

    Each score is a 1x1 matrix expression (``q^T k``) and so is the entry, so that
    ``a_i v_i`` is an ordinary matrix product. The entries of one softmax are differentiated
    together (:func:`softmax_vjp`), written through the entries themselves, so the engine's
    renaming turns the bars into ``a_j(t) (bar a_j(t) - sum_i a_i(t) bar a_i(t))``.
    """

    def __new__(cls, index: int, *scores: MatrixExpr) -> SoftmaxEntry:
        # no validation here: the VJP rule and every xreplace rebuild nodes by the thousand
        # for large k; softargmax() validates what a user writes. The scores are held as one
        # Tuple, shared by the k + 1 entries (its hash computed once): a rebuild passes it back
        if len(scores) == 1 and isinstance(scores[0], Scores):
            (held,) = scores
        else:
            held = Scores(*scores)
        return sp.Basic.__new__(cls, sp.Integer(index), held)

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def scores(self) -> tuple:
        return self.args[1].args

    @property
    def softmax(self) -> Scores:
        """The scores as one node: the same for every entry of one softmax."""
        return self.args[1]

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

    def _latex(self, printer, exp=None) -> str:
        scores = ", ".join(printer._print(w) for w in self.scores)
        return rf"\operatorname{{softargmax}}\left({scores}\right)_{{{self.index}}}"

    def _text(self, printer) -> str:
        return f"softargmax({', '.join(printer._print(w) for w in self.scores)})_{self.index}"

    def _sympystr(self, printer) -> str:  # as it is built: SoftmaxEntry(i, w_0, ..., w_k)
        scores = ", ".join(printer._print(w) for w in self.scores)
        return f"SoftmaxEntry({self.index}, {scores})"


def softargmax(*scores: MatrixExpr) -> list[SoftmaxEntry]:
    """The entries ``a_0, ..., a_k`` of ``softargmax(w_0, ..., w_k)``."""
    if not scores:
        raise ValueError("softargmax needs at least one score")
    for w in scores:
        if not isinstance(w, MatrixExpr) or tuple(w.shape) != (1, 1):
            raise ValueError(f"softargmax scores must be 1x1 matrices, got {w}")
    held = Scores(*scores)
    return [SoftmaxEntry(i, held) for i in range(len(scores))]


def softmax_vjp(entries: list[SoftmaxEntry], bars: list[MatrixExpr]
                ) -> list[tuple[MatrixExpr, Callable[[], MatrixExpr]]]:
    """Reverse mode through entries of one softmax ``a = softargmax(w_0, ..., w_k)``: the
    entries ``a_i`` read (each once, with its bar ``bar a_i``), to ``[(w_j, bar w_j)]``.

    ``bar w = a (.) (bar a - (a^T bar a) 1)``, entry by entry
    ``bar w_j = a_j (bar a_j - sum_i a_i bar a_i)`` (an entry not read has ``bar a_j = 0``).
    The normaliser ``a^T bar a`` is one node shared by every score, so a softmax of ``k + 1``
    entries costs ``k + 1`` terms, not ``(k + 1)^2``. The rule is held against the
    derivative of the definition ``exp(w_i) / sum_j exp(w_j)`` in the tests.

    Bars are deferred (callables), built only for the score being differentiated, and built
    directly, all operands being 1x1: subtraction and negation would call doit on the tree.
    """
    scores = entries[0].scores
    held_scores = entries[0].softmax
    given = {e.index: (e, b) for e, b in zip(entries, bars, strict=True)}
    held: list[MatrixExpr] = []

    def normaliser() -> MatrixExpr:  # a^T bar a over the entries read; built once
        if not held:
            parts = [sp.Basic.__new__(sp.HadamardProduct, e, b)
                     for _, (e, b) in sorted(given.items())]
            held.append(parts[0] if len(parts) == 1 else sp.Basic.__new__(sp.MatAdd, *parts))
        return held[0]

    def term(j: int) -> MatrixExpr:
        if j in given:
            entry, bar = given[j]
            return sp.Basic.__new__(sp.HadamardProduct, entry,
                                    sp.Basic.__new__(sp.MatAdd, bar, _negative(normaliser())))
        return _negative(sp.Basic.__new__(sp.HadamardProduct, SoftmaxEntry(j, held_scores),
                                          normaliser()))

    return [(w, lambda j=j: term(j)) for j, w in enumerate(scores)]


def softmax_of(node: sp.Basic) -> Scores | None:
    """The softmax an entry belongs to (its scores), or None for any other node: the
    entries of one softmax are differentiated together by :data:`VECTOR_VJP`."""
    return node.softmax if isinstance(node, SoftmaxEntry) else None


# entries of one vector primitive, differentiated together: (entries, bars) -> [(child, bar)]
VECTOR_VJP: dict[type, Callable] = {SoftmaxEntry: softmax_vjp}


@defvjp(SoftmaxEntry)
def _vjp_softmax_entry(node, bar):
    # one entry read alone (inside a larger expression): the softmax rule with one bar,
    # bar w_j += a_i (delta_ij - a_j) bar a_i
    return VECTOR_VJP[SoftmaxEntry]([node], [bar])


def _negative(x: MatrixExpr) -> MatrixExpr:
    return sp.Basic.__new__(sp.MatMul, sp.S.NegativeOne, x)


@defjvp(SoftmaxEntry)
def _jvp_softmax_entry(node, forward):
    # d a_i = sum_j a_i (delta_ij - a_j) d w_j
    a_i = forward.scalar(node)
    out = []
    for j, w in enumerate(node.scores):
        terms = forward.jac(w)
        if not terms:  # a score that does not move: most of them, for one source's Jacobian
            continue
        a_j = forward.scalar(SoftmaxEntry(j, node.softmax))
        weight = a_i * (1 - a_i) if j == node.index else -a_i * a_j
        out += [(weight * c, m) for c, m in terms]
    return out


@runtime
def softmax(scores):
    """The softmax over ``scores`` (a tuple of arrays of one shape), its entries stacked on a
    new first axis; any shift of the scores cancels, complex ones included."""
    stacked = np.stack(np.broadcast_arrays(*scores))
    e = np.exp(stacked - stacked.real.max(axis=0))
    return e / e.sum(axis=0)


@deflower(SoftmaxEntry)
def _lower_softmax_entry(printer, node):
    # the entries of one softmax are read one after another: computed once, as a variable
    # written before the line that first reads one (a printer holding ``pending`` lines)
    held = getattr(printer, "softmaxes", None)
    if held is None:
        scores = ", ".join(printer._print(w) for w in node.scores)
        return f"softmax(({scores},))[{node.index}]"
    name = held.get(node.softmax)
    if name is None:
        scores = ", ".join(printer._print(w) for w in node.scores)
        name = held[node.softmax] = f"_softmax{len(held)}"
        printer.pending.append(f"    {name} = softmax(({scores},))")
    return f"{name}[{node.index}]"


# --- functions with a kink: |x|, max, min, step, sign, delta, comparisons ----------------------
# (differentiated by sympy.diff with real variables; lowered on the real part)


@runtime
def _abs(x):
    return x * np.sign(np.real(x))


@runtime
def _maximum(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = np.where(np.real(x) > np.real(out), x, out)
    return out


@runtime
def _minimum(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = np.where(np.real(x) < np.real(out), x, out)
    return out


@runtime
def _heaviside(x, at_zero=0.5):
    return np.heaviside(np.real(x), at_zero)


@runtime
def _dirac(x):
    # zero away from 0; at exactly 0 it has no value, so the result is NaN, never a guess
    with np.errstate(invalid="ignore"):
        return np.where(np.real(x) == 0, np.nan, 0.0)


@deflower(sp.Abs)
def _lower_abs(printer, node):
    return f"_abs({printer._print(node.args[0])})"


@deflower(sp.Max)
def _lower_max(printer, node):
    return f"_maximum({', '.join(printer._print(a) for a in node.args)})"


@deflower(sp.Min)
def _lower_min(printer, node):
    return f"_minimum({', '.join(printer._print(a) for a in node.args)})"


@deflower(sp.Heaviside)
def _lower_heaviside(printer, node):
    at_zero = node.args[1] if len(node.args) > 1 else sp.S.Half
    return f"_heaviside({printer._print(node.args[0])}, {printer._print(at_zero)})"


@deflower(sp.sign)
def _lower_sign(printer, node):
    return f"numpy.sign(numpy.real({printer._print(node.args[0])}))"


@deflower(sp.DiracDelta)
def _lower_dirac(printer, node):
    if len(node.args) > 1 and node.args[1] != 0:
        raise DeriveError(f"no NumPy kernel for the derivative of a delta: {node}")
    return f"_dirac({printer._print(node.args[0])})"


@deflower(sp.core.relational.Relational)
def _lower_relational(printer, node):
    # comparisons act on the real part: the branch a complex-step perturbation follows
    op = {"==": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal",
          ">": "greater", ">=": "greater_equal"}[node.rel_op]
    return (f"numpy.{op}(numpy.real({printer._print(node.lhs)}), "
            f"numpy.real({printer._print(node.rhs)}))")


@deflower(sp.Derivative)
def _lower_derivative(printer, node):
    raise DeriveError(f"no closed form to compile: {node}")


# --- reverse mode over an expression tree --------------------------------------------------------


def _reaches(node: sp.Basic, wrt: sp.Basic) -> bool:
    if isinstance(wrt, sp.Symbol | sp.MatrixSymbol):  # the fast test for weights and values
        return wrt in node.free_symbols or (hash(node) == hash(wrt) and node == wrt)
    return node == wrt or node.has(wrt)  # a scalar signal value, e.g. g(t) in g(t) W x


def matrix_vjp(expr: MatrixExpr, bar: MatrixExpr, wrt: sp.Basic,
               symbols: dict | None = None) -> list[MatrixExpr]:
    """The terms of ``bar wrt`` contributed by ``expr`` whose bar is ``bar``.

    Reverse-mode over the expression tree: each node hands its bar to its children through
    its rule; the terms reaching ``wrt`` are returned (an empty list if ``expr`` does not
    depend on ``wrt``). ``symbols`` memoises nodes' free symbols across calls (a sum of
    ``k + 1`` products is asked once for each of the ``k + 1`` values it reads).
    """
    terms: list[MatrixExpr] = []

    fast = isinstance(wrt, sp.Symbol | sp.MatrixSymbol)

    def visit(node: sp.Basic, node_bar: MatrixExpr) -> None:
        if fast:  # weights and vector values: a free-symbol test
            found = symbols.get(node) if symbols is not None else None
            if found is None:
                found = node.free_symbols
                if symbols is not None:
                    symbols[node] = found
            if wrt not in found and (hash(node) != hash(wrt) or node != wrt):
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
        rule = rule_for(VJP, node)
        if rule is None:
            known = ", ".join(sorted(t.__name__ for t in VJP))
            raise DeriveError(f"no derivative rule for {type(node).__name__} ({node}); the "
                              f"matrix primitives with rules: {known}")
        for child, child_bar in rule(node, node_bar):
            visit(child, child_bar)

    visit(expr, bar)
    return terms
