"""The closed form of the exact receptive sets (``Spans``) against the bitmask sets they
replace, and the budget of the bitmask sets a layer list with holes still needs."""

from __future__ import annotations

import random

import pytest

from derive.core.errors import DeriveError
from derive.topics.cnn.accounting import account
from derive.topics.cnn.layers import parse_layers
from derive.topics.cnn.receptive import Spans, axis_params, next_sets, next_spans
from derive.topics.conv.shapes import output_size


def random_layers(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(["conv", "conv", "pool", "relu", "fc"])
        k, stride, pad = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 4)
        if kind == "conv":
            lines.append(f"conv 1 {k}x{k}/{stride} pad {pad}")
        elif kind == "pool":
            lines.append(f"pool {k}x{k}/{stride} pad {min(pad, k)}")
        else:
            lines.append("fc 3" if kind == "fc" else kind)
    return "\n".join(lines)


def bounds(mask: int) -> tuple[int, int] | None:
    return None if mask == 0 else ((mask & -mask).bit_length() - 1, mask.bit_length() - 1)


def test_spans_equal_the_exact_sets_while_they_claim_to():
    rng = random.Random(15)
    compared = holes = 0
    for _ in range(3000):
        layers, n = parse_layers(random_layers(rng)), rng.randint(1, 10)
        sets, spans, count = [1 << i for i in range(n)], Spans.of_input(n), n
        for layer in layers:
            kernel, stride, pad = axis_params(layer, 0, count)
            try:
                new = (1 if layer.kind == "fc" else count if layer.kind in ("relu", "softmax")
                       else output_size(count, kernel, pad, stride))
            except DeriveError:
                break
            sets, spans, count = (next_sets(layer, 0, sets, new),
                                  next_spans(layer, 0, spans, new), new)
            if not spans.exact:
                holes += 1
                break
            for u, mask in enumerate(sets):
                assert spans.interval(u) == bounds(mask), (layers, n, u)
                if mask:  # an interval: no holes
                    lo, hi = bounds(mask)
                    assert mask == (1 << (hi + 1)) - (1 << lo)
            assert spans.covers(n) == all(m == (1 << n) - 1 for m in sets)
            compared += 1
    assert compared > 3000 and holes > 50  # both paths were exercised


def test_a_layer_list_with_holes_still_uses_the_exact_sets():
    table = account("conv 2 1x1/2\nconv 2 3x3 pad 1", (16, 16, 1))
    assert not table.rows[2].closed_form
    assert table.rows[2].row_sets[0] == 0b101  # rows 0 and 2 of the input, not row 1
    assert not table.rows[2].contiguous


def test_huge_inputs_are_accounted_without_the_sets(monkeypatch):
    monkeypatch.delenv("DERIVE_MAX_MEMORY", raising=False)
    table = account("conv 16 3x3\npool 2x2/2\nfc 10", (10**8, 10**8, 3))
    assert [r.covers_input for r in table.rows] == [False, False, False, True]
    assert all(r.closed_form and r.contiguous for r in table.rows)
    with pytest.raises(DeriveError, match="DERIVE_MAX_MEMORY"):
        _ = table.rows[1].row_sets  # the bitmasks themselves would take petabytes


def test_the_exact_sets_of_a_list_with_holes_are_refused_above_the_limit(monkeypatch):
    monkeypatch.setenv("DERIVE_MAX_MEMORY", "1K")
    with pytest.raises(DeriveError, match=r"holes .* on a 200 x 200 input .* "
                                          r"DERIVE_MAX_MEMORY=\d+K"):
        account("pool 1x1/2\nconv 2 2x2", (200, 200, 1))
    account("conv 2 3x3\npool 2x2/2", (200, 200, 1))  # no holes: no sets, no refusal
