"""The catalogue's code spans and forward-equation blocks as LaTeX math.

The catalogue writes formulas two ways: LaTeX (``\\overline{h^{(t)}}``) and plain ASCII math
(``x in R^(5 x 7)``, ``h_(t-1)``, ``sigma``, ``(.)``). ``to_math`` turns either into the body of
an inline formula, or returns None when a span holds anything it does not understand (the
caller then prints the span as escaped typewriter text). LaTeX passes only through a whitelist
of commands and characters, so a catalogue entry can never reach TeX as arbitrary code.
"""

from __future__ import annotations

import re

from derive.printing.greek import NAMES

# The only LaTeX commands a span may contain (letters only: no \def, \input, \catcode ...).
SAFE_COMMANDS = frozenset(
    """overline underline bar hat tilde vec dot top partial frac mathbb mathrm mathbf mathcal
    operatorname odot otimes times cdot dots ldots cdots sum prod in notin leq geq neq approx
    to rightarrow leftarrow infty nabla sqrt exp log tanh sin cos det min max
    quad qquad mid lbrace rbrace""".split()
) | NAMES
GREEK = NAMES
# Commands that take braced arguments, and how many: a span must give them (``\frac{a}`` alone
# would stop TeX).
_ARGUMENTS = {
    "overline": 1, "underline": 1, "bar": 1, "hat": 1, "tilde": 1, "vec": 1, "dot": 1,
    "mathbb": 1, "mathrm": 1, "mathbf": 1, "mathcal": 1, "operatorname": 1, "sqrt": 1, "frac": 2,
}
# Plain words that are operators with a LaTeX command of their own.
FUNCTIONS = {
    "tanh": r"\tanh", "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos",
    "det": r"\det", "min": r"\min", "max": r"\max", "sum": r"\sum", "prod": r"\prod",
    "grad": r"\nabla", "inf": r"\infty", "in": r"\in",
}
# Words that are labels, not products of variables, when they are subscripts (``W_in``).
_SCRIPT_WORDS = frozenset({"in", "out"})
_PARTIAL = "\u2202"  # marks a differential d found by the derivative pre-pass

_TOKEN = re.compile(
    r"(?P<cmd>\\[A-Za-z]+)|(?P<num>\d+(?:\.\d+)?)|(?P<word>[A-Za-z]+)|(?P<partial>\u2202)"
    r"|(?P<ddd>\.\.\.)|(?P<dd>\.\.)|(?P<dotarg>\(\.\))|(?P<rel>>=|<=|->|!=)"
    r"|(?P<space>\s+)|(?P<punct>[_^{}()\[\],+\-=/|'<>:;!.*])"
)
# ``dL_t/dh^{(t)}``, ``df_W(x)/dW``: a d at a word start, a run without spaces, then /d.
_DERIVATIVE = re.compile(r"(?<![A-Za-z\\])d(?=[A-Za-z])([^\s/`]*)/d(?=[A-Za-z])")


class _Fail(Exception):
    """The span holds something the converter does not understand."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise _Fail(text[pos])
        out.append((match.lastgroup or "", match.group()))
        pos = match.end()
    return out


def _group(tokens: list[tuple[str, str]], start: int, opening: str) -> int:
    """The index of the token closing the group opened at ``start``."""
    closing = {"(": ")", "{": "}", "[": "]"}[opening]
    depth = 0
    for k in range(start, len(tokens)):
        if tokens[k][1] == opening:
            depth += 1
        elif tokens[k][1] == closing:
            depth -= 1
            if depth == 0:
                return k
    raise _Fail(opening)


def _significant(tokens: list[tuple[str, str]], k: int, step: int) -> tuple[str, str] | None:
    k += step
    while 0 <= k < len(tokens) and tokens[k][0] == "space":
        k += step
    return tokens[k] if 0 <= k < len(tokens) else None


def _is_dimension(token: tuple[str, str] | None) -> bool:
    return token is not None and (
        token[0] == "num" or token[0] == "word" and len(token[1]) == 1
    )


def _is_times(tokens: list[tuple[str, str]], k: int, scripts: set[int]) -> bool:
    """Whether the word ``x`` at ``k`` is a product of dimensions (``5 x 7``, ``5x5``)."""
    before, after = _significant(tokens, k, -1), _significant(tokens, k, 1)
    if not (_is_dimension(before) and _is_dimension(after)) or k - 1 in scripts:
        return False
    if before[0] == "num" and after[0] == "num":  # type: ignore[index]
        return True
    spaced = tokens[k - 1][0] == "space" and k + 1 < len(tokens) and tokens[k + 1][0] == "space"
    following = _significant(tokens, k + 2, 1)
    bound = following is not None and following[1] in ("(", "[", "^", "_")
    return spaced and not bound


class _Writer:
    """Joins LaTeX pieces, separating a control word from a following letter."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, piece: str) -> None:
        if self.parts and re.search(r"\\[A-Za-z]+$", self.parts[-1]) and piece[:1].isalpha():
            self.parts.append(" ")
        self.parts.append(piece)

    def text(self) -> str:
        return "".join(self.parts)


def _convert(tokens: list[tuple[str, str]], script: bool = False) -> str:
    out = _Writer()
    scripts: set[int] = set()  # indices of tokens that are a script's argument
    attached: set[str] = set()  # the scripts the current base has: a second _ stops TeX
    k = 0
    while k < len(tokens):
        kind, value = tokens[k]
        if value in ("_", "^", "'"):
            # a double subscript or superscript stops TeX; a prime is a superscript that
            # joins only the prime right before it (x'' but not x'_t')
            after_prime = k > 0 and tokens[k - 1][1] == "'"
            if value in attached and not (value == "'" and after_prime) or (
                value == "'" and "^" in attached or value == "^" and "'" in attached
                and not after_prime
            ):
                raise _Fail(value)
            attached.add(value)
        elif kind != "space":
            attached = set()
        if kind == "cmd":
            if value[1:] not in SAFE_COMMANDS:
                raise _Fail(value)
            out.add(value)
            for _ in range(_ARGUMENTS.get(value[1:], 0)):
                k += 1
                while k < len(tokens) and tokens[k][0] == "space":
                    k += 1
                if k >= len(tokens) or tokens[k][1] != "{":
                    raise _Fail(value)
                end = _group(tokens, k, "{")
                out.add("{" + _convert(tokens[k + 1 : end], script) + "}")
                k = end
        elif kind == "partial":
            out.add(r"\partial ")
        elif kind in ("num", "space"):
            out.add(value if kind == "num" else " ")
        elif kind == "word":
            nxt = tokens[k + 1][1] if k + 1 < len(tokens) else ""
            if value == "x" and _is_times(tokens, k, scripts):
                out.add(r"\times")
            elif script:
                out.add(rf"\mathrm{{{value}}}" if value in _SCRIPT_WORDS else value)
            elif value == "R" and nxt == "^":
                out.add(r"\mathbb{R}")
            elif value in GREEK:
                out.add("\\" + value)
            elif value == "sqrt" and nxt == "(":
                end = _group(tokens, k + 1, "(")
                out.add(r"\sqrt{" + _convert(tokens[k + 2 : end]) + "}")
                k = end
            elif value in FUNCTIONS:
                out.add(FUNCTIONS[value])
            elif len(value) == 1 and k + 1 < len(tokens) and tokens[k + 1][0] == "num":
                out.add(f"{value}_{{{tokens[k + 1][1]}}}")  # h1 is h_1
                attached = {"_"}
                k += 1
            elif len(value) > 1:
                out.add(rf"\operatorname{{{value}}}")
            else:
                out.add(value)
        elif value in ("_", "^"):
            if k + 1 >= len(tokens):
                raise _Fail(value)
            arg_kind, arg = tokens[k + 1]
            if arg in ("(", "{"):
                end = _group(tokens, k + 1, arg)
                inner = _convert(tokens[k + 2 : end], script=True)
                # ^(t) drops its brackets like _(t-1), but ^{(t)} keeps the catalogue's own
                out.add(value + "{" + inner + "}")
                scripts.update(range(k + 1, end + 1))
                k = end
            elif arg_kind in ("word", "num"):
                if value == "^" and arg == "T":
                    out.add(r"^{\top}")
                else:
                    word = rf"\mathrm{{{arg}}}" if arg in _SCRIPT_WORDS else arg
                    out.add(value + "{" + word + "}")
                scripts.add(k + 1)
                k += 1
            elif arg_kind == "cmd" and arg[1:] in SAFE_COMMANDS and arg[1:] not in _ARGUMENTS:
                out.add(value + "{" + arg + "}")
                k += 1
            else:
                raise _Fail(value)
        elif value == "{":
            end = _group(tokens, k, "{")
            out.add("{" + _convert(tokens[k + 1 : end], script) + "}")
            k = end
        elif value == "}":
            raise _Fail(value)
        elif kind == "ddd":
            out.add(r"\dots")
        elif kind == "dd":
            out.add(r",\dots,")
        elif kind == "dotarg":
            prev = tokens[k - 1] if k else ("space", "")
            out.add(r"(\cdot)" if prev[0] in ("word", "num") or prev[1] == ")" else r"\odot")
        elif kind == "rel":
            out.add({">=": r"\geq", "<=": r"\leq", "->": r"\to", "!=": r"\neq"}[value])
        elif value == "*":
            out.add(r"\cdot")
        else:
            out.add(value)
        k += 1
    return out.text()


def to_math(text: str) -> str | None:
    """A catalogue code span as the body of an inline formula, or None when it holds anything
    outside the understood notation (``^^`` character codes, ``$``, ``%``, unknown commands,
    unbalanced braces, non-ASCII)."""
    if not text.strip() or not text.isascii() or "^^" in text or text.rstrip().endswith("\\"):
        return None
    latex = "\\" in text
    if not latex and re.search(r"[{}]", re.sub(r"[_^]\{[^{}]*\}", "", text)):
        # plain math: braces other than a script's group are a set, e.g. H = {h_1..h_T}
        text = re.sub(r"(?<![_^])\{([^{}]*)\}", r"\\lbrace \1\\rbrace ", text)
        latex = True
    text = _DERIVATIVE.sub(lambda m: _PARTIAL + m.group(1) + "/" + _PARTIAL, text)
    try:
        return _convert(_tokens(text)).strip()
    except (_Fail, RecursionError):
        return None


def equations(lines: list[str]) -> str | None:
    """A code block of equations (``lhs = rhs`` per line) as an aligned display, or None when
    a line is not one equation the converter understands."""
    rows = []
    for line in lines:
        if not line.strip():
            continue
        if line.count("=") != 1 or re.search(r"[<>!]=", line):
            return None
        lhs, rhs = line.split("=")
        left, right = to_math(lhs), to_math(rhs)
        if not left or not right:
            return None
        rows.append(f"{left} &= {right}")
    if not rows:
        return None
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
