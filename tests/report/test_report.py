"""The report pipeline: escaping, statements, templates with fake answers, bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from derive.answers import Answer
from derive.catalogue import PROBLEMS, SETS, problem_ids
from derive.checks.check import Check
from derive.cli import main as cli
from derive.core.errors import DeriveError
from derive.printing.tex import latex_breakable, latex_escape, latex_number
from derive.report import audit, build_reports, output_folder, resolve_sets
from derive.report.document import build, lead_lines
from derive.report.latexmk import failing_lines
from derive.report.render import render
from derive.report.statements import catalogue, inline, statement

HOSTILE = r"\input{/etc/passwd}"


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("$", r"\$"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("\\", r"\textbackslash{}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
        ("[", "{[}"),
        ("]", "{]}"),
        ("<", r"\textless{}"),
        (">", r"\textgreater{}"),
        ("|", r"\textbar{}"),
    ],
)
def test_latex_escape_every_special_character(char, escaped):
    assert latex_escape(char) == escaped
    assert latex_escape(f"a{char}b") == f"a{escaped}b"


def test_latex_escape_is_one_pass_and_leaves_plain_text():
    # The backslash's replacement holds braces: escaping them again would corrupt it.
    assert latex_escape("\\{") == r"\textbackslash{}\{"
    assert latex_escape("plain text, 3 words.") == "plain text, 3 words."
    assert latex_escape(42) == "42"


def test_hostile_title_is_escaped_not_executed():
    escaped = latex_escape(HOSTILE)
    assert escaped == r"\textbackslash{}input\{/etc/passwd\}"
    # No control sequence survives but the harmless \textbackslash.
    for harmless in (r"\textbackslash{}", r"\{", r"\}"):
        escaped = escaped.replace(harmless, "")
    assert "\\" not in escaped


def test_latex_breakable_escapes_and_allows_breaks():
    assert latex_breakable("(C=5,L=7)_x") == r"(C=\allowbreak{}5,\allowbreak{}L=\allowbreak{}7)\_x"
    expected = r"\textbackslash{}input\{/\allowbreak{}etc/\allowbreak{}passwd\}"
    assert latex_breakable(HOSTILE) == expected


def test_latex_number():
    assert latex_number(3.2e-15) == r"3.2\times 10^{-15}"
    assert latex_number(1e-12, 1) == "10^{-12}"
    assert latex_number(0.0) == "0"
    assert latex_number(float("inf")) == r"\infty"
    assert latex_number(float("nan")) == r"\mathrm{NaN}"


def test_templates_use_latex_safe_delimiters():
    text = render("missing_figure.tex", note="50% of #1 & {x}")
    assert r"50\% of \#1 \& \{x\}" in text
    assert "VAR" not in text and "BLOCK" not in text


def test_every_catalogue_id_has_a_statement():
    for pid in PROBLEMS:
        st = statement(pid)
        assert st.pid == pid
        assert st.latex or st.problem.preamble, pid


def test_statement_of_an_unknown_id():
    with pytest.raises(DeriveError, match="'csc421-hw4/9z'"):
        statement("csc421-hw4/9z")


def test_statements_split_parts_that_share_a_bullet():
    # "`6a` forward pass; `6b` backward pass ...; `6c` receptive field ..." is one bullet.
    assert statement("cmsc25500-midterm/6a").latex == "Forward pass."
    assert "receptive field" in statement("cmsc25500-midterm/6c").latex.lower()
    assert "6c" not in statement("cmsc25500-midterm/6b").latex
    # A nested list stays with its part; its roman labels print as (i) ... (iv), and the
    # catalogue's note after it ("Going beyond: ...") is not part of the question.
    c = statement("dsga1008-hw2/1.1c").latex
    assert r"\begin{itemize}" in c and r"\item (ii) the dimension" in c
    assert "compare with (i)." in c and "Going beyond" not in c


def test_statements_escape_text_and_set_formulas_as_math():
    assert inline("`a_b` costs 5% *more*") == r"$a_{b}$ costs 5\% \emph{more}"
    # a span the math converter does not understand stays escaped typewriter text
    assert inline(r"`\input{x}` 100%") == r"\texttt{\textbackslash{}input\{x\}} 100\%"
    assert r"$\overline{h^{(t)}}$" in statement("csc421-hw4/1c").latex
    assert r"\texttt" not in statement("csc421-hw4/1c").latex


def test_statements_follow_the_catalogues_cross_references():
    # rnn-cnn-hw/2 is "the same as csc421-hw4/1": it inherits the LSTM definitions ...
    # ... printed with its own, input-first weight names
    preamble = statement("rnn-cnn-hw/2.1").problem.preamble
    assert r"\sigma(w_{xi} x(t) + w_{hi} h(t-1))" in preamble and "w_{ix}" not in preamble
    # ... and 2.3 "is csc421-hw4/1c".
    assert "forget gates are near 1" in statement("rnn-cnn-hw/2.3").latex


def test_statements_flag_figures_missing_from_the_source():
    assert "not in the source" in statement("rnn-cnn-hw/3.1").part.figure_missing
    assert statement("rnn-cnn-hw/3.2").part.figure_missing
    assert not statement("rnn-cnn-hw/4.1").part.figure_missing
    dsga = catalogue()["dsga1008-hw2"]
    assert [n for p in dsga for n, _ in p.out_of_scope] == ["1.3"]


def _fake_answers(failing: str | None = None, broken: str | None = None):
    """Answers for some ids of a set, built directly: one check passes, one may fail."""

    def source(pid: str) -> Answer | None:
        if pid == broken:
            raise RuntimeError("planted bug in an answer module")
        if pid.endswith("b") or pid.endswith(".2"):
            return None  # not yet answered
        checks = [
            Check("gradient vs central differences", "finite differences", 3.2e-11, 1e-8,
                  "eps=1e-6"),
            Check.exact("count vs brute force", "enumeration", pid != failing, "planted"),
        ]
        return Answer(
            pid,
            {"value": 1},
            "text",
            rf"The key result is $\overline{{h^{{(t)}}}} = 4217$ for \texttt{{{pid}}}.",
            checks,
        )

    return source


def test_a_set_renders_with_fake_answers():
    doc = build("csc421-hw4", answers=_fake_answers(failing="csc421-hw4/1a"))
    tex = doc.tex
    assert tex.startswith(r"\documentclass")
    assert tex.rstrip().endswith(r"\end{document}")
    assert r"$\overline{h^{(t)}} = 4217$" in tex  # the body goes in raw
    # the key: one line per part on how it was checked; a failure named in red, never clean
    body = tex.split(r"\begin{document}", 1)[1]
    assert r"\dvpass" not in body and "Tolerance" not in body and "dvaudit" not in body
    assert r"\dvfail{} \textbf{The check failed" not in tex
    assert r"\textcolor{dvfail}{\dvfail{} \textbf{1 of 2 checks failed: count vs brute force" in tex
    assert ("Checked exactly against a brute-force count and against central differences "
            r"(2 checks, all passed; relative error $3.2\times 10^{-11}$)") in tex
    assert "Not yet answered" in tex
    assert r"\dvid" not in body and "Part (a)" in body  # headings are the course's, no ids
    assert doc.failed_checks == 1
    # the audit: every check, the failed one marked
    assert "Audit: every check" in doc.audit and "Audit: every check" not in tex
    assert doc.audit.count("count vs brute force") == 5  # the five answered parts
    assert r"\textcolor{dvfail}{\textbf{FAILED}}" in doc.audit
    assert r"\textbf{1 failed}" in doc.audit
    assert doc.unanswered == sum(p.endswith("b") for p in problem_ids("csc421-hw4"))
    # every catalogue id of the set has its section, in catalogue order
    marks = [line.split()[-1] for line in tex.splitlines() if line.startswith("%% problem ")]
    assert marks == problem_ids("csc421-hw4")


def test_an_answer_that_raises_is_marked_not_fatal():
    doc = build("csc421-hw4", answers=_fake_answers(broken="csc421-hw4/1c"))
    assert doc.broken == 1
    assert "planted bug in an answer module" in doc.tex


@pytest.mark.slow
def test_every_set_renders_from_the_registry():
    # Whatever is answered so far: the pipeline works at every stage (slow: builds every answer).
    for set_id in SETS:
        doc = build(set_id)
        assert len(doc.outcomes) == len(problem_ids(set_id))


def test_audit_rows_show_exact_and_numeric_checks():
    exact = audit.row(Check.exact("n", "m", False))
    assert (exact["quantity"], exact["value"], exact["tolerance"], exact["passed"]) == (
        "exact", "fails", "none", False)
    numeric = audit.row(Check("n", "m", 2e-3, 1e-6))
    assert numeric["passed"] is False and "10^{-6}" in str(numeric["tolerance"])
    assert numeric["quantity"] == "relative error"


@pytest.mark.parametrize(("check", "measured"), [
    (Check("gradient", "central differences", 3e-11, 1e-6), "relative error"),
    # a ratio held against a bound is what was measured, not an error
    (Check("|dL/dc(T)| / |dL/dc(0)|", "at most 2: the gradient survives", 1.64, 2.0),
     "measured value"),
    (Check("shares, deeper over shallower", "below 1: it shrinks with depth", 0.75, 1.0),
     "measured value"),
    (Check("ratio against the product", "relative difference at most 1%", 1e-3, 0.01),
     "relative difference"),
    (Check("vanishing regime", "||dh(T)/dh(0)|| <= 1e-6", 0.3, 0.0), "measured value"),
    (Check("growth", "norm at 2d >= 5 x norm at d", 0.0, 0.0), "exact"),
    (Check("ratio", "at most 2", 1.6, 2.0, measures="ratio"), "ratio"),  # declared wins
])
def test_the_audit_says_what_a_value_measures(check, measured):
    assert audit.quantity(check) == measured
    assert audit.row(check)["quantity"] == measured


@pytest.mark.parametrize(("text", "latex"), [
    ("in the limit, dL/dc(t) = dL/dc(t + 1)",
     r"in the limit, \(\partial L/\partial c(t)\) = \(\partial L/\partial c(t + 1)\)"),
    ("bisection steps at T = 2^k", r"bisection steps at T = \(2^{k}\)"),
    ("||dh(T)/dh(0)|| <= 1e-6", r"\(\lVert \partial h(T)/\partial h(0)\rVert \leq 10^{-6}\)"),
    ("gradients of W_hh and h_0", r"gradients of \(W_{hh}\) and \(h_{0}\)"),
    ("1 / smallest |pre-activation|", r"1 / smallest \textbar{}pre-activation\textbar{}"),
    ("step 2.18e-01", r"step \(0.218\)"),
    (HOSTILE, r"\textbackslash{}input\{/etc/passwd\}"),
    (r"a_\input{x} b^{\def} |\x|", r"a\_\textbackslash{}input\{x\} b\textasciicircum{}\{"
     r"\textbackslash{}def\} \textbar{}\textbackslash{}x\textbar{}"),
    ("|a$b| and W_{x%}", r"\textbar{}a\$b\textbar{} and W\_\{x\%\}"),
])
def test_check_text_typesets_math_and_escapes_the_rest(text, latex):
    assert audit.check_text(text) == latex


def test_a_part_note_names_how_it_was_checked_or_what_failed():
    passing = [Check("every bar", "central differences, step 1e-6", 1.7e-11, 1e-6),
               Check("every bar", "complex step, h = 1e-30", 2e-16, 1e-12),
               Check.exact("counts", "brute-force enumeration", True)]
    line = audit.note(passing)
    assert line == {"failed": 0, "text": (
        "Checked exactly against a brute-force count and against complex-step derivatives "
        r"(3 checks, all passed; largest relative error $1.7\times 10^{-11}$).")}
    failing = [*passing, Check("planted dropped term", "unrolled", 0.25, 1e-12),
               Check.exact("planted count", "enumeration", False)]
    line = audit.note(failing)
    assert line["failed"] == 2 and str(line["text"]).startswith("2 of 5 checks failed: ")
    assert "planted dropped term (relative error $0.250$, tolerance $10^{-12}$)" in line["text"]
    assert "planted count (against enumeration: does not hold)" in line["text"]
    assert audit.note([]) == {"failed": 0, "text": ""}
    # no method named in the references: only the count, never an invented method
    assert audit.note([Check.exact("x", "y", True)])["text"] == "Checked (1 check)."


def test_a_question_keeps_the_opening_display_of_its_solution():
    assert lead_lines("Plain words only.") == 5
    six = "Forward pass:\n\\begin{align*}" + "a &= b \\\\ " * 5 + "a &= b\n\\end{align*}"
    assert lead_lines(six) == 4 + 3 * 2  # a long display may break after its third row
    assert lead_lines(r"\[ \frac{a}{b} \]") == 4 + 3
    assert lead_lines("x" * 500 + r"\[ a \]") == 5  # a display far down: not the first lines
    table = r"\begin{tabular}{rr} a & b \\ c & d \\ e & f \end{tabular} then \[ x \]"
    assert lead_lines(table) == 4 + 3  # a table does not break: all three rows


def test_unknown_set_suggests_the_closest(capsys):
    with pytest.raises(DeriveError, match="did you mean csc421-hw4"):
        resolve_sets(["csc421-hw5"])
    assert cli(["report", "dsga1008-hw3", "--no-pdf", "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derive: error: unknown problem set 'dsga1008-hw3'")
    assert "dsga1008-hw2" in err and "Traceback" not in err
    assert resolve_sets([]) == list(SETS)
    with pytest.raises(DeriveError, match="is a problem id.*did you mean rnn-cnn-hw"):
        resolve_sets(["rnn-cnn-hw/3.1"])


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DeriveError, match="--out"):
        output_folder(blocker / "sub")
    with pytest.raises(DeriveError, match="not a folder"):
        output_folder(blocker)
    assert cli(["report", "csc421-hw4", "--no-pdf", "--out", str(blocker / "sub")]) == 2
    assert capsys.readouterr().err.startswith("derive: error: --out")


def test_without_tex_the_report_writes_tex_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    import derive.report
    from derive.report import latexmk

    monkeypatch.setattr(latexmk, "available", lambda: False)
    monkeypatch.setattr(derive.report, "load_answer_modules", lambda: [])
    monkeypatch.setattr(
        derive.report, "build", lambda set_id, progress=None: build(set_id, _fake_answers())
    )
    build_reports(["rnn-cnn-hw"], str(tmp_path))
    err = capsys.readouterr().err
    assert "apt-get install" in err and "latexmk" in err
    assert (tmp_path / "rnn-cnn-hw.tex").exists()
    assert not (tmp_path / "rnn-cnn-hw.pdf").exists()
    assert "not yet answered" in err


def test_failing_lines_point_at_the_problem(tmp_path):
    tex = tmp_path / "x.tex"
    tex.write_text("\\begin{document}\n%% problem set-a/1b\nok\n\\undefinedmacro\n")
    log = "junk\n./x.tex:4: Undefined control sequence.\nl.4 \\undefinedmacro\n\n"
    shown = failing_lines(log, tex)
    assert "Undefined control sequence" in shown
    assert "line 4 (in the answer to set-a/1b)" in shown
    assert "\\undefinedmacro" in shown


def test_cli_renders_a_set_through_the_installed_package(tmp_path):
    # A separate process, as a user runs it: templates and catalogue come from package data.
    done = subprocess.run(
        [sys.executable, "-m", "derive.cli", "report", "rnn-cnn-hw", "--no-pdf", "--out",
         str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only: on a loaded machine the set takes over 2 minutes
        cwd=tmp_path,
    )
    assert done.returncode in (0, 1), done.stderr
    tex = (tmp_path / "rnn-cnn-hw.tex").read_text()
    assert r"\begin{document}" in tex and "Binary addition RNN" in tex
    assert "parts:" in done.stderr


def test_progress_lines_on_a_terminal_or_not():
    # formerly only on a terminal (None otherwise); a log of a long build needs them as much
    import io

    from derive.report import _progress
    from derive.report.document import PartOutcome

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    not_a_terminal = io.StringIO()
    _progress(not_a_terminal)(PartOutcome("csc421-hw4/1a", "answered", 0.25))
    assert not_a_terminal.getvalue().split() == ["csc421-hw4/1a", "built", "0.25", "s"]
    stream = Terminal()
    show = _progress(stream)
    show(PartOutcome("csc421-hw4/1a", "answered", 0.25))
    show(PartOutcome("csc421-hw4/1b", "unanswered", 0.0))
    show(PartOutcome("csc421-hw4/1c", "answered", 1.5, failed_checks=2))
    lines = stream.getvalue().splitlines()
    assert lines[0].split() == ["csc421-hw4/1a", "built", "0.25", "s"]
    assert "not yet answered" in lines[1]
    assert lines[2].endswith("2 check(s) FAILED")
