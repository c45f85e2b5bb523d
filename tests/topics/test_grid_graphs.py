"""MDRNN and PixelCNN counts and step counts, against independent references; the longest
path over a DAG; each checker shown catching a planted error."""

import itertools

import numpy as np
import pytest
import sympy as sp

import derive
from derive.answers.mdrnn import ops_checks, steps_checks
from derive.answers.pixelcnn_mdrnn import pixelcnn_checks, stack_checks
from derive.core.errors import DeriveError
from derive.topics.grid import mdrnn, pixelcnn
from derive.topics.grid.dag import ancestors, earliest_steps, longest_path, topological_order
from derive.topics.grid.fit import fit, multilinear_basis

G, D, H = mdrnn.G, mdrnn.D, mdrnn.H
Hs, Ws, d, k = pixelcnn.Hs, pixelcnn.Ws, pixelcnn.d, pixelcnn.k


# ------------------------------------------------------------ DAG

def test_longest_path_small_graphs():
    diamond = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d", "a"]}
    length, path = longest_path(diamond)
    assert length == 4 and path[0] == "a" and path[-1] == "e" and len(path) == 4
    assert earliest_steps(diamond) == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 4}
    assert longest_path(diamond, weight=lambda n: 0 if n in "bc" else 1)[0] == 3
    assert ancestors(diamond, "d") == {"a", "b", "c"}
    assert longest_path({}) == (0, [])


def test_cycles_and_dangling_predecessors_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match="not a node"):
        topological_order({"a": ["zz"]})


def brute_longest(rows, cols):
    """Longest monotone lattice path, by enumerating every east/south move sequence."""
    best = 0
    for moves in itertools.product("ES", repeat=rows + cols - 2):
        if moves.count("S") == rows - 1:
            best = max(best, len(moves) + 1)
    return best


def test_grid_longest_path_against_enumerated_paths():
    for rows, cols in ((1, 1), (2, 3), (3, 3), (4, 2)):
        assert longest_path(mdrnn.grid_graph(rows, cols))[0] == brute_longest(rows, cols)


def test_fit_recovers_a_known_form_and_reports_misses():
    a, b = sp.symbols("a b")
    samples = [({a: x, b: y}, 3 * x * y - 2 * x + 5) for x in range(1, 4) for y in range(1, 4)]
    expr, misses = fit(samples, multilinear_basis([a, b]))
    assert sp.expand(expr - (3 * a * b - 2 * a + 5)) == 0 and misses == 0
    quad = [({a: x}, x * x) for x in range(1, 6)]
    assert fit(quad, [sp.Integer(1), a])[1] > 0  # a line cannot fit a parabola


# ------------------------------------------------------------ MDRNN (csc421-hw4/2)

def reference_mdrnn_ops(g, dim_in, hidden, dense):
    """Explicit counter: products W^T v (n outputs, m inputs) cost n*m mults, n*(m-1) adds."""
    ops = 0
    for i in range(1, g + 1):
        for j in range(1, g + 1):
            ops += hidden * dim_in + hidden * (dim_in - 1)  # W_in^T x
            for neighbour in (i > 1, j > 1):
                if neighbour or dense:
                    ops += hidden * hidden + hidden * (hidden - 1) + hidden  # product, add
            ops += hidden  # phi
    return ops


@pytest.mark.parametrize("g, dim_in, hidden", [(1, 2, 3), (2, 2, 2), (3, 1, 4), (5, 3, 2)])
def test_mdrnn_operation_counts(g, dim_in, hidden):
    point = {G: g, D: dim_in, H: hidden}
    for dense in (False, True):
        expected = reference_mdrnn_ops(g, dim_in, hidden, dense)
        assert mdrnn.ops_formula(dense).subs(point) == expected
        if g <= 3:
            assert mdrnn.naive_ops(g, dim_in, hidden, dense)[0] == expected
    w_in, w_w, w_n = np.zeros((dim_in, hidden)), np.zeros((hidden, hidden)), np.zeros(
        (hidden, hidden))
    assert mdrnn.weights_formula().subs(point) == w_in.size + w_w.size + w_n.size


def test_mdrnn_answers():
    a = derive.answer("csc421-hw4/2a")
    assert a.passed
    assert sp.expand(a.results["ops"] - (2 * D * H * G**2 + 4 * H**2 * G * (G - 1))) == 0
    b = derive.answer("csc421-hw4/2b")
    assert b.passed and sp.expand(b.results["steps"] - (2 * G - 1)) == 0
    assert b.results["steps_by_G"] == {g: 2 * g - 1 for g in range(1, 9)}
    c = derive.answer("csc421-hw4/2c")
    assert c.results["numbers"]["mdrnn_steps"] == 63 and "Sequential" in c.results[
        "disadvantage"]


def test_mdrnn_checkers_catch_planted_errors():
    ops, dense, weights = mdrnn.ops_formula(), mdrnn.ops_formula(True), mdrnn.weights_formula()
    assert all(c.passed for c in ops_checks(ops, dense, weights))
    no_phi = ops - G**2 * H
    bad = ops_checks(no_phi, dense, weights)
    assert [c.passed for c in bad] == [False, True, True] and "measured" in bad[0].detail
    assert not ops_checks(ops, dense, D * H + H**2)[2].passed  # one recurrent matrix dropped
    assert all(c.passed for c in steps_checks(2 * G - 1))
    assert [c.passed for c in steps_checks(2 * G)] == [False, False, True]
    assert not steps_checks(G)[0].passed


def test_stacked_mdrnn():
    a = derive.answer("rnn-cnn-hw/4.2")
    assert a.passed
    assert sp.expand(a.results["steps"] - (Hs + Ws + d - 2)) == 0
    for rows, cols, layers in ((3, 5, 2), (6, 2, 4)):
        assert longest_path(mdrnn.grid_graph(rows, cols, layers))[0] == rows + cols + layers - 2
    results = dict(a.results)
    assert all(c.passed for c in stack_checks(results))
    unpipelined = {**results, "steps": d * (Hs + Ws - 1)}
    assert not stack_checks(unpipelined)[0].passed
    off_by_one = {**results, "steps": Hs + Ws + d - 1}
    assert not stack_checks(off_by_one)[0].passed
    no_borders = {**results, "connections": 3 * d * k**2 * Hs * Ws}
    assert not stack_checks(no_borders)[2].passed


# ------------------------------------------------------------ PixelCNN (rnn-cnn-hw/4.1)

def mask(kernel, kind):
    """The k x k mask as an array: rows above the centre, and left of it in its row."""
    m = np.zeros((kernel, kernel), dtype=int)
    c = kernel // 2
    m[:c, :] = 1
    m[c, :c] = 1
    if kind == "B":
        m[c, c] = 1
    return m


def reference_connections(rows, cols, layers, kernel):
    """Correlate an all-ones image with each mask, zero padding: inputs per pixel."""
    total = 0
    for layer in range(layers):
        m = mask(kernel, "A" if layer == 0 else "B")
        padded = np.pad(np.ones((rows, cols), dtype=int), kernel // 2)
        for i in range(rows):
            for j in range(cols):
                total += int((padded[i: i + kernel, j: j + kernel] * m).sum())
    return total


@pytest.mark.parametrize("size", [(4, 5, 1, 3), (6, 6, 3, 5), (7, 9, 2, 7), (3, 8, 4, 5)])
def test_pixelcnn_connections(size):
    point = dict(zip((Hs, Ws, d, k), size, strict=True))
    expected = reference_connections(*size)
    assert pixelcnn.connections(*size) == expected
    assert pixelcnn.connections_formula().subs(point) == expected


def test_pixelcnn_taps_and_bad_kernel():
    assert np.array_equal(mask(5, "A").sum(), len(pixelcnn.taps(5, "A")))
    assert len(pixelcnn.taps(3, "B")) == 5
    with pytest.raises(DeriveError, match="k must be an odd kernel size >= 3, got 4"):
        pixelcnn.taps(4, "A")
    with pytest.raises(DeriveError, match="mask must be 'A' or 'B', got 'C'"):
        pixelcnn.taps(3, "C")


def reference_generation_steps(rows, cols, layers, kernel):
    """Dynamic programming over pixels in raster order: a pixel is sampled ``layers`` steps
    after the latest pixel its layer stack reads (through every layer's mask)."""
    r = kernel // 2
    done = {}
    for i in range(rows):
        for j in range(cols):
            # pixels read by the d-layer stack at (i, j): dilate the mask-B cone d-1 times
            reach = {(i + dy, j + dx) for dy, dx in pixelcnn.taps(kernel, "A")}
            for _ in range(layers - 1):
                reach |= {(a + dy, b + dx) for a, b in reach
                          for dy, dx in pixelcnn.taps(kernel, "B")}
            ready = max((done[p] for p in reach if p in done), default=0)
            done[i, j] = ready + layers
    assert r >= 1
    return max(done.values())


@pytest.mark.parametrize("size", [(3, 6, 1, 3), (4, 7, 2, 3), (4, 8, 3, 5), (2, 9, 2, 5)])
def test_pixelcnn_generation_wavefront(size):
    answer = derive.answer("rnn-cnn-hw/4.1")
    point = dict(zip((Hs, Ws, d, k), size, strict=True))
    assert answer.results["generation_steps_min"].subs(point) == reference_generation_steps(
        *size)


def test_pixelcnn_answer_and_checkers():
    a = derive.answer("rnn-cnn-hw/4.1")
    assert a.passed
    assert a.results["training_steps"] == d
    assert sp.expand(a.results["generation_steps_raster"] - Hs * Ws * d) == 0
    assert sp.expand(a.results["generation_steps_min"] - d * (Ws + (Hs - 1) * (k + 1) / 2)) == 0
    results = dict(a.results)
    assert all(c.passed for c in pixelcnn_checks(results))
    interior_only = {**results, "connections": results["connections_interior"]}
    assert not pixelcnn_checks(interior_only)[0].passed
    raster_as_min = {**results, "generation_steps_min": Hs * Ws * d}
    assert not pixelcnn_checks(raster_as_min)[2].passed
    assert not pixelcnn_checks({**results, "training_steps": d + 1})[1].passed


def test_comparison_numbers():
    a = derive.answer("rnn-cnn-hw/4.3")
    p, m = a.results["pixelcnn"], a.results["mdrnn"]
    assert p["training_steps"] == 8 and m["training_steps"] == 32 + 32 + 8 - 2
    assert m["context_of_last_pixel"] == 32 * 32 - 1
    assert m["context_of_middle_pixel"] == 17 * 17 - 1
    assert p["context_of_last_pixel"] < m["context_of_last_pixel"]
    assert set(a.results["comparison"]) == {"compute", "memory", "parallelism", "context"}


def test_the_mdrnn_figure_draws_the_dependency_graph():
    from derive.answers.mdrnn import mdrnn_figure
    from derive.topics.grid import mdrnn
    from derive.topics.grid.dag import earliest_steps

    picture, edges = mdrnn_figure(4)
    preds = mdrnn.grid_graph(4, 4)
    drawn = {(a[1:], b[1:]) for a, b in edges}
    graph = {(f"{pi}{pj}", f"{i}{j}") for (_, i, j), ps in preds.items() for (_, pi, pj) in ps}
    assert drawn == graph and len(drawn) == 2 * 4 * 3  # east and south edges only
    steps = earliest_steps(preds)
    assert all(f"step {steps[1, i, j]}}}" in picture.split(f"h^{{({i},{j})}}")[1][:40]
               for (_, i, j) in preds)
    assert picture.count(r"\node") == 16
