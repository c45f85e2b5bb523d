"""A recurrent cell written as text in a problem file, turned into a ``Cell``.

The equations are read by the claims' safe parser (:func:`derive.grade.parse.parse_formula`,
never ``eval``): plain syntax, ``h = c ⊙ h(t-1) + (1 - c) ⊙ W_x x(t)``. A bare signal name is
its value at ``t``; ``x(t - 1)`` is a value at a lag; juxtaposition (or ``*``) is a matrix
product and ``⊙`` (or ``odot``) the elementwise product of vectors. The parser's products are
associative, so two things are made explicit before parsing, both by whole-token rewriting:
every ``⊙`` becomes the marker ``odot``, and every parenthesised group that is not a call
becomes ``grp(...)``, a call the translation unwraps: ``U (r ⊙ h(t-1))`` keeps its grouping.
Matrices and vectors are non-commutative symbols, so a product keeps its order. The functions
a cell knows are ``sigma``, ``tanh``, ``exp``, ``log`` and ``relu`` (applied entry by entry to a
vector).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.core.cell import Cell, t
from derive.core.errors import DeriveError
from derive.core.primitives import elementwise, sigma
from derive.grade.parse import ParseError, SymbolTable, parse_formula
from derive.problemset.spec import Part

_d = sp.Dummy("d", real=True)
FUNCTIONS = {
    "sigma": sigma, "tanh": sp.tanh, "exp": sp.exp, "log": sp.log,
    "relu": sp.Lambda(_d, sp.Max(0, _d)),
}
ALIASES = {"σ": "sigma", "sigmoid": "sigma", "ReLU": "relu", "ln": "log"}
MARKER = "odot"
GROUP = "grp"
PREFIX = "fn_"  # a cell function as the parser sees it: a known function of the table
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SHAPE = re.compile(r"^\s*([A-Za-z0-9]+)\s*(?:[x×*]\s*([A-Za-z0-9]+))?\s*$")


@dataclass
class Declared:
    """The cell's declarations read from a part: sizes, signals, weights, outputs."""

    dims: dict[str, int]  # size name -> the size the checks use
    inputs: dict[str, tuple | None]
    states: dict[str, tuple | None]
    params: dict[str, tuple | None]
    equations: list[str]
    outputs: list[str]


def _shape(part: Part, key: str, name: str, text: object, dims: dict[str, sp.Symbol]
           ) -> tuple | None:
    """``"1"`` a scalar, ``"n"`` an ``n x 1`` vector, ``"m x n"`` a matrix."""
    found = _SHAPE.match(text) if isinstance(text, str) else None
    if found is None:
        raise part.fail(f"bad shape {text!r} of {name!r}", "write \"1\" (a scalar), \"n\" (a "
                        "vector of n entries) or \"m x n\" (a matrix)", key, name)
    sizes = []
    for word in found.groups():
        if word is None:
            continue
        if word.isdigit() and int(word) >= 1:
            sizes.append(sp.Integer(int(word)))
        elif word in dims:
            sizes.append(dims[word])
        else:
            raise part.fail(f"the shape {text!r} of {name!r} uses {word!r}, which is not a "
                            "declared size", f"declare it: dims = {{ {word} = 3 }} (the size "
                            "the checks use)", key, name)
    if len(sizes) == 1:
        return None if sizes[0] == 1 else (sizes[0], sp.Integer(1))
    return (sizes[0], sizes[1])


def declared(part: Part) -> tuple[Declared, dict[str, sp.Symbol], dict[str, tuple | None]]:
    """The declarations of a ``bptt`` part, validated, with the size symbols and shapes."""
    fields = part.fields
    raw_dims = fields.get("dims", {})
    if not isinstance(raw_dims, dict):
        raise part.fail("dims must be a table of sizes", "write dims = { n = 3, m = 2 }",
                        "dims")
    dims: dict[str, int] = {}
    for name, size in raw_dims.items():
        if not NAME.match(name) or isinstance(size, bool) or not isinstance(size, int) or \
                not 1 <= size <= 16:
            raise part.fail(f"size {name} = {size!r} is not a size the checks can use",
                            "give each size a small positive integer (1 to 16), e.g. n = 3",
                            "dims", name)
        dims[name] = size
    symbols = {n: sp.Symbol(n, integer=True, positive=True) for n in dims}
    shapes: dict[str, tuple | None] = {}
    groups = {}
    for key in ("inputs", "states", "params"):
        raw = fields.get(key, {})
        if isinstance(raw, list):  # a list of names: scalars
            raw = dict.fromkeys(raw, "1")
        if not isinstance(raw, dict) or (key != "params" and not raw):
            raise part.fail(f"{key} must be a table of names and shapes",
                            f"write {key} = {{ x = \"n\" }} (or a list of scalar names)", key)
        group = {}
        for name, text in raw.items():
            if not isinstance(name, str) or not NAME.match(name) or name in (
                    "t", "T", MARKER, GROUP) or name.startswith(PREFIX) or name in FUNCTIONS:
                raise part.fail(f"{name!r} cannot name a quantity", "use a letter followed "
                                "by letters, digits or '_' (not t, T or a function name)",
                                key, str(name))
            if name in shapes:
                raise part.fail(f"{name!r} is declared twice", "give each quantity one "
                                "declaration", key, name)
            group[name] = shapes[name] = _shape(part, key, name, text, symbols)
        groups[key] = group
    equations = fields.get("equations")
    if not isinstance(equations, list) or not equations or not all(
            isinstance(e, str) for e in equations):
        raise part.fail("equations must be a list of strings", "write equations = "
                        "[\"h = tanh(W x(t) + U h(t-1))\"]", "equations")
    outputs = fields.get("output")
    outputs = [outputs] if isinstance(outputs, str) else outputs
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str)
                                                               for o in outputs):
        raise part.fail("output must name what the loss reads", "write output = \"h\"",
                        "output" if "output" in fields else None)
    return (Declared(dims, groups["inputs"], groups["states"], groups["params"],
                     list(equations), list(outputs)), symbols, shapes)


def _rewrite(text: str, calls: set[str]) -> str:
    """``text`` with ``⊙`` as the marker, cell functions as ``fn_NAME`` and every grouping
    parenthesis as ``grp(``; whole tokens only."""
    text = text.replace("⊙", f" {MARKER} ").replace("\\odot", f" {MARKER} ")
    for alias, name in ALIASES.items():
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(alias)}(?=\s*\()", name, text)
    text = re.sub(rf"(?<![A-Za-z0-9_])({'|'.join(FUNCTIONS)})(?=\s*\()", PREFIX + r"\1", text)
    out = []
    for i, char in enumerate(text):
        if char == "(":
            before = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[:i])
            if before is None or before.group(1) not in calls:
                out.append(f" {GROUP}")
        out.append(char)
    return "".join(out)


class _Translator:
    """Parsed SymPy (non-commutative where shaped) to the cell's matrix expressions."""

    def __init__(self, cell: Cell, part: Part, line: str, shapes: dict) -> None:
        self.cell, self.part, self.line, self.shapes = cell, part, line, shapes

    def fail(self, what: str, fix: str) -> DeriveError:
        return self.part.fail(f"in {self.line.strip()!r}: {what}", fix, "equations", self.line)

    def __call__(self, e: sp.Basic) -> sp.Basic:
        if isinstance(e, sp.Number):
            return e
        if isinstance(e, sp.Symbol):
            return self.symbol(e)
        if isinstance(e, AppliedUndef):
            return self.applied(e)
        if isinstance(e, sp.Add):
            return self.add([self(a) for a in e.args])
        if isinstance(e, sp.Mul):
            return self.mul(e)
        if isinstance(e, sp.Pow):
            base, power = self(e.base), e.exp
            if isinstance(base, MatrixExpr):
                raise self.fail(f"a power of the vector {e.base}", "write the elementwise "
                                "product with ⊙, e.g. z ⊙ z")
            return base ** self(power)
        raise self.fail(f"{e.func.__name__} is not a function a cell knows",
                        f"use {', '.join(FUNCTIONS)}")

    def symbol(self, e: sp.Symbol) -> sp.Basic:
        name = e.name
        if name in self.cell.parameters:
            return self.cell.parameters[name]
        if name in self.cell.signals:
            return self.cell.signals[name](t)
        if name == MARKER:
            raise self.fail("⊙ needs a factor on each side", "write a ⊙ b")
        if name == "t":
            raise self.fail("the time t alone is not a quantity", "read a signal at a "
                            "time, e.g. h(t-1)")
        raise self.fail(f"undefined symbol {name!r}", f"declare {name} under inputs, "
                        "states or params with its shape, or define it by an equation "
                        "above this one")

    def applied(self, e: AppliedUndef) -> sp.Basic:
        name = e.func.__name__
        if name == GROUP:
            return self(e.args[0])
        if name.startswith(PREFIX):
            f, arg = FUNCTIONS[name[len(PREFIX):]], self(e.args[0])
            return elementwise(f, arg) if isinstance(arg, MatrixExpr) else (
                f(arg) if not isinstance(f, sp.Lambda) else f(arg))
        signal = self.cell.signals.get(name)
        if signal is None or len(e.args) != 1:
            raise self.fail(f"{name}(...) is neither a signal nor a known function",
                            f"declare {name} or use {', '.join(FUNCTIONS)}")
        offset = sp.expand(e.args[0] - sp.Symbol("t"))
        if offset.free_symbols or not offset.is_integer:
            raise self.fail(f"{name} is read at {e.args[0]}, not at t plus a whole number",
                            f"read it at t or t-1, e.g. {name}(t-1)")
        if offset > 0:
            raise self.fail(f"{name}({e.args[0]}) reads the future", f"a step reads only "
                            f"t, t-1, ...; write {name}(t) or {name}(t-1)")
        return signal(t + int(offset))

    def add(self, terms: list[sp.Basic]) -> sp.Basic:
        shaped = [a for a in terms if isinstance(a, MatrixExpr)]
        if not shaped:
            return sp.Add(*terms)
        shape = shaped[0].shape
        out = []
        for a in terms:
            if isinstance(a, MatrixExpr):
                if a.shape != shape:
                    raise self.fail(f"adds {a} ({_shape_words(a.shape)}) to "
                                    f"{shaped[0]} ({_shape_words(shape)})",
                                    "terms of a sum need one shape; check the weights' shapes")
                out.append(a)
            elif a.is_number and shape[1] == 1:
                out.append(a * sp.OneMatrix(*shape))  # 1 - c: the vector of ones minus c
            else:
                raise self.fail(f"adds the scalar {a} to a vector", "add vectors to vectors "
                                "(a number next to a vector means that number in every entry)")
        total = out[0]
        for a in out[1:]:
            total = total + a
        return total

    def mul(self, e: sp.Mul) -> sp.Basic:
        scalars, ordered = e.args_cnc()
        coefficient = sp.Integer(1)
        for a in scalars:
            value = self(a)
            if isinstance(value, MatrixExpr):
                ordered = [a, *ordered]
                continue
            coefficient = coefficient * value
        if not ordered:
            return coefficient
        groups: list[list[sp.Basic]] = [[]]
        for a in ordered:
            if isinstance(a, sp.Symbol) and a.name == MARKER:
                groups.append([])
            else:
                groups[-1].append(a)
        if any(not g for g in groups):
            raise self.fail("⊙ needs a factor on each side", "write a ⊙ b")
        result = None
        for group in groups:
            value = self.chain([self(a) for a in group])
            if result is None:
                result = value
            elif isinstance(result, MatrixExpr) and isinstance(value, MatrixExpr):
                if result.shape != value.shape:
                    raise self.fail(f"⊙ of {_shape_words(result.shape)} and "
                                    f"{_shape_words(value.shape)}", "⊙ multiplies two vectors "
                                    "of one size entry by entry")
                result = sp.HadamardProduct(result, value)
            else:
                result = result * value
        return coefficient * result if coefficient != 1 else result

    def chain(self, factors: list[sp.Basic]) -> sp.Basic:
        value = factors[0]
        for nxt in factors[1:]:
            if isinstance(value, MatrixExpr) and isinstance(nxt, MatrixExpr):
                if value.shape[1] != nxt.shape[0]:
                    hint = ("for the elementwise product write ⊙" if value.shape == nxt.shape
                            else "is a weight declared transposed? a weight read as W x, x of "
                            "n entries, is declared \"rows x n\"")
                    raise self.fail(f"{value} ({_shape_words(value.shape)}) times {nxt} "
                                    f"({_shape_words(nxt.shape)}): the shapes do not conform",
                                    hint)
                value = value * nxt
            else:
                value = value * nxt
        return value


def _shape_words(shape: tuple) -> str:
    return " x ".join(map(str, shape))


def _lhs(part: Part, line: str) -> tuple[str, str]:
    lhs, sep, rhs = line.partition("=")
    name = re.sub(r"\(\s*t\s*\)$", "", lhs.strip())
    if not sep or not NAME.match(name) or not rhs.strip():
        raise part.fail(f"{line.strip()!r} is not an equation 'name = right-hand side'",
                        "write e.g. \"h = tanh(W x(t) + U h(t-1))\"", "equations", line)
    return name, rhs


def build_cell(part: Part) -> tuple[Cell, Declared]:
    """The cell of a ``bptt`` part: its declarations and its equations, translated."""
    decl, symbols, shapes = declared(part)
    cell = Cell(f"part {part.id}", dims=tuple(symbols.values()))
    for name, shape in decl.inputs.items():
        cell.input(name, shape)
    for name, shape in decl.states.items():
        cell.state(name, shape)
    for name, shape in decl.params.items():
        cell.param(name, shape)
    defined = [_lhs(part, line)[0] for line in decl.equations]
    vector = bool(symbols)
    for line in decl.equations:
        name, rhs_text = _lhs(part, line)
        if name in decl.inputs or name in decl.params:
            raise part.fail(f"{name!r} is declared as an input or a weight but an equation "
                            "defines it", f"declare {name} under states (read at a lag) or "
                            "not at all (a value of the step)", "equations", line)
        if name in cell.signals and any(eq.signal.name == name for eq in cell.equations):
            raise part.fail(f"{name!r} has two equations", "keep one equation per quantity",
                            "equations", line)
        table = SymbolTable()
        calls = {GROUP, *(PREFIX + f for f in FUNCTIONS), *cell.signals}
        for pname, obj in cell.parameters.items():
            table.symbols[pname] = sp.Symbol(pname, commutative=not isinstance(obj, MatrixExpr))
        for sname, signal in cell.signals.items():
            table.symbols[sname] = sp.Symbol(sname, commutative=not signal.is_matrix)
            table.functions[sname] = sp.Function(sname, commutative=not signal.is_matrix)
        table.symbols[MARKER] = sp.Symbol(MARKER, commutative=False)
        table.symbols["t"] = sp.Symbol("t")
        table.functions[GROUP] = sp.Function(GROUP, commutative=False)
        for f in FUNCTIONS:
            table.functions[PREFIX + f] = sp.Function(PREFIX + f, commutative=not vector)
        later = [n for n in defined[defined.index(name) + 1:] if n not in cell.signals]
        for other in later:
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(other)}(?![A-Za-z0-9_])", rhs_text):
                raise part.fail(f"{name} reads {other}, whose equation comes later",
                                f"put the equation of {other} first, or declare {other} "
                                "under states if it is read at t-1", "equations", line)
        try:
            parsed = parse_formula(_rewrite(rhs_text, calls), table)
        except ParseError as exc:
            raise part.fail(f"cannot read {line.strip()!r}: {exc}", "write plain math: "
                            "W x(t), h(t-1), sigma(...), tanh(...), ⊙, +, -",
                            "equations", line) from None
        if not isinstance(parsed, sp.Basic) or isinstance(parsed, sp.core.relational.Relational):
            raise part.fail(f"the right-hand side of {line.strip()!r} is not an expression",
                            "one '=' per equation", "equations", line)
        rhs = _Translator(cell, part, line, shapes)(parsed)
        want = shapes.get(name) if name in decl.states else None
        if name in decl.states and (want is None) != (not isinstance(rhs, MatrixExpr)):
            gives = _shape_words(rhs.shape) if isinstance(rhs, MatrixExpr) else "a scalar"
            raise part.fail(f"{name} is declared {_shape_words(want) if want else 'a scalar'}"
                            f" but its equation gives {gives}",
                            "make the declared shape and the equation agree", "equations", line)
        try:
            cell.let(name, rhs)
        except DeriveError as exc:
            raise part.fail(_cell_words(str(exc)), "correct the equation as the message says",
                            "equations", line) from None
    for out in decl.outputs:
        if out not in defined:
            raise part.fail(f"output {out!r} is not defined by an equation",
                            f"name one of {', '.join(defined)}", "output")
    cell.output(*decl.outputs)
    try:
        cell.validate()
    except DeriveError as exc:
        message = _cell_words(str(exc))
        culprit = next((line for line in decl.equations
                        if _lhs(part, line)[0] in message.split("(t)")[0]), None)
        fix = ("read each input at t only" if "input" in message else
               "read earlier values only: t-1, t-2, ..." if "future" in message else
               "correct the equations as the message says")
        raise part.fail(message, fix, "equations", culprit) from None
    return cell, decl


def _cell_words(message: str) -> str:
    """A cell's refusal in the problem file's words (no Python calls in the advice)."""
    message = re.sub(r"^cell 'part [^']*'(, equation '[^']*')?: ", "", message)
    return message.split(". Carry it in")[0]
