"""Catalogue statements as a problem sheet: formulas as math, catalogue notes left out."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from derive.catalogue import SETS
from derive.printing.mathtext import equations, to_math
from derive.report import latexmk
from derive.report.document import build
from derive.report.statements import catalogue, conventions, inline, statement, strip_notes


@pytest.mark.parametrize(
    ("span", "math"),
    [
        ("x in R^(5 x 7)", r"x \in \mathbb{R}^{5 \times 7}"),
        ("X in R^(H x W x C)", r"X \in \mathbb{R}^{H \times W \times C}"),
        ("h_t in R^K", r"h_{t} \in \mathbb{R}^{K}"),
        ("32 x 32 x 3", r"32 \times 32 \times 3"),
        ("5x5", r"5\times5"),
        ("(.)", r"\odot"),
        ("O(.)", r"O(\cdot)"),
        ("sigma", r"\sigma"),
        ("beta^D", r"\beta^{D}"),
        ("f^{-1}", "f^{-1}"),
        ("h_(t-1)", "h_{t-1}"),
        ("W_in^T x", r"W_{\mathrm{in}}^{\top} x"),
        ("w_ix x(t)", "w_{ix} x(t)"),  # the variable x is not a product sign
        ("dL_t/dh^{(t)}", r"\partial L_{t}/\partial h^{(t)}"),
        (r"\overline{v} = dL/dv", r"\overline{v} = \partial L/\partial v"),
        (r"\overline{h^{(t)}}", r"\overline{h^{(t)}}"),
        ("t = 1..T", r"t = 1,\dots,T"),
        ("H = {h_1..h_T}", r"H = \lbrace h_{1},\dots,h_{T}\rbrace"),
        ("x / sqrt(2)", r"x / \sqrt{2}"),
        ("ReLU(x - 10)", r"\operatorname{ReLU}(x - 10)"),
        ("H, W >= K", r"H, W \geq K"),
        ("h1", "h_{1}"),
    ],
)
def test_plain_and_latex_spans_become_math(span, math):
    assert to_math(span) == math


@pytest.mark.parametrize(
    "span",
    [r"\input{/etc/passwd}", r"\def\a{\a}", "a^^5c", "$x$", "50%", "#1", "a & b", r"\overline{x",
     "x}", "x~y", "\u03a9", "x\\", r"\catcode`\^=7", "", "   "],
)
def test_spans_outside_the_notation_are_refused(span):
    assert to_math(span) is None


def test_refused_spans_stay_escaped_text():
    assert inline(r"`\write18{rm}` ok") == r"\texttt{\textbackslash{}write18\{rm\}} ok"


def test_code_blocks_become_an_aligned_display_only_when_every_line_parses():
    display = equations(["c(t) = f(t) c(t-1) + i(t) g(t)", "h(t) = o(t) tanh(c(t))"])
    assert display == (
        "\\begin{align*}\nc(t) &= f(t) c(t-1) + i(t) g(t) \\\\\nh(t) &= o(t) \\tanh(c(t))\n"
        "\\end{align*}"
    )
    assert equations(["y = x", "for t in range(T): pass"]) is None
    assert equations(["a = b = c"]) is None


def test_catalogue_notes_are_left_out_of_the_question():
    assert strip_notes("the key`s` [catalogue: `h[t]`, note [x]] (so)") == "the key`s` (so)"
    leaks = ["going beyond", "answer:", "Back each verdict", "show it numerically",
             "The same as", "catalogue", "reconstructed", "numeric demonstration"]
    for problems in catalogue().values():
        for problem in problems:
            texts = [problem.preamble, *(p.latex for p in problem.parts.values())]
            for text in texts:
                for leak in leaks:
                    assert leak.lower() not in text.lower(), (problem.number, leak)
    assert r"\beta" not in statement("csc421-hw4/3b").latex  # the answer is not in the question
    # the note is still the catalogue's: the missing-figure box says what was reconstructed
    assert "reconstructed" in statement("rnn-cnn-hw/3.1").part.figure_missing


def test_conventions_read_once_with_tex_quotes_and_no_course_name():
    text = conventions()
    assert text.startswith("Time steps run") and "``upstream''" in text
    assert "CSC421" not in text and "Conventions" not in text


@pytest.mark.skipif(not latexmk.available(), reason="needs latexmk and pdflatex")
@pytest.mark.parametrize("set_id", list(SETS))
def test_every_sets_statements_compile(set_id, tmp_path):
    document = build(set_id, answers=lambda pid: None)
    assert r"\texttt{\textbackslash{}" not in document.tex  # no escaped LaTeX in statements
    tex = tmp_path / f"{set_id}.tex"
    tex.write_text(document.tex)
    pdf = latexmk.compile_pdf(tex)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "\\" not in text and "`" not in text


def test_overview_titles_set_their_formulas_as_math():
    from derive.report.statements import title

    assert title("Gated RNN: dl/dW_x") == r"Gated RNN: $\partial l/\partial W_{x}$"
    assert title("LSTM: update equation of w_xi") == r"LSTM: update equation of $w_{xi}$"
    assert title("size: 21 x 12 input & 5%") == r"size: $21 \times 12$ input \& 5\%"


@pytest.mark.skipif(not latexmk.available(), reason="needs latexmk and pdflatex")
def test_whatever_the_converter_accepts_compiles(tmp_path):
    # Random spans over the notation's alphabet: every one the converter accepts, typeset in
    # one document, must compile (no unbalanced group, missing argument, double script ...).
    import random

    pieces = ["x", "h", "W", "in", "R", "^", "_", "(", ")", "{", "}", "[", "]", " ", "t", "1",
              "-", "+", "=", "/", ",", "..", "...", "(.)", "sigma", "sqrt", "dL", "dh", "'",
              "x", " x ", "^T", "_(t-1)", r"\overline", r"\frac", r"\partial", r"\top", "<",
              ">=", "|", "T", "5", "sum", "ReLU", ".", ":", ";", "!", "*", r"\sqrt", r"\mathbb",
              r"\lbrace", "{h_1..h_T}", r"\sigma"]
    rng = random.Random(20261201)
    accepted = []
    for _ in range(3000):
        span = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        math = to_math(span)
        if math is not None:
            accepted.append(math)
        block = equations([span, "y = " + span])
        if block is not None:
            accepted.append(None)  # marker: a display follows
            accepted.append(block)
    assert len(accepted) > 500  # the sample exercises the converter, not only its refusals
    body = "\n".join(
        item if item.startswith("\\begin{align*}") else f"${item}$\\par"
        for item in accepted if item is not None
    )
    tex = tmp_path / "fuzz.tex"
    tex.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                   "\\begin{document}\n" + body + "\n\\end{document}\n")
    assert latexmk.compile_pdf(tex).exists()
