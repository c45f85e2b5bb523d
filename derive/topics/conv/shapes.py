"""The output size of a convolution (kernel, padding, stride, dilation), symbolic or numeric.

One formula serves both uses: ``floor((n + 2P - D(K-1) - 1)/S) + 1``. On integers it
validates the arguments and returns an ``int``; given any SymPy symbol it returns the
SymPy expression (with ``floor``), so reports and answers print the same formula that
the numbers come from.
"""

from __future__ import annotations

import sympy as sp

from derive.core.errors import DeriveError

# The catalogue's names for the sizes of one spatial axis.
n_sym, K_sym, P_sym, S_sym, D_sym = sp.symbols("n K P S D", integer=True)


def _is_int(value: object) -> bool:
    return isinstance(value, int | sp.Integer) and not isinstance(value, bool)


def _check_number(name: str, value: object, minimum: int) -> None:
    """Integers must be at least ``minimum``; anything else must be a SymPy expression."""
    if _is_int(value):
        if int(value) < minimum:
            what = "non-negative" if minimum == 0 else f">= {minimum}"
            raise DeriveError(f"{name} must be {what}, got {int(value)}")
    elif not isinstance(value, sp.Basic):
        raise DeriveError(f"{name} must be an integer or a SymPy symbol, got {value!r}")


def output_size(n, kernel, padding=0, stride=1, dilation=1):
    """Number of window positions of a ``kernel`` over ``n`` inputs.

    ``floor((n + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``.
    All integers: returns an ``int`` after validation (``DeriveError`` naming the argument
    and value when the stride or dilation is below 1, the padding is negative, or the
    dilated kernel is larger than the padded input). Any SymPy argument: returns the
    SymPy expression.
    """
    _check_number("input size", n, 1)
    _check_number("kernel", kernel, 1)
    _check_number("padding", padding, 0)
    _check_number("stride", stride, 1)
    _check_number("dilation", dilation, 1)
    args = (n, kernel, padding, stride, dilation)
    if all(_is_int(a) for a in args):
        n, kernel, padding, stride, dilation = (int(a) for a in args)
        extent = dilation * (kernel - 1) + 1
        if extent > n + 2 * padding:
            raise DeriveError(
                f"kernel {kernel} (dilation {dilation}, extent {extent}) is larger than the "
                f"padded input {n} + 2*{padding} = {n + 2 * padding}"
            )
        return (n + 2 * padding - extent) // stride + 1
    n, kernel, padding, stride, dilation = (sp.sympify(a) for a in args)
    return sp.floor((n + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1


def output_size_formula() -> sp.Expr:
    """The general formula in the symbols ``n, K, P, S, D``."""
    return output_size(n_sym, K_sym, P_sym, S_sym, D_sym)
