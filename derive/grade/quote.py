"""Quoting a student's formula as written: LaTeX built from its tokens, in the written order.

The grader reads a claim into SymPy, which reorders terms and must decide what ``x_{l+1}``
means. A quote decides nothing: it keeps every token where the student put it and only
typesets it, so ``x_{l+1} = x_l + F(x_l)`` stays a subscript and ``O(d k^2 H W)`` keeps its
order. Nothing is pasted into LaTeX unchecked: a small lexer splits the text into numbers,
names (letters and digits), whitelisted commands and operators, a recursive reader matches
every bracket and script, and each piece of the output comes from a table or a checked name.
Anything else (``$``, ``%``, ``\\input``, an unmatched brace, a prose word outside a
subscript) makes :func:`quote_latex` return None, and the caller shows the text escaped.

Names: Greek words are letters (``mu_j`` is ``\\mu_{j}``), ``xhat`` is ``\\hat{x}``,
``W2`` is ``W_{2}``, ``sigma2`` is ``\\sigma^{2}``; a word in a subscript or a bracket index
is text (``W_next[:, new]`` is ``W_{\\text{next}}[:, \\text{new}]``); ``^T`` after a bracket
index or a capital is a transpose. A name called with one step index (``h(t-1)``) is the signal
at that step, ``h^{(t-1)}``, as the course writes it; any other call stays a call.

:func:`space_latex` reads the shape of a space, ``R^(m x m x n)`` as ``\\mathbb{R}^{m \\times
m \\times n}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derive.grade.parse import GREEK

MAX_QUOTE = 400  # characters; a longer span is prose or hostile
MAX_NESTING = 30

_LEX = re.compile(
    r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9]*)"
    r"|(?P<cmd>\\(?:[A-Za-z]+|[,;:!{} ]))"
    r"|(?P<op>\.\.\.|<=|>=|!=|=>|->|\*\*|[-+*/^_()\[\]{}=<>,:;'|])")

_OPS = {"+": "+", "-": "-", "=": "=", "<": "<", ">": ">", "<=": r"\leq", ">=": r"\geq",
        "!=": r"\neq", "=>": r"\Rightarrow", "->": r"\to", ",": ",", ";": ";", ":": ":", "/": "/",
        "|": "|", "...": r"\dots"}
_RELATIONS = {"=", "<", ">", "<=", ">=", "!=", "=>", "->", ","}
# commands typeset as they are, taking no argument
_PLAIN_CMDS = {"cdot", "times", "odot", "circ", "ast", "top", "partial", "nabla", "infty",
               "leq", "geq", "neq", "le", "ge", "ne", "approx", "sim", "in", "ldots", "cdots",
               "dots", "to", "rightarrow", "Rightarrow", "mid", "quad", "lfloor", "rfloor",
               "lceil", "rceil", "prime", "sum", "prod", "log", "ln", "exp", "tanh", "sin",
               "cos", "max", "min", "lg", "ell", "{", "}", ",", ";", ":", "!", " "}
# commands with one math argument in braces
_ONE_ARG = {"hat", "widehat", "tilde", "widetilde", "bar", "overline", "mathbf", "boldsymbol",
            "mathcal", "mathbb", "mathrm", "mathit", "vec", "bm"}
_TEXT_ARG = {"text", "textrm", "operatorname"}  # one argument of words
_DROPPED = {"left", "right", "displaystyle", "big", "Big", "bigl", "bigr", "Bigl", "Bigr"}
# named functions written in plain syntax
_OPERATORS = {"exp": r"\exp", "log": r"\log", "ln": r"\ln", "sin": r"\sin", "cos": r"\cos",
              "tan": r"\tan", "tanh": r"\tanh", "max": r"\max", "min": r"\min", "lg": r"\lg"}
_ROMAN = {"ReLU", "relu", "sigmoid", "softmax", "BN", "LN", "Max", "Min", "sign", "diag",
          "tr", "log2", "log10", "argmax", "softargmax", "argmin", "Var", "XOR", "AND", "OR",
          "conv"}
_SQUARED = re.compile(r"(sigma|s|v)2$")  # sigma2 is the variance sigma^2, as written on paper
_ACCENTED = re.compile(r"([A-Za-z]|[a-z]{2,}?)(hat|bar|tilde)$")
_STEP = re.compile(r"\s*[tsijk](?:\s*[+-]\s*(?:\d+|[ijkl]))?\s*")  # h(t-1): a step index
_SUB_LETTERS = re.compile(r"[A-Za-z]{1,2}\d*|\d+")  # w_ix, W_21, x_t: index letters


class QuoteError(ValueError):
    """The text is not a formula this module can quote faithfully."""


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    glued: bool  # no space before it


def _lex(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        space = re.match(r"\s*", text[pos:]).end()
        pos += space
        if pos >= len(text):
            break
        m = _LEX.match(text, pos)
        if not m:
            raise QuoteError(f"unexpected character {text[pos]!r}")
        toks.append(_Tok(m.lastgroup, m.group(0), space == 0))
        pos = m.end()
    return toks


def _name(name: str) -> str:
    """A name at the top level of a formula; a prose word is refused."""
    if name in GREEK or name == "sigma":
        return "\\" + name
    if name in _OPERATORS:
        return _OPERATORS[name]
    if name in _ROMAN:
        return r"\operatorname{" + name + "}"
    if _SQUARED.fullmatch(name):
        return _name(_SQUARED.match(name).group(1)) + "^{2}"
    m = re.fullmatch(r"([A-Za-z])(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    m = _ACCENTED.fullmatch(name)
    if m and (len(m.group(1)) == 1 or m.group(1) in GREEK):
        return rf"\{m.group(2)}{{{_name(m.group(1))}}}"
    if re.fullmatch(r"d[A-Za-z]|[A-Z]{2}", name):  # dL/dW: a derivative; HW: H times W
        return name
    m = re.fullmatch(r"([a-z])([A-Z])", name)
    if m:  # hA: h of the RNN A, h^A
        return f"{m.group(1)}^{{{m.group(2)}}}"
    raise QuoteError(f"{name!r} is a word, not a name of a formula")


def _index_word(name: str) -> str:
    """A name in a subscript or a bracket index: letters of indices, or a word as text."""
    if name in GREEK and len(name) > 2:
        return "\\" + name
    if _SUB_LETTERS.fullmatch(name) and name not in ("in", "out"):
        return name
    return r"\text{" + name + "}"


class _Reader:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks, self.k, self.depth = toks, 0, 0

    def peek(self, offset: int = 0) -> _Tok | None:
        k = self.k + offset
        return self.toks[k] if k < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise QuoteError("the formula ends too early")
        self.k += 1
        return tok

    def expect(self, text: str) -> None:
        if self.take().text != text:
            raise QuoteError(f"expected {text!r}")

    def run(self) -> str:
        out = self.seq(None, index=False)
        if self.peek() is not None:
            raise QuoteError(f"unmatched {self.peek().text!r}")
        return out

    def seq(self, close: str | None, index: bool) -> str:
        """Items up to ``close`` (not taken); ``index``: words are text (a bracket index)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QuoteError("nested too deeply")
        parts: list[str] = []
        while (tok := self.peek()) is not None and tok.text != close:
            if tok.text in (")", "]", "}"):
                raise QuoteError(f"unmatched {tok.text!r}")
            parts.append(self.item(index))
        self.depth -= 1
        out = ""
        for part in (p for p in parts if p):  # words of an index apart: new rows, not newrows
            glue = r"\ " if out.endswith("}") and out.rfind(r"\text{") > out.rfind(" ") \
                and part.startswith(r"\text{") else " "
            out = f"{out}{glue}{part}" if out else part
        return out

    def item(self, index: bool) -> str:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _OPS:
            self.take()
            nxt = self.peek()
            if tok.text == "-" and nxt is not None and nxt.kind == "num" and nxt.glued:
                return "-" + self.take().text  # -1.5 as written
            return _OPS[tok.text]
        if tok.text in ("*", "**", "^", "_", "'"):
            if tok.text == "*":  # a product: juxtaposed, as on paper; 2 \cdot 3 between numbers
                self.take()
                nxt = self.peek()
                if nxt is not None and nxt.kind == "num":
                    return r"\cdot"
                return r"\," if nxt is not None and nxt.text == "(" else ""
            raise QuoteError(f"{tok.text!r} with nothing before it")
        base, kind = self.atom(index)
        out = self.scripts(base, kind, index)
        nxt = self.peek()
        if kind == "name" and out != base and "^" not in out[len(base):] and not index and \
                nxt is not None and nxt.text == "(" and nxt.glued and self._step_call():
            # q_i(t): the signal q_i at step t, q_{i}^{(t)}
            out = self.scripts(out + f"^{{({self._step()})}}", "signal", index)
        return out

    def atom(self, index: bool) -> tuple[str, str]:
        """One atom and what it is: name, call, bracket, sum, other."""
        tok = self.take()
        if tok.kind == "num":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "name" and nxt.glued and \
                    re.fullmatch(r"x\d*", nxt.text):
                raise QuoteError("a size written with x (2x2)")
            return tok.text, "other"
        if tok.text == "(":
            inner = self.seq(")", index)
            self.expect(")")
            return f"({inner})", "other"
        if tok.text == "[":
            inner = self.seq("]", True)
            self.expect("]")
            return f"[{inner}]", "bracket"
        if tok.text == "{":
            inner = self.seq("}", index)
            self.expect("}")
            return f"{{{inner}}}", "other"
        if tok.kind == "cmd":
            return self.command(tok.text[1:], index)
        if tok.kind == "name":
            return self.named(tok.text, index)
        raise QuoteError(f"unexpected {tok.text!r}")

    def group(self) -> str:
        self.expect("{")
        inner = self.seq("}", False)
        self.expect("}")
        return inner

    def command(self, cmd: str, index: bool) -> tuple[str, str]:
        if cmd in _DROPPED:
            nxt = self.peek()
            if nxt is not None and nxt.text in ("(", "[", "|", ")", "]"):
                return "", "other"  # \left( : the bracket that follows is read by itself
            if cmd in ("left", "right"):
                raise QuoteError(f"\\{cmd} without a bracket")
            return "", "other"
        if cmd in GREEK or cmd in ("sigma", "varepsilon", "epsilon", "ell"):
            return "\\" + cmd, "name"
        if cmd in ("sum", "prod"):
            return "\\" + cmd, "sum"
        if cmd in _PLAIN_CMDS:
            return "\\" + cmd, "other"
        if cmd == "frac":
            return rf"\frac{{{self.group()}}}{{{self.group()}}}", "other"
        if cmd == "sqrt":
            root = ""
            if self.peek() is not None and self.peek().text == "[":
                self.take()
                root = f"[{self.seq(']', False)}]"
                self.expect("]")
            return rf"\sqrt{root}{{{self.group()}}}", "other"
        if cmd in _ONE_ARG:
            return rf"\{cmd}{{{self.group()}}}", "name"
        if cmd in _TEXT_ARG:
            self.expect("{")
            words = []
            while (tok := self.take()).text != "}":
                if tok.kind not in ("name", "num"):
                    raise QuoteError(f"\\{cmd} of something other than words")
                words.append(tok.text)
            return rf"\{cmd}{{{' '.join(words)}}}", "name"
        raise QuoteError(f"\\{cmd} is not a command a formula is quoted with")

    def named(self, name: str, index: bool) -> tuple[str, str]:
        nxt = self.peek()
        if name in ("sum", "prod") and nxt is not None and nxt.text == "_":
            return "\\" + name, "sum"
        if name == "sqrt" and nxt is not None and nxt.text == "(":
            self.take()
            inner = self.seq(")", index)
            self.expect(")")
            return rf"\sqrt{{{inner}}}", "other"
        if name in ("floor", "ceil", "ceiling") and nxt is not None and nxt.text == "(":
            self.take()
            inner = self.seq(")", index)
            self.expect(")")
            left, right = (r"\lfloor", r"\rfloor") if name == "floor" else (r"\lceil",
                                                                             r"\rceil")
            return f"{left} {inner} {right}", "other"
        if index:
            return _index_word(name), "name"
        squared = _SQUARED.fullmatch(name)
        if nxt is not None and nxt.text == "(" and nxt.glued and name not in _OPERATORS \
                and name not in _ROMAN and self._step_call():
            # h(t-1): the signal at a step, in the course's notation h^{(t-1)}
            step = self._step()
            if squared:  # sigma2(t): the variance at step t
                return rf"\left({_name(squared.group(1))}^{{({step})}}\right)^{{2}}", "signal"
            return f"{_name(name)}^{{({step})}}", "signal"
        return _name(name), "name"

    def _step(self) -> str:
        """The step index ahead, ``(t - 1)``, taken and written compactly: ``t-1``."""
        self.expect("(")
        parts = []
        while (tok := self.take()).text != ")":
            parts.append(tok.text)
        return "".join(parts)

    def _step_call(self) -> bool:
        """Whether the "(" ahead opens one step index and its ")": ``(t)``, ``(t - 1)``."""
        text, k = "", self.k + 1
        while k < len(self.toks) and self.toks[k].text != ")" and k < self.k + 6:
            text += self.toks[k].text
            k += 1
        return k < len(self.toks) and self.toks[k].text == ")" and \
            _STEP.fullmatch(text) is not None

    def scripts(self, base: str, kind: str, index: bool) -> str:
        out = base
        primed = False
        nxt = self.peek()
        if kind == "signal" and nxt is not None and nxt.text in ("^", "**", "'"):
            out = "{" + base + "}"  # h^{(t)} raised: {h^{(t)}}^2, never a double superscript
        while (tok := self.peek()) is not None and tok.text in ("_", "^", "**", "'"):
            self.take()
            if tok.text == "'":
                if primed or kind == "sum":
                    raise QuoteError("a prime where none is read")
                out, primed = out + "'", True
                continue
            sub = tok.text == "_"
            out += ("_" if sub else "^") + "{" + self.script(sub, base, kind) + "}"
        return out

    def script(self, sub: bool, base: str, kind: str) -> str:
        tok = self.peek()
        if tok is None:
            raise QuoteError("a script with nothing after it")
        if tok.text == "{":
            self.take()
            inner = self.seq("}", sub)
            self.expect("}")
            return inner
        if tok.text == "(" and not sub:  # x^(2), R^(m), h^(t)
            self.take()
            inner = self.seq(")", False)
            self.expect(")")
            return f"({inner})"
        self.take()
        if tok.kind == "num":
            return tok.text
        if tok.kind == "name":
            if not sub and tok.text == "T" and kind != "sum" and \
                    (kind in ("bracket", "signal") or re.fullmatch(r"[A-Z]", base[:1] or "")):
                return r"\top"  # W^T, W[:, j]^T: a transpose
            return _index_word(tok.text) if sub else _name(tok.text)
        if tok.kind == "cmd" and tok.text[1:] in GREEK | {"top", "prime", "sigma"}:
            return tok.text
        if tok.text == "-" and not sub:
            nxt = self.take()
            if nxt.kind in ("num", "name") and nxt.glued:
                return "-" + (nxt.text if nxt.kind == "num" else _name(nxt.text))
        raise QuoteError(f"a script of {tok.text!r}")


def quote_latex(text: str) -> str | None:
    """``text`` (a formula as a student wrote it, plain or LaTeX) as LaTeX math, every token
    where it was written; None when it is not a formula this module reads faithfully."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUOTE:
        return None
    try:
        toks = _lex(text)
        if toks[0].text in _RELATIONS or toks[-1].text in _RELATIONS | {"+", "-", "*", "/"}:
            return None  # a piece of a formula, "= 0" or "x +"
        return _Reader(toks).run()
    except QuoteError:
        return None


_DIM = r"(?:[A-Za-z](?:_?[A-Za-z0-9])?|\d+)"
_DIMS = rf"{_DIM}(?:\s*(?:x|X|×|\\times|\*)\s*{_DIM})*"
_SPACE = re.compile(rf"(?:\\mathbb\{{R\}}|ℝ|R)\s*\^\s*(?:\(\s*(?P<a>{_DIMS})\s*\)|"
                    rf"\{{\s*(?P<b>{_DIMS})\s*\}}|(?P<c>{_DIM}))")


def space_latex(text: str) -> str | None:
    """``R^(m x m x n)``, ``R^{m x n}``, ``\\mathbb{R}^{m \\times n}``, ``R^m``: a real space
    of that shape as ``\\mathbb{R}^{m \\times m \\times n}``; None for anything else (``x`` is
    a times sign only between dimensions of one letter or number)."""
    m = _SPACE.fullmatch(text.strip())
    if not m:
        return _formula_space(text.strip())
    dims = re.split(r"\s*(?:x|X|×|\\times|\*)\s*", m.group("a") or m.group("b") or
                    m.group("c"))
    shown = []
    for d in dims:
        letter, _, sub = d.partition("_")
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]", d):  # d_k written dk
            letter, sub = d[0], d[1:]
        shown.append(f"{letter}_{{{sub}}}" if sub else letter)
    return r"\mathbb{R}^{" + r" \times ".join(shown) + "}"


def _formula_space(text: str) -> str | None:
    """``R^(F x C x floor((H-K)/S) + 1)``: dimensions that are formulas, each quoted, between
    an ``x`` set apart by spaces (a ``x`` inside a formula would be a name)."""
    m = re.fullmatch(r"(?:\\mathbb\{R\}|ℝ|R)\s*\^\s*\((.+)\)", text)
    if not m:
        return None
    dims = re.split(r"\s+[x×]\s+|\s*\\times\s*", m.group(1))
    shown = [quote_latex(d) for d in dims]
    if len(dims) < 2 or any(d is None for d in shown):
        return None
    return r"\mathbb{R}^{" + r" \times ".join(shown) + "}"


__all__ = ["quote_latex", "space_latex"]
