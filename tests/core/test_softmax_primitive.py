"""The softmax primitive: its reverse-mode rule held against the derivative of the definition
``a_i = exp(w_i) / sum_j exp(w_j)`` (planted wrong rules fail the same comparison), entries
sharing one node for their scores, and a derivation whose size grows linearly in the number
of entries."""

from __future__ import annotations

import random

import pytest
import sympy as sp

from derive.calculus.adjoint import derive_adjoints
from derive.core.primitives import (
    VECTOR_VJP,
    Scores,
    SoftmaxEntry,
    _negative,
    softargmax,
    softmax_vjp,
)
from derive.topics.attention import attention_cell


def disagreements(rule, size: int, read: list[int], points: int = 3, seed: int = 0) -> list:
    """Where ``rule`` (entries, bars) -> [(score, bar)] differs from the chain rule through
    the definition, ``bar w_j = sum_{i read} bar a_i d a_i / d w_j``, differentiated by
    SymPy; compared exactly at random points ``w = log r`` (r rational), where both sides
    are rational numbers."""
    ws = [sp.MatrixSymbol(f"w_{j}", 1, 1) for j in range(size)]
    bars = {i: sp.MatrixSymbol(f"b_{i}", 1, 1) for i in read}
    entries = softargmax(*ws)
    pairs = rule([entries[i] for i in read], [bars[i] for i in read])
    got = {j: [] for j in range(size)}
    for child, bar in pairs:
        got[ws.index(child)].append(bar() if callable(bar) else bar)

    u = sp.symbols(f"u0:{size}")
    b = {i: sp.Symbol(f"bb{i}") for i in read}
    definition = [sp.exp(u[i]) / sp.Add(*[sp.exp(v) for v in u]) for i in range(size)]
    want = {j: sp.Add(*[b[i] * sp.diff(definition[i], u[j]) for i in read])
            for j in range(size)}

    rng = random.Random(seed)
    found = []
    for _ in range(points):
        r = [sp.Rational(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(size)]
        bv = {i: sp.Rational(rng.randint(-9, 9), rng.randint(1, 9)) for i in read}
        env = {w: sp.ImmutableMatrix([[sp.log(x)]]) for w, x in zip(ws, r, strict=True)}
        env.update({bars[i]: sp.ImmutableMatrix([[bv[i]]]) for i in read})
        values = {**{v: sp.log(x) for v, x in zip(u, r, strict=True)},
                  **{b[i]: bv[i] for i in read}}
        for j in range(size):
            mine = sp.Add(*[term.xreplace(env).as_explicit()[0, 0] for term in got[j]])
            if sp.nsimplify(sp.simplify(mine - want[j].xreplace(values))) != 0:
                found.append((j, r))
    return found


READS = [(1, [0]), (2, [0, 1]), (3, [0, 1, 2]), (4, [0, 2]), (5, [4])]


@pytest.mark.parametrize(("size", "read"), READS)
def test_softmax_vjp_is_the_derivative_of_the_definition(size, read):
    assert disagreements(softmax_vjp, size, read) == []


def _without_normaliser(entries, bars):
    # a_j bar a_j alone: the shared sum forgotten
    return [(w, (lambda e=e, b=b: sp.Basic.__new__(sp.HadamardProduct, e, b)))
            for e, b, w in zip(entries, bars, entries[0].scores, strict=False)]


def _scaled_by_the_wrong_entry(entries, bars):
    # bar w_j = a_i (...) with i the entry read, not j: right for one entry, wrong for more
    pairs = softmax_vjp(entries, bars)
    first = entries[0]
    return [(w, lambda bar=bar: sp.Basic.__new__(sp.HadamardProduct, first, bar().args[1])
             if isinstance(bar(), sp.HadamardProduct) else bar()) for w, bar in pairs]


def _sign_flipped(entries, bars):
    return [(w, lambda bar=bar: _negative(bar())) for w, bar in softmax_vjp(entries, bars)]


@pytest.mark.parametrize("planted", [_without_normaliser, _scaled_by_the_wrong_entry,
                                     _sign_flipped])
def test_a_wrong_softmax_vjp_fails_the_comparison(planted):
    assert disagreements(planted, 3, [0, 1, 2])


def test_the_engine_uses_the_registered_rule():
    # the rule the comparison holds is the one the derivation calls (planting it is seen)
    assert VECTOR_VJP[SoftmaxEntry] is softmax_vjp


def test_entries_share_one_node_for_their_scores():
    ws = [sp.MatrixSymbol(f"w_{j}", 1, 1) for j in range(3)]
    a = softargmax(*ws)
    assert a[0].softmax is a[2].softmax and isinstance(a[0].softmax, Scores)
    assert a[1].scores == tuple(ws)
    moved = a[1].xreplace({ws[0]: sp.MatrixSymbol("z", 1, 1)})  # a rebuild keeps one node
    assert isinstance(moved.args[1], Scores) and len(moved.scores) == 3
    assert SoftmaxEntry(1, *ws) == a[1]
    assert str(a[1]) == "SoftmaxEntry(1, w_0, w_1, w_2)"  # written as it is built


def _terms(k: int) -> int:
    adjoints = derive_adjoints(attention_cell(k))
    return sum(len(v) for v in adjoints.bars.values()) + \
        sum(len(v) for v in adjoints.grads.values())


def test_derivation_grows_linearly_in_the_entries():
    # one term per score's bar (the normaliser shared), so the count is affine in k
    counts = {k: _terms(k) for k in (1, 2, 4, 8)}
    step = counts[2] - counts[1]
    assert counts[4] == counts[2] + 2 * step and counts[8] == counts[4] + 4 * step
    adjoints = derive_adjoints(attention_cell(3))
    assert all(len(adjoints.bars[f"w_{j}"]) == 1 for j in range(4))
