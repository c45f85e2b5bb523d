"""Reports compiled with TeX and read back with pdftotext (skipped where TeX is absent)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
import unicodedata

import pytest

import derive.report
from derive.answers import Answer
from derive.checks.check import Check
from derive.cli import main as cli
from derive.core.errors import DeriveError
from derive.printing.figures import pgfplot, tikz_graph
from derive.printing.tex import latex_escape
from derive.report import latexmk, write
from derive.report.document import build

pytestmark = pytest.mark.skipif(
    not latexmk.available() or shutil.which("pdftotext") is None,
    reason="needs latexmk, pdflatex and pdftotext (make report / .ci/run install them)",
)

HOSTILE = r"\input{/etc/passwd}"


def _answers(pid: str) -> Answer | None:
    if pid.endswith("b"):
        return None
    checks = [
        Check("gradient vs central differences", "finite differences", 3.2e-11, 1e-8),
        Check.exact(HOSTILE, "a hostile check name & 100% of #specials_", True),
    ]
    if pid == "csc421-hw4/3a":  # the planted error: a check that failed must read FAIL
        checks.append(Check("planted dropped term", "unrolled SymPy", 0.25, 1e-12, "seeded"))
    figures = {}
    if pid == "csc421-hw4/1c":
        figures = {
            "gradient norm against time": pgfplot(
                {r"$\|\overline{h^{(t)}}\|$": ([1, 2, 3, 4], [1.0, 0.5, 0.25, math.inf]),
                 "forget gate 0.5": ([1, 2, 3], [1.0, 1e-3, 1e-6])},
                xlabel="$t$", ylabel="norm", logy=True,
            ),
            "the cell": tikz_graph(
                {"x": ("$x^{(t)}$", 0, 0, "input"), "h": ("$h^{(t)}$", 2, 0),
                 "y.out": ("$y$", 4, 0, "output")},
                [("x", "h", "$W$"), ("h", "h"), ("h", "y.out")],
            ),
        }
    body = rf"The key result for {pid} is \[ \overline{{w_{{ix}}}} = 4217 \cdot 3 \]"
    return Answer(pid, {}, "", body, checks, figures)


def _pdf_text(pdf) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


def test_a_report_compiles_and_reads_back(tmp_path):
    doc = build("csc421-hw4", answers=_answers)
    tex = write(doc, tmp_path)
    pdf = latexmk.compile_pdf(tex)
    text = _pdf_text(pdf)
    assert "CSC421" in text and "Solutions" in text
    assert "4217" in text  # the answer body
    assert "FAIL" in text and "planted dropped term" in text  # the planted error shows
    assert "0.25" in text
    assert "PASS" not in text and "Tolerance" not in text  # no verification table in the key
    assert "Checked against central differences" in text  # each part's line
    assert "3.2" in text and "10" in text  # the measured error
    assert "Not yet answered" in text
    assert "gradient norm against time" in text and "the cell" in text
    # the audit beside it: every check, the hostile one escaped
    audit = _pdf_text(latexmk.compile_pdf(tmp_path / "csc421-hw4-audit.tex"))
    assert "Audit: every check" in audit and "Tolerance" in audit
    assert "FAILED" in audit and "planted dropped term" in audit
    compact = "".join(audit.split())  # table cells wrap
    assert HOSTILE in compact  # escaped: printed, not executed
    assert "100%" in audit and "#specials" in audit  # (OT1 draws _ as a rule: no text)


def test_a_latex_error_shows_the_log_and_keeps_the_tex(tmp_path):
    def broken(pid: str) -> Answer | None:
        body = r"fine" if pid != "csc421-hw4/2a" else r"\undefinedmacro{x}"
        return Answer(pid, {}, "", body, [])

    tex = write(build("csc421-hw4", answers=broken), tmp_path)
    with pytest.raises(DeriveError) as caught:
        latexmk.compile_pdf(tex)
    message = str(caught.value)
    assert "Undefined control sequence" in message
    assert "in the answer to csc421-hw4/2a" in message
    assert r"\undefinedmacro" in message
    assert tex.exists() and str(tex) in message
    assert not tex.with_suffix(".pdf").exists()


def test_the_cli_exits_2_on_a_latex_error(tmp_path, monkeypatch, capsys):
    def bad(set_id, progress=None):  # one set's answers break LaTeX, the other's do not
        body = r"$\frac{1}$}" if set_id == "csc421-hw4" else "fine"
        return build(set_id, answers=lambda pid: Answer(pid, {}, "", body, []))

    monkeypatch.setattr(derive.report, "build", bad)
    monkeypatch.setattr(derive.report, "load_answer_modules", lambda: [])
    assert cli(["report", "csc421-hw4", "rnn-cnn-hw", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert any(line.startswith("derive: error: LaTeX failed on") for line in err.splitlines())
    assert "csc421-hw4.tex" in err and "Traceback" not in err
    assert (tmp_path / "csc421-hw4.tex").exists()
    assert not (tmp_path / "csc421-hw4.pdf").exists()
    assert (tmp_path / "rnn-cnn-hw.pdf").exists()  # the other set still compiled
    assert "no PDF: LaTeX failed" in captured.out


def test_escape_filter_output_compiles_for_every_special(tmp_path):
    specials = "$ % & # _ { } \\ ~ ^ [ ] < > | ' ` " + HOSTILE
    tex = tmp_path / "specials.tex"
    tex.write_text(
        "\\documentclass{article}\n\\begin{document}\nX" + latex_escape(specials)
        + "Y\n\\end{document}\n"
    )
    text = _pdf_text(latexmk.compile_pdf(tex))
    # pdftotext reads the accents ~ ^ as spacing accents; OT1 draws _ as a rule (no text).
    compact = "".join(text.split()).replace("˜", "~").replace("ˆ", "^")
    expected = "".join(specials.split()).replace("'", "’").replace("`", "‘").replace("_", "")
    assert "X" + expected + "Y" in compact


def _compile_registry_set(set_id: str, folder) -> None:
    """A set built from the registered answers compiles, key and audit; the key's overview
    names every part by the course's number, and the audit marks every failed check."""
    doc = build(set_id)
    text = _pdf_text(latexmk.compile_pdf(write(doc, folder)))
    compact = "".join(text.split())
    for outcome in doc.outcomes:
        assert outcome.pid.split("/", 1)[1] in compact
        assert outcome.pid not in compact  # no machine ids in a key
    assert compact.count("Notyetanswered.") == doc.unanswered
    if doc.audit:
        audit = _pdf_text(latexmk.compile_pdf(folder / f"{set_id}-audit.tex"))
        assert audit.count("FAILED") == doc.failed_checks


def test_a_set_of_registered_answers_compiles(tmp_path):
    # Every answer's LaTeX body must compile (the Answer contract): one set in the fast run ...
    _compile_registry_set("csc421-hw4", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("set_id", ["cmsc25500-midterm", "dsga1008-hw2", "rnn-cnn-hw"])
def test_every_set_of_registered_answers_compiles(tmp_path, set_id):
    # ... and the other sets in the slow run (make test-slow; make report builds all four).
    _compile_registry_set(set_id, tmp_path)


def test_escape_filter_never_breaks_the_build(tmp_path):
    # Greek, CJK, an emoji, control and format characters, accents: pdflatex must not stop
    # ("Unicode character ... not set up"); what it cannot typeset shows as a placeholder.
    from derive.report.render import render

    hostile = "claim \u03a9 \u4e2d \U0001f600 \x07\x1b\x00 \u200b\u2028 caf\u00e9 \u03c3(x) \u211d"
    escaped = latex_escape(hostile)
    assert "[U+4E2D]" in escaped.replace("{[}", "[").replace("{]}", "]")
    assert not any(ord(c) < 32 or ord(c) > 126 for c in escaped)
    tex = tmp_path / "hostile.tex"
    preamble = render("preamble.tex")
    tex.write_text(preamble + "\\begin{document}\nX" + escaped + "Y\n\\end{document}\n")
    text = _pdf_text(latexmk.compile_pdf(tex))
    compact = unicodedata.normalize("NFC", "".join(text.split()))  # é may come back decomposed
    assert "XclaimΩ[U+4E2D][U+1F600]café" in compact and "σ(x)" in compact


def _tex_processes(name: str) -> list[int]:
    """The pids of live processes whose command line names ``name``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if name in cmdline and not zombie:
            found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to find pdflatex")
def test_a_timeout_ends_pdflatex_too(tmp_path):
    name = f"loop{os.getpid()}x{time.monotonic_ns()}"
    tex = tmp_path / f"{name}.tex"
    tex.write_text("\\documentclass{article}\n\\def\\a{\\a}\\a\n\\begin{document}x\\end{document}\n")
    with pytest.raises(DeriveError, match="did not finish"):
        latexmk.compile_pdf(tex, timeout=3)
    for _ in range(50):  # SIGKILL is delivered at once; give the kernel a moment to reap
        if not _tex_processes(name):
            break
        time.sleep(0.1)
    assert _tex_processes(name) == []


def test_a_latexmkrc_beside_the_tex_is_ignored(tmp_path):
    # a latexmkrc could set $pdflatex to a command with shell escape; -norc ignores it
    for rc in ("latexmkrc", ".latexmkrc"):
        (tmp_path / rc).write_text("system('touch pwned'); $pdflatex = 'touch pwned2';\n")
    tex = tmp_path / "doc.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}x\\end{document}\n")
    assert latexmk.compile_pdf(tex).exists()
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert "-norc" in latexmk.command(tex)
