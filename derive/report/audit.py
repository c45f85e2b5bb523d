"""The audit of an answer key: each check as a row of the audit, each part's one-line note.

A key tells students in one line how each answer was checked; the audit, a document of its
own for the instructor, lists every check with what it compared, the quantity it measured,
the value, and the tolerance. A check's ``error`` is a relative error unless the check says
otherwise (``Check.measures``) or its reference states a bound ("at most 2: ..."); then the
value is what was measured, not an error. Names and references are plain ASCII written by
the answers; the math in them (``dL/dc(t)``, ``2^k``, ``||dh(T)/dh(0)|| <= 1e-6``, ``W_hh``)
is typeset through the catalogue's whitelisting converter and everything else is escaped,
so no text reaches TeX as code.
"""

from __future__ import annotations

import re

from derive.checks.check import Check
from derive.printing.mathtext import FUNCTIONS, to_math
from derive.printing.tex import latex_breakable, latex_escape, latex_number

EXACT = "exact"
RELATIVE = "relative error"
MEASURED = "measured value"

# A reference that states a bound: the value is a measurement held against it, not an error.
_BOUND = re.compile(r"^(?:none:\s*)?(.*?)\s*\b(?:at most|at least|below|above)\b", re.I)
_RELATION = re.compile(r"<=|>=|(?<![-\w])[<>](?![-\w])")

# The math in a check's words: a norm with an optional bound, an absolute value, a derivative
# d.../d..., a name with scripts (W_hh, 2^k, h_0) and a number in e-notation.
_NUMBER = r"\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_SPAN = re.compile(
    r"(?P<norm>\|\|[^|]+\|\|(?:\s*(?:<=|>=|<|>|=)\s*" + _NUMBER + r")?)"
    r"|(?P<abs>\|[^|\s][^|]*\|)"
    r"|(?P<deriv>(?<![A-Za-z])d[A-Za-z]\w*(?:\([^()]*\))?/d[A-Za-z]\w*(?:\([^()]*\))?)"
    r"|(?P<script>(?<![\w\\])[A-Za-z0-9]+(?:[_^](?:\([^()]*\)|\{[^{}]*\}|[A-Za-z0-9]+))+)"
    r"|(?P<sci>(?<![\w.])\d+(?:\.\d+)?e[-+]?\d+(?![\w.]))"
)
_SCRIPT_ARGUMENT = re.compile(r"[_^](?:\([^()]*\)|\{[^{}]*\}|[A-Za-z0-9]+)")


def sci(number: str) -> str:
    """``1e-6`` as LaTeX math (``10^{-6}``), with as many digits as it was written with."""
    mantissa = number.lower().split("e")[0]
    digits = len(re.sub(r"\D", "", mantissa).lstrip("0")) or 1
    return latex_number(float(number), digits)


def _mathy(span: str) -> bool:
    """Whether ``span`` is math rather than words: no run of three letters outside its scripts
    but a function name (``|pre-activation|`` is a word between bars)."""
    body = _SCRIPT_ARGUMENT.sub("", span)
    body = re.sub(r"(?<![A-Za-z])d([A-Za-z])", r"\1", body)  # the d of a derivative
    return all(word in FUNCTIONS for word in re.findall(r"[A-Za-z]{3,}", body))


def _balanced(latex: str) -> bool:
    depth = 0
    for char in latex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _math(span: str, kind: str) -> str | None:
    """One span as inline math, or None when it is not math the converter understands."""
    if kind == "sci":
        return sci(span)
    if not _mathy(span):
        return None
    relation = ""
    if kind == "norm":
        inner, _, bound = span[2:].partition("||")
        match = re.match(r"\s*(<=|>=|<|>|=)\s*(\S+)", bound)
        body = to_math(inner)
        if match:
            sign = {"<=": r"\leq", ">=": r"\geq"}.get(match.group(1), match.group(1))
            relation = rf" {sign} {sci(match.group(2))}"
        return None if body is None else rf"\lVert {body}\rVert{relation}"
    return to_math(span)


def check_text(text: object, breakable: bool = False) -> str:
    """A check's name, reference or detail as LaTeX text: its math typeset, the rest escaped
    (``latex_breakable`` in narrow table cells)."""
    escape = latex_breakable if breakable else latex_escape
    source = str(text).replace("\u2212", "-")
    out, last = [], 0
    for match in _SPAN.finditer(source):
        try:
            latex = _math(match.group(), match.lastgroup or "")
        except (ValueError, RecursionError):
            latex = None
        if latex is None or not _balanced(latex):
            continue
        out.append(escape(source[last : match.start()]))
        out.append(rf"\({latex}\)")
        last = match.end()
    out.append(escape(source[last:]))
    return "".join(out)


def is_exact(check: Check) -> bool:
    """An exact check: an equality or condition that holds or fails, with no tolerance."""
    return check.tolerance == 0 and check.error in (0.0, 1.0)


def quantity(check: Check) -> str:
    """What a check's value is: its own word, an exact comparison, a measured value held
    against a stated bound, or (the default) a relative error."""
    if check.measures:
        return check.measures
    if is_exact(check):
        return EXACT
    bound = _BOUND.match(check.against)
    if bound:
        words = bound.group(1).strip(" :,;")
        return words if words and len(words.split()) <= 3 else MEASURED
    if _RELATION.search(check.against):
        return MEASURED
    return RELATIVE


def row(check: Check) -> dict[str, object]:
    """A check as the audit table prints it (text typeset, numbers as LaTeX math)."""
    measured = quantity(check)
    if measured == EXACT:
        value = "holds" if check.passed else "fails"
        tolerance = "none"
    else:
        value = f"${latex_number(check.error, 2)}$"
        tolerance = f"${latex_number(check.tolerance, 2)}$"
    return {
        "name": check_text(check.name, breakable=True),
        "against": check_text(check.against, breakable=True),
        "detail": check_text(check.detail, breakable=True),
        "quantity": latex_escape(measured),
        "value": value,
        "tolerance": tolerance,
        "passed": check.passed,
    }


# How a check was made, read from its reference and name, in the course's words: (adverb,
# preposition, what). Strongest first; the first that matches names a check; a note names two.
_METHODS: list[tuple[tuple[str, str, str], re.Pattern[str]]] = [
    (("exactly", "by", "symbolic computation"),
     re.compile(r"sympy|symbolic|simplif|elementwise diff|equations", re.I)),
    (("exactly", "against", "a brute-force count"),
     re.compile(r"enumerat|brute|exhaustive|loops|longest path|perturb|count of|arrays of|"
                r"edges of|ancestors|dag levels|windows|instrumented|min over split|"
                r"graph|built|implementation", re.I)),
    (("", "against", "complex-step derivatives"), re.compile(r"complex[- ]step|im l\(", re.I)),
    (("", "against", "central differences"), re.compile(r"central differences|l\(w\+h\)", re.I)),
    (("", "against", "plain backpropagation through time"), re.compile(r"plain bptt", re.I)),
    (("", "against", "a computation one instance at a time"),
     re.compile(r"at a time|run alone", re.I)),
]
_EXPERIMENT = ("", "by", "numerical experiments")


def method(check: Check) -> tuple[str, str, str] | None:
    """How ``check`` was made (adverb, preposition, what), or None when its reference names
    no known method."""
    text = f"{check.against} {check.name}"
    for words, pattern in _METHODS:
        if pattern.search(text):
            return words
    if quantity(check) not in (EXACT, RELATIVE) or "demonstration" in check.against:
        # a measurement held against a stated bound, or a demonstration on numbers
        return _EXPERIMENT
    return None


def _join(methods: list[tuple[str, str, str]]) -> str:
    """``exactly against a brute-force count``; two methods with the same adverb and
    preposition share them (``against complex-step derivatives and central differences``)."""
    def words(m: tuple[str, str, str]) -> str:
        return " ".join(w for w in m if w)

    if len(methods) == 1:
        return words(methods[0])
    first, second = methods
    if first[:2] == second[:2]:
        return f"{words(first)} and {second[2]}"
    if first[0] == second[0]:
        return f"{words(first)} and {words(('', *second[1:]))}"
    return f"{words(first)} and {words(second)}"


def _failure(check: Check) -> str:
    """A failed check in a sentence: its name and what did not hold."""
    if is_exact(check):
        return f"{check_text(check.name)} (against {check_text(check.against)}: does not hold)"
    return (f"{check_text(check.name)} ({latex_escape(quantity(check))} "
            f"${latex_number(check.error, 3)}$, tolerance ${latex_number(check.tolerance, 2)}$)")


def _strength(words: tuple[str, str, str]) -> int:
    ranked = [m for m, _ in _METHODS] + [_EXPERIMENT]
    return ranked.index(words)


def note(checks: list[Check]) -> dict[str, object]:
    """A part's one line on how it was checked: ``text`` (LaTeX) and ``failed`` (how many
    checks failed; then the line names each and reads as a failure, never as a clean key)."""
    failed = [c for c in checks if not c.passed]
    if failed:
        count = f"{len(failed)} of {len(checks)} checks" if len(checks) > 1 else "The check"
        named = "; ".join(_failure(c) for c in failed)
        return {"text": f"{count} failed: {named}.", "failed": len(failed)}
    if not checks:
        return {"text": "", "failed": 0}
    found = {m for m in (method(c) for c in checks) if m}
    methods = sorted(found, key=_strength)[:2]
    relative = [c.error for c in checks if quantity(c) == RELATIVE]
    count = "1 check" if len(checks) == 1 else f"{len(checks)} checks, all passed"
    if relative and max(relative) > 0:
        largest = "relative error" if len(relative) == 1 else "largest relative error"
        count += f"; {largest} ${latex_number(max(relative), 2)}$"
    elif relative:
        count += "; no measurable error"
    lead = f"Checked {_join(methods)}" if methods else "Checked"  # none named: only the count
    return {"text": f"{lead} ({count}).", "failed": 0}
