"""The text of every built answer key, read back with pdftotext: no code artefacts, no word
about the tool, no machine ids, no verification table (those live in the audit document).

What counts as an artefact (``artefacts`` below; each rule is shown catching a planted string):

- ``**`` (a Python power), ``Sum(`` (a SymPy sum), ``np.`` (NumPy), ``def name(`` (a Python
  function), and ``_{`` or ``^{`` (LaTeX scripts printed as text instead of typeset);
- a sum in SymPy's canonical order at an index or term: a constant before a variable, ``1+t``,
  ``-1+t``, ``-1+K``, ``-1 + 2√H√W``, or a negative index first, ``-i+t`` (the course writes
  ``t+1``, ``t-1``, ``K-1``, ``t-i``). Only at the start of a group: after ``( [ { = , ^ _``
  or at the start of a line (where pdftotext puts a raised index), so a middle term
  (``k^2 - 1 + d``) is not one;
  not inside a longer number or name (``21+t``), not before a longer name or a call
  (``1+exp(``), and not ``1+e`` (Euler's number, as in ``1/(1+e^-x)``);
- tool words: SymPy, sympy, NumPy, numpy, lambdify, PASS, ``derive`` (lower case, the tool's
  name), and kernels in the tool's sense (``compiled kernels``, ``NumPy kernel``; a
  convolution's kernel is the course's own word);
- machine ids (``csc421-hw4/1a``), and a verification table (a ``Tolerance`` column,
  ``Verification:``, ``N of M checks passed``).

The audit document beside each key is the instructor's: it names its references as they are
(SymPy's derivative, the NumPy implementation), so only the code artefacts are held against it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from derive.catalogue import SETS
from derive.report import build_reports, latexmk

CODE_RULES: dict[str, re.Pattern[str]] = {
    "Python power **": re.compile(r"\*\*"),
    "SymPy Sum(": re.compile(r"\bSum\("),
    "NumPy np.": re.compile(r"\bnp\."),
    "Python def": re.compile(r"\bdef [A-Za-z_]\w*\s*\("),
    "LaTeX script printed as text": re.compile(r"[_^]\{"),
    "constant before a variable (1+t)": re.compile(
        r"(?:^|[(\[{=,^_])\s*[-\u2212]?1\s*\+\s*(?:[a-df-zA-Z](?![\w(])|\d*\u221a)", re.M),
    "negative index first (-i+t)": re.compile(
        r"(?:^|[(\[{=,^_])\s*[-\u2212][ijklmns]\s*\+\s*[a-zA-Z](?![\w(])", re.M),
}
KEY_RULES: dict[str, re.Pattern[str]] = {
    **CODE_RULES,
    "tool word": re.compile(r"\b(?:SymPy|sympy|NumPy|numpy|lambdify|PASS|derive)\b"),
    "tool kernel": re.compile(r"\b(?:compiled|NumPy|numpy|lambdified|BPTT)\s+kernels?\b"),
    "machine id": re.compile("(?:" + "|".join(re.escape(s) for s in SETS) + ")/"),
    "verification table": re.compile(r"\bTolerance\b|Verification:|\b\d+ of \d+ checks passed"),
}


def artefacts(text: str, rules: dict[str, re.Pattern[str]] = KEY_RULES
              ) -> list[tuple[int, str, str]]:
    """Every artefact in ``text`` (pdftotext's output, pages separated by form feeds):
    (page, rule, the text around it)."""
    found = []
    for page, content in enumerate(text.split("\f"), start=1):
        for rule, pattern in rules.items():
            for match in pattern.finditer(content):
                around = content[max(0, match.start() - 30) : match.end() + 30]
                found.append((page, rule, " ".join(around.split())))
    return found


def _report(name: str, found: list[tuple[int, str, str]]) -> str:
    return "\n".join(f"{name} p.{page}: {rule}: ...{around}..." for page, rule, around in found)


def _text(pdf) -> str:
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


@pytest.mark.parametrize(("planted", "rule"), [
    ("the gradient is w**2 here", "Python power **"),
    ("Sum(h(t), (t, 1, T))", "SymPy Sum("),
    ("y = np.einsum(x)", "NumPy np."),
    ("def revolve(T, M):", "Python def"),
    ("h_{t-1} printed raw", "LaTeX script printed as text"),
    ("x^{(t)} printed raw", "LaTeX script printed as text"),
    ("the state h(1+t) at the next step", "constant before a variable (1+t)"),
    ("summed up to j = -1 + t", "constant before a variable (1+t)"),
    ("over (\u22121+K) steps", "constant before a variable (1+t)"),
    ("the sum to\n-1+t", "constant before a variable (1+t)"),
    ("the lag h(-i+t)", "negative index first (-i+t)"),
    ("a window of (\u22121 + 2\u221aH\u221aW) pixels", "constant before a variable (1+t)"),
    ("derived by SymPy", "tool word"),
    ("every check: PASS", "tool word"),
    ("made by derive 0.1", "tool word"),
    ("through the compiled kernels", "tool kernel"),
    ("see csc421-hw4/1a", "machine id"),
    ("Check Against Error Tolerance Result", "verification table"),
    ("Verification: 4 of 4 checks passed.", "verification table"),
])
def test_the_scanner_catches_a_planted_artefact(planted, rule):
    clean = "Checked against central differences (4 checks, all passed)."
    assert artefacts(clean) == []
    found = artefacts(f"page one\f{clean} {planted} and more")
    assert (2, rule) in [(page, r) for page, r, _ in found]


@pytest.mark.parametrize("fine", [
    "h(t+1) and h(t-1), the sum to K-1 and t-i",
    "sigma(z) = 1/(1 + e^-z), so 1 + exp(-z) > 1",
    "21+t and x1+t are not terms, nor the middle of k^2 - 1 + d",
    "a 3 x 3 kernel, the kernel dilated by D",
    "the forward pass passes gradient; derived, derivative",
    "h_t and x^t are subscripts without braces",
])
def test_the_scanner_leaves_course_text_alone(fine):
    assert artefacts(fine) == []


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every key and its audit, built once for this module (about 40 s)."""
    if not latexmk.available() or shutil.which("pdftotext") is None:
        pytest.skip("needs latexmk, pdflatex and pdftotext")
    out = tmp_path_factory.mktemp("keys")
    build_reports(list(SETS), str(out), quiet=True)
    return out


@pytest.mark.parametrize("set_id", list(SETS))
def test_a_key_reads_as_a_course_document(built, set_id):
    key = built / f"{set_id}.pdf"
    assert key.exists(), f"{set_id}: no key was built"
    found = artefacts(_text(key))
    assert not found, "\n" + _report(key.name, found)


@pytest.mark.parametrize("set_id", list(SETS))
def test_an_audit_lists_every_check_without_code_artefacts(built, set_id):
    audit = built / f"{set_id}-audit.pdf"
    assert audit.exists(), f"{set_id}: no audit was built"
    text = _text(audit)
    assert "Audit: every check" in text and "Tolerance" in text
    found = artefacts(text, CODE_RULES)
    assert not found, "\n" + _report(audit.name, found)
