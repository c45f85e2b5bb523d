"""AttentionRNN of dsga1008-hw2/1.2.2: its cells, for a fixed ``k`` and unrolled for the
tied AttentionRNN(inf), and the symbolic-``k`` mathematics shared by the model's display and
the answers: the system of equations, the size of ``a(t)``, the gradient of the loss through
the one-step Jacobians.

``attention_cell(k)`` (dims ``n``): at step ``t`` the cell attends over ``x(t)`` and the last
``k`` states with one query/key/value matrix per lag::

    q_0(t) = Q_0 x(t),   q_i(t) = Q_i h(t-i),   likewise k_i(t) (K_i), v_i(t) (V_i)
    w_i(t) = q_i(t)^T k_i(t)
    a_i(t) = softargmax(w_0(t), ..., w_k(t))_i
    h(t)   = sum_i v_i(t) a_i(t)

with ``h(t) = 0`` for ``t < 1``. ``attention_inf_cell(T)`` is the tied model (``Q_i = Q_1``
for ``i >= 1``) unrolled over ``T`` steps: step ``s`` attends over ``x(s)`` and
``h(s-1), ..., h(1)``, all at one engine time step.
"""

from __future__ import annotations

import sympy as sp

from derive.calculus.jacobian import matrix_jacobian
from derive.core.cell import Cell, _name_and_time, _timed_atoms, t, timed_matrix
from derive.core.errors import TERMS, brief, positive_int
from derive.core.primitives import SoftmaxEntry, softargmax
from derive.printing.latex import latex
from derive.printing.text import text

n = sp.Symbol("n", integer=True, positive=True)
T = sp.Symbol("T", integer=True, positive=True)
k, i, j, s = sp.symbols("k i j s", integer=True, nonnegative=True)
GROUPS = ("Q", "K", "V")


# The cost of building and checking a cell grows with its terms, the signals its equations
# read: each of the k + 1 softmax entries reads every score, so they grow as k^2 for
# AttentionRNN(k) and T^3 unrolled (the derivation itself is linear in k: the entries of one
# softmax are differentiated together). They are counted from the arguments, before a cell is
# built, and refused above the limit DERIVE_MAX_TERMS.


def derivation_terms(cell: Cell) -> int:
    """The terms of ``cell``: over its equations, the signals each reads, where the scores of
    one softmax count once for the softmax and each further entry as one term (its entries
    are differentiated together through one shared sum, so the derivation grows with the
    scores, not with their square)."""
    shared: set[sp.Basic] = set()
    total = 0
    for eq in cell.equations:
        if isinstance(eq.rhs, SoftmaxEntry):
            scores = eq.rhs.args[1]
            total += 1 if scores in shared else len(cell.uses(eq.rhs))
            shared.add(scores)
        else:
            total += len(cell.uses(eq.rhs))
    return total


def attention_terms(k: int) -> int:
    """:func:`derivation_terms` of ``attention_cell(k)``, in closed form: the softmax reads its
    ``k+1`` scores once and adds one term per further entry (``k``); per entry ``q, k, v``
    read one source, ``w`` two, ``h`` two."""
    return (k + 1) + k + 7 * (k + 1)


def attention_inf_terms(steps: int) -> int:
    """:func:`derivation_terms` of ``attention_inf_cell(steps)``: step ``s`` has one softmax
    of ``s`` entries, so ``sum_s (s + (s - 1) + 7 s)``."""
    return 9 * steps * (steps + 1) // 2 - steps


def check_attention_size(k: int | None = None, steps: int | None = None) -> None:
    """Refuse AttentionRNN(k), or AttentionRNN(inf) over ``steps`` steps, whose derivation
    exceeds the limit on terms (``DERIVE_MAX_TERMS``)."""
    if k is not None:
        TERMS.check(attention_terms(k), f"deriving AttentionRNN(k={brief(k)})",
                    "terms (signals read by its equations)")
    if steps is not None:
        TERMS.check(attention_inf_terms(steps), f"deriving AttentionRNN(inf) unrolled over "
                    f"T={brief(steps)} steps", "terms (signals read by its equations)")


def attention_cell(k: int) -> Cell:
    """The cell of AttentionRNN(k), reading ``h`` at lags ``1 .. k``."""
    k = positive_int("k", k)
    check_attention_size(k=k)
    cell = Cell(f"attention_rnn_{k}", dims=(n,), zero_initial=True)
    t = cell.t
    x = cell.input("x", (n, 1))
    h = cell.state("h", (n, 1))
    weights = {g: [cell.param(f"{g}_{i}", (n, n)) for i in range(k + 1)] for g in GROUPS}
    sources = [x(t)] + [h(t - i) for i in range(1, k + 1)]
    q = [cell.let(f"q_{i}", weights["Q"][i] * src) for i, src in enumerate(sources)]
    kk = [cell.let(f"k_{i}", weights["K"][i] * src) for i, src in enumerate(sources)]
    v = [cell.let(f"v_{i}", weights["V"][i] * src) for i, src in enumerate(sources)]
    scores = [cell.let(f"w_{i}", q[i](t).T * kk[i](t)) for i in range(k + 1)]
    entries = [cell.let(f"a_{i}", a)
               for i, a in enumerate(softargmax(*[w(t) for w in scores]))]
    cell.let("h", sp.MatAdd(*[sp.MatMul(v[i](t), entries[i](t)) for i in range(k + 1)]))
    cell.output("h")
    return cell


def attention_inf_cell(steps: int) -> Cell:
    """AttentionRNN(inf) unrolled over ``steps`` steps: step ``s`` is the signal ``h_s``."""
    steps = positive_int("T", steps)
    check_attention_size(steps=steps)
    cell = Cell(f"attention_rnn_inf_{steps}", dims=(n,), zero_initial=True)
    t = cell.t
    xs = [cell.input(f"x_{s}", (n, 1)) for s in range(1, steps + 1)]
    weights = {g: [cell.param(f"{g}_{i}", (n, n)) for i in range(2)] for g in GROUPS}
    hs = []
    for s in range(1, steps + 1):
        # entry 0 reads x(s); entry i >= 1 reads h(s - i) with the tied Q_1, K_1, V_1
        sources = [xs[s - 1](t)] + [hs[s - 1 - i](t) for i in range(1, s)]
        tied = [0] + [1] * (s - 1)
        qkv = {g: [cell.let(f"{g.lower()}_{s}_{i}", weights[g][j] * src)
                   for i, (src, j) in enumerate(zip(sources, tied, strict=True))]
               for g in GROUPS}
        scores = [cell.let(f"w_{s}_{i}", qkv["Q"][i](t).T * qkv["K"][i](t)) for i in range(s)]
        entries = [cell.let(f"a_{s}_{i}", a)
                   for i, a in enumerate(softargmax(*[w(t) for w in scores]))]
        hs.append(cell.let(f"h_{s}", sp.MatAdd(*[sp.MatMul(qkv["V"][i](t), entries[i](t))
                                                 for i in range(s)])))
    cell.output(*[f"h_{s}" for s in range(1, steps + 1)])
    return cell


def dimension_of_a(cell: Cell) -> int:
    """The number of entries of a(t) in an AttentionRNN cell: its softmax entries."""
    return _softmax_entries(cell)


def _weight(group: str, index) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"{group}_{index}", n, n)

def system_lines(tied: bool) -> list[str]:
    sym = "1" if tied else "i"
    upper = "t-1" if tied else "k"
    return [
        "q_0(t) = Q_0 x(t),  k_0(t) = K_0 x(t),  v_0(t) = V_0 x(t)",
        f"q_i(t) = Q_{sym} h(t-i),  k_i(t) = K_{sym} h(t-i),  v_i(t) = V_{sym} h(t-i)  "
        f"for i in {{1, ..., {upper}}}",
        f"w_i(t) = q_i(t)^T k_i(t)  for i in {{0, ..., {upper}}}",
        f"a_i(t) = exp(w_i(t)) / sum_{{j=0}}^{{{upper}}} exp(w_j(t))  for i in {{0, ..., {upper}}}",
        f"h(t) = sum_{{i=0}}^{{{upper}}} a_i(t) v_i(t)",
    ]

def system_latex(tied: bool) -> str:
    sym = "1" if tied else "i"
    upper = "t-1" if tied else "k"
    rows = [
        r"q_0^{(t)} &= Q_0 x^{(t)}, \quad k_0^{(t)} = K_0 x^{(t)}, \quad v_0^{(t)} = V_0 x^{(t)}",
        rf"q_i^{{(t)}} &= Q_{{{sym}}} h^{{(t-i)}}, \quad k_i^{{(t)}} = K_{{{sym}}} h^{{(t-i)}}, "
        rf"\quad v_i^{{(t)}} = V_{{{sym}}} h^{{(t-i)}} && i \in \{{1, \dots, {upper}\}}",
        rf"w_i^{{(t)}} &= {{q_i^{{(t)}}}}^{{\top}} k_i^{{(t)}} && i \in \{{0, \dots, {upper}\}}",
        rf"a_i^{{(t)}} &= \operatorname{{softargmax}}\left(w_0^{{(t)}}, \dots, "
        rf"w_{{{upper}}}^{{(t)}}\right)_i = \frac{{\exp w_i^{{(t)}}}}"
        rf"{{\sum_{{j=0}}^{{{upper}}} \exp w_j^{{(t)}}}} && i \in \{{0, \dots, {upper}\}}",
        rf"h^{{(t)}} &= \sum_{{i=0}}^{{{upper}}} a_i^{{(t)}} v_i^{{(t)}}",
    ]
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

def _reindexed(J: sp.MatrixExpr, lag: int, index) -> sp.MatrixExpr:
    """The lag-``lag`` Jacobian with its index renamed to ``index`` (``Q_1 -> Q_i``,
    ``q_1(t) -> q_i(t)``, ``a_1(t) -> a_i(t)``)."""
    mapping = {}
    for atom in J.atoms(sp.MatrixSymbol):
        name, time = _name_and_time(atom)
        if name is None:
            group, _, number = atom.name.partition("_")
            if group in GROUPS and number == str(lag):
                mapping[atom] = _weight(group, index)
        elif name == "h" and time == t - lag:
            mapping[atom] = timed_matrix("h", t - index, atom.shape)
        elif name in (f"q_{lag}", f"k_{lag}", f"v_{lag}"):
            mapping[atom] = timed_matrix(f"{name[0]}_{index}", time, atom.shape)
    for f in J.atoms(sp.core.function.AppliedUndef):
        name, time = _name_and_time(f)
        if name == f"a_{lag}":
            mapping[f] = sp.Function(f"a_{index}")(time)
    return J.xreplace(mapping)

def _transpose(expr: sp.MatrixExpr) -> sp.MatrixExpr:
    """``expr^T`` distributed over sums and products, a column sum kept whole as a row
    (``(v_i - h)^T``), square sums transposed term by term."""
    if isinstance(expr, sp.MatAdd):
        if expr.shape[1] == 1:
            return sp.Transpose(expr)
        return sp.MatAdd(*[_transpose(a) for a in expr.args])
    if isinstance(expr, sp.MatMul):
        scalars = [a for a in expr.args if not isinstance(a, sp.MatrixExpr)]
        matrices = [a for a in expr.args if isinstance(a, sp.MatrixExpr)]
        return sp.MatMul(*scalars, *[_transpose(f) for f in reversed(matrices)])
    if isinstance(expr, sp.Transpose):
        return expr.arg
    return sp.Transpose(expr)

def _at(expr: sp.Basic, time: sp.Expr) -> sp.Basic:
    """``expr`` with ``t`` moved to ``time`` in every time-indexed quantity."""
    mapping = {}
    for atom in _timed_atoms(expr):
        name, when = _name_and_time(atom)
        if name is None:
            continue
        new = when.xreplace({t: time})
        mapping[atom] = (timed_matrix(name, new, atom.shape) if isinstance(atom, sp.MatrixSymbol)
                         else atom.func(new))
    return expr.xreplace(mapping)

def _softmax_entries(cell: Cell) -> int:
    return sum(isinstance(eq.rhs, SoftmaxEntry) for eq in cell.equations)

def loss_gradient_forms() -> dict:
    """The answer of 1.2.2f as formulas: the symbolic-i Jacobian (from the lag-1 Jacobian of
    AttentionRNN(1), index renamed) and the displays built from it."""
    J1 = matrix_jacobian(attention_cell(1), "h", "h", 1)
    general = _reindexed(J1, 1, i)
    local = _transpose(_at(general, T + i))
    bar_h_T = timed_matrix("bar_h", T, (n, 1))
    later = timed_matrix("bar_h", T + i, (n, 1))

    def loss(expr: sp.Basic) -> str:  # the problem's losses are l_t
        return latex(expr).replace(r"\partial L_{", r"\partial l_{")

    direct = loss(timed_matrix("dL_dh", T, (n, 1)))
    dl = r"\frac{dl}{dh^{(T)}}"
    total = (rf"{dl} = {direct} + \sum_{{t > T}} \left(\frac{{dh^{{(t)}}}}{{dh^{{(T)}}}}"
             r"\right)^{\top} \frac{\partial l_{t}}{\partial h^{(t)}}")
    recursion = (rf"{dl} = {latex(bar_h_T)} = {direct} + \sum_{{i=1}}^{{k}} "
                 rf"\left(\frac{{\partial h^{{(T+i)}}}}{{\partial h^{{(T)}}}}\right)^{{\top}} "
                 rf"{latex(later)}")
    local_latex = (r"\left(\frac{\partial h^{(T+i)}}{\partial h^{(T)}}\right)^{\top} = "
                   + latex(local))
    return {
        "general": general, "local": local,
        "total_latex": total, "recursion_latex": recursion, "local_latex": local_latex,
        "total_text": "dl/dh(T) = dl_T/dh(T) + sum_{t > T} (dh(t)/dh(T))^T dl_t/dh(t)",
        "recursion_text": (f"bar_h(T) = dL_dh(T) + sum_{{i=1}}^{{k}} (dh(T+i)/dh(T))^T "
                           f"bar_h(T+i),  (dh(T+i)/dh(T))^T = {text(local)}"),
    }
