"""CNN accounting against independent brute force: a NumPy implementation (weights counted,
shapes observed), a naive loop with an explicit operation counter, and receptive fields
found by perturbing every input pixel. Each checker is shown catching a planted error."""

from dataclasses import replace

import numpy as np
import pytest

import derive
from derive.answers.cnn_accounting import (
    MIDTERM_INPUT,
    VGG_INPUT,
    VGG_NET,
    midterm_table,
    replacement_shape_check,
)
from derive.topics.cnn import numpy_net
from derive.topics.cnn.accounting import account
from derive.topics.cnn.bruteforce import check_counts, check_full_size, check_receptive, scaled_copy

MIXED_NET = """
conv 3 3x3 same
relu
conv 2 3x3/2 pad 0
pool 2x2/1
conv 2 1x1
fc 4
relu
fc 3
softmax
"""


# ------------------------------------------------------------ independent NumPy reference

def make_params(layers, input_shape, rng, draw=None):
    """Weight arrays of a NumPy implementation, shaped from the shapes it observes;
    ``draw(shape)`` makes one array (default uniform on [0.5, 1))."""
    draw = draw or (lambda size: rng.uniform(0.5, 1, size))
    params, shape = [], input_shape
    for layer in layers:
        if layer.kind == "conv":
            kh, kw = layer.kernel
            params.append((draw((layer.filters, shape[2], kh, kw)), draw(layer.filters)))
        elif layer.kind == "fc":
            params.append((draw((layer.filters, int(np.prod(shape)))), draw(layer.filters)))
        else:
            params.append(())
        shape = np_forward([layer], np.zeros((1, *shape)), [params[-1]])[-1].shape[1:]
    return params


def np_forward(layers, x, params, zero_bias=False):
    """Batched forward (B, H, W, C); returns every layer's output."""
    outs = []
    for layer, p in zip(layers, params, strict=True):
        if layer.kind in ("conv", "pool"):
            kh, kw = layer.kernel
            s, pad = layer.stride[0], layer.padding[0]
            fill = 0.0 if layer.kind == "conv" else -np.inf
            xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=fill)
            oh = (xp.shape[1] - kh) // s + 1
            ow = (xp.shape[2] - kw) // s + 1
            out = None
            for a in range(kh):
                for b in range(kw):
                    tap = xp[:, a: a + s * (oh - 1) + 1: s, b: b + s * (ow - 1) + 1: s, :]
                    if layer.kind == "conv":
                        term = tap @ p[0][:, :, a, b].T
                        out = term if out is None else out + term
                    else:
                        out = tap if out is None else np.maximum(out, tap)
            x = out + (0 if zero_bias else p[1]) if layer.kind == "conv" else out
        elif layer.kind == "relu":
            x = np.maximum(x, 0)
        elif layer.kind == "fc":
            w, b = p
            x = x.reshape(x.shape[0], -1) @ w.T + (0 if zero_bias else b)
        else:
            e = np.exp(x - x.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        outs.append(x)
    return outs


# ------------------------------------------------------------ naive loop with a counter

def counted_ops(layers, input_shape, seed=0):
    """Per layer (shape, operations) of plain loops with an explicit counter."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, input_shape).tolist()
    result = []
    for layer in layers:
        ops = 0
        if layer.kind in ("conv", "pool"):
            h, w, c = len(x), len(x[0]), len(x[0][0])
            kh, kw = layer.kernel
            s, pad = layer.stride[0], layer.padding[0]
            fill = 0.0 if layer.kind == "conv" else -np.inf
            oh, ow = (h + 2 * pad - kh) // s + 1, (w + 2 * pad - kw) // s + 1
            filters = layer.filters if layer.kind == "conv" else c
            out = [[[0.0] * filters for _ in range(ow)] for _ in range(oh)]
            for y in range(oh):
                for z in range(ow):
                    for f in range(filters):
                        acc, first = 0.0, True
                        channels = range(c) if layer.kind == "conv" else [f]
                        for ch in channels:
                            for a in range(kh):
                                for b in range(kw):
                                    yy, zz = y * s - pad + a, z * s - pad + b
                                    inside = 0 <= yy < h and 0 <= zz < w
                                    v = x[yy][zz][ch] if inside else fill
                                    if layer.kind == "conv":
                                        term = v * 0.5
                                        ops += 1  # multiply
                                        if not first:
                                            ops += 1  # add into the sum
                                        acc = term if first else acc + term
                                    else:
                                        if not first:
                                            ops += 1  # compare
                                        acc = v if first else max(acc, v)
                                    first = False
                        if layer.kind == "conv":
                            acc += 0.1
                            ops += 1  # bias
                        out[y][z][f] = acc
            x = out
        elif layer.kind == "relu":
            flat = np.asarray(x)
            ops += flat.size
            x = np.maximum(flat, 0).tolist()
        elif layer.kind == "fc":
            flat = np.asarray(x).ravel().tolist()
            x = []
            for _ in range(layer.filters):
                acc = flat[0] * 0.5
                ops += 1
                for v in flat[1:]:
                    acc += v * 0.5
                    ops += 2
                x.append(acc + 0.1)
                ops += 1
        else:
            n = len(x)
            ops += n + (n - 1) + n  # exp each, sum, divide each
            x = list(np.exp(x) / np.sum(np.exp(x)))
        result.append((list(np.asarray(x).shape), ops))
    return result


def perturbation_sets(layers, input_shape, seed=0):
    """Per layer, dep[y, x, pixel]: zero input and biases, random positive weights, so
    perturbing a pixel makes exactly the dependent outputs positive."""
    h, w, c = input_shape
    rng = np.random.default_rng(seed)
    params = make_params(layers, input_shape, rng)
    x = np.zeros((h * w, h, w, c))
    x[np.arange(h * w), np.arange(h * w) // w, np.arange(h * w) % w, :] = 1.0
    fields = []
    for out in np_forward([lyr for lyr in layers if lyr.kind != "softmax"], x,
                          [p for lyr, p in zip(layers, params, strict=True)
                           if lyr.kind != "softmax"], zero_bias=True):
        if out.ndim == 2:
            out = out[:, None, None, :]
        fields.append(np.moveaxis((out > 0).any(axis=-1), 0, -1))
    return fields


# ------------------------------------------------------------ tests

def test_midterm_shapes_and_parameters_match_numpy_implementation():
    table = midterm_table()
    rng = np.random.default_rng(0)
    params = make_params(table.layers, MIDTERM_INPUT, rng)
    outs = np_forward(table.layers, rng.standard_normal((1, *MIDTERM_INPUT)), params)
    for row, out, p in zip(table.rows[1:], outs, params, strict=True):
        assert row.shape == out.shape[1:], row.name
        assert row.params == sum(a.size for a in p), row.name
    assert table.total_params == sum(a.size for p in params for a in p) == 223_496


def test_midterm_flops_match_counted_loops_on_a_narrow_copy():
    table = midterm_table()
    small = scaled_copy(table.layers)
    counted = counted_ops(small, (32, 32, 2))
    claimed = account(small, (32, 32, 2))
    for row, (shape, ops) in zip(claimed.rows[1:], counted, strict=True):
        assert list(row.shape) == shape and row.flops == ops, row.name


@pytest.mark.parametrize("input_shape", [(9, 11, 2), (12, 7, 1)])
def test_mixed_network_against_all_references(input_shape):
    table = account(MIXED_NET, input_shape)
    rng = np.random.default_rng(1)
    params = make_params(table.layers, input_shape, rng)
    outs = np_forward(table.layers, rng.standard_normal((2, *input_shape)), params)
    counted = counted_ops(table.layers, input_shape)
    for row, out, p, (shape, ops) in zip(table.rows[1:], outs, params, counted, strict=True):
        assert row.shape == out.shape[1:] and list(row.shape) == shape, row.name
        assert row.params == sum(a.size for a in p), row.name
        assert row.flops == ops, row.name
        if row.layer.kind in ("conv", "fc"):
            assert row.flops == 2 * row.macs


@pytest.mark.slow  # full VGG size; the accounting is held against NumPy at small sizes above
def test_vgg_parameter_total():
    table = account(VGG_NET, VGG_INPUT)
    # the weights of a NumPy implementation at full size, shaped from the activations it
    # observes; np.zeros maps untouched pages, so the 205 million fc weights cost no memory
    params = make_params(table.layers, VGG_INPUT, None,
                         draw=lambda size: np.zeros(size, np.float32))
    counted = [sum(a.size for a in p) for p in params]
    assert [row.params for row in table.rows[1:]] == counted
    assert table.total_params == sum(counted) == 207_507_816
    answer = derive.answer("rnn-cnn-hw/3.1")
    assert answer.results["total_params"] == 207_507_816 and answer.passed


def bits(masks, n):
    """Bitmasks -> boolean rows."""
    return np.array([[(m >> i) & 1 for i in range(n)] for m in masks], dtype=bool)


def test_midterm_receptive_fields_by_perturbation():
    table = midterm_table()
    small = scaled_copy(table.layers)
    fields = perturbation_sets(small, MIDTERM_INPUT)
    h, w, _ = MIDTERM_INPUT
    for row, dep in zip(table.rows[1:], fields, strict=True):
        exact = (bits(row.row_sets, h)[:, None, :, None] & bits(row.col_sets, w)[None, :, None, :])
        exact = exact.reshape(len(row.row_sets), len(row.col_sets), h * w)
        assert np.array_equal(exact, dep), row.name
        assert row.covers_input == bool(dep.all()), row.name
    answer = derive.answer("cmsc25500-midterm/1b")
    first = next(i for i, dep in enumerate(fields, start=1) if dep.all())
    assert answer.results["index"] == first == 18
    # a size-only judgement stops at layer 16, where perturbation shows 4 of 16 locations cover
    by_size = answer.results["first_by_size_index"]
    assert by_size == 16
    assert int(fields[by_size - 1].all(axis=-1).sum()) == 4
    assert answer.results["covering_locations_at_first_by_size"] == 4


def test_receptive_field_with_holes_is_exact():
    spec = "conv 2 1x1/2\nconv 2 3x3 pad 1\npool 3x3/2 pad 1\nconv 1 3x3"
    table = account(spec, (16, 16, 1))
    fields = perturbation_sets(table.layers, (16, 16, 1))
    for row, dep in zip(table.rows[1:], fields, strict=True):
        assert row.covers_input == bool(dep.all())
        for y, rs in enumerate(row.row_sets):
            assert {p // 16 for p in np.flatnonzero(dep[y].any(axis=0))} == {
                i for i in range(16) if rs >> i & 1}
    assert not table.rows[1].contiguous or not table.rows[2].contiguous
    checks = check_receptive(table.as_json()["layers"][1:], table.layers, (16, 16, 1))
    assert all(c.passed for c in checks)


# ------------------------------------------------------------ each checker catches a plant

def _small_claims():
    table = midterm_table()
    small = scaled_copy(table.layers)
    return small, account(small, (32, 32, 2)).as_json()["layers"][1:]


def test_check_counts_passes_and_catches_planted_errors():
    small, claims = _small_claims()
    assert all(c.passed for c in check_counts(claims, small, (32, 32, 2)))
    planted = [dict(r) for r in claims]
    planted[4] = {**planted[4], "shape": [17, 16, 2]}  # off-by-one pool output
    failed = [c.name for c in check_counts(planted, small, (32, 32, 2)) if not c.passed]
    assert failed == ["shape per layer (32x32x2 input)"]
    planted = [dict(r) for r in claims]
    planted[0] = {**planted[0], "params": planted[0]["params"] - 2}  # dropped biases
    checks = check_counts(planted, small, (32, 32, 2))
    assert [c.name for c in checks if not c.passed] == ["params per layer (32x32x2 input)"]
    assert "layer 1 (conv 2 5x5/1 pad 2): claimed params 100, brute force 102" in checks[1].detail
    planted = [dict(r) for r in claims]
    planted[2] = {**planted[2], "flops": planted[2]["flops"] - 32 * 32 * 2}  # no bias adds
    failed = [c.name for c in check_counts(planted, small, (32, 32, 2)) if not c.passed]
    assert failed == ["flops per layer (32x32x2 input)"]


def test_full_size_implementation_agrees_with_the_test_references():
    # the counted NumPy implementation against this file's scalar loops and NumPy forward
    for shape in ((9, 11, 2), (12, 7, 1)):
        table = account(MIXED_NET, shape)
        run = numpy_net.run(table.layers, shape, counted=True)
        plain = numpy_net.run(table.layers, shape)
        assert [(list(r.shape), r.flops) for r in run.layers] == counted_ops(table.layers,
                                                                            shape)
        params = make_params(table.layers, shape, np.random.default_rng(0))
        assert [r.params for r in plain.layers] == [sum(a.size for a in p) for p in params]
        assert np.allclose(run.output, plain.output, rtol=1e-12, atol=0)


def test_check_full_size_passes_and_catches_planted_errors():
    table = midterm_table()
    claims = table.as_json()["layers"][1:]
    checks = check_full_size(claims, table.layers, MIDTERM_INPUT)
    assert all(c.passed for c in checks) and len(checks) == 4
    assert "total 223,496" in checks[1].detail and "total 26,973,696" in checks[2].detail

    def failing(planted):
        return [c.name.split(" per layer")[0]
                for c in check_full_size(planted, table.layers, MIDTERM_INPUT) if not c.passed]

    off_by_one = [dict(r) for r in claims]
    off_by_one[4] = {**off_by_one[4], "shape": [17, 16, 24]}  # pool output one row too tall
    assert failing(off_by_one) == ["output shape"]
    no_bias = [dict(r) for r in claims]
    no_bias[0] = {**no_bias[0], "params": no_bias[0]["params"] - 16}
    assert failing(no_bias) == ["parameters"]
    no_bias_adds = [dict(r) for r in claims]
    no_bias_adds[2] = {**no_bias_adds[2], "flops": no_bias_adds[2]["flops"] - 32 * 32 * 24}
    assert failing(no_bias_adds) == ["FLOPs"]
    check = check_full_size(no_bias_adds, table.layers, MIDTERM_INPUT)[2]
    assert "layer 3 (conv 24 3x3/1 pad 1): claimed flops 7053312, brute force 7077888" \
        in check.detail

    def wrong_counted_loops(layers, shape, counted=False, **kw):
        run = numpy_net.run(layers, shape, counted=counted, **kw)
        if counted:  # counted loops that compute something else than the network
            run.output = run.output * (1 + 1e-9)
        return run

    checks = check_full_size(claims, table.layers, MIDTERM_INPUT, runner=wrong_counted_loops)
    assert [c.name for c in checks if not c.passed] == ["counted loops compute the network"]
    # parameters and shapes only (rnn-cnn-hw/3.1): no FLOP count, no second run
    assert len(check_full_size(claims, table.layers, MIDTERM_INPUT, flops=False)) == 2


def test_check_receptive_catches_size_only_judgement_and_shifted_window():
    table = midterm_table()
    claims = table.as_json()["layers"][1:]
    assert all(c.passed for c in check_receptive(claims, table.layers, MIDTERM_INPUT))
    size_only = [{**r, "covers_input": r["rf_size"][0] >= 32} for r in claims]
    checks = check_receptive(size_only, table.layers, MIDTERM_INPUT)
    assert not checks[0].passed and "layer 16" in checks[0].detail
    shifted = [dict(r) for r in claims]
    shifted[2] = {**shifted[2], "rf_start": [shifted[2]["rf_start"][0] + 1,
                                             shifted[2]["rf_start"][1]]}
    checks = check_receptive(shifted, table.layers, MIDTERM_INPUT)
    assert checks[0].passed and not checks[1].passed and "layer 3" in checks[1].detail


def test_pool_replacements_shape_checked():
    table = midterm_table()
    answer = derive.answer("cmsc25500-midterm/1c")
    assert answer.passed and answer.results["shapes_match"]
    for r in answer.results["replacements"]:
        assert r["filters"] == r["input_shape"][2]
        assert r["output_shape"] == [r["input_shape"][0] // 2, r["input_shape"][1] // 2,
                                     r["input_shape"][2]]
    # pad 1 makes every replacement one row too large: the shape check must fail
    lines, prev = [], table.rows[0]
    for row in table.rows[1:]:
        lines.append(f"conv {prev.shape[2]} 2x2/2 pad 1" if row.layer.kind == "pool"
                     else row.layer.text)
        prev = row
    check = replacement_shape_check(table, account("\n".join(lines), MIDTERM_INPUT), "bad")
    assert not check.passed and "layers [5," in check.detail


def test_answers_are_exact_integers_and_pass():
    a = derive.answer("cmsc25500-midterm/1a")
    assert a.passed
    assert isinstance(a.results["total_flops"], int) and a.results["total_flops"] == 26_973_696
    rows = a.results["layers"]
    assert rows[1]["flops"] == 32 * 32 * 16 * 2 * 25 * 3  # conv output: 2 K^2 C_in
    assert rows[5]["flops"] == 16 * 16 * 24 * 3  # 2x2 max pool: 3 comparisons per output
    assert rows[2]["flops"] == 32 * 32 * 16  # ReLU: one comparison per element
    assert all(isinstance(r["params"], int) for r in rows)


def test_replace_on_layer_is_not_mutation():
    layers = midterm_table().layers
    assert replace(layers[0], filters=1).filters == 1 and layers[0].filters == 16


def test_tables_show_the_asked_columns_and_clip_windows_wider_than_the_input():
    from derive.topics.cnn.accounting import format_latex, format_text

    vgg = account(VGG_NET, VGG_INPUT)
    full = format_text(vgg)
    # the fc window (246 wide, in the padding) is "whole input"; no 246 on a 224 input
    assert "whole input" in full and "246" not in full and "246" not in format_latex(vgg)
    midterm = midterm_table()
    text = format_text(midterm)
    # layer 16 has a 46-wide window on a 32 input but does not cover it: its size is shown
    assert [line for line in text.splitlines() if line.startswith(" 16 ")][0].count("46x46")
    a = derive.answer("rnn-cnn-hw/3.1")
    assert "\\begin{tabular}{rlrr}" in a.latex and "FLOPs" not in a.latex
    b = derive.answer("cmsc25500-midterm/1a")
    assert "\\begin{tabular}{rlrrr}" in b.latex and "RF" not in b.latex
    assert not any("receptive" in c.name or "coverage" in c.name for c in b.checks)


def test_window_agreement_catches_a_shifted_window():
    from derive.answers.cnn_accounting import _window_agreement
    from derive.topics.cnn.receptive import Window

    table = midterm_table()
    assert _window_agreement(table).passed
    row = table.rows[18]  # the 4th pool: the first layer that covers the input
    w = row.windows[0]
    shifted = Window(w.size, w.jump, w.start + 20, w.count)  # window formula off by 20 rows
    table.rows[18] = replace(row, windows=(shifted, row.windows[1]))
    check = _window_agreement(table)
    assert not check.passed and check.detail == "disagree at layers 18"
