"""The Jinja2 environment that renders the LaTeX templates, and the ``latex_escape`` filter."""

from __future__ import annotations

import math
from functools import cache

import jinja2

# The map of Sphinx's ``sphinx.util.texescape`` (its ``tex_replacements``, the ASCII characters
# that OT1 fonts would misprint, and the common Unicode symbols pdflatex cannot typeset), applied
# in one pass with ``str.translate`` so a replacement is never escaped again. Sphinx's quote
# replacements (\textquotesingle, \textasciigrave) are left out: they need TS1 fonts, which a
# minimal TeX Live has only as bitmaps; a quote is harmless to TeX.
_TEX_REPLACEMENTS: dict[str, str] = {
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "[": r"{[}",
    "]": r"{]}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\u2713": r"\(\checkmark\)",
    "\u2715": r"\(\times\)",
    "\ufffd": r"\(\diamond\)",
    "\u00d7": r"\(\times\)",
    "\u2212": r"\ensuremath{-}",
    "\u2013": r"\textendash{}",
    "\u2014": r"\textemdash{}",
    "\u2264": r"\(\leq\)",
    "\u2265": r"\(\geq\)",
    "\u2260": r"\(\neq\)",
    "\u2248": r"\(\approx\)",
    "\u221e": r"\(\infty\)",
    "\u00b1": r"\(\pm\)",
    "\u2192": r"\(\rightarrow\)",
    "\u00b7": r"\(\cdot\)",
    "\u2026": r"\dots{}",
}
_TEX_MAP = {ord(char): tex for char, tex in _TEX_REPLACEMENTS.items()}


def latex_escape(value: object) -> str:
    """``value`` as LaTeX text: every character TeX would interpret is made literal.

    Use it for every piece of plain text (titles, check names, messages); LaTeX from the
    printer (answer bodies, figures) goes in raw.
    """
    return str(value).translate(_TEX_MAP)


def latex_breakable(value: object) -> str:
    """``latex_escape``, with line breaks allowed after ``, ; / =`` (for narrow table cells,
    where a long run such as ``(C=5,L=7,K=3)`` would otherwise stick out)."""
    escaped = latex_escape(value)  # no replacement holds these characters
    for char in ",;/=":
        escaped = escaped.replace(char, char + r"\allowbreak{}")
    return escaped


def latex_number(value: float, digits: int = 2) -> str:
    """A float as LaTeX math: ``1.2\\times10^{-15}``, ``0``, ``\\infty``, ``\\mathrm{NaN}``."""
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    exp = int(exponent)
    if mantissa.rstrip("0").rstrip(".") in ("1", "-1") and not -2 <= exp <= 3:
        return rf"{'-' if value < 0 else ''}10^{{{exp}}}"
    if -2 <= exp <= 3:
        return f"{value:.{max(digits - 1 - exp, 0)}f}" if exp < digits else f"{value:.0f}"
    return rf"{mantissa}\times 10^{{{exp}}}"


@cache
def environment() -> jinja2.Environment:
    """The template environment: LaTeX-safe delimiters, no autoescape, strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("derive", "templates"),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["latex_escape"] = latex_escape
    env.filters["latex_number"] = latex_number
    env.filters["latex_breakable"] = latex_breakable
    return env


def render(template: str, **context: object) -> str:
    """Render the template named ``template`` (e.g. ``"csc421-hw4.tex"``) with ``context``."""
    return environment().get_template(template).render(**context)
