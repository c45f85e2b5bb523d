"""derive.printing.display and the display methods of the public objects: LaTeX bodies as
Markdown a notebook renders, the bar notation for SymPy objects in IPython, short reprs.
(The notebook itself is executed in test_notebook_display.)"""

from __future__ import annotations

import sys
import types
from fractions import Fraction

import pytest
import sympy as sp

import derive
from derive.answers import Answer
from derive.checks.check import Check
from derive.grade.claims import Claim, ClaimsFile
from derive.grade.render import Report
from derive.grade.verdicts import Verdict
from derive.printing.display import (
    in_bar_notation,
    latex_to_markdown,
    markdown_escape,
    name_list,
    register_ipython_printer,
    sympy_latex,
    value_markdown,
)

TABLE = r"""Before.

\begin{center}\small
\begin{tabular}{rl@{}c}
\toprule
\# & layer & $|f'|$ \\
\midrule
1 & \texttt{conv 16 5x5/1} & $\|c\|$ \\
2 & \emph{relu} & 1{,}216 \\
\bottomrule
\end{tabular}
\end{center}
After."""


def test_a_tabular_in_a_center_becomes_a_pipe_table():
    md = latex_to_markdown(TABLE)
    assert "| \\# | layer | $\\vert f'\\vert$ |\n| ---: | :--- | :---: |\n" in md
    assert "| 1 | `conv 16 5x5/1` | $\\Vert c\\Vert$ |" in md  # "|" would split the cell
    assert "| 2 | *relu* | 1,216 |" in md
    assert md.startswith("Before.\n\n|") and md.endswith("|\n\nAfter.\n")
    for raw in ("center", "tabular", "toprule", "small", "midrule"):
        assert raw not in md


def test_lists_code_and_styles_become_markdown():
    md = latex_to_markdown(
        r"\noindent\textbf{Pros.} \begin{itemize}\item one $x$ \item[b)] two\end{itemize}"
        "\n\\begin{enumerate}\\item first\\item second\\end{enumerate}\n"
        "{\\footnotesize\n\\begin{verbatim}\nif a < b:\n    cost = '$5'\n\\end{verbatim}\n}")
    assert "**Pros.**" in md and "\\noindent" not in md
    assert "- one $x$\n- **b)** two" in md
    assert "1. first\n2. second" in md
    # code keeps its indentation; "$" and "<" as entities, so no math and no tag is read
    assert "<pre>if a &lt; b:\n    cost = &#x27;&#36;5&#x27;</pre>" in md


def test_display_environments_become_math_mathjax_takes():
    md = latex_to_markdown(
        "\\paragraph{Forward.}\n\\begin{align*}\na &= b \\\\\nc &= d\n\\end{align*}\n"
        "so \\[ x = 1 \\] and \\begin{gather*} y \\end{gather*}")
    assert md.startswith("**Forward.**")
    assert "$$\\begin{aligned}a &= b \\\\\nc &= d\\end{aligned}$$" in md
    assert "$$x = 1$$" in md and "$$\\begin{gathered}y\\end{gathered}$$" in md
    assert "align*" not in md and "\\paragraph" not in md and "\\[" not in md


def test_text_is_escaped_and_paragraphs_kept():
    md = latex_to_markdown("50\\% of \\$5 \\& a\\_b, ``q'' --- x~y \\textbackslash{}\n\n"
                           "- not a list\n\n\\section*{Errata: \\texttt{p}}")
    assert md.startswith("50% of \\$5 &amp; a\\_b, \u201cq\u201d \u2014 x\u00a0y &#92;\n\n")
    assert "\n\n\\- not a list\n\n" in md  # a paragraph opening "- " is no list
    assert md.endswith("### Errata: `p`\n")
    md = latex_to_markdown("\\emph{O(dk\\textasciicircum{}2) here}\n\n2) not a list either")
    assert md == "*O(dk^2) here*\n\n2&#41; not a list either\n"  # no "\\)": math in Jupyter


def test_markdown_escape_and_values():
    assert markdown_escape("a_b*c [d] <e> $f$ \\g") == \
        "a\\_b\\*c &#91;d&#93; &lt;e&gt; \\$f\\$ &#92;g"
    assert value_markdown(Fraction(3, 4)) == r"$\frac{3}{4}$"
    assert value_markdown([1, sp.Symbol("x") ** 2]) == "($1$, $x^{2}$)"
    assert value_markdown("a*b") == "a\\*b"
    assert name_list([f"key{i}" for i in range(100)], 30) == \
        "key0, key1, key2, key3, key4 (+95 more)"


def test_sympy_objects_of_the_engine_print_in_the_bar_notation():
    m = derive.model("lstm")
    eq = m.adjoints["c"]
    assert in_bar_notation(eq) and in_bar_notation(m.weight_grads["w_ix"])
    assert r"\operatorname{bar}_{c}" in eq._repr_latex_()  # SymPy's own, hence the printer
    shown = sympy_latex(eq)
    assert shown.startswith(r"$\displaystyle \overline{c^{(t)}} = ") and "bar" not in shown
    other = sp.Function("f")(sp.Symbol("t")) + 1  # not the engine's t: SymPy prints it
    assert not in_bar_notation(other)
    assert sympy_latex(other) == other._repr_latex_()
    assert sympy_latex(other, fallback=lambda e: "mine") == "mine"


def test_an_ipython_shell_gets_the_bar_notation_printer(monkeypatch):
    formatters = pytest.importorskip("IPython.core.formatters")
    latex = formatters.LatexFormatter()
    shell = types.SimpleNamespace(display_formatter=types.SimpleNamespace(
        formatters={"text/latex": latex}))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert register_ipython_printer()
    assert register_ipython_printer()  # a second import adds no second printer
    m = derive.model("lstm")
    assert latex(m.adjoints["c"]).startswith(r"$\displaystyle \overline{c^{(t)}}")
    x = sp.Symbol("x")
    assert latex(x + 1) == (x + 1)._repr_latex_()
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    assert not register_ipython_printer()  # IPython imported, no kernel running


def test_a_model_displays_math_only_and_a_short_repr():
    m = derive.model("lstm")
    assert repr(m) == "<RecurrentModel lstm: 6 signals, 8 weights>"
    shown = m._repr_latex_()
    assert shown.startswith("$$\\begin{aligned}\n") and shown.endswith("\\end{aligned}$$")
    assert r"\overline{w_{ix}} &= \sum_{t=1}^{T}" in shown  # the weight gradients too
    inf = derive.model("attention_rnn_inf")
    assert inf._repr_latex_() == inf.model(inf.default_T)._repr_latex_()
    assert len(repr(inf)) < 100 and len(repr(derive.model("attention_rnn"))) < 100


@pytest.mark.parametrize("name", ["momentum", "conv1d", "conv2d"])
def test_models_with_prose_display_markdown(name):
    m = derive.model(name)
    md = m._repr_markdown_()
    assert md.startswith(f"**{name}**") and "$$" in md and "\\begin{align*}" not in md
    assert "\\paragraph" not in md and len(repr(m)) < 100


def test_an_answer_displays_markdown_and_a_short_repr():
    checks = [Check("sums agree", "complex step", 1e-20, 1e-12),
              Check("counts agree", "enumeration", 1.0, 0.0, "off by one")]
    results = {f"result_{i}": i for i in range(200)}
    a = Answer("csc421-hw4/1b", results, "text", r"A \textbf{bold} $x$.", checks)
    assert repr(a).startswith("<Answer csc421-hw4/1b: results result_0, result_1")
    assert "(+" in repr(a) and repr(a).endswith("; 2 checks, 1 failed>") and len(repr(a)) < 200
    md = a._repr_markdown_()
    assert md.startswith("**csc421-hw4/1b**: LSTM")
    assert "A **bold** $x$." in md and "**1 of 2 checks failed:** counts agree" in md
    assert not hasattr(a, "_repr_latex_")  # prose with tables is no text/latex


def test_a_check_has_a_one_line_repr_and_markdown():
    ok = Check("n" * 500, "a reference", 2e-17, 1e-12)
    assert len(repr(ok)) < 150 and repr(ok).endswith("(tolerance 1e-12), passed>")
    bad = Check("a_b", "ref", float("nan"), 0.0, "detail <here>")
    assert "FAILED" in repr(bad)
    md = bad._repr_markdown_()
    assert md.startswith("\u2717 **FAILED**: **a\\_b**, against ref") and "&lt;here&gt;" in md


def test_verdicts_and_reports_display_markdown_and_short_reprs():
    claim = Claim("csc421-hw4/1b", "formula", "x**2", label="the bar", line=7)
    verdict = Verdict(claim, "wrong", "because " * 400, claimed=sp.Symbol("x") ** 2,
                      expected=sp.Symbol("x"), method="exact", evidence=["at x = 2"])
    assert repr(verdict) == "<Verdict wrong: csc421-hw4/1b 'the bar' (line 7)>"
    md = verdict._repr_markdown_()
    assert md.startswith("**wrong**: csc421-hw4/1b, the bar (line 7)")
    assert "- claimed: $x^{2}$" in md and "- right: $x$" in md and len(md) < 1200
    report = Report(ClaimsFile("c.toml", "t" * 300, "", "", [claim]), [verdict])
    assert repr(report).endswith("1 claims (1 wrong)>") and len(repr(report)) < 120
    shown = report._repr_markdown_()
    assert shown.startswith("### Errata: ") and "- **wrong** \u2014 the bar." in shown
    assert "\\section" not in shown and "\\begin{itemize}" not in shown
