"""TeX for text: ``latex_escape`` (any string made safe to typeset), numbers in LaTeX, and
breakable identifiers."""

from __future__ import annotations

import math
import unicodedata

from derive.printing.greek import UNICODE

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
# Greek and mathematical characters a check name or a student's claim may carry, as kernel
# (or amssymb) math; any other character outside ASCII would stop pdflatex ("Unicode character
# not set up"), so ``latex_escape`` prints it as a visible placeholder.
for _char, _name in UNICODE.items():
    _TEX_REPLACEMENTS[_char] = rf"\ensuremath{{\{_name}}}" if len(_name) > 1 else _name
_TEX_REPLACEMENTS.update({
    "\u03d5": r"\ensuremath{\phi}", "\u03b5": r"\ensuremath{\varepsilon}",
    "\u2202": r"\ensuremath{\partial}", "\u2207": r"\ensuremath{\nabla}",
    "\u2211": r"\ensuremath{\sum}", "\u220f": r"\ensuremath{\prod}",
    "\u222b": r"\ensuremath{\int}", "\u221a": r"\ensuremath{\surd}",
    "\u2208": r"\ensuremath{\in}", "\u2209": r"\ensuremath{\notin}",
    "\u2299": r"\ensuremath{\odot}", "\u2297": r"\ensuremath{\otimes}",
    "\u2218": r"\ensuremath{\circ}", "\u22c5": r"\ensuremath{\cdot}",
    "\u2190": r"\ensuremath{\leftarrow}", "\u2194": r"\ensuremath{\leftrightarrow}",
    "\u21d2": r"\ensuremath{\Rightarrow}", "\u21d4": r"\ensuremath{\Leftrightarrow}",
    "\u2261": r"\ensuremath{\equiv}", "\u223c": r"\ensuremath{\sim}",
    "\u226a": r"\ensuremath{\ll}", "\u226b": r"\ensuremath{\gg}",
    "\u2200": r"\ensuremath{\forall}", "\u2203": r"\ensuremath{\exists}",
    "\u2205": r"\ensuremath{\emptyset}", "\u2229": r"\ensuremath{\cap}",
    "\u222a": r"\ensuremath{\cup}", "\u2282": r"\ensuremath{\subset}",
    "\u2286": r"\ensuremath{\subseteq}", "\u00f7": r"\ensuremath{\div}",
    "\u00ac": r"\ensuremath{\neg}", "\u2032": r"\ensuremath{'}",
    "\u211d": r"\ensuremath{\mathbb{R}}", "\u00b2": r"\ensuremath{^{2}}",
    "\u00b3": r"\ensuremath{^{3}}", "\u00b9": r"\ensuremath{^{1}}",
    "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''",
    "\u2022": r"\textbullet{}", "\u00b0": r"\textdegree{}", "\u00a0": "~",
    "\u00df": r"\ss{}", "\u00e6": r"\ae{}", "\u00c6": r"\AE{}", "\u00f8": r"\o{}",
    "\u00d8": r"\O{}", "\u0153": r"\oe{}", "\u0152": r"\OE{}", "\u0142": r"\l{}",
    "\u0141": r"\L{}", "\u0131": r"\i{}",
    "\t": " ", "\n": " ", "\r": " ",
})
_TEX_MAP = {ord(char): tex for char, tex in _TEX_REPLACEMENTS.items()}
# Combining accents of decomposed Latin letters (NFD), as the kernel's accent commands.
_ACCENTS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=",
    "\u0306": "u", "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H",
    "\u030c": "v", "\u0327": "c",
}


def _unicode(char: str) -> str:
    """A character outside ASCII and the map: an accented Latin letter with its accent
    command, a control or format character dropped, anything else a visible placeholder."""
    if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return ""
    if unicodedata.category(char) == "Zs":
        return " "
    base, *marks = unicodedata.normalize("NFD", char)
    if base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks):
        out = "\\i" if base == "i" else base
        for mark in marks:
            out = "\\" + _ACCENTS[mark] + "{" + out + "}"
        return out
    return f"{{[}}U+{ord(char):04X}{{]}}"


def latex_escape(value: object) -> str:
    """``value`` as LaTeX text: every character TeX would interpret is made literal, control
    characters are dropped, Greek and common math symbols become their commands, and any
    other non-ASCII character a placeholder such as ``[U+4E2D]``, so no text breaks the build.

    Use it for every piece of plain text (titles, check names, messages); LaTeX from the
    printer (answer bodies, figures) goes in raw.
    """
    text = str(value).translate(_TEX_MAP)
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        char if char.isascii() and (char.isprintable()) else _unicode(char) for char in text
    )


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
