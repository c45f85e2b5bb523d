"""A safe parser for claimed formulas: plain math and a LaTeX subset, straight to SymPy.

Claims are untrusted text. Nothing here calls ``eval``, ``sympify``, ``parse_expr`` or
``parse_latex``: the grammar in ``claims.lark`` (next to this module) is read by a Lark LALR
parser whose transformer builds SymPy objects directly from whitelisted tokens, with an explicit
symbol table. Every input is bounded: characters, tokens, nesting depth, literal length and
exponent magnitude; anything outside the grammar or the bounds is a :class:`ParseError` with the
position and the reason.

Both syntaxes are one grammar, so ``w_{ix} x^{(t)}`` and ``w_ix*x(t)`` read alike: relations
(``= < <= > >=``), ``+ -``, ``* / \\cdot \\times \\odot`` and implicit multiplication, unary
signs, right-associative ``^`` / ``**``, parentheses, ``[..]``, ``{..}``, ``|..|``,
``\\lfloor..\\rfloor``, ``\\lceil..\\rceil``, ``\\frac``, ``\\sqrt[n]``, ``\\overline``/``\\bar``,
``\\sum_{t=a}^{b}``, SymPy's ``Sum(body, (t, a, b))`` and whitelisted functions.

Names and time indices. ``v^{(t-1)}`` (a superscript in parentheses) is ``v`` at time ``t-1``:
the applied function ``v(t - 1)``, as are ``h_{t-1}``, ``h[t]`` and ``h_t``;
``\\overline{v^{(t)}}`` is ``bar_v(t)`` and ``\\overline{w_{ix}}`` the symbol ``bar_w_ix``;
``\\frac{\\partial L}{\\partial h^{(t)}}`` is ``dL_dh(t)`` (``L_t`` and ``\\mathcal{L}`` read
as ``L``); ``\\sigma'(z)`` is ``sigma(z) (1 - sigma(z))`` and ``\\tanh'(z)`` is
``1 - tanh(z)^2``. In plain syntax ``name(args)`` is a call only for a whitelisted function or a
function the symbol table knows (the names used by the derived answer); otherwise it is a
product, as on paper. Juxtaposed letters (``DK``) are a product in LaTeX, and in plain syntax
when every letter is a known symbol. These decisions need the symbol table, so a reader between
the lexer and the parser makes them and gives each token its grammatical type.

Notations read or refused rather than misread. Digits grouped by thousands
(``223,496``, ``223 496``, ``223\\,496``, ``223{,}496``) are one number when every group after
the first (1-3 digits) has three digits, else refused; a comma where the grammar separates
arguments (``max(1,234)``) stays a separator. ``\\log_2 x``, ``\\log_{10}(x)``, ``log_2(x)``,
``\\lg x``, ``log2(x)`` are logarithms to a base (``\\ln`` is natural). ``\\hat{h}`` and
``\\tilde{h}`` are other quantities (``hat_h``, ``tilde_h``). ``\\sigma^2`` not followed by an
argument is the symbol sigma squared (``\\sigma^2(x)`` is the sigmoid squared). Unicode Greek
letters are their names, ``x²`` is ``x^2``, ``x₁`` is ``x_1``. Refused: ``O(..)``, ``\\Theta(..)``
and ``\\Omega(..)`` inside a formula (an order of growth is a whole claim ``O(...)``, which the
grader strips before parsing), and transposes (``W^T`` after a name or a call, ``W^\\top``,
``W.T``) unless shapes are declared, and a subscript of several indices (``x_{t,j}``, which
would fuse into one name ``x_tj``: ``x[t, j]`` is read).

Further forms. Piecewise formulas, ``{x if x > 0; 0 otherwise}`` and ``\\begin{cases} x & x > 0
\\\\ 0 & \\text{otherwise} \\end{cases}``, are ``Piecewise`` (``if``/``otherwise`` anywhere else
are refused). ``\\bar{h}^{(t)}`` is ``bar_h(t)``; ``\\nabla J(x)`` is the call ``grad_J(x)``;
``\\geq \\leq \\neq`` are relations. Where the claim's kind allows (``forms``): a block matrix,
``[[A, 0], [0, B]]`` or ``\\begin{bmatrix} ... \\end{bmatrix}`` (:class:`Blocks`), and a number
with a tolerance, ``0.693 +- 0.001`` (:class:`Tolerance`); elsewhere both are refused, never
read as a bracket or ``+ -``. With ``shapes`` (name -> rows, columns) the declared names are
``MatrixSymbol``s multiplied in order, ``h^T x`` and ``h^\\top x`` are transposes (refused while
a symbol ``T`` is in scope), and sums, products and powers must agree in shape.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources

import sympy as sp
from lark import Lark, Transformer
from lark import Token as LarkToken
from lark.exceptions import UnexpectedCharacters
from lark.parsers.lalr_analysis import Shift
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
    "lg": (1, lambda z: sp.log(z, 2)),  # \lg: the binary logarithm
    "log2": (1, lambda z: sp.log(z, 2)),  # numpy's names
    "log10": (1, lambda z: sp.log(z, 10)),
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
        "operatorname", "mathsf", "mathbb", "vec", "hat", "tilde", "widehat", "widetilde"}
# accents that make another quantity: \hat{h}^{(t)} is hat_h(t), never h(t)
ACCENTS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde"}
# names that, called, would be an order of growth: only a whole claim may be O(...)
ORDERS = {"O", "Theta", "Omega"}

UNICODE = {"·": "*", "⋅": "*", "∙": "*", "×": "*", "⊙": "*", "−": "-", "–": "-",
           "⌊": "\\lfloor ", "⌋": "\\rfloor ", "⌈": "\\lceil ", "⌉": "\\rceil ", "≤": "<=",
           "≥": ">=", "∂": "\\partial ", "∇": "\\nabla ", "±": "\\pm ", "≠": "!=",
           "µ": "mu", "ϵ": "epsilon", "ϑ": "theta", "ϕ": "phi",
           "ς": "sigma"}
# Greek letters are their names (σ is sigma: the sigmoid when called, the symbol otherwise)
UNICODE |= {chr(0x3B1 + k): name for k, name in enumerate(
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
     "lambda", "mu", "nu", "xi", "o", "pi", "rho", "", "sigma", "tau", "upsilon", "phi",
     "chi", "psi", "omega"]) if name}
UNICODE |= {"Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi",
            "Σ": "Sigma", "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega"}
# superscript and subscript digits: x² is x^(2), x₁ is x_1 (no braces: not a LaTeX marker)
_SUPER = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUB = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))
_SCRIPTS = re.compile(f"([{''.join(_SUPER)}]+)|([{''.join(_SUB)}]+)")


def _script(m: re.Match) -> str:
    if m.group(1):
        return "^(" + "".join(_SUPER[c] for c in m.group(1)) + ")"
    return "_" + "".join(_SUB[c] for c in m.group(2))


@dataclass(frozen=True)
class Token:
    kind: str  # num | cmd | name | op | end
    text: str
    pos: int


_KINDS = {"NUMBER": "num", "CMD": "cmd", "NAME": "name"}


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into whitelisted tokens; anything else is a :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"formula too long: {len(text)} characters (limit {MAX_CHARS})")
    text = _SCRIPTS.sub(_script, text)
    for src, dst in UNICODE.items():
        text = text.replace(src, f" {dst} ")
    tokens: list[Token] = []
    end = 0  # where the last token ended: an error is reported there
    try:
        for tok in _lark()[0].lex(text):
            tokens.append(Token(_KINDS.get(tok.type, "op"), str(tok), tok.start_pos))
            if len(tokens) > MAX_TOKENS:
                raise ParseError(f"formula too long: more than {MAX_TOKENS} tokens")
            end = tok.end_pos
    except UnexpectedCharacters as exc:
        bad = text[exc.pos_in_stream]
        if bad == "." and re.match(r"\.T(?![A-Za-z0-9_])", text[exc.pos_in_stream:]):
            raise ParseError(f"'.T' at position {end}: a transpose is not a scalar formula") \
                from None
        raise ParseError(f"unexpected character {bad!r} at position {end}") from None
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


def _check_shapes(e: object) -> None:
    """Sums of one shape, products whose inner sizes agree, powers of square matrices: SymPy
    builds matrix expressions without checking them."""
    if not isinstance(e, sp.Basic):
        return
    for arg in e.args:
        _check_shapes(arg)
    if isinstance(e, sp.MatAdd):
        shapes = {tuple(a.shape) for a in e.args if isinstance(a, sp.MatrixExpr)}
        if len(shapes) > 1:
            shown = ", ".join(f"{r} x {c}" for r, c in sorted(shapes, key=str))
            raise ParseError(f"the shapes do not match: a sum of {shown} matrices")
    elif isinstance(e, sp.MatMul):
        mats = [a for a in e.args if isinstance(a, sp.MatrixExpr)]
        for a, b in zip(mats, mats[1:], strict=False):
            if sp.simplify(a.shape[1] - b.shape[0]) != 0:
                raise ParseError(f"the shapes do not match: {a} ({a.shape[0]} x {a.shape[1]}) "
                                 f"times {b} ({b.shape[0]} x {b.shape[1]})")
    elif isinstance(e, sp.MatPow) and sp.simplify(e.base.shape[0] - e.base.shape[1]) != 0:
        raise ParseError(f"the shapes do not match: a power of {e.base}, which is not square")
    elif isinstance(e, sp.Basic) and not isinstance(e, sp.MatrixExpr | sp.Eq) and \
            any(isinstance(a, sp.MatrixExpr) for a in e.args):
        raise ParseError(f"a matrix inside {type(e).__name__}: only sums, products and "
                         "transposes of matrices are read")


def _split_transposes(toks: list[Token]) -> list[Token]:
    """``h^Tx`` lexes as h, ^, Tx: read as h, ^, T, x (only where shapes are declared)."""
    out: list[Token] = []
    for k, tok in enumerate(toks):
        glued = k > 0 and toks[k - 1].text == "^" and \
            tok.pos == toks[k - 1].pos + len(toks[k - 1].text)
        if glued and tok.kind == "name" and len(tok.text) > 1 and tok.text[0] == "T":
            out += [Token("name", "T", tok.pos), Token("name", tok.text[1:], tok.pos + 1)]
        else:
            out.append(tok)
    return out


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


def _apply(name: str | tuple, args: list[sp.Expr], pos: int) -> sp.Expr:
    if isinstance(name, tuple):  # ("log", base): \log_2 x
        base = name[1]
        if len(args) != 1:
            raise ParseError(f"log_{base} takes 1 argument(s), got {len(args)} at {pos}")
        if args[0] == 0:
            raise ParseError(f"log(0) at position {pos}")
        return sp.log(args[0], base)
    arity, build = FUNCTIONS[name]
    if arity != -1 and len(args) != arity:
        raise ParseError(f"{name} takes {arity} argument(s), got {len(args)} at {pos}")
    if arity == -1 and not 1 <= len(args) <= 16:
        raise ParseError(f"{name} takes 1 to 16 arguments, got {len(args)} at {pos}")
    if name == "log" and len(args) == 1 and args[0] == 0:
        raise ParseError(f"log(0) at position {pos}")
    return build(*args)  # type: ignore[operator]


# -- the reader: raw tokens -> grammatical tokens -------------------------------------------

class _Tok(LarkToken):
    """A token fed to the parser, with what the reader made of it (``obj``), the error to report
    once the parser has reached it (``err``) and where the spacing before it began (``lead``)."""


_OPS = {"<=": "LE", ">=": "GE", "**": "POW2", "-": "MINUS", "+": "PLUS", "*": "STAR",
        "/": "SLASH", "^": "CARET", "(": "LPAR", ")": "RPAR", "[": "LBRACK", "]": "RBRACK",
        "{": "LBRACE", "}": "RBRACE", "=": "EQ", "<": "LT", ">": "GT", ",": "COMMA", "|": "BAR",
        "_": "USCORE", "'": "PRIME", "+-": "PM", "!=": "NE", ";": "SEMI", "&": "AMP"}
# \begin{...} environments: a block matrix (only where the claim's kind allows one) and cases
_MATRICES = {"bmatrix", "pmatrix", "matrix", "Bmatrix"}
_RELATIONS = {"geq": "GE", "ge": "GE", "leq": "LE", "le": "LE", "neq": "NE", "ne": "NE",
              "lt": "LT", "gt": "GT"}
# words of a case: "if"/"for"/"when" before its condition (filler after "&"), "otherwise"
_CASE_FILLER = {"if", "for", "when", "where"}
_OTHERWISE = {"otherwise", "else"}
_COMMANDS = {"frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC", "sqrt": "SQRT",
             "lfloor": "LFLOOR", "rfloor": "RFLOOR", "lceil": "LCEIL", "rceil": "RCEIL",
             "overline": "OVERLINE", "bar": "OVERLINE"}
_NOT_FACTORS = ("\\right", "\\rfloor", "\\rceil", "\\}", "\\|")
# what an unfinished construct waits for, innermost first where two are possible
_CLOSERS = {"RPAR": ")", "RBRACK": "]", "RBRACE": "}", "BAR": "|", "RFLOOR": "\\rfloor",
            "RCEIL": "\\rceil", "COMMA": ",", "LBRACE": "{", "LPAR": "(", "PARTIAL": "\\partial"}


class _Reader:
    """Types the raw tokens for the grammar and feeds them to the parser one at a time, so the
    symbol table is read and extended in reading order: a name is resolved when the parser
    reaches it, knowing every name before it (``h^{(t)} h(t-1)`` calls ``h``)."""

    def __init__(self, toks: list[Token], table: SymbolTable, forms: frozenset = frozenset(),
                 shapes: dict[str, tuple] | None = None):
        self.forms = forms  # the top-level forms the claim's kind allows: matrix, tolerance
        self.shapes = shapes or {}  # declared matrices and vectors: name -> (rows, columns)
        if self.shapes:  # h^Tx: the transpose mark and the next name, read apart
            toks = _split_transposes(toks)
        self.environments: list[str] = []  # open \begin{...}s
        self.toks = toks
        self.end = len(toks) - 1  # the "end" token
        self.table = table
        self.latex = any(t.kind == "cmd" or t.text in ("{", "}") for t in toks)
        self.new_symbols: dict[str, sp.Symbol] = {}  # made while reading the current token
        self.new_functions: dict[str, object] = {}
        self.lookahead = 0  # position of the token being fed
        self.last = "", 0  # type and raw index of the last token fed
        self.opened: list[list] = []  # per open bracket: [what to do when closed, commas]
        self.on_open = None  # what the next bracket opened does when closed
        self.two_indices: dict[int, str] = {}  # h_{t-1}[t]: the "[" is an error
        self.parser: object = None  # the interactive parser, while run() drives it

    # -- raw token helpers (the end token stands for everything past the end) -------------
    def tok(self, j: int) -> Token:
        return self.toks[min(j, self.end)]

    def spacing(self, j: int) -> bool:
        t = self.toks[j]
        return t.kind == "cmd" and t.text[1:].strip() in SPACING | {""}

    def skip(self, j: int) -> int:
        while j < self.end and self.spacing(j):
            j += 1
        return min(j, self.end)

    def at(self, j: int, text: str) -> bool:
        t = self.tok(j)
        return t.kind in ("op", "cmd") and t.text == text

    def glued(self, j: int) -> bool:
        """The token at ``j`` starts where the raw token before it ends (``h[t]``)."""
        return 0 < j <= self.end and \
            self.toks[j].pos == self.toks[j - 1].pos + len(self.toks[j - 1].text)

    def starts_factor(self, j: int) -> bool:
        t = self.tok(j)
        if t.kind in ("num", "name"):
            return True
        if t.kind == "op":
            return t.text in ("(", "[", "{")
        if t.kind == "cmd":
            return t.text not in _NOT_FACTORS and t.text[1:] not in TIMES
        return False

    # -- the symbol table, with what this token adds (kept if the parser accepts it) -------
    def has_symbol(self, name: str) -> bool:
        return name in self.new_symbols or name in self.table.symbols

    def has_function(self, name: str) -> bool:
        return name in self.new_functions or name in self.table.functions

    def symbol(self, name: str) -> sp.Symbol:
        found = self.table.symbols.get(name)
        if found is None:
            found = self.new_symbols.setdefault(name, sp.Symbol(name))
        return found

    def function(self, name: str) -> object:
        found = self.table.functions.get(name)
        if found is None:
            found = self.new_functions.setdefault(name, sp.Function(name))
        return found

    def commit(self) -> None:
        if not (self.new_symbols or self.new_functions):
            return
        for name, s in self.new_symbols.items():
            self.table.symbols.setdefault(name, s)
        for name, f in self.new_functions.items():
            self.table.functions.setdefault(name, f)
        self.new_symbols.clear()
        self.new_functions.clear()

    def discard(self) -> None:
        self.new_symbols.clear()
        self.new_functions.clear()

    # -- driving the parser ----------------------------------------------------------------
    def run(self, parser: object) -> object:
        self.parser = parser
        after = 0
        while True:
            i = self.skip(after)
            choices = parser.choices()
            if i == self.end and "SUMVAR" not in choices:
                break
            tok, nxt = self.read(i, choices)
            tok.lead = self.toks[after].pos
            self.feed(parser, tok)
            self.commit()
            if tok.err is not None:
                raise tok.err
            self.fed(tok, tok.index)
            after = nxt
        self.lookahead = self.toks[self.end].pos
        end = LarkToken("$END", "", self.lookahead)
        self.feed(parser, end)
        return self.value

    def feed(self, parser: object, tok: LarkToken) -> None:
        self.lookahead = tok.start_pos
        try:
            if not self.accepts(parser.parser_state, tok.type):
                self.refuse(parser.parser_state, tok)
            result = parser.feed_token(tok)
        except BaseException:
            self.discard()
            raise
        if tok.type == "$END":
            self.value = result

    def can(self, kind: str) -> bool:
        """Whether the parser would take a token of this type now."""
        return self.accepts(self.parser.parser_state, kind)

    @staticmethod
    def accepts(state: object, kind: str) -> bool:
        """Would the parser take a token of this type here (after its reductions)?"""
        conf, stack = state.parse_conf, state.state_stack
        action = conf.states[stack[-1]].get(kind)
        if action is not None and action[0] is Shift:
            return True
        stack = list(stack)
        while True:
            action = conf.states[stack[-1]].get(kind)
            if action is None:
                return False
            if action[0] is Shift:
                return True
            rule = action[1]
            del stack[len(stack) - len(rule.expansion):]
            stack.append(conf.states[stack[-1]][rule.origin.name][1])
            if kind == "$END" and stack[-1] == conf.end_state:
                return True

    @staticmethod
    def advance(conf: object, stack: list, kind: str) -> bool:
        """Take a token of this type on ``stack`` (a copy of the parser's state stack), with
        its reductions but no callbacks; False if the parser would refuse it."""
        while True:
            action = conf.states[stack[-1]].get(kind)
            if action is None:
                return False
            if action[0] is Shift:
                stack.append(action[1])
                return True
            rule = action[1]
            del stack[len(stack) - len(rule.expansion):]
            stack.append(conf.states[stack[-1]][rule.origin.name][1])

    def comma_separates(self) -> bool:
        """Whether a "," after a number here separates arguments (max(1,234), h[1,2])."""
        state = self.parser.parser_state
        stack = list(state.state_stack)
        return self.advance(state.parse_conf, stack, "NUMBER") and \
            self.advance(state.parse_conf, stack, "COMMA")

    def refuse(self, state: object, tok: LarkToken) -> None:
        """Report ``tok`` as a recursive-descent reading would: first finish (and check) the
        constructs it cannot continue, up to the one that waits for something else."""
        if tok.type == "LB_2IDX":
            raise ParseError(self.two_indices[tok.index])
        conf = state.parse_conf
        while True:
            actions = conf.states[state.state_stack[-1]]
            in_product = actions.get("STAR", (None,))[0] is Shift
            if tok.type == "LBRACK" and in_product:  # "(a)[b]", "h [t]"
                raise ParseError(f"'[' at position {tok.start_pos}: an index is written directly "
                                 "after its name (h[t]); use parentheses for a product")
            rules = {arg for action, arg in actions.values() if action is not Shift}
            if len(rules) != 1:
                raise self.unexpected(tok, set(actions))
            rule = rules.pop()
            size = len(rule.expansion)
            children = state.value_stack[len(state.value_stack) - size:]
            del state.state_stack[len(state.state_stack) - size:]
            del state.value_stack[len(state.value_stack) - size:]
            value = conf.callbacks[rule](children)
            state.state_stack.append(conf.states[state.state_stack[-1]][rule.origin.name][1])
            state.value_stack.append(value)

    def fed(self, tok: _Tok, i: int) -> None:
        """After the parser took ``tok``. The names an index makes (``h`` in ``h[t]``, a sum's
        default upper limit ``T``) exist once its bracket is closed, as they would in a
        left-to-right reading: the next name is read knowing them."""
        kind = tok.type
        if kind in ("LPAR", "LBRACK", "LB_LEFT", "LB_SQRT", "LBRACE", "MATOPEN", "ROWOPEN"):
            self.opened.append([self.on_open, 0])
            self.on_open = None
        elif kind in ("RPAR", "RBRACK", "RBRACE"):
            action, commas = self.opened.pop()
            if action is not None:
                action(commas)
        elif kind == "COMMA" and self.opened:
            self.opened[-1][1] += 1
        elif kind == "SUMVAR" and self.last[0] == "USCORE":  # \sum_t
            self.table.symbol("T")
        elif kind == "SUMVAR" and self.last[0] == "LBRACE":  # \sum_{t=1}: T after the "}"
            self.opened[-1][0] = lambda _: self.table.symbol("T")
        elif kind == "TIMEHEAD" or kind == "IDXFN" and not tok.obj[2]:
            name = tok.obj[1]
            self.on_open = lambda _: self.table.function(name)
        elif kind == "IDXHEAD":
            self.on_open = self.indexed(tok.obj)
        self.last = kind, i

    def indexed(self, obj: tuple) -> object:
        def make(commas: int) -> None:
            if commas < 4:  # else an error follows
                if obj[3][0] == "head":
                    if not obj[3][2].isdigit():
                        self.table.symbol(obj[3][2])
                else:
                    self.table.function(obj[1])
        return make

    @staticmethod
    def unexpected(tok: LarkToken, expected: set[str]) -> ParseError:
        """The error where the parser waits for ``expected`` and ``tok`` came."""
        pos = tok.start_pos
        found = str(tok) or "end of formula"
        if "NUMBER" in expected:  # an operand was due
            if str(tok).startswith("\\"):
                return ParseError(f"unsupported LaTeX command {str(tok)!r} at position {pos}")
            return ParseError(f"unexpected {found!r} at position {pos}")
        if "$END" not in expected:
            for kind, text in _CLOSERS.items():
                if kind in expected:
                    return ParseError(f"expected {text!r} at position {pos}, found {found!r}")
        return ParseError(f"unexpected {found!r} at position {pos}")

    # -- typing one token ------------------------------------------------------------------
    def make(self, kind: str, i: int, obj: object = None, err: str | None = None) -> _Tok:
        t = self.tok(i)
        tok = _Tok(kind, t.text, t.pos)
        tok.obj = obj
        tok.err = ParseError(err) if err is not None else None
        tok.index = i
        return tok

    def read(self, i: int, choices: dict) -> tuple[_Tok, int]:
        """The grammatical token starting at raw index ``i`` and the raw index after it."""
        t = self.toks[i]
        if "SUMVAR" in choices and not (self.last[0] == "USCORE" and t.text == "{"):
            return self.sum_index(i)
        if t.kind == "num":
            return self.number(i)
        if t.kind == "op":
            return self.operator(i, choices)
        if t.kind == "name":
            return self.named(i, choices)
        return self.command(i, choices)

    def separator(self, j: int) -> tuple[int | None, bool]:
        """The next group of digits after the number at ``j``, if a separator of thousands
        (",", "{,}", "\\,", a space) leads to one; and whether that separator is a comma."""
        if self.at(j + 1, ",") and self.tok(j + 2).kind == "num" and self.glued(j + 1) and \
                self.glued(j + 2):
            return j + 2, True
        if [self.tok(j + k).text for k in (1, 2, 3)] == ["{", ",", "}"] and \
                self.tok(j + 4).kind == "num":
            return j + 4, False
        t = self.tok(j + 1)
        if t.kind == "cmd" and t.text[1:].strip() in (",", ";", ":", "") and \
                self.tok(j + 2).kind == "num":
            return j + 2, False
        if t.kind == "num" and not self.glued(j + 1):
            return j + 1, False
        return None, False

    def number(self, i: int) -> tuple[_Tok, int]:
        """A number; digits grouped by thousands separators (223,496, 223 496, 223\\,496) are
        one number when every group after the first has three digits, else refused. A comma
        where it separates arguments (max(1,234)) is not a separator of thousands."""
        t = self.toks[i]
        groups, j = [t.text], i
        before = self.toks[i - 1].text if i > 0 else ""
        if before not in ("^", "_") and before[1:] not in ("frac", "dfrac", "tfrac", "sqrt"):
            commas = None
            while True:
                k, comma = self.separator(j)
                if k is None:
                    break
                if comma:
                    if commas is None:
                        commas = not self.comma_separates()
                    if not commas:
                        break
                groups.append(self.toks[k].text)
                j = k
        text, err = "".join(groups), None
        if len(groups) > 1 and not (
                re.fullmatch(r"\d{1,3}", groups[0])
                and all(re.fullmatch(r"\d{3}", g) for g in groups[1:-1])
                and re.fullmatch(r"\d{3}(?:\.\d+)?", groups[-1])):
            err = f"numbers {' '.join(groups)!r} side by side at position {t.pos}: digits " \
                "grouped as thousands (223,496) need groups of three; write * for a product"
        elif len(text) > MAX_LITERAL_DIGITS:
            err = f"number at position {t.pos} has more than {MAX_LITERAL_DIGITS} digits"
        tok = _Tok("NUMBER", text, t.pos)
        tok.obj, tok.err, tok.index = None, ParseError(err) if err else None, i
        return tok, j + 1

    def transpose(self, i: int) -> bool:
        """``^T``, ``^{T}``, ``^\\mathsf{T}`` at ``i`` (the "^") after a name: a transpose."""
        texts = [self.tok(i + k).text for k in range(1, 7)]
        if texts[0] == "{" and texts[2] == "}" or texts[0] != "{":
            inner = texts[1] if texts[0] == "{" else texts[0]
            if inner == "T" or (self.latex and inner.startswith("T") and texts[0] != "{"
                                and self.tok(i + 1).kind == "name"):
                return True
        fonts = {"\\" + f for f in FONT}
        for k in (0, 1):
            if texts[k] in fonts and texts[k + 1:k + 4] == ["{", "T", "}"]:
                return k == 0 or texts[0] == "{"
        return False

    def operator(self, i: int, choices: dict) -> tuple[_Tok, int]:
        text = self.toks[i].text
        pos = self.toks[i].pos
        if text == "+-" and "tolerance" not in self.forms:
            return self.make("BAD", i, err=f"'+-' at position {pos}: a tolerance (0.693 +- "
                             "0.001) is a whole number claim, not part of a formula"), i + 1
        if text == "[" and "matrix" in self.forms and self.can("MATOPEN") and \
                self.at(self.skip(i + 1), "["):
            return self.make("MATOPEN", i), i + 1
        if text == "[" and self.can("ROWOPEN"):
            return self.make("ROWOPEN", i), i + 1
        if text == "^" and self.shapes and (end := self.transpose_end(i)) is not None:
            if self.has_symbol("T") or "T" in self.shapes:
                return self.make("BAD", i, err=f"'^T' at position {pos}: ambiguous, T is also "
                                 "a symbol here (a transpose or a power?)"), end
            return self.make("TRANSPOSE", i), end
        return self._operator(i), i + 1

    def transpose_end(self, i: int) -> int | None:
        """The raw index after a transpose mark following the "^" at ``i`` (``^T``, ``^{T}``,
        ``^\\top``, ``^{\\top}``, ``^\\intercal``, ``^\\mathsf{T}``), else None."""
        texts = [self.tok(i + k).text for k in range(1, 6)]
        marks = ("T", "\\top", "\\intercal")
        fonts = {"\\" + f for f in FONT}
        if texts[0] in marks:
            return i + 2
        if texts[0] in fonts and texts[1:4] == ["{", "T", "}"]:
            return i + 5
        if texts[0] == "{" and texts[1] in marks and texts[2] == "}":
            return i + 4
        if texts[0] == "{" and texts[1] in fonts and texts[2:5] == ["{", "T", "}"] and \
                self.tok(i + 6).text == "}":
            return i + 7
        return None

    def called(self, j: int) -> bool:
        """The ")" at raw index ``j`` closes the arguments of a name: ``k(t)``."""
        depth = 0
        while j >= 0:
            depth += self.toks[j].text == ")"
            depth -= self.toks[j].text == "("
            if depth == 0:  # f(x), \tanh(x), a_1(t), w_{ix}(t)
                before = self.toks[j - 1] if j > 0 else None
                return before is not None and (before.kind in ("name", "cmd") or
                                               before.text == "}" or
                                               j > 1 and self.toks[j - 2].text == "_")
            j -= 1
        return False

    def shaped(self, e: object) -> object:
        """A declared matrix or vector as a ``MatrixSymbol`` (``h(t)`` as the answer names
        it, ``MatrixSymbol("h(t)")``); everything else as it is."""
        if not self.shapes:
            return e
        if isinstance(e, sp.Symbol) and e.name in self.shapes:
            return sp.MatrixSymbol(e.name, *self.shapes[e.name])
        if isinstance(e, AppliedUndef) and e.func.__name__ in self.shapes:
            return sp.MatrixSymbol(str(e), *self.shapes[e.func.__name__])
        if isinstance(e, sp.Mul):
            product = sp.Integer(1)
            for factor in e.args:
                product = product * self.shaped(factor)
            return product
        return e

    def _operator(self, i: int) -> _Tok:
        text = self.toks[i].text
        kind = _OPS[text]
        if text == "^" and self.last[0] == "RPAR" and self.transpose(i) and \
                self.called(i - 1):
            return self.make(kind, i, err=f"'^T' at position {self.toks[i].pos} after a call: "
                             "a transpose is not a scalar formula (declare the shapes of "
                             "matrices and vectors to read it)")
        if text == "^" and self.last[0] == "VALUE" and self.transpose(i):
            t = self.tok(i - 1)
            euler = t.text == "e" and not self.has_symbol("e")
            if not (t.kind in ("name", "cmd") and t.text.removeprefix("\\") in GREEK or euler):
                return self.make(kind, i, err=f"'^T' at position {self.toks[i].pos}: a "
                                 "transpose is not a scalar formula (for a power write "
                                 "(x)^T or x**T)")
        if text == "[":
            if self.last[0] == "SQRT":
                kind = "LB_SQRT"
            elif i in self.two_indices:
                kind = "LB_2IDX"
            elif i > 0 and self.toks[i - 1].text == "\\left":
                kind = "LB_LEFT"
        return self.make(kind, i)

    def sum_index(self, i: int) -> tuple[_Tok, int]:
        """The index of ``\\sum_{t=..}``, ``\\sum_t`` or ``Sum(.., (t, ..))``: one name."""
        kind, prev = self.last
        j = prev + 1 if kind in ("LBRACE", "LPAR") else i  # right after "{" / "(", raw
        t = self.tok(j)
        if t.kind != "name":
            what = "Sum" if kind == "LPAR" else "\\sum"
            return self.make("SUMVAR", j, err=f"{what} index at position {t.pos} must be a "
                             "name"), j + 1
        return self.make("SUMVAR", j, obj=self.symbol(_check_name(t.text, t.pos))), j + 1

    def subscript(self, k: int) -> tuple[str, int]:
        """The text of ``_{...}`` / ``_x`` at ``k`` (``w_{ix}`` -> ``ix``) and the index after."""
        p = self.skip(k + 1)
        t = self.tok(p)
        if t.kind in ("name", "num"):
            return t.text, p + 1
        if t.text != "{":
            raise ParseError(f"expected a subscript at position {t.pos}")
        parts: list[str] = []
        p += 1
        while True:
            q = self.skip(p)
            if self.at(q, "}"):
                return "".join(parts), q + 1
            t = self.tok(q)
            if t.kind in ("name", "num"):
                parts.append(t.text)
            elif t.kind == "cmd" and t.text[1:] in GREEK | {"sigma"}:
                parts.append(t.text[1:])
            elif t.text == ",":  # x_{t,j} fused into one name x_tj would drop the comma
                raise ParseError(f"a subscript of several indices at position {t.pos} is not "
                                 "read: write the indices in brackets, x[t, j]")
            elif not (t.kind == "cmd" and t.text[1:] in FONT or t.text in ("{", "}")):
                raise ParseError(f"unexpected {t.text or 'end'!r} in subscript at {t.pos}")
            p = q + 1

    def full_name(self, base: str, pos: int, p: int) -> tuple[str, int]:
        name = base
        while self.at(self.skip(p), "_"):
            sub, p = self.subscript(self.skip(p))
            name += "_" + sub
        return _check_name(name, pos), p

    def time_index(self, q: int) -> bool:
        """``^{(`` follows: a time index, not a power."""
        return self.at(q, "^") and q + 2 <= self.end and self.toks[q + 1].text == "{" and \
            self.toks[q + 2].text == "("

    def splittable(self, word: str) -> bool:
        """``DK`` is ``D*K`` in LaTeX, and in plain math when both letters are known symbols."""
        if len(word) < 2 or self.has_symbol(word) or self.has_function(word) or \
                word in FUNCTIONS or word in GREEK or not word.isalpha():
            return False
        if self.latex:
            return True
        return all(self.has_symbol(ch) for ch in word)

    def named(self, i: int, choices: dict) -> tuple[_Tok, int]:
        word = self.toks[i].text
        if word == "if" and self.last[0] == "AMP":  # x, & if x > 0
            return self.read(self.skip(i + 1), choices)
        if word == "if" or word in _OTHERWISE:  # never a product of letters
            kind = "IF" if word == "if" else "OTHERWISE"
            if self.can(kind):
                return self.make(kind, i), i + 1
            return self.make("BAD", i, err=f"'{word}' at position {self.toks[i].pos} outside "
                             "the cases of a piecewise formula ({x if x > 0; 0 otherwise})"), \
                i + 1
        if "VALUE" not in choices:  # refused here whatever it is: no symbol is made
            return self.make("BAD", i), i + 1
        t = self.toks[i]
        base, prefix = t.text, sp.Integer(1)
        try:
            if self.splittable(base):
                for ch in base[:-1]:
                    prefix = prefix * self.symbol(ch)
                base = base[-1]
            return self._named(i, base, prefix)
        except ParseError as exc:
            return self.make("BAD", i, err=str(exc)), i + 1

    def _named(self, i: int, base: str, prefix: sp.Expr) -> tuple[_Tok, int]:
        pos = self.toks[i].pos
        k = self.skip(i + 1)
        if base in ("log", "ln") and prefix == 1 and self.at(k, "_") and \
                not self.has_function(base) and not self.has_symbol(base):
            if base == "ln":
                raise ParseError(f"ln at position {pos} is the natural logarithm: no base")
            return self.log_base(i, k)
        if self.at(k, "_"):  # h_{t-1}, h_t: a time index when the answer indexes h
            jj = k + 1
            if self.tok(jj).text == "{":
                depth, m, arithmetic = 0, jj, False
                while m < self.end:
                    text = self.toks[m].text
                    depth += text == "{"
                    depth -= text == "}"
                    arithmetic |= depth == 1 and text in ("+", "-")
                    if depth == 0:
                        break
                    m += 1
                if arithmetic:
                    two = depth == 0 and self.tok(m + 1).text == "[" and self.glued(m + 1)
                    if two:
                        self.two_indices[m + 1] = f"{base} at position {pos} has two indices " \
                            "(a subscript and [...])"
                    return self.make("IDXFN", i, obj=(prefix, base, two)), k
            braced = self.tok(jj).text == "{" and self.tok(jj + 1).kind == "name" and \
                self.tok(jj + 2).text == "}"
            sub = self.tok(jj + 1) if braced else self.tok(jj)
            if sub.kind == "name" and len(sub.text) == 1 and \
                    not self.has_symbol(f"{base}_{sub.text}"):
                after = self.tok(k + (4 if braced else 2))
                last = self.tok(k + (3 if braced else 1))
                bracket = after.text == "[" and after.pos == last.pos + len(last.text)
                if not bracket and (sub.text == "t" or (
                        self.has_function(base) and self.has_symbol(sub.text))):
                    index = self.symbol(sub.text)
                    value = prefix * self.function(base)(index)
                    return self.make("VALUE", i, obj=value), k + (4 if braced else 2)
        name, p = self.full_name(base, pos, i + 1)
        q = self.skip(p)
        if self.at(q, "[") and self.glued(q):  # h[t], x[i, j]: an index
            mode: tuple = ("own",)
            head, _, sub = name.partition("_")
            if not self.has_function(name) and sub and self.has_function(head) and \
                    re.fullmatch(r"[A-Za-z]|\d+", sub):  # a_i[t] is a(i, t)
                mode = ("head", self.function(head), sub)
            return self.make("IDXHEAD", i, obj=(prefix, name, pos, mode)), q
        if name == "Sum" and self.at(q, "(") and not self.has_function("Sum"):
            return self.make("SUMNAME", i), q
        if name == "e" and not self.has_symbol("e") and not self.at(q, "("):
            return self.make("VALUE", i, obj=prefix * sp.E), q  # Euler's number
        if self.at(q, "'") and name in PRIMED:
            return self.primed(i, name, q)
        if self.time_index(q):
            return self.make("TIMEHEAD", i, obj=(prefix, name)), q
        if prefix == 1 and (order := self.order(i, name, q)) is not None:
            return order, q
        if self.at(q, "(") and (name in FUNCTIONS or self.has_function(name)):
            target = ("apply", name) if name in FUNCTIONS else ("function", self.function(name))
            return self.make("CALLHEAD", i, obj=(prefix, target, pos)), q
        if name in FUNCTIONS and not self.has_symbol(name) and self.starts_factor(q):
            return self.make("APPLYHEAD", i, obj=(name, pos)), q  # "tanh x"
        return self.make("VALUE", i, obj=prefix * self.symbol(name)), q

    def order(self, i: int, name: str, q: int) -> _Tok | None:
        """``O(n)``, ``\\Theta(n^2)``, ``\\Omega(n)`` inside a formula: an order of growth
        is a whole claim, written O(...); never the product of a symbol and (n)."""
        if name not in ORDERS or not self.at(q, "(") or self.has_function(name) or \
                self.has_symbol(name):
            return None
        pos = self.toks[i].pos
        if name == "O":
            err = f"O(...) at position {pos}: an order of growth must be the whole claim"
        else:
            err = f"{self.toks[i].text}(...) at position {pos}: write an order of growth as " \
                "O(...)"
        return self.make("BAD", i, err=err)

    def log_base(self, i: int, q: int) -> tuple[_Tok, int]:
        """``\\log_2 x``, ``\\log_{10}(x)``, ``log_2(x)``, ``\\log_b x``: log(x, base)."""
        pos = self.toks[i].pos
        sub, p = self.subscript(q)
        if sub.isdigit():
            if int(sub) < 2:
                raise ParseError(f"log base {sub} at position {pos} is not a base")
            base: sp.Expr = sp.Integer(int(sub))
        elif sub == "e" and not self.has_symbol("e"):
            base = sp.E
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", sub):
            base = self.symbol(sub)
        else:
            raise ParseError(f"log base {sub!r} at position {pos}: a base is a number or a name")
        r = self.skip(p)
        if self.at(r, "^") or self.at(r, "'"):
            raise ParseError(f"log_{sub} followed by {self.tok(r).text!r} at position "
                             f"{self.tok(r).pos}: write (log_{sub}(x))^2")
        if self.at(r, "("):
            return self.make("CALLHEAD", i, obj=(sp.Integer(1), ("apply", ("log", base)),
                                                 pos)), r
        return self.make("APPLYHEAD", i, obj=(("log", base), pos)), r

    def primed(self, i: int, name: str, q: int) -> tuple[_Tok, int]:
        primes = 0
        while self.at(q, "'"):
            q = self.skip(q + 1)
            primes += 1
        pos = self.tok(q).pos
        err = None
        if primes > 1:
            err = f"{name} with {primes} primes at position {pos}: only first derivatives " \
                "are written with a prime"
        kind = "PRIMECALL" if self.at(q, "(") else "PRIMEAPPLY"
        return self.make(kind, i, obj=(name, pos), err=err), q

    def command(self, i: int, choices: dict) -> tuple[_Tok, int]:
        t = self.toks[i]
        cmd = t.text[1:]
        if cmd in TIMES:
            return self.make("TIMES", i), i + 1
        if cmd in ("begin", "end"):
            return self.environment(i, cmd)
        if cmd == "\\":  # a row separator; one right before \end closes nothing
            q = self.skip(i + 1)
            if self.at(q, "\\end"):
                return self.read(q, choices)
            return self.make("ROWSEP", i), i + 1
        if cmd in _RELATIONS:
            return self.make(_RELATIONS[cmd], i), i + 1
        if cmd == "pm":
            if "tolerance" not in self.forms:
                return self.make("BAD", i, err=f"'\\pm' at position {t.pos}: a tolerance "
                                 "(0.693 \\pm 0.001) is a whole number claim, not part of a "
                                 "formula"), i + 1
            return self.make("PM", i), i + 1
        if cmd == "nabla":  # \nabla J(theta): the gradient of J, named grad_J
            q = self.skip(i + 1)
            if self.tok(q).kind != "name" or "VALUE" not in choices:
                return self.make("BAD", i, err=f"\\nabla at position {t.pos} must be "
                                 "followed by a name (\\nabla J)"), i + 1
            try:
                name = "grad_" + _check_name(self.tok(q).text, t.pos)
                r = self.skip(q + 1)
                if self.at(r, "("):  # a call, whatever the table knows: never a product
                    return self.make("CALLHEAD", q, obj=(sp.Integer(1), (
                        "function", self.function(name)), t.pos)), r
                return self._named(q, name, sp.Integer(1))
            except ParseError as exc:
                return self.make("BAD", i, err=str(exc)), i + 1
        if cmd in ("text", "textrm", "mbox") and self.last[0] == "AMP" and \
                self.word(i) is None:  # x & \text{for all } x > 0: words, not a name
            return self.make("BAD", i, err=f"{t.text}{{...}} at position {t.pos}: a condition "
                             "is a relation, optionally after \\text{if}"), i + 1
        if cmd in ("text", "textrm", "mathrm", "mbox") and (word := self.word(i)) is not None:
            text, after = word
            if text in _OTHERWISE:
                if self.can("OTHERWISE"):
                    return self.make("OTHERWISE", i), after
                return self.make("BAD", i, err=f"'{text}' at position {t.pos} outside the "
                                 "cases of a piecewise formula"), after
            if text in _CASE_FILLER and self.last[0] == "AMP":  # x & \text{if } x > 0
                return self.read(self.skip(after), choices)
        if cmd in _COMMANDS:
            kind = _COMMANDS[cmd]
            j = self.skip(i + 1)
            if kind == "OVERLINE" and self.at(j, "{") and self.at(j + 2, "}") and \
                    "VALUE" in choices and self.time_index(self.skip(j + 3)):
                inner = self.tok(j + 1)  # \bar{h}^{(t)} is bar_h at t, never bar_h**t
                word = inner.text if inner.kind == "name" else inner.text[1:] \
                    if inner.kind == "cmd" and inner.text[1:] in GREEK | {"sigma"} else None
                if word is not None:
                    return self.make("TIMEHEAD", i, obj=(sp.Integer(1), _check_name(
                        f"bar_{word}", t.pos))), self.skip(j + 3)
            if kind == "FRAC" and self.at(j, "{") and self.tok(j + 1).text == "\\partial" and \
                    self.tok(j + 1).kind == "cmd":
                kind = "FRACP"
            return self.make(kind, i), i + 1
        if cmd == "sum":
            if not self.at(self.skip(i + 1), "_"):
                return self.make("SUM", i, err=f"\\sum at position {t.pos} needs an index: "
                                 "\\sum_{t=1}^{T}"), i + 1
            return self.make("SUM", i), i + 1
        if cmd == "partial" and "PARTIAL" in choices:
            return self.make("PARTIAL", i), i + 1
        if t.text in _NOT_FACTORS:  # \} and \|
            return self.make("CLOSER", i), i + 1
        if "VALUE" not in choices and (cmd in FONT or cmd in FUNCTIONS or cmd in GREEK):
            return self.make("BAD", i), i + 1  # refused here: no symbol is made
        try:
            if cmd in FONT:
                return self.font(i, cmd)
            if cmd in FUNCTIONS or cmd in ("max", "min"):
                return self.function_command(i, cmd)
            if cmd in GREEK:  # \varepsilon and \epsilon are one letter to a grader
                name, p = self.full_name(cmd.removeprefix("var"), t.pos, i + 1)
                q = self.skip(p)
                if self.time_index(q):
                    return self.make("TIMEHEAD", i, obj=(sp.Integer(1), name)), q
                if (order := self.order(i, name, q)) is not None:
                    return order, q
                return self.make("VALUE", i, obj=self.symbol(name)), q
        except ParseError as exc:
            return self.make("BAD", i, err=str(exc)), i + 1
        if cmd in ("top", "intercal"):
            return self.make("BAD", i, err=f"{t.text} at position {t.pos}: a transpose is not "
                             "a scalar formula"), i + 1
        if cmd == "infty":
            return self.make("BAD", i, err=f"\\infty is not supported (position {t.pos})"), i + 1
        return self.make("BAD", i, err=f"unsupported LaTeX command {t.text!r} at position "
                         f"{t.pos}"), i + 1

    def word(self, i: int) -> tuple[str, int] | None:
        """The one word of ``\\text{...}`` at ``i`` and the raw index after it, if it is one."""
        j = self.skip(i + 1)
        if self.at(j, "{") and self.tok(j + 1).kind == "name" and self.at(j + 2, "}"):
            return self.tok(j + 1).text, j + 3
        return None

    def environment(self, i: int, cmd: str) -> tuple[_Tok, int]:
        """``\\begin{bmatrix}`` / ``\\begin{cases}`` and their ``\\end``: one token each."""
        t = self.toks[i]
        j = self.skip(i + 1)
        if not (self.at(j, "{") and self.tok(j + 1).kind == "name" and self.at(j + 2, "}")):
            return self.make("BAD", i, err=f"\\{cmd} at position {t.pos} needs an "
                             "environment: \\begin{cases}, \\begin{bmatrix}"), i + 1
        name, after = self.tok(j + 1).text, j + 3
        if name not in _MATRICES | {"cases"}:
            return self.make("BAD", i, err=f"unsupported environment {name!r} at position "
                             f"{t.pos} (\\begin{{cases}}, or a block matrix in a matrix claim)"), \
                after
        if cmd == "end":
            opened = self.environments.pop() if self.environments else None
            if opened != name:
                return self.make("BAD", i, err=f"\\end{{{name}}} at position {t.pos} closes "
                                 + (f"\\begin{{{opened}}}" if opened else "nothing")), after
            return self.make("ENDCASES" if name == "cases" else "ENDMAT", i), after
        if name != "cases" and "matrix" not in self.forms:
            return self.make("BAD", i, err=f"a matrix (\\begin{{{name}}}) at position {t.pos}: "
                             "a block matrix is a matrix claim, not part of a formula"), after
        self.environments.append(name)
        return self.make("BEGINCASES" if name == "cases" else "BEGINMAT", i), after

    def font(self, i: int, cmd: str) -> tuple[_Tok, int]:
        """``\\mathrm{ReLU}``, ``\\text{act}``: the letters are a name."""
        pos = self.toks[i].pos
        j = self.skip(i + 1)
        if not self.at(j, "{"):
            found = self.tok(j).text or "end of formula"
            raise ParseError(f"expected '{{' at position {self.tok(j).pos}, found {found!r}")
        parts: list[str] = []
        p = j + 1
        while not self.at(self.skip(p), "}"):
            q = self.skip(p)
            t = self.tok(q)
            p = q + 1
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
        word = "".join(parts)
        if not word or not word[0].isalpha():
            raise ParseError("empty or malformed name in a font command")
        if cmd in ACCENTS:  # \hat{h}: another quantity than h
            word = f"{ACCENTS[cmd]}_{word}"
        name, p = self.full_name(word, pos, self.skip(p) + 1)
        q = self.skip(p)
        if (order := self.order(i, name, q)) is not None:
            return order, q
        if cmd == "mathcal" and name == "L":
            return self.make("VALUE", i, obj=self.symbol("L")), q
        if name in FUNCTIONS and self.at(q, "("):
            return self.make("CALLHEAD", i, obj=(sp.Integer(1), ("apply", name), pos)), q
        if name in FUNCTIONS and self.starts_factor(q):
            return self.make("APPLYHEAD", i, obj=(name, pos)), q
        if self.time_index(q):
            return self.make("TIMEHEAD", i, obj=(sp.Integer(1), name)), q
        return self.make("VALUE", i, obj=self.symbol(name)), q

    def exponent_end(self, q: int) -> int:
        """The raw index after the exponent of the "^" at ``q``: a {group} or one token."""
        j = self.skip(q + 1)
        if self.at(j, "{"):
            depth = 0
            while j < self.end:
                depth += self.at(j, "{") - self.at(j, "}")
                j += 1
                if depth == 0:
                    break
            return j
        while self.at(j, "-") or self.at(j, "+"):
            j = self.skip(j + 1)
        return j + 1

    def function_command(self, i: int, cmd: str) -> tuple[_Tok, int]:
        pos = self.toks[i].pos
        q = self.skip(i + 1)
        if self.at(q, "'") and cmd in PRIMED:
            return self.primed(i, cmd, q)
        if cmd == "log" and self.at(q, "_"):
            return self.log_base(i, q)
        if cmd == "sigma" and self.at(q, "^") and not self.time_index(q):
            r = self.skip(self.exponent_end(q))
            if not self.at(r, "("):  # \sigma^2 alone: a variance, the symbol sigma squared
                if self.starts_factor(r):
                    raise ParseError(f"\\sigma^... followed by {self.tok(r).text!r} at "
                                     f"position {self.tok(r).pos}: write \\sigma(x)^2 for "
                                     "the sigmoid squared, \\sigma^2 \\cdot x for a product")
                return self.make("VALUE", i, obj=self.symbol("sigma")), q
        if self.at(q, "^"):  # \tanh^2(x) = tanh(x)^2
            return self.make("FPOWHEAD", i, obj=(cmd, pos)), q
        if cmd == "sigma" and not self.at(q, "("):  # \sigma alone is a symbol
            name, p = self.full_name("sigma", pos, i + 1)
            return self.make("VALUE", i, obj=self.symbol(name)), p
        if self.at(q, "("):
            return self.make("CALLHEAD", i, obj=(sp.Integer(1), ("apply", cmd), pos)), q
        return self.make("APPLYHEAD", i, obj=(cmd, pos)), q


# -- the transformer: grammar rules -> SymPy --------------------------------------------------

class _V:
    """A parsed value: the expression, its nesting depth (every expression, operand and primary
    inside it is one level, the unit of MAX_DEPTH), its position and where the spacing before it
    began (an exponent's position is reported there)."""

    __slots__ = ("e", "h", "pos", "lead")

    def __init__(self, e: object, h: int, pos: int, lead: int):
        if h > MAX_DEPTH:
            raise ParseError(f"formula nested too deeply (limit {MAX_DEPTH})")
        self.e, self.h, self.pos, self.lead = e, h, pos, lead


def _leaf(tok: _Tok, e: object, h: int = 0) -> _V:
    return _V(e, h, tok.start_pos, tok.lead)


def _top(children: list) -> int:
    return max((c.h for c in children if isinstance(c, _V)), default=0)


class _Build(Transformer):
    """Called by the parser as it reduces each rule: builds SymPy objects from the children,
    checking the bounds. ``reader`` and ``sums`` (positions of open ``Sum(``) are per parse."""

    reader: _Reader
    sums: list[int]

    def __default__(self, data, children, meta):
        if data.startswith("_"):  # Lark's helper rules for repetitions, spliced into the parent
            return super().__default__(data, children, meta)
        raise AssertionError(f"grammar rule {data!r} has no callback")

    def start(self, c):
        return c[0]

    def relation_expr(self, c):
        return c[0].e

    def relation_op(self, c):
        left, op, right = c
        rel = {"=": sp.Eq, "<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge}[str(op)]
        return rel(left.e, right.e, evaluate=False)

    def expr_first(self, c):
        v = c[0]
        return _V(v.e, v.h + 1, v.pos, v.lead)

    def expr_more(self, c):
        a, op, b = c
        e = a.e + b.e if op.type == "PLUS" else a.e - b.e
        return _V(e, max(a.h, b.h + 1), a.pos, a.lead)

    def term_first(self, c):
        return c[0]

    def term_mul(self, c):
        a, _, b = c
        return _V(a.e * b.e, max(a.h, b.h), a.pos, a.lead)

    def term_div(self, c):
        a, _, b = c
        if b.e == 0:
            raise ParseError(f"division by zero at position {self.reader.lookahead}")
        return _V(a.e / b.e, max(a.h, b.h), a.pos, a.lead)

    def term_implicit(self, c):
        a, b = c
        return _V(a.e * b.e, max(a.h, b.h + 1), a.pos, a.lead)

    def unary_sign(self, c):
        sign, v = c
        return _V(-v.e if sign.type == "MINUS" else v.e, v.h + 1, sign.start_pos, sign.lead)

    def unary_power(self, c):
        v = c[0]
        return _V(v.e, v.h + 1, v.pos, v.lead)

    def power(self, c):
        if len(c) == 1:
            return c[0]
        base, _, exp = c
        if base.e == 0 and exp.e.is_number and exp.e.is_negative:
            raise ParseError(f"division by zero at position {base.pos}")
        return _V(_bounded_number(base.e**exp.e, base.pos), max(base.h, exp.h), base.pos,
                  base.lead)

    def _exponent(self, v: _V) -> _V:
        exp = v.e
        if exp.is_number:
            if exp.is_real is False:
                raise ParseError(f"complex exponent at position {v.lead}")
            if abs(exp) > MAX_EXPONENT:
                raise ParseError(
                    f"exponent at position {v.lead} too large: |{exp}| > {MAX_EXPONENT}"
                )
        return v

    def exponent_group(self, c):
        return self._exponent(_leaf(c[0], c[1].e, c[1].h))

    def exponent_unary(self, c):
        return self._exponent(c[0])

    def group_brace(self, c):
        return _leaf(c[0], c[1].e, c[1].h)

    def group_primary(self, c):
        return c[0]

    def primary(self, c):
        v = c[0]
        return _V(v.e, v.h + 1, v.pos, v.lead)

    primary_nb = iprimary = primary_np = primary

    def paren(self, c):
        return _leaf(c[0], c[1].e, c[1].h)

    brace = bracket = paren

    def abs(self, c):
        return _leaf(c[0], sp.Abs(c[1].e), c[1].h)

    # -- atoms ----------------------------------------------------------------------------
    def number(self, c):
        text = str(c[0])
        frac = Fraction(text)
        return _leaf(c[0], sp.Rational(frac.numerator, frac.denominator))

    def value(self, c):
        return _leaf(c[0], self.reader.shaped(c[0].obj))

    def transposed(self, c):
        base, mark = c
        if not isinstance(base.e, sp.MatrixExpr):
            raise ParseError(f"a transpose at position {mark.start_pos} of {base.e}, which is "
                             "not declared a matrix or a vector (shapes)")
        return _V(base.e.T, base.h, base.pos, base.lead)

    def bad(self, c):  # the reader reports it as soon as the parser has taken it
        raise c[0].err

    def call_args(self, c):
        return c[1]

    def args(self, c):
        return [v for v in c if isinstance(v, _V)]

    def call(self, c):
        head, args = c
        prefix, (kind, target), pos = head.obj
        values = [a.e for a in args]
        e = _apply(target, values, pos) if kind == "apply" else \
            self.reader.shaped(target(*values))
        return _leaf(head, prefix * e, _top(args))

    def apply(self, c):
        head, arg = c
        name, pos = head.obj
        return _leaf(head, _apply(name, [arg.e], pos), arg.h)

    def primed(self, c):
        head, arg = c
        name, pos = head.obj
        args = arg if isinstance(arg, list) else [arg]
        if len(args) != 1:
            raise ParseError(f"{name}' takes one argument, got {len(args)} at position {pos}")
        return _leaf(head, PRIMED[name](args[0].e), _top(args))  # type: ignore[operator]

    def time_index(self, c):
        head, index = c[0], c[4]
        prefix, name = head.obj
        return _leaf(head, prefix * self.reader.shaped(self.reader.table.function(name)(index.e)),
                     index.h)

    def bracket_index(self, c):
        """``h[t]`` -> ``h(t)``, ``x[i, j]`` -> ``x(i, j)``: the indexed quantity, like
        ``h^{(t)}``. ``a_i[t]`` is ``a(i, t)`` when the answer indexes ``a`` by ``(i, t)``."""
        head, args = c[0], c[2]
        prefix, name, pos, mode = head.obj
        if len(args) > 4:
            raise ParseError(f"{name}[...] at position {pos} has more than 4 indices")
        values = [a.e for a in args]
        if mode[0] == "head":
            sub = mode[2]
            first = sp.Integer(int(sub)) if sub.isdigit() else self.reader.table.symbol(sub)
            e = mode[1](first, *values)
        else:
            e = self.reader.table.function(name)(*values)
        return _leaf(head, prefix * self.reader.shaped(e), _top(args))

    def subscript_index(self, c):
        head, index = c[0], c[3]
        prefix, name, _ = head.obj
        e = self.reader.shaped(self.reader.table.function(name)(index.e))
        return _leaf(head, prefix * e, index.h)

    def sum_open(self, c):
        self.sums.append(c[0].start_pos)
        return c[0]

    def sum_limit(self, c):
        var, lower, upper = c[2].obj, c[4], c[6]
        span = upper.e - lower.e
        if span.is_number and span + 1 > MAX_SUM_TERMS:
            raise ParseError(f"Sum at position {self.sums[-1]} has more than {MAX_SUM_TERMS} "
                             "terms")
        return (var, lower.e, upper.e), max(lower.h, upper.h)

    def sympy_sum(self, c):
        """``Sum(body, (t, 1, T))``: the form SymPy prints (and derive shows), read like
        ``\\sum_{t=1}^{T} body``."""
        head, body, limits = c[0], c[1], c[2:-1]
        pos = self.sums.pop()
        if not limits or len(limits) > 4:
            raise ParseError(f"Sum at position {pos} needs one to four limits (t, 1, T)")
        h = max([body.h] + [lim[1] for lim in limits])
        return _leaf(head, sp.Sum(body.e, *[lim[0] for lim in limits]), h)

    def function_power(self, c):
        head, exp, arg = c[0], c[2], c[3]
        cmd, pos = head.obj
        args = arg if isinstance(arg, list) else [arg]
        value = _bounded_number(_apply(cmd, [a.e for a in args], pos) ** exp.e, pos)
        return _leaf(head, value, max(exp.h, _top(args)))

    def frac(self, c):
        head, num, den = c
        if den.e == 0:
            raise ParseError(f"division by zero in \\frac at position {head.start_pos}")
        return _leaf(head, num.e / den.e, max(num.h, den.h))

    def partial(self, c):
        """``\\frac{\\partial L}{\\partial h^{(t)}}`` -> ``dL_dh(t)`` (the direct derivative)."""
        head, top, bottom = c[0], c[3].e, c[7].e
        pos = head.start_pos
        if isinstance(top, AppliedUndef):
            top_name = top.func.__name__
        elif isinstance(top, sp.Symbol):
            top_name = top.name
        else:
            raise ParseError(f"\\partial at position {pos}: expected a name, got {top}")
        if top_name in ("L_t", "mathcalL", "L_T", "l", "l_t"):
            top_name = "L"
        table, h = self.reader.table, max(c[3].h, c[7].h)
        if isinstance(bottom, AppliedUndef):
            fn = table.function(f"d{top_name}_d{bottom.func.__name__}")
            return _leaf(head, fn(*bottom.args), h)
        if isinstance(bottom, sp.Symbol):
            return _leaf(head, table.symbol(f"d{top_name}_d{bottom.name}"), h)
        raise ParseError(f"\\partial at position {pos}: expected a name, got {bottom}")

    def sqrt_index(self, c):
        n = c[1]
        if not (n.e.is_Integer and 1 <= n.e <= MAX_EXPONENT):
            raise ParseError(f"root index must be an integer 1..{MAX_EXPONENT}")
        return n

    def sqrt(self, c):
        head, arg = c[0], c[-1]
        if len(c) == 3:
            return _leaf(head, sp.root(arg.e, c[1].e), max(c[1].h, arg.h))
        return _leaf(head, sp.sqrt(arg.e), arg.h)

    def floor(self, c):
        return _leaf(c[0], sp.floor(c[1].e), c[1].h)

    def ceil(self, c):
        return _leaf(c[0], sp.ceiling(c[1].e), c[1].h)

    def overline(self, c):
        """``\\overline{h^{(t)}}`` -> ``bar_h(t)``; ``\\overline{w_{ix}}`` -> ``bar_w_ix``."""
        head, inner = c[0], c[2].e
        table = self.reader.table
        if isinstance(inner, sp.Symbol):
            return _leaf(head, table.symbol(f"bar_{inner.name}"), c[2].h)
        if isinstance(inner, AppliedUndef):
            return _leaf(head, table.function(f"bar_{inner.func.__name__}")(*inner.args), c[2].h)
        raise ParseError(f"\\overline at position {head.start_pos} must cover one name, got "
                         f"{inner}")

    def sum_head(self, c):
        var = next(t for t in c if isinstance(t, LarkToken) and t.type == "SUMVAR").obj
        lower, upper, h = sp.Integer(1), None, 0
        for k, item in enumerate(c):
            if isinstance(item, LarkToken) and item.type in ("EQ", "CARET"):
                if item.type == "EQ":
                    lower = c[k + 1].e
                else:
                    upper = c[k + 1].e
                h = max(h, c[k + 1].h)
        if upper is None:
            upper = self.reader.table.symbol("T")
        return c[0], (var, lower, upper), h

    def sum(self, c):
        """``\\sum_{t=1}^{T} body`` (``\\sum_t`` means t = 1..T, the catalogue's convention)."""
        (head, (var, lower, upper), h), body = c
        span = upper - lower
        if span.is_number and span + 1 > MAX_SUM_TERMS:
            raise ParseError(f"\\sum at position {head.start_pos} has more than "
                             f"{MAX_SUM_TERMS} terms")
        return _leaf(head, sp.Sum(body.e, (var, lower, upper)), max(h, body.h))


    # -- whole-claim forms and cases ------------------------------------------------------
    def start_matrix(self, c):
        rows = c[-1]
        lhs = c[0].e if len(c) == 3 else None
        return Blocks(tuple(tuple(v.e for v in row) for row in rows), lhs)

    def start_tolerance(self, c):
        value, _, tolerance = c
        return Tolerance(value.e, tolerance.e)

    def matrix(self, c):
        rows = [row for row in c if isinstance(row, list)]
        widths = [len(row) for row in rows]
        if len(set(widths)) > 1:
            raise ParseError(f"block matrix at position {c[0].start_pos}: its rows have "
                             f"{', '.join(map(str, widths))} blocks; every row needs the same "
                             "number")
        if len(rows) > 16 or widths[0] > 16:
            raise ParseError(f"block matrix at position {c[0].start_pos}: more than 16 x 16 "
                             "blocks")
        return rows

    def row_plain(self, c):
        return c[1]

    def row_tex(self, c):
        return [v for v in c if isinstance(v, _V)]

    def relop(self, c):
        return c[0]

    def condition(self, c):
        rel = {"=": sp.Eq, "<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "!=": sp.Ne}
        kinds = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "NE": "!="}
        values, ops = c[0::2], c[1::2]
        parts = [rel[kinds[op.type]](a.e, b.e, evaluate=False)
                 for a, op, b in zip(values, ops, values[1:], strict=False)]
        e = parts[0] if len(parts) == 1 else sp.And(*parts, evaluate=False)
        return _V(e, _top(values), values[0].pos, values[0].lead)

    def piece_if(self, c):
        values = [v for v in c if isinstance(v, _V)]
        return values[0], values[1]

    def piece_otherwise(self, c):
        return c[0], None

    def piecewise_plain(self, c):
        first = (c[1], c[3])
        return self._cases(c[0], [first] + [p for p in c[4:] if isinstance(p, tuple)])

    def piecewise_cases(self, c):
        return self._cases(c[0], [p for p in c[1:] if isinstance(p, tuple)])

    def _cases(self, head, pieces: list) -> _V:
        """The cases as a ``Piecewise`` (its first true case gives the value; the grader
        checks that no two true cases disagree). "otherwise" may only be the last case."""
        if len(pieces) > 16:
            raise ParseError(f"piecewise formula at position {head.start_pos}: more than 16 "
                             "cases")
        args = []
        for k, (value, cond) in enumerate(pieces):
            if cond is None and k != len(pieces) - 1:
                raise ParseError(f"piecewise formula at position {head.start_pos}: "
                                 "'otherwise' must be the last case")
            if cond is not None and cond.e is sp.false:
                raise ParseError(f"piecewise formula at position {head.start_pos}: case "
                                 f"{k + 1}'s condition is never true")
            args.append((value.e, sp.true if cond is None else cond.e))
        seen = [str(c) for _, c in args]
        if len(set(seen)) != len(seen):
            raise ParseError(f"piecewise formula at position {head.start_pos}: two cases have "
                             "the same condition")
        h = max(max(v.h for v, _ in pieces), max((c.h for _, c in pieces if c), default=0))
        return _leaf(head, sp.Piecewise(*args, evaluate=False), h + 1)


@dataclass(frozen=True)
class Blocks:
    """A block matrix as written: its rows of blocks, and the left side it is equated to."""

    rows: tuple[tuple[sp.Basic, ...], ...]
    lhs: sp.Basic | None = None

    @property
    def size(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0])


@dataclass(frozen=True)
class Tolerance:
    """A number with its stated tolerance: ``0.693 +- 0.001``."""

    value: sp.Expr
    tolerance: sp.Expr


_LOCK = threading.RLock()
_BUILD = _Build()
_LARKS: tuple[Lark, Lark] | None = None


def _lark() -> tuple[Lark, Lark]:
    """The grammar's lexer (all its terminals) and its LALR parser, built once."""
    global _LARKS
    with _LOCK:
        if _LARKS is None:
            grammar = resources.files("derive.grade").joinpath("claims.lark")
            text = grammar.read_text(encoding="utf-8")
            _LARKS = (Lark(text, parser=None, lexer="basic"),
                      Lark(text, parser="lalr", lexer="basic", transformer=_BUILD,
                           maybe_placeholders=False))
        return _LARKS


def parse_formula(text: str, table: SymbolTable | None = None,
                  forms: frozenset[str] = frozenset(),
                  shapes: dict[str, tuple] | None = None) -> object:
    """``text`` (plain math or LaTeX) as a SymPy expression, or an ``Eq``/inequality; with
    ``forms``, also the whole-claim forms a claim's kind allows: ``"matrix"`` (a
    :class:`Blocks`) and ``"tolerance"`` (a :class:`Tolerance`). ``shapes`` declares matrices
    and vectors (name -> (rows, columns)): they are ``MatrixSymbol``s, multiplied in order,
    and ``W^T``, ``h^\\top x`` are transposes (refused while a symbol ``T`` is in scope).

    Raises :class:`ParseError` for anything outside the grammar or the bounds.
    """
    tokens = tokenize(text)
    reader = _Reader(tokens, table if table is not None else SymbolTable(), forms, shapes)
    with _LOCK:
        _BUILD.reader, _BUILD.sums = reader, []
        try:
            value = reader.run(_lark()[1].parse_interactive())
            if shapes:
                _check_shapes(value)
            return value
        except RecursionError:
            raise ParseError("formula nested too deeply") from None
        except ParseError:
            raise
        except sp.ShapeError as exc:
            raise ParseError(f"the shapes do not match: {str(exc)[:200]}") from None
        except Exception as exc:  # noqa: BLE001 - SymPy refusing a construct is a parse failure
            raise ParseError(f"not a valid formula ({type(exc).__name__}: {str(exc)[:200]})") \
                from None
        finally:
            _BUILD.reader = None


def parse_matrix(text: str, table: SymbolTable | None = None) -> Blocks:
    """A block matrix claim: ``[[A, 0], [0, B]]``, ``\\begin{bmatrix} A & 0 \\\\ 0 & B
    \\end{bmatrix}``, possibly ``J = ...``."""
    value = parse_formula(text, table, frozenset({"matrix"}))
    if not isinstance(value, Blocks):
        raise ParseError("not a block matrix: write [[A, 0], [0, B]] or \\begin{bmatrix} A & 0 "
                         "\\\\ 0 & B \\end{bmatrix}")
    return value


def parse_number(text: str) -> sp.Rational:
    """A claimed number, possibly the student's own arithmetic (``(5*5*3 + 1)*16``)."""
    value = parse_formula(text)
    if not isinstance(value, sp.Expr) or not value.is_Rational:
        raise ParseError(f"not a number: {text!r}")
    return value


__all__ = ["FUNCTIONS", "Blocks", "ParseError", "SymbolTable", "Tolerance", "parse_formula",
           "parse_matrix", "parse_number", "sigmoid", "tokenize"]
