"""Side claims of the answer keys against the computations that back them: each test fails on
the claim a key once made wrongly and holds the fact its corrected sentence states."""

import math
import re

import numpy as np
import pytest
import sympy as sp

import derive
from derive.answers import memory_bptt as MB
from derive.answers.cnn_accounting import midterm_table, receptive_rows
from derive.answers.image_rnn import equivariance_check
from derive.topics import activations as A
from derive.topics import memory_bptt as S
from derive.topics.grid import image_rnn, pixelcnn


def text(pid: str) -> str:
    return derive.answer(pid).latex


# ----------------------------------------------------------------------------- CMSC 5a


def test_5a_gradient_error_is_against_plain_bptt_not_central_differences():
    answer = derive.answer("cmsc25500-midterm/5a")
    by_name = {c.name: c for c in answer.checks}
    central = by_name["plain BPTT gradients (T=6)"]
    bisection = by_name["bisection gradients (T=45)"]
    # the schedules repeat plain BPTT's operations in its order: exactly equal
    assert bisection.error == 0.0
    assert answer.results["gradient_error"] == 0.0
    # the 5e-10 is plain BPTT against central differences, and is said to be
    assert central.error > 0
    assert "central differences" in answer.latex
    assert "Gradients equal plain BPTT: largest relative error" not in answer.latex


def test_5a_prints_pseudocode_not_source():
    body = text("cmsc25500-midterm/5a")
    for artefact in ("verbatim", "def ", "self.", "np.", "slots.put", "implementation"):
        assert artefact not in body
    assert "\\begin{tabbing}" in body


def test_5a_tree_is_the_schedule_the_code_runs():
    for T in range(1, 40):
        tree = S.bisection_tree(T)
        assert S.tree_events(tree) == S.recorded_events(T)
        assert sum(n.mid - n.start for n in tree if n.mid is not None) == S.bisection_steps(T)
    # a planted error (left half reversed first) is caught
    tree = S.bisection_tree(8)
    swapped = [tree[0], *tree[8:], *tree[1:8]]
    assert S.tree_events(swapped) != S.recorded_events(8)
    assert not MB.tree_check(swapped).passed and MB.tree_check(tree).passed


# ----------------------------------------------------------------------------- CMSC 5b


def test_5b_constant_matches_the_table_and_the_old_one_was_off():
    table = derive.answer("cmsc25500-midterm/5b").results["table"]
    for row in table:
        T, M, steps = row["T"], row["M"], row["revolve_steps"]
        refined, leading = MB.revolve_estimates(T, M)
        old = math.factorial(M) ** (1 / M) * T ** (1 + 1 / M)
        if M == 1:  # the old form is exactly twice the optimum's leading term
            assert steps / old == pytest.approx(0.5, abs=0.06)
            assert steps / leading == pytest.approx(1, abs=0.11)
        if M <= 4 and T >= 100:
            assert steps / refined == pytest.approx(1, abs=0.04)
    # the exact statement: at T = beta(M, r), t = M/(M+1) r T
    for M in range(1, 7):
        for r in range(1, 8):
            T = S.beta(M, r)
            if T > M + 1:
                assert S.revolve_steps(T, M) * (M + 1) == M * r * T
    # and the leading term is approached as T grows
    ratios = [S.revolve_steps(T, 4) / MB.revolve_estimates(T, 4)[1] for T in (10**3, 10**6)]
    assert ratios[0] < ratios[1] < 1 and ratios[1] > 0.95


def test_5b_text_states_the_corrected_constant():
    body = text("cmsc25500-midterm/5b")
    assert "about $(M!)^{1/M}\\,T^{1+1/M}$" not in body
    assert "\\frac{M}{M+1}\\,(M!)^{1/M}\\,T^{1+1/M}" in body


# ----------------------------------------------------------------------------- CMSC 6a, 6b, 6e


@pytest.mark.parametrize("pid", ["cmsc25500-midterm/6a", "cmsc25500-midterm/6b"])
def test_6ab_print_pseudocode_not_source(pid):
    body = text(pid)
    for artefact in ("verbatim", "def ", "np.", "einsum", "DeriveError", "implementation"):
        assert artefact not in body
    lines = body[body.index("\\begin{tabbing}"):body.index("\\end{tabbing}")].count("\\\\")
    assert lines <= 15


def _biased_forward(x, params):
    """The module with a bias of 0.3 in RNN A: not equivariant (the planted error)."""
    n, rows, cols, c = x.shape
    y, h = np.zeros_like(x), np.zeros((n, rows, c))
    for j in range(cols):
        h = np.tanh(h @ params["W_hh_A"].T + x[:, :, j] @ params["W_xh_A"].T + 0.3)
        y[:, :, j] = h
    hb, h = np.zeros_like(x), np.zeros((n, cols, c))
    for i in range(rows):
        h = np.tanh(h @ params["W_hh_B"].T + y[:, i] @ params["W_yh_B"].T)
        hb[:, i] = h
    return y, hb


def test_6e_module_is_translation_equivariant():
    assert image_rnn.shift_equivariance_error(5, 6, 2, 3, seed=4) == 0.0
    assert equivariance_check().passed
    # the check can fail: a bias breaks equivariance
    assert not equivariance_check(_biased_forward).passed
    body = text("cmsc25500-midterm/6e")
    assert "no translation equivariance" not in body
    assert "commute with shifts" in body and "One-sided" in body
    cons = " ".join(derive.answer("cmsc25500-midterm/6e").results["cons"])
    assert "no translation equivariance" not in cons


# ----------------------------------------------------------------------------- rnn-cnn 4.3


def test_4_3_pixelcnn_connections_carry_the_kernel_area():
    answer = derive.answer("rnn-cnn-hw/4.3")
    sizes = answer.results["sizes"]
    H, W, d, k, c = (sizes[n] for n in ("H", "W", "d", "pixelcnn_kernel", "channels"))
    exact = derive.answer("rnn-cnn-hw/4.1").results["connections"]
    point = {pixelcnn.Hs: H, pixelcnn.Ws: W, pixelcnn.d: d, pixelcnn.k: k}
    pix, md = answer.results["pixelcnn"]["connections"], answer.results["mdrnn"]["connections"]
    assert pix == c * c * exact.subs(point)  # 4.1's count, c^2 per connection
    md_formula = derive.answer("rnn-cnn-hw/4.2").results["connections"]
    assert md == md_formula.subs({pixelcnn.Hs: H, pixelcnn.Ws: W, pixelcnn.d: d,
                                  sp.Symbol("k", positive=True, integer=True): c})
    # not the same order: the ratio follows the kernel area (k^2 + 1)/6, not 1
    assert pix / md > 3 and abs(pix / md - (k * k + 1) / 6) < 0.5
    assert "The same order" not in answer.latex
    assert "Same order" not in answer.results["comparison"]["compute"]
    assert "O(dk^2c^2HW)" in answer.latex


# ----------------------------------------------------------------------------- CMSC 2


def test_2_beta_gradient_is_reported_as_a_property_over_draws():
    z = A.standardised(4000, seed=5)
    rng = np.random.default_rng(7)
    for name in ("min0", "sigmoid", "scaled", "sign"):
        act = A.get(name)
        slope = act.df(z)
        draws = rng.normal(size=(3000, z.size))
        dbeta = draws @ slope  # dL/dbeta for each draw of c
        measured = np.sqrt(np.mean(dbeta**2) / np.mean(np.sum(draws**2, axis=1)))
        rms = A.measure(name, 4000, seed=5)["rms_derivative"]
        assert rms == pytest.approx(np.sqrt(np.mean(slope**2)))
        assert measured == pytest.approx(rms, rel=0.05, abs=1e-12)
    body = text("cmsc25500-midterm/2")
    assert "one random draw" not in body
    assert "RMS $f'$" in body


def test_2_superposition_text_says_what_is_measured():
    body = text("cmsc25500-midterm/2")
    # the measurement is on unstandardised pre-activations, and the text says so
    assert "superposition error of $g(u)=W_2 f(W_1 u)$" in body
    assert "deliberately not standardised" in body
    rng = np.random.default_rng(0)
    spread = np.std(rng.normal(size=(8, 8)) @ rng.normal(size=(8, 20000)))
    assert spread == pytest.approx(np.sqrt(8), rel=0.1)


def test_sigmoid_gradients_are_bounded_by_a_quarter():
    x = np.linspace(-20, 20, 40001)
    slope = A.get("sigmoid").df(x)
    assert slope.max() == pytest.approx(0.25) and slope.max() <= 0.25
    for pid in derive.answers.registered_problems():
        body = derive.answer(pid).latex.lower()
        assert "never vanish" not in body, pid
    reason = derive.answer("cmsc25500-midterm/2").results["reasons"]["exp(x)/(exp(x)+1)"]
    assert "never vanish" not in reason and "1/4" in reason


# ----------------------------------------------------------------------------- LSTM figure


def _series(source: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in re.findall(r"\(([^()]+)\)", body)]
            for body in re.findall(r"\\addplot[^{]*coordinates \{([^}]*)\}", source)]


@pytest.mark.parametrize("pid", ["csc421-hw4/1c", "rnn-cnn-hw/2.3"])
def test_lstm_figure_shows_the_question_regime_on_a_linear_axis(pid):
    answer = derive.answer(pid)
    (caption, source), = answer.figures.items()
    assert "semilogyaxis" not in source and "ymin=0" in source
    cell, product, hidden = _series(source)
    # no growth anywhere: the claim of the question, visible on the axis
    assert max(y for _, y in cell) <= 1 + 1e-12
    # the decay the text describes is visible (not squeezed against a log axis' top)
    assert 0.3 < min(y for _, y in cell) < 0.9
    # the cell gradient follows the forget-gate product, as the caption says
    for (t1, y1), (t2, y2) in zip(cell, product, strict=True):
        assert t1 == t2 and y1 == pytest.approx(y2, rel=0.01)
    assert max(y for t, y in hidden if t < max(t for t, _ in hidden)) < 0.05
    assert "forget-gate product" in caption and "linear axis" in caption
    assert "leaves the plot" not in caption


# ----------------------------------------------------------------------------- CMSC 1b


def test_1b_table_is_drawn_from_the_answer_windows():
    answer = derive.answer("cmsc25500-midterm/1b")
    rows = receptive_rows(midterm_table())
    by_index = {r["index"]: r for r in rows}
    first = by_index[answer.results["index"]]
    assert first["covering"] == first["locations"]
    assert [first["size"]] * 2 == answer.results["rf_size"]
    # every earlier layer leaves some location short of the whole input
    assert all(r["covering"] < r["locations"] for r in rows if r["index"] < first["index"])
    assert "locations seeing all" in answer.latex


# ----------------------------------------------------------------------------- every key


TOOL_WORDS = re.compile(r"SymPy|sympy|compiled|kernels? run|forward-mode|the search|"
                        r"implementation|numpy|np\.|lambdif|PASS|derive\b|verbatim")


def test_tool_word_pattern_catches_the_phrases_keys_once_had():
    for phrase in ("(SymPy's solution)", "derived by SymPy", "through the compiled kernels",
                   "Derived by forward-mode rules", "this is the implementation the checks run",
                   "the weights found by the search are", "np.einsum", "\\begin{verbatim}"):
        assert TOOL_WORDS.search(phrase), phrase
    assert not TOOL_WORDS.search("derived in part 1a; the kernel size K")


@pytest.mark.parametrize("pid", derive.answers.registered_problems())
def test_no_tool_words_in_an_answer(pid):
    body = derive.answer(pid).latex
    assert not TOOL_WORDS.search(body), TOOL_WORDS.search(body).group(0)


@pytest.mark.parametrize("pid", [p for p in derive.answers.registered_problems()
                                 if p.startswith("cmsc25500-midterm/")])
def test_cmsc_answers_use_bars_and_superscript_time(pid):
    body = derive.answer(pid).latex
    assert "\\delta" not in body and "With $a$ the gradient" not in body
    if pid[-2] not in "45":  # problem 6 indexes pixels, not time, by subscripts
        return
    # no subscript time on the sequences of problems 4 and 5
    assert not re.search(r"(?<![A-Za-z\\])(h|y|\\mu)_\{?[0-9tT]\b", body), pid


def test_dsga_keeps_k_for_kernels_and_keys_only():
    body = derive.answer("dsga1008-hw2/1.2.1c").latex
    assert "\\sum_{t=1}^{T}" in body and "t = K" not in body and "K+1" not in body
