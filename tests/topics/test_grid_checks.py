"""The checks of 2c and 4.3 (each number against a graph or a built network), the grid
agreement of the 4.1/4.2 counts, and the grouped connection count: each shown catching a
planted error."""

import numpy as np
import sympy as sp

from derive.answers import pixelcnn_mdrnn as pixelcnn_mdrnn_answers
from derive.answers.mdrnn import _mdrnn_steps, conv_comparison_checks, conv_comparison_claims
from derive.answers.pixelcnn_mdrnn import (
    _mdrnn_stack_results,
    _pixelcnn_results,
    comparison_checks,
    comparison_claims,
    grouped_connections,
    stack_checks,
)
from derive.checks.counts import agree_on_grid
from derive.topics.grid import mdrnn, pixelcnn
from derive.topics.grid.dag import ancestors

G = mdrnn.G
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


def test_2c_numbers_each_checked():
    numbers = conv_comparison_claims(_mdrnn_steps()[0])
    assert numbers == {"mdrnn_steps": 63, "mdrnn_context_of_last_cell": 1024, "conv_steps": 5,
                       "conv_context": 121}
    assert all(c.passed for c in conv_comparison_checks(numbers))
    for key in numbers:
        planted = {**numbers, key: numbers[key] + 1}
        passed = [c.passed for c in conv_comparison_checks(planted)]
        assert passed.count(False) == 1, key
        assert "claimed" in conv_comparison_checks(planted)[passed.index(False)].detail
    # 7 x 7 "receptive field" (2L + 1 with L = 3) is caught
    assert not conv_comparison_checks({**numbers, "conv_context": 49})[3].passed


def test_4_3_numbers_each_checked():
    claims = comparison_claims()
    p, m = claims["pixelcnn"], claims["mdrnn"]
    assert (p["parameters"], p["connections"], p["context_of_middle_pixel"],
            p["context_of_last_pixel"], p["activations_stored"]) == (
        421_888, 401_145_856, 479, 288, 524_288)
    assert p["generation_steps_min"] == 1000 and p["generation_steps_raster"] == 8192
    assert m["generation_steps_min"] == 8 * (32 + 32 - 2)
    checks = comparison_checks(claims)
    assert all(c.passed for c in checks) and len(checks) == len(p) + len(m)
    for model in claims:
        for key in claims[model]:
            planted = {**claims, model: {**claims[model], key: claims[model][key] - 1}}
            passed = [c.passed for c in comparison_checks(planted)]
            assert passed.count(False) == 1, (model, key)
    # the dense kernel count passed off as the parameter count is caught
    dense = {**claims, "pixelcnn": {**p, "parameters": p["dense_parameters"]}}
    assert not comparison_checks(dense)[0].passed


def test_4_2_counts_decided_on_a_grid():
    results, checks = _mdrnn_stack_results()
    assert all(c.passed for c in checks)
    assert sp.expand(results["connections"] - d * k**2 * (3 * Hs * Ws - Hs - Ws)) == 0
    assert sp.expand(results["weights"] - 3 * d * k**2) == 0
    extra = {**results, "connections": results["connections"] + (Hs - 3) * (Hs - 5)}
    assert not stack_checks(extra)[2].passed
    assert not stack_checks({**results, "weights": 2 * d * k**2})[3].passed
    assert not stack_checks({**results, "weights": 3 * d * k**2 + d})[3].passed
    unrounded = {**results, "generation_steps": d * (Hs + Ws - 1)}
    assert not stack_checks(unrounded)[4].passed


def test_grid_agreement_refuses_undecided_degrees():
    a = sp.Symbol("a")
    grid = {a: (1, 2, 3)}
    samples = [({a: x}, x * x) for x in grid[a]]
    assert agree_on_grid("square", "samples", a**2, grid, samples).passed
    cubic = a**2 + (a - 1) * (a - 2) * (a - 3)  # equal on the grid, degree 3
    refused = agree_on_grid("square", "samples", cubic, grid, samples)
    assert not refused.passed and "degree 3" in refused.detail
    assert not agree_on_grid("square", "samples", a**2, grid, samples, [({a: 5}, 26)]).passed


def test_4_1_connections_grid_and_grouped_form():
    results, checks = _pixelcnn_results()
    assert all(c.passed for c in checks)
    grouped, tex = grouped_connections(results["connections"])
    assert sp.expand(grouped - results["connections"]) == 0
    assert tex == (r"\frac{16 HW \left(d + d k^{2} - 2\right) - 4 (H + W) d k \left(k^{2} - 1"
                   r"\right) + d \left(k^{2} - 1\right)^{2}}{32}")
    planted = {**results, "connections_grouped": grouped + Hs * Ws / 32}
    assert not pixelcnn_mdrnn_answers.pixelcnn_checks(planted)[-1].passed
    # a term that vanishes at k = 3 and k = 5 is caught by the grid's other values of k
    wrong = {**results, "connections": results["connections"] + d * (k - 3) * (k - 5) / 16}
    assert not pixelcnn_mdrnn_answers.pixelcnn_checks(wrong)[0].passed


def test_built_mdrnn_stack_has_the_graph_dependencies():
    """Perturbing one input of the NumPy stack changes exactly the cells the grid graph says."""
    rows, cols, layers = 3, 4, 2
    stack = mdrnn.init_stack(layers, 2, 3, seed=1)
    assert mdrnn.stack_parameters(stack) == 2 * 3 + 2 * 9 + 3 * 3 * 3
    rng = np.random.default_rng(2)
    x = rng.standard_normal((rows, cols, 2))
    base = mdrnn.stack_forward(x, stack)
    graph = mdrnn.grid_graph(rows, cols, layers)
    for a in range(rows):
        for b in range(cols):
            moved = x.copy()
            moved[a, b] += 0.5
            changed = (mdrnn.stack_forward(moved, stack) != base).any(axis=-1)
            expected = np.array([[(1, a + 1, b + 1) in ancestors(graph, (layers, i + 1, j + 1))
                                  or (a, b) == (i, j) for j in range(cols)]
                                 for i in range(rows)])
            assert np.array_equal(changed, expected), (a, b)


def test_pixelcnn_receptive_field_matches_the_graph():
    for rows, cols, layers, kernel in ((5, 6, 2, 3), (6, 7, 3, 5)):
        graph = pixelcnn.training_graph(rows, cols, layers, kernel)
        for i, j in ((rows - 1, cols - 1), (rows // 2, cols // 2), (0, 2)):
            field = pixelcnn.receptive_field(rows, cols, layers, kernel, i, j)
            expected = {(a, b) for kind, a, b in ancestors(graph, (layers, i, j)) if kind == "x"}
            assert {tuple(p) for p in np.argwhere(field)} == expected


def test_6e_numbers_each_checked():
    from derive.answers.image_rnn import pros_cons_checks
    from derive.topics.grid import image_rnn

    c = image_rnn.Cs
    numbers = {"ratio": sp.Rational(4, 9), "last_field": 20, "weights": 4 * c**2,
               "conv_weights": 9 * c**2 + c}
    assert all(x.passed for x in pros_cons_checks(numbers))
    planted = [{**numbers, "ratio": sp.Rational(1, 2)}, {**numbers, "last_field": 9},
               {**numbers, "weights": 2 * c**2}, {**numbers, "conv_weights": 9 * c**2}]
    for bad, index in zip(planted, (3, 0, 1, 2), strict=True):
        passed = [x.passed for x in pros_cons_checks(bad)]
        assert passed.count(False) == 1 and not passed[index], bad


def test_6a_6b_print_pseudocode_and_keep_the_checked_code_in_results():
    import inspect

    import derive
    from derive.topics.grid import image_rnn

    for pid, fn, name in (("cmsc25500-midterm/6a", image_rnn.forward, "Forward"),
                          ("cmsc25500-midterm/6b", image_rnn.backward, "Backward")):
        a = derive.answer(pid)
        source = inspect.getsource(fn).rstrip()
        assert a.results["source"] == source and source not in a.latex
        assert f"\\textsc{{{name}}}" in a.latex and "np." not in a.latex


def test_6d_flops_decided_on_grids():
    from derive.answers.image_rnn import flops_checks
    from derive.topics.grid import image_rnn

    hs, ws, cs = image_rnn.Hs, image_rnn.Ws, image_rnn.Cs
    dense, minimum = image_rnn.flops_formula(), image_rnn.flops_formula(dense=False)
    conv = image_rnn.conv3x3_flops_formula()
    assert all(c.passed for c in flops_checks(dense, minimum, conv))
    # zero at the two sizes the conv count used to be checked at (C = 2 and C = 3)
    planted = conv + hs * ws * (cs - 2) * (cs - 3)
    assert [c.passed for c in flops_checks(dense, minimum, planted)] == [True, True, False]
    assert not flops_checks(dense + hs * (cs - 2) * (cs - 3), minimum, conv)[0].passed


def test_6d_sequential_steps_checked():
    from derive.answers.image_rnn import sequential_steps_check
    from derive.topics.grid import image_rnn

    hs, ws = image_rnn.Hs, image_rnn.Ws
    assert sequential_steps_check(hs + ws).passed
    assert not sequential_steps_check(hs * ws).passed  # one cell at a time
    assert not sequential_steps_check(sp.Max(hs, ws)).passed  # "the two RNNs in parallel"
