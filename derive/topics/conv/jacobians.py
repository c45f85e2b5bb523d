"""The Jacobians of a cross-correlation layer, derived by SymPy from the forward definition.

Forward (1-D; the 2-D layer adds a second spatial index to every array)::

    y[f, i] = sum_c sum_m W[f, c, m] x[c, S*i + D*m - P]

with ``x[c, p] = 0`` outside ``0 <= p < L`` (zero padding) and indices from 0. The loss
is ``l = sum_{f,i} ybar[f, i] y[f, i]`` (``ybar = dl/dy``, the upstream gradient).

``general(rank)`` differentiates the indexed sums with ``sympy.diff`` and collapses the
Kronecker deltas with :func:`collapse`. SymPy's own ``Sum.doit()`` also collapses them
(sympy#12751), but it solves ``p = S*i + D*m - P`` for ``m`` by dividing by ``D`` without
requiring the quotient to be an integer, giving ``W[f, c, (p + P - S*i)/D]``: wrong for
``D > 1``. ``collapse`` only eliminates a summation index whose delta has coefficient +-1
and whose value ranges over the same set, so every step is exact; the rest stay as sums
of deltas. ``elementwise(spec)`` is the reference: the same forward definition built
entry by entry for concrete sizes and differentiated entry by entry.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import sympy as sp

from derive.topics.conv.shapes import output_size
from derive.topics.conv.spec import SPATIAL_NAMES, ConvSpec

_int = {"integer": True}
_pos = {"integer": True, "positive": True}

# Sizes (catalogue names). The 2-D width is the symbol W; the weight array is the
# IndexedBase W: the two never occur in the same formula.
C, K, S, D, F = sp.symbols("C K S D F", **_pos)
P = sp.Symbol("P", integer=True, nonnegative=True)
SIZES = {"L": sp.Symbol("L", **_pos), "H": sp.Symbol("H", **_pos), "W": sp.Symbol("W", **_pos)}
OUT_SIZES = {n: sp.Symbol(f"{n}_out", **_pos) for n in SIZES}

# Arrays: weights, input, output, upstream gradient dl/dy.
W_ = sp.IndexedBase("W")
x_ = sp.IndexedBase("x")
y_ = sp.IndexedBase("y")
ybar_ = sp.IndexedBase("ybar")

# Indices: filter f (and g for a second filter), channel c, output position (i, j),
# kernel offset (m, n), input position (p, q).
f, g, c = sp.symbols("f g c", **_int)
OUT_IDX = sp.symbols("i j", **_int)
KER_IDX = sp.symbols("m n", **_int)
IN_IDX = sp.symbols("p q", **_int)
# Distinct names for the variables of differentiation while the sums are collapsed.
_c2 = sp.Symbol("c_2", **_int)
_KER2 = sp.symbols("m_2 n_2", **_int)

SYMBOLS = {"C": C, "K": K, "S": S, "D": D, "P": P, "F": F, **SIZES}


def size_symbols(rank: int) -> tuple[sp.Symbol, ...]:
    return tuple(SIZES[n] for n in SPATIAL_NAMES[rank])


def out_symbols(rank: int) -> tuple[sp.Symbol, ...]:
    return tuple(OUT_SIZES[n] for n in SPATIAL_NAMES[rank])


def out_size_formulas(rank: int) -> dict[sp.Symbol, sp.Expr]:
    """``L_out = floor((L + 2P - D(K-1) - 1)/S) + 1`` (and ``H_out``, ``W_out``)."""
    return {o: output_size(n, K, P, S, D)
            for o, n in zip(out_symbols(rank), size_symbols(rank), strict=True)}


def index_ranges(rank: int) -> dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]:
    """The range ``(first, last)`` of every index symbol."""
    ranges = {f: (0, F - 1), g: (0, F - 1), c: (0, C - 1), _c2: (0, C - 1)}
    for a in range(rank):
        ranges[OUT_IDX[a]] = (0, out_symbols(rank)[a] - 1)
        ranges[KER_IDX[a]] = (0, K - 1)
        ranges[_KER2[a]] = (0, K - 1)
        ranges[IN_IDX[a]] = (0, size_symbols(rank)[a] - 1)
    return ranges


def input_position(rank: int, kernel=None) -> tuple[sp.Expr, ...]:
    """The (unpadded) input position ``S*i + D*m - P`` read by output i and kernel offset m."""
    kernel = kernel or KER_IDX[:rank]
    return tuple(S * OUT_IDX[a] + D * kernel[a] - P for a in range(rank))


def forward_summand(rank: int, kernel=None, channel=c) -> sp.Expr:
    kernel = kernel or KER_IDX[:rank]
    return W_[(f, channel, *kernel)] * x_[(channel, *input_position(rank, kernel))]


def _limits(symbols, ranges):
    return [(s, *ranges[s]) for s in symbols]


@functools.cache
def forward(rank: int) -> sp.Eq:
    """``y[f, i] = sum_c sum_m W[f, c, m] x[c, S i + D m - P]``."""
    ranges = index_ranges(rank)
    rhs = sp.Sum(forward_summand(rank), *_limits((c, *KER_IDX[:rank]), ranges))
    return sp.Eq(y_[(f, *OUT_IDX[:rank])], rhs)


def collapse(expr: sp.Expr, ranges: dict) -> sp.Expr:
    """Eliminate summation indices fixed by a Kronecker delta, exactly.

    A summation index ``v`` is eliminated when a delta reads ``delta(v, u)`` up to sign with
    ``u`` an index of the same range (so the delta selects exactly one term); deltas with
    coefficients such as ``D*m`` stay inside their sum.
    """
    expr = sp.expand(expr)
    if isinstance(expr, sp.Add):
        return sp.Add(*(collapse(t, ranges) for t in expr.args))
    if not isinstance(expr, sp.Sum):
        return expr
    term = sp.expand(collapse(expr.function, ranges))
    if isinstance(term, sp.Add):
        return sp.Add(*(collapse(sp.Sum(t, *expr.limits), ranges) for t in term.args))
    limits = list(expr.limits)
    progress = True
    while progress:
        progress = False
        for k, (v, lo, hi) in enumerate(limits):
            for delta in term.atoms(sp.KroneckerDelta):
                diff = delta.args[0] - delta.args[1]
                slope = sp.diff(diff, v)
                if slope not in (1, -1):
                    continue
                value = sp.expand(v - diff / slope)
                if value.has(v) or ranges.get(value) != (lo, hi):
                    continue
                term = term.xreplace({delta: sp.S.One}).xreplace({v: value})
                del limits[k]
                progress = True
                break
            if progress:
                break
    return sp.Sum(term, *limits) if limits else term


@dataclass(frozen=True)
class Result:
    """One derived quantity: ``lhs = rhs`` with the index names of ``indices`` free."""

    key: str          # dy_dW, dy_dx, dl_dW, dl_dx
    lhs: sp.Expr      # the entry being given, e.g. Derivative(y[f,i], W[g,c,m])
    rhs: sp.Expr
    shape: tuple      # the dimension, as SymPy sizes
    indices: tuple    # the free indices of rhs, in the order of shape


@functools.cache
def general(rank: int) -> dict[str, Result]:
    """``dy/dW``, ``dy/dx``, ``dl/dW``, ``dl/dx`` for general sizes, as index expressions."""
    ranges = index_ranges(rank)
    out, ker, pos = OUT_IDX[:rank], KER_IDX[:rank], IN_IDX[:rank]
    ker2 = _KER2[:rank]
    y_entry = y_[(f, *out)]
    summand = forward_summand(rank)
    inner = _limits((c, *ker), ranges)
    outer = _limits((f, *out), ranges)
    y_sum = sp.Sum(summand, *inner)
    loss = sp.Sum(ybar_[(f, *out)] * summand, *outer, *inner)

    w_var = W_[(g, _c2, *ker2)]
    x_var = x_[(_c2, *pos)]
    back = {_c2: c, **dict(zip(ker2, ker, strict=True))}

    def derive(expr, var):
        return collapse(sp.diff(expr, var), ranges).xreplace(back)

    y_shape = (F, *out_symbols(rank))
    w_shape = (F, C, *([K] * rank))
    x_shape = (C, *size_symbols(rank))
    dl_dW = derive(loss, w_var).xreplace({g: f})  # only g is free: name it f again
    return {
        "dy_dW": Result("dy_dW", sp.Derivative(y_entry, W_[(g, c, *ker)]), derive(y_sum, w_var),
                        y_shape + w_shape, (f, *out, g, c, *ker)),
        "dy_dx": Result("dy_dx", sp.Derivative(y_entry, x_[(c, *pos)]), derive(y_sum, x_var),
                        y_shape + x_shape, (f, *out, c, *pos)),
        "dl_dW": Result("dl_dW", sp.Derivative(sp.Symbol("l"), W_[(f, c, *ker)]), dl_dW,
                        w_shape, (f, c, *ker)),
        "dl_dx": Result("dl_dx", sp.Derivative(sp.Symbol("l"), x_[(c, *pos)]),
                        derive(loss, x_var), x_shape, (c, *pos)),
    }


def substitutions(spec: ConvSpec) -> dict[sp.Symbol, int]:
    """The size symbols of ``spec``'s rank -> its values (output sizes included)."""
    values = {C: spec.C, K: spec.K, S: spec.S, D: spec.D, P: spec.P, F: spec.F}
    values.update(zip(size_symbols(spec.rank), spec.sizes, strict=True))
    values.update(zip(out_symbols(spec.rank), spec.out_sizes, strict=True))
    return values


def evaluate(expr: sp.Expr, values: dict, lookup) -> sp.Expr:
    """``expr`` at concrete sizes and indices ``values``; sums expanded term by term and every
    ``Indexed`` with integer indices replaced by ``lookup(indexed)``."""
    if isinstance(expr, sp.Sum):
        bounds = [(v, int(sp.sympify(lo).xreplace(values)), int(sp.sympify(hi).xreplace(values)))
                  for v, lo, hi in expr.limits]
        total = sp.S.Zero
        for point in itertools.product(*(range(lo, hi + 1) for _, lo, hi in bounds)):
            inner = {**values, **{v: k for (v, _, _), k in zip(bounds, point, strict=True)}}
            total += evaluate(expr.function, inner, lookup)
        return total
    if isinstance(expr, sp.Indexed):  # before the atoms: an Indexed counts as an atom
        return lookup(expr.xreplace(values))
    if expr.is_Atom:
        return expr.xreplace(values)
    if isinstance(expr, sp.Mul):  # a vanishing delta makes the rest of the product irrelevant
        deltas = [a for a in expr.args if isinstance(a, sp.KroneckerDelta)]
        if any(evaluate(a, values, lookup) == 0 for a in deltas):
            return sp.S.Zero
    return expr.func(*(evaluate(a, values, lookup) for a in expr.args))


def padded_lookup(spec: ConvSpec, arrays: dict | None = None):
    """Indexed entries at integer indices -> themselves (or values from ``arrays``); input
    entries outside the input are the zero padding."""

    def lookup(entry: sp.Indexed):
        name = str(entry.base)
        if name == "x":  # the spatial positions are integers here; the channel may be a symbol
            spatial = [int(p) for p in entry.indices[1:]]
            if not all(0 <= p < n for p, n in zip(spatial, spec.sizes, strict=True)):
                return sp.S.Zero
        if arrays is None:
            return entry
        return arrays[name][tuple(int(k) for k in entry.indices)]

    return lookup


def instantiate(result: Result, spec: ConvSpec, arrays: dict | None = None) -> sp.Array:
    """Every entry of a general result at the sizes of ``spec`` (an array of ``result.shape``)."""
    values = substitutions(spec)
    shape = tuple(int(sp.sympify(n).xreplace(values)) for n in result.shape)
    lookup = padded_lookup(spec, arrays)
    entries = [evaluate(result.rhs, {**values, **dict(zip(result.indices, point, strict=True))},
                        lookup)
               for point in itertools.product(*(range(n) for n in shape))]
    return sp.ImmutableDenseNDimArray(entries, shape)


def concrete_arrays(spec: ConvSpec) -> dict[str, sp.Array]:
    """The symbolic entries ``W[f,c,m]``, ``x[c,p]``, ``ybar[f,i]`` of a concrete instance."""

    def array(base, shape):
        entries = [base[idx] for idx in itertools.product(*(range(n) for n in shape))]
        return sp.ImmutableDenseNDimArray(entries, shape)

    return {"W": array(W_, spec.W_shape), "x": array(x_, spec.x_shape),
            "ybar": array(ybar_, spec.y_shape)}


@functools.lru_cache(maxsize=32)
def elementwise(spec: ConvSpec) -> dict[str, sp.Array]:
    """The reference: ``y`` built entry by entry from the forward definition at the sizes of
    ``spec``, and its derivatives taken entry by entry with ``sympy.diff``."""
    arrays = concrete_arrays(spec)
    fwd = forward(spec.rank)
    y = instantiate(Result("y", fwd.lhs, fwd.rhs, (F, *out_symbols(spec.rank)),
                           (f, *OUT_IDX[:spec.rank])), spec)
    loss = sum((arrays["ybar"][k] * y[k] for k in itertools.product(
        *(range(n) for n in spec.y_shape))), sp.S.Zero)
    W, x = arrays["W"], arrays["x"]
    return {
        "y": y,
        "dy_dW": _jacobian(y, W),
        "dy_dx": _jacobian(y, x),
        "dl_dW": _gradient(loss, W),
        "dl_dx": _gradient(loss, x),
    }


def entries(array: sp.Array) -> list:
    """The entries of ``array`` in row-major order."""
    return [array[k] for k in itertools.product(*(range(n) for n in array.shape))]


def _as_symbols(var: sp.Array) -> tuple[list, dict]:
    """A plain symbol per entry of ``var`` (and the map back): ``sympy.diff`` by a Symbol
    is the same derivative as by the Indexed entry, and much faster."""
    symbols = [sp.Dummy(str(v)) for v in entries(var)]
    return symbols, dict(zip(symbols, entries(var), strict=True))


def _gradient(scalar: sp.Expr, var: sp.Array) -> sp.Array:
    symbols, back = _as_symbols(var)
    forth = dict(zip(entries(var), symbols, strict=True))
    # Every other array entry a plain symbol too, for speed.
    others = {a: sp.Dummy(str(a)) for a in scalar.atoms(sp.Indexed) if a not in forth}
    back.update({d: a for a, d in others.items()})
    terms = sp.Add.make_args(sp.expand(scalar.xreplace({**forth, **others})))
    # Differentiate, for each variable, the terms it occurs in (the others give 0).
    occurs: dict = {v: [] for v in symbols}
    for term in terms:
        for v in term.free_symbols & occurs.keys():
            occurs[v].append(term)
    return sp.ImmutableDenseNDimArray(
        [sp.diff(sp.Add(*occurs[v]), v).xreplace(back) for v in symbols], var.shape)


def _jacobian(out: sp.Array, var: sp.Array) -> sp.Array:
    """``J[o..., v...] = d out[o...] / d var[v...]`` (output indices first)."""
    symbols, back = _as_symbols(var)
    forth = dict(zip(entries(var), symbols, strict=True))
    values = [sp.diff(o.xreplace(forth), v).xreplace(back) for o in entries(out) for v in symbols]
    return sp.ImmutableDenseNDimArray(values, tuple(out.shape) + tuple(var.shape))
