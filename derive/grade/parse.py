"""A safe parser for claimed formulas: plain math and a LaTeX subset, straight to SymPy.

Claims are untrusted text. Nothing here calls ``eval``, ``sympify``, ``parse_expr`` or
``parse_latex``: a tokenizer and a recursive-descent parser build SymPy objects directly from
whitelisted tokens, with an explicit symbol table. Every input is bounded: characters, tokens,
nesting depth, literal length and exponent magnitude; anything outside the grammar or the
bounds is a :class:`ParseError` with the position and the reason.

Grammar (both syntaxes in one, so ``w_{ix} x^{(t)}`` and ``w_ix*x(t)`` read alike)::

    relation := expr [("=" | "<" | "<=" | ">" | ">=") expr]
    expr     := term (("+" | "-") term)*
    term     := unary (("*" | "/" | \\cdot | \\times | \\odot | implicit) unary)*
    unary    := ("-" | "+") unary | power
    power    := primary ["^" (group | unary)]         (right associative)
    primary  := number | name [call] | "(" expr ")" | "[" expr "]" | "{" expr "}"
              | \\lfloor expr \\rfloor | \\lceil expr \\rceil | "|" expr "|"
              | \\frac{..}{..} | \\sqrt[n]{..} | \\overline{..} | \\bar{..} | \\sum_{t=a}^{b} term
              | function "(" args ")"      (whitelisted functions only)
    name     := letter-word ["_" (group | word | digit)] ["^{(" index ")}"]

Names and time indices. ``v^{(t-1)}`` (a superscript in parentheses) is ``v`` at time ``t-1``:
the applied function ``v(t - 1)``; ``\\overline{v^{(t)}}`` is ``bar_v(t)`` and
``\\overline{w_{ix}}`` the symbol ``bar_w_ix``; ``\\frac{\\partial L}{\\partial h^{(t)}}`` is
``dL_dh(t)`` (``L_t`` and ``\\mathcal{L}`` read as ``L``); ``\\sigma'(z)`` is
``sigma(z) (1 - sigma(z))`` and ``\\tanh'(z)`` is ``1 - tanh(z)^2``. In plain syntax
``name(args)`` is a call only for a whitelisted function or a function the symbol table
knows (the names used by the derived answer); otherwise it is a product, as on paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp
from sympy.core.function import AppliedUndef

MAX_CHARS = 4000
MAX_TOKENS = 1500
MAX_DEPTH = 60
MAX_LITERAL_DIGITS = 40
MAX_EXPONENT = 64
MAX_NUMBER_BITS = 4096  # a constant that would need more bits is refused
MAX_SUM_TERMS = 64


class ParseError(ValueError):
    """The claim is not in the grammar or exceeds a bound; the message says where and why."""


def sigmoid(z: sp.Expr) -> sp.Expr:
    """The logistic sigmoid as the grader writes it: ``1 / (1 + exp(-z))``."""
    return 1 / (1 + sp.exp(-z))


# Whitelisted functions: name -> (arity, builder). Nothing outside this table is callable.
FUNCTIONS: dict[str, tuple[int, object]] = {
    "sin": (1, sp.sin),
    "cos": (1, sp.cos),
    "tan": (1, sp.tan),
    "tanh": (1, sp.tanh),
    "sinh": (1, sp.sinh),
    "cosh": (1, sp.cosh),
    "exp": (1, sp.exp),
    "log": (1, sp.log),
    "ln": (1, sp.log),
    "sqrt": (1, sp.sqrt),
    "floor": (1, sp.floor),
    "ceil": (1, sp.ceiling),
    "ceiling": (1, sp.ceiling),
    "abs": (1, sp.Abs),
    "Abs": (1, sp.Abs),
    "Max": (-1, sp.Max),
    "Min": (-1, sp.Min),
    "sign": (1, sp.sign),
    "relu": (1, lambda z: sp.Max(0, z)),
    "ReLU": (1, lambda z: sp.Max(0, z)),
    "max": (-1, sp.Max),
    "min": (-1, sp.Min),
    "sigma": (1, sigmoid),
    "sigmoid": (1, sigmoid),
}

# Derivatives written with a prime, in terms of the function itself.
PRIMED: dict[str, object] = {
    "sigma": lambda z: sigmoid(z) * (1 - sigmoid(z)),
    "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z)),
    "tanh": lambda z: 1 - sp.tanh(z) ** 2,
    "exp": sp.exp,
    "sin": sp.cos,
    "cos": lambda z: -sp.sin(z),
    "log": lambda z: 1 / z,
    "ln": lambda z: 1 / z,
}

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi",
    "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}  # \sigma is the sigmoid when called, the symbol sigma otherwise

SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "left", "right", "big",
           "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "nonumber", "limits"}
TIMES = {"cdot", "times", "odot", "circ", "ast"}
FONT = {"mathbf", "boldsymbol", "bm", "mathrm", "mathit", "mathcal", "text", "textrm",
        "operatorname", "mathsf", "mathbb", "vec", "hat", "tilde"}

UNICODE = {"·": "*", "×": "*", "⊙": "*", "−": "-", "–": "-", "σ": "sigma", "⌊": "\\lfloor ",
           "⌋": "\\rfloor ", "⌈": "\\lceil ", "⌉": "\\rceil ", "≤": "<=", "≥": ">=",
           "α": "alpha", "β": "beta", "γ": "gamma", "∂": "\\partial "}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+(?:\.\d+)?|\.\d+)
    | (?P<cmd>\\(?:[A-Za-z]+|[,;:!{}|\s]))
    | (?P<name>[A-Za-z][A-Za-z0-9]*)
    | (?P<op><=|>=|\*\*|[-+*/^()\[\]{}=<>,|_'])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # num | cmd | name | op | end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into whitelisted tokens; anything else is a :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"formula too long: {len(text)} characters (limit {MAX_CHARS})")
    for src, dst in UNICODE.items():
        text = text.replace(src, f" {dst} ")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            raise ParseError(f"unexpected character {bad!r} at position {pos}")
        kind = m.lastgroup or "op"
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        if len(tokens) > MAX_TOKENS:
            raise ParseError(f"formula too long: more than {MAX_TOKENS} tokens")
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass
class SymbolTable:
    """The names a claim may use: symbols and time-indexed functions, shared with the answer.

    Names not in the table become plain symbols (or, for ``v^{(t)}``, new functions of time);
    functions in the table are also callable in plain syntax, ``h(t - 1)``.
    """

    symbols: dict[str, sp.Symbol] = field(default_factory=dict)
    functions: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_expressions(cls, *exprs: object) -> SymbolTable:
        table = cls()
        for expr in exprs:
            table.add(expr)
        return table

    def add(self, expr: object) -> None:
        if isinstance(expr, dict):
            for v in expr.values():
                self.add(v)
            return
        if isinstance(expr, list | tuple):
            for v in expr:
                self.add(v)
            return
        if not isinstance(expr, sp.Basic):
            return
        indexed = expr.atoms(sp.Indexed)
        bases = {str(a.base.label) for a in indexed}
        for s in expr.free_symbols:
            if isinstance(s, sp.Symbol) and s.name not in bases:
                self.symbols.setdefault(s.name, s)
        for a in expr.atoms(AppliedUndef):
            self.functions.setdefault(a.func.__name__, a.func)
        for name in bases:  # h[t] in the answer is the quantity h indexed by t: h(t) here
            self.functions.setdefault(name, sp.Function(name))
        for ms in expr.atoms(sp.MatrixSymbol):  # a vector signal named "c(t)": c is a function
            label = str(ms.name)
            head = label.split("(")[0]
            if "(" in label and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", head):
                self.functions.setdefault(head, sp.Function(head))

    def symbol(self, name: str) -> sp.Symbol:
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name)
        return self.symbols[name]

    def function(self, name: str) -> object:
        if name not in self.functions:
            self.functions[name] = sp.Function(name)
        return self.functions[name]


def _check_name(name: str, pos: int) -> str:
    if "__" in name or name.startswith("_") or name.endswith("_"):
        raise ParseError(f"name {name!r} at position {pos} is not allowed")
    return name


def _bounded_number(value: sp.Expr, pos: int) -> sp.Expr:
    """Refuse constants too large to handle (e.g. ``2^(10^10)`` never gets computed)."""
    if isinstance(value, sp.Rational):
        bits = max(abs(value.p).bit_length(), value.q.bit_length())
        if bits > MAX_NUMBER_BITS:
            raise ParseError(f"number at position {pos} too large ({bits} bits)")
    return value


class _Parser:
    def __init__(self, text: str, table: SymbolTable):
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.table = table
        self.latex = any(t.kind == "cmd" or t.text in ("{", "}") for t in self.tokens)

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def skip_spacing(self) -> None:
        while self.tok.kind == "cmd" and self.tok.text[1:].strip() in SPACING | {""}:
            self.advance()

    def at(self, *texts: str) -> bool:
        self.skip_spacing()
        return self.tok.kind in ("op", "cmd") and self.tok.text in texts

    def expect(self, text: str) -> Token:
        self.skip_spacing()
        if self.tok.text != text or self.tok.kind not in ("op", "cmd"):
            found = self.tok.text or "end of formula"
            raise ParseError(f"expected {text!r} at position {self.tok.pos}, found {found!r}")
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"formula nested too deeply (limit {MAX_DEPTH})")

    # -- grammar -------------------------------------------------------------------------
    def relation(self) -> object:
        left = self.expr()
        if self.at("=", "<", "<=", ">", ">="):
            op = self.advance().text
            right = self.expr()
            left = {"=": sp.Eq, "<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge}[op](
                left, right, evaluate=False
            )
        self.skip_spacing()
        if self.tok.kind != "end":
            raise ParseError(f"unexpected {self.tok.text!r} at position {self.tok.pos}")
        return left

    def expr(self) -> sp.Expr:
        self.enter()
        value = self.term()
        while self.at("+", "-"):
            op = self.advance().text
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        self.depth -= 1
        return value

    def starts_factor(self) -> bool:
        self.skip_spacing()
        t = self.tok
        if t.kind in ("num", "name"):
            return True
        if t.kind == "op":
            return t.text in ("(", "[", "{")
        if t.kind == "cmd":
            return t.text not in ("\\right", "\\rfloor", "\\rceil", "\\}", "\\|") and \
                t.text[1:] not in TIMES
        return False

    def term(self) -> sp.Expr:
        value = self.unary()
        while True:
            if self.at("*") or (self.tok.kind == "cmd" and self.tok.text[1:] in TIMES):
                self.advance()
                value = value * self.unary()
            elif self.at("/"):
                self.advance()
                den = self.unary()
                if den == 0:
                    raise ParseError(f"division by zero at position {self.tok.pos}")
                value = value / den
            elif self.starts_factor():
                if self.tok.text == "[" and self.tokens[self.i - 1].text != "\\left":
                    # "h [t]" or "(a) [b]": an index must follow its name directly, and
                    # square brackets are never a silent product
                    raise ParseError(f"'[' at position {self.tok.pos}: an index is written "
                                     "directly after its name (h[t]); use parentheses for "
                                     "a product")
                value = value * self.unary()
            else:
                return value

    def unary(self) -> sp.Expr:
        self.enter()
        if self.at("-"):
            self.advance()
            value = -self.unary()
        elif self.at("+"):
            self.advance()
            value = self.unary()
        else:
            value = self.power()
        self.depth -= 1
        return value

    def exponent(self) -> sp.Expr:
        pos = self.tok.pos
        exp = self.group() if self.at("{") else self.unary()
        if exp.is_number:
            if exp.is_real is False:
                raise ParseError(f"complex exponent at position {pos}")
            if abs(exp) > MAX_EXPONENT:
                raise ParseError(
                    f"exponent at position {pos} too large: |{exp}| > {MAX_EXPONENT}"
                )
        return exp

    def power(self) -> sp.Expr:
        start = self.tok.pos
        base = self.primary()
        if self.at("^", "**"):  # "**" is how Python (and SymPy's printer) writes a power
            self.advance()
            exp = self.exponent()
            if base == 0 and exp.is_number and exp.is_negative:
                raise ParseError(f"division by zero at position {start}")
            return _bounded_number(base**exp, start)
        return base

    def group(self) -> sp.Expr:
        """``{ expr }`` (a LaTeX argument) or a single token argument (``\\frac12``)."""
        self.skip_spacing()
        if self.at("{"):
            self.advance()
            value = self.expr()
            self.expect("}")
            return value
        return self.primary()

    def number_of(self, text: str, pos: int) -> sp.Expr:
        if len(text) > MAX_LITERAL_DIGITS:
            raise ParseError(f"number at position {pos} has more than {MAX_LITERAL_DIGITS} digits")
        frac = Fraction(text)
        return sp.Rational(frac.numerator, frac.denominator)

    def primary(self) -> sp.Expr:
        self.enter()
        try:
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self) -> sp.Expr:
        self.skip_spacing()
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            return self.number_of(tok.text, tok.pos)
        if tok.kind == "name":
            return self.named()
        if tok.kind == "op":
            closers = {"(": ")", "[": "]", "{": "}"}
            if tok.text in closers:
                self.advance()
                value = self.expr()
                self.expect(closers[tok.text])
                return value
            if tok.text == "|":
                self.advance()
                value = self.expr()
                self.expect("|")
                return sp.Abs(value)
        if tok.kind == "cmd":
            return self.command()
        found = tok.text or "end of formula"
        raise ParseError(f"unexpected {found!r} at position {tok.pos}")

    # -- names, indices and calls --------------------------------------------------------
    def subscript(self) -> str:
        """The text of ``_{...}`` / ``_x`` appended to a name (``w_{ix}`` -> ``ix``)."""
        self.advance()  # "_"
        self.skip_spacing()
        tok = self.tok
        if tok.kind in ("name", "num"):
            self.advance()
            return tok.text
        if tok.text == "{":
            self.advance()
            parts: list[str] = []
            while not self.at("}"):
                t = self.tok
                if t.kind in ("name", "num"):
                    parts.append(t.text)
                elif t.kind == "cmd" and t.text[1:] in GREEK | {"sigma"}:
                    parts.append(t.text[1:])
                elif t.kind == "cmd" and t.text[1:] in FONT:
                    pass  # \mathrm{in} in a subscript: keep the letters
                elif t.text in (",", "{", "}"):
                    pass
                else:
                    raise ParseError(f"unexpected {t.text or 'end'!r} in subscript at {t.pos}")
                if t.kind == "end":
                    raise ParseError("unterminated subscript")
                if t.text == "{":
                    self.advance()
                    continue
                self.advance()
            self.advance()
            return "".join(parts)
        raise ParseError(f"expected a subscript at position {tok.pos}")

    def full_name(self, base: str, pos: int) -> str:
        name = base
        while self.at("_"):
            name += "_" + self.subscript()
        return _check_name(name, pos)

    def time_index(self) -> sp.Expr | None:
        """``^{(t-1)}`` -> ``t - 1`` (a time index, not a power); else None, nothing consumed."""
        self.skip_spacing()
        if not self.at("^"):
            return None
        j = self.i + 1
        if j + 1 < len(self.tokens) and self.tokens[j].text == "{" \
                and self.tokens[j + 1].text == "(":
            self.advance()
            self.advance()
            self.advance()
            index = self.expr()
            self.expect(")")
            self.expect("}")
            return index
        return None

    def splittable(self, word: str) -> bool:
        """``DK`` is ``D*K`` in LaTeX, and in plain math when both letters are known symbols."""
        if len(word) < 2 or word in self.table.symbols or word in self.table.functions or \
                word in FUNCTIONS or word in GREEK or not word.isalpha():
            return False
        if self.latex:
            return True
        return all(ch in self.table.symbols for ch in word)

    def named(self) -> sp.Expr:
        tok = self.advance()
        prefix: sp.Expr = sp.Integer(1)
        base = tok.text
        if self.splittable(base):
            for ch in base[:-1]:
                prefix = prefix * self.table.symbol(ch)
            base = base[-1]
        return prefix * self._named(tok, base)

    def subscript_index(self, base: str) -> sp.Expr | None:
        """``h_{t-1}`` (an expression in the subscript) and, for a function of time the answer
        knows, ``h_t``: a time index, ``h(t - 1)``. Else None, nothing consumed."""
        if not self.at("_"):
            return None
        j = self.i + 1
        if self.tokens[j].text == "{":
            depth, k, arithmetic = 0, j, False
            while k < len(self.tokens) and self.tokens[k].kind != "end":
                text = self.tokens[k].text
                depth += text == "{"
                depth -= text == "}"
                arithmetic |= depth == 1 and text in ("+", "-")
                if depth == 0:
                    break
                k += 1
            if arithmetic:
                self.advance()
                self.advance()
                index = self.expr()
                self.expect("}")
                return index
        nxt = self.tokens[j]
        braced = nxt.text == "{" and self.tokens[j + 1].kind == "name" and \
            self.tokens[j + 2].text == "}"
        sub = self.tokens[j + 1] if braced else nxt
        if sub.kind != "name" or len(sub.text) != 1 or f"{base}_{sub.text}" in \
                self.table.symbols:
            return None
        after = self.tokens[min(self.i + (4 if braced else 2), len(self.tokens) - 1)]
        last = self.tokens[self.i + (3 if braced else 1)]
        if after.text == "[" and after.pos == last.pos + len(last.text):
            return None  # a_i[t]: the bracket index reads both (bracket_index)
        if sub.text == "t" or (base in self.table.functions and sub.text in self.table.symbols):
            for _ in range(4 if braced else 2):
                self.advance()
            return self.table.symbol(sub.text)
        return None

    def adjacent_bracket(self) -> bool:
        """A ``[`` directly after the previous token (no space): ``h[t]``, an index."""
        prev = self.tokens[self.i - 1] if self.i else None
        return self.tok.kind == "op" and self.tok.text == "[" and prev is not None and \
            prev.pos + len(prev.text) == self.tok.pos

    def bracket_index(self, name: str, pos: int) -> sp.Expr:
        """``h[t]`` -> ``h(t)``, ``x[i, j]`` -> ``x(i, j)``: the indexed quantity, like
        ``h^{(t)}``. ``a_i[t]`` is ``a(i, t)`` when the answer indexes ``a`` by ``(i, t)``."""
        self.advance()  # "["
        args = [self.expr()]
        while self.at(","):
            self.advance()
            args.append(self.expr())
        self.expect("]")
        if len(args) > 4:
            raise ParseError(f"{name}[...] at position {pos} has more than 4 indices")
        if name not in self.table.functions and "_" in name:
            head, sub = name.split("_", 1)
            if head in self.table.functions and re.fullmatch(r"[A-Za-z]|\d+", sub):
                first = sp.Integer(int(sub)) if sub.isdigit() else self.table.symbol(sub)
                return self.table.functions[head](first, *args)
        return self.table.function(name)(*args)

    def sympy_sum(self, pos: int) -> sp.Expr:
        """``Sum(body, (t, 1, T))``: the form SymPy prints (and derive shows), read by this
        parser like ``\\sum_{t=1}^{T} body``."""
        self.expect("(")
        body = self.expr()
        limits = []
        while self.at(","):
            self.advance()
            self.expect("(")
            var_tok = self.advance()
            if var_tok.kind != "name":
                raise ParseError(f"Sum index at position {var_tok.pos} must be a name")
            var = self.table.symbol(_check_name(var_tok.text, var_tok.pos))
            self.expect(",")
            lower = self.expr()
            self.expect(",")
            upper = self.expr()
            self.expect(")")
            span = upper - lower
            if span.is_number and span + 1 > MAX_SUM_TERMS:
                raise ParseError(f"Sum at position {pos} has more than {MAX_SUM_TERMS} terms")
            limits.append((var, lower, upper))
        self.expect(")")
        if not limits or len(limits) > 4:
            raise ParseError(f"Sum at position {pos} needs one to four limits (t, 1, T)")
        return sp.Sum(body, *limits)

    def _named(self, tok: Token, base: str) -> sp.Expr:
        sub_index = self.subscript_index(base)
        if sub_index is not None:
            if self.adjacent_bracket():
                raise ParseError(f"{base} at position {tok.pos} has two indices (a subscript "
                                 "and [...])")
            return self.table.function(_check_name(base, tok.pos))(sub_index)
        name = self.full_name(base, tok.pos)
        if self.adjacent_bracket():
            return self.bracket_index(name, tok.pos)
        if name == "Sum" and self.at("(") and "Sum" not in self.table.functions:
            return self.sympy_sum(tok.pos)
        if name == "e" and "e" not in self.table.symbols and not self.at("("):
            return sp.E  # e^{-x}: Euler's number, unless the answer has a symbol e
        if self.at("'") and name in PRIMED:
            return self.primed(name)
        index = self.time_index()
        if index is not None:
            return self.table.function(name)(index)
        if self.at("(") and (name in FUNCTIONS or name in self.table.functions):
            args = self.call_args()
            if name in FUNCTIONS:
                return self.apply(name, args, tok.pos)
            return self.table.functions[name](*args)
        if name in FUNCTIONS and name not in self.table.symbols and self.starts_factor():
            # "tanh x", "\log x": the argument is the next factor
            return self.apply(name, [self.power()], tok.pos)
        return self.table.symbol(name)

    def call_args(self) -> list[sp.Expr]:
        self.expect("(")
        args = [self.expr()]
        while self.at(","):
            self.advance()
            args.append(self.expr())
        self.expect(")")
        return args

    def apply(self, name: str, args: list[sp.Expr], pos: int) -> sp.Expr:
        arity, build = FUNCTIONS[name]
        if arity != -1 and len(args) != arity:
            raise ParseError(f"{name} takes {arity} argument(s), got {len(args)} at {pos}")
        if arity == -1 and not 1 <= len(args) <= 16:
            raise ParseError(f"{name} takes 1 to 16 arguments, got {len(args)} at {pos}")
        if name == "log" and len(args) == 1 and args[0] == 0:
            raise ParseError(f"log(0) at position {pos}")
        return build(*args)  # type: ignore[operator]

    def primed(self, name: str) -> sp.Expr:
        primes = 0
        while self.at("'"):
            self.advance()
            primes += 1
        pos = self.tok.pos
        if primes > 1:
            raise ParseError(f"{name} with {primes} primes at position {pos}: only first "
                             "derivatives are written with a prime")
        args = self.call_args() if self.at("(") else [self.power()]
        if len(args) != 1:
            raise ParseError(f"{name}' takes one argument, got {len(args)} at position {pos}")
        return PRIMED[name](args[0])  # type: ignore[operator]

    def font_word(self) -> str:
        """The letters of ``\\mathrm{ReLU}`` / ``\\text{act}``: a name."""
        self.expect("{")
        parts: list[str] = []
        while not self.at("}"):
            t = self.advance()
            if t.kind == "end":
                raise ParseError("unterminated group")
            if t.kind in ("name", "num"):
                parts.append(t.text)
            elif t.text == "_":
                parts.append("_")
            elif t.kind == "cmd" and t.text[1:] in GREEK | {"sigma"}:
                parts.append(t.text[1:])
            else:
                raise ParseError(f"unexpected {t.text!r} in a name at position {t.pos}")
        self.advance()
        word = "".join(parts)
        if not word or not word[0].isalpha():
            raise ParseError("empty or malformed name in a font command")
        return word

    def command(self) -> sp.Expr:
        tok = self.advance()
        cmd = tok.text[1:]
        if cmd in ("frac", "dfrac", "tfrac"):
            if self.at("{") and self.peek().kind == "cmd" and self.peek().text == "\\partial":
                return self.partial_fraction(tok.pos)
            num = self.group()
            den = self.group()
            if den == 0:
                raise ParseError(f"division by zero in \\frac at position {tok.pos}")
            return num / den
        if cmd == "sqrt":
            if self.at("["):
                self.advance()
                n = self.expr()
                self.expect("]")
                if not (n.is_Integer and 1 <= n <= MAX_EXPONENT):
                    raise ParseError(f"root index must be an integer 1..{MAX_EXPONENT}")
                return sp.root(self.group(), n)
            return sp.sqrt(self.group())
        if cmd in ("lfloor", "lceil"):
            value = self.expr()
            self.expect("\\rfloor" if cmd == "lfloor" else "\\rceil")
            return sp.floor(value) if cmd == "lfloor" else sp.ceiling(value)
        if cmd in ("overline", "bar"):
            return self.overline(tok.pos)
        if cmd == "sum":
            return self.sum(tok.pos)
        if cmd in FONT:
            word = self.font_word()
            name = self.full_name(word, tok.pos)
            if cmd in ("mathcal",) and name == "L":
                return self.table.symbol("L")
            if name in FUNCTIONS and (self.at("(") or self.starts_factor()):
                args = self.call_args() if self.at("(") else [self.power()]
                return self.apply(name, args, tok.pos)
            index = self.time_index()
            if index is not None:
                return self.table.function(name)(index)
            return self.table.symbol(name)
        if cmd in FUNCTIONS or cmd in ("max", "min"):
            if self.at("'") and cmd in PRIMED:
                return self.primed(cmd)
            if self.at("^"):  # \tanh^2(x) = tanh(x)^2
                self.advance()
                exp = self.exponent()
                args = self.call_args() if self.at("(") else [self.power()]
                return _bounded_number(self.apply(cmd, args, tok.pos) ** exp, tok.pos)
            if cmd == "sigma" and not (self.at("(") or self.at("\\left")):
                return self.table.symbol(self.full_name("sigma", tok.pos))
            args = self.call_args() if self.at("(") else [self.power()]
            return self.apply(cmd, args, tok.pos)
        if cmd in GREEK:
            # \varepsilon and \epsilon are one letter to a grader
            name = self.full_name(cmd.removeprefix("var") if cmd.startswith("var") else cmd,
                                  tok.pos)
            index = self.time_index()
            return self.table.function(name)(index) if index is not None else \
                self.table.symbol(name)
        if cmd == "infty":
            raise ParseError(f"\\infty is not supported (position {tok.pos})")
        raise ParseError(f"unsupported LaTeX command {tok.text!r} at position {tok.pos}")

    def overline(self, pos: int) -> sp.Expr:
        """``\\overline{h^{(t)}}`` -> ``bar_h(t)``; ``\\overline{w_{ix}}`` -> ``bar_w_ix``."""
        self.expect("{")
        inner = self.expr()
        self.expect("}")
        if isinstance(inner, sp.Symbol):
            return self.table.symbol(f"bar_{inner.name}")
        if isinstance(inner, AppliedUndef):
            return self.table.function(f"bar_{inner.func.__name__}")(*inner.args)
        raise ParseError(f"\\overline at position {pos} must cover one name, got {inner}")

    def partial_fraction(self, pos: int) -> sp.Expr:
        """``\\frac{\\partial L}{\\partial h^{(t)}}`` -> ``dL_dh(t)`` (the direct derivative)."""
        self.expect("{")
        self.expect("\\partial")
        top = self.expr()
        self.expect("}")
        self.expect("{")
        self.expect("\\partial")
        bottom = self.expr()
        self.expect("}")
        if isinstance(top, AppliedUndef):
            top_name = top.func.__name__
        elif isinstance(top, sp.Symbol):
            top_name = top.name
        else:
            raise ParseError(f"\\partial at position {pos}: expected a name, got {top}")
        if top_name in ("L_t", "mathcalL", "L_T", "l", "l_t"):
            top_name = "L"
        if isinstance(bottom, AppliedUndef):
            return self.table.function(f"d{top_name}_d{bottom.func.__name__}")(*bottom.args)
        if isinstance(bottom, sp.Symbol):
            return self.table.symbol(f"d{top_name}_d{bottom.name}")
        raise ParseError(f"\\partial at position {pos}: expected a name, got {bottom}")

    def sum(self, pos: int) -> sp.Expr:
        """``\\sum_{t=1}^{T} body`` (``\\sum_t`` means t = 1..T, the catalogue's convention)."""
        if not self.at("_"):
            raise ParseError(f"\\sum at position {pos} needs an index: \\sum_{{t=1}}^{{T}}")
        self.advance()
        if self.at("{"):
            self.advance()
            var_tok = self.advance()
            if var_tok.kind != "name":
                raise ParseError(f"\\sum index at position {var_tok.pos} must be a name")
            var = self.table.symbol(_check_name(var_tok.text, var_tok.pos))
            if self.at("="):
                self.advance()
                lower = self.expr()
            else:
                lower = sp.Integer(1)
            self.expect("}")
        else:
            var_tok = self.advance()
            if var_tok.kind != "name":
                raise ParseError(f"\\sum index at position {var_tok.pos} must be a name")
            var = self.table.symbol(_check_name(var_tok.text, var_tok.pos))
            lower = sp.Integer(1)
        upper = self.table.symbol("T")
        if self.at("^"):
            self.advance()
            upper = self.group()
        body = self.term()
        span = upper - lower
        if span.is_number and span + 1 > MAX_SUM_TERMS:
            raise ParseError(f"\\sum at position {pos} has more than {MAX_SUM_TERMS} terms")
        return sp.Sum(body, (var, lower, upper))


def parse_formula(text: str, table: SymbolTable | None = None) -> object:
    """``text`` (plain math or LaTeX) as a SymPy expression, or an ``Eq``/inequality.

    Raises :class:`ParseError` for anything outside the grammar or the bounds.
    """
    parser = _Parser(text, table if table is not None else SymbolTable())
    try:
        return parser.relation()
    except RecursionError:
        raise ParseError("formula nested too deeply") from None
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - SymPy refusing a construct is a parse failure
        raise ParseError(f"not a valid formula ({type(exc).__name__}: {str(exc)[:200]})") \
            from None


def parse_number(text: str) -> sp.Rational:
    """A claimed number, possibly the student's own arithmetic (``(5*5*3 + 1)*16``)."""
    value = parse_formula(text)
    if not isinstance(value, sp.Expr) or not value.is_Rational:
        raise ParseError(f"not a number: {text!r}")
    return value


__all__ = ["FUNCTIONS", "ParseError", "SymbolTable", "parse_formula", "parse_number",
           "sigmoid", "tokenize"]
