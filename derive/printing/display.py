"""Rich display in Jupyter: what MathJax and KaTeX typeset, and short reprs.

A notebook typesets ``text/latex`` as math only, so prose with tables and lists (an answer's
LaTeX body, the errata) is shown as Markdown: math kept in ``$...$`` and ``$$...$$``, tables
as pipe tables, lists as lists, ``verbatim`` as ``<pre>``, ``\\textbf`` as ``**...**``
(:func:`latex_to_markdown`). SymPy objects in the bar notation are typeset by
:func:`sympy_latex`, registered with IPython when ``derive`` is imported in a kernel.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import sympy as sp
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import (
    LatexCharsNode,
    LatexCommentNode,
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexSpecialsNode,
    LatexWalker,
    get_default_latex_context_db,
)
from pylatexenc.macrospec import MacroSpec

from derive.core.cell import T, _name_and_time, t
from derive.printing.latex import latex

# -- short reprs --------------------------------------------------------------------------------

MAX_FORMULA = 1500  # characters of LaTeX typeset for one value, as in the errata
REPR_LIMIT = 200  # characters of a name list in a repr: a repr is a line, not a dump


def name_list(names: Iterable[str], limit: int = REPR_LIMIT) -> str:
    """``a, b, c`` cut to ``limit`` characters with ``(+N more)``."""
    names = [str(n) for n in names]
    shown: list[str] = []
    for name in names:
        if len(", ".join([*shown, name])) > limit:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" (+{rest} more)" if rest else "")


def clip(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# -- Markdown ------------------------------------------------------------------------------------

# CommonMark escapes for punctuation; backslash and brackets as entities, since Jupyter reads
# "\\[" and "\\(" in Markdown as math delimiters before the Markdown is parsed
_MD_ESCAPES = {"\\": "&#92;", "[": "&#91;", "]": "&#93;", "<": "&lt;", ">": "&gt;",
               "&": "&amp;", **{c: "\\" + c for c in "`*_|$#~"}}
_MD_ESCAPE = re.compile("|".join(re.escape(c) for c in _MD_ESCAPES))


def markdown_escape(text: str) -> str:
    """Plain text made literal in Markdown (no emphasis, code, math or HTML)."""
    return _MD_ESCAPE.sub(lambda m: _MD_ESCAPES[m.group(0)], str(text))


def value_markdown(value: Any) -> str:
    """A value as Markdown: SymPy objects and numbers as inline math, anything else as text."""
    if isinstance(value, bool) or value is None:
        return markdown_escape(str(value))
    if isinstance(value, Fraction):
        return f"${value.numerator}$" if value.denominator == 1 else \
            rf"$\frac{{{value.numerator}}}{{{value.denominator}}}$"
    if isinstance(value, int | float):
        return f"${value:g}$" if isinstance(value, float) else f"${value}$"
    if isinstance(value, sp.Basic):
        try:
            out = latex(value)
        except Exception:  # noqa: BLE001 - SymPy's own printer is the fallback
            out = sp.latex(value)
        # a claim can be huge (it is the student's): say so rather than typeset pages
        return f"${out}$" if len(out) <= MAX_FORMULA else \
            markdown_escape(f"(a formula of {len(out)} characters)")
    if isinstance(value, list | tuple) and len(value) <= 64:
        return "(" + ", ".join(value_markdown(v) for v in value) + ")"
    return markdown_escape(clip(str(value), 300))


# -- LaTeX bodies as Markdown ----------------------------------------------------------------------

_MATH_ENVIRONMENTS = {  # display environments -> what MathJax/KaTeX take inside $$...$$
    "align": "aligned", "align*": "aligned", "flalign": "aligned", "flalign*": "aligned",
    "eqnarray": "aligned", "eqnarray*": "aligned", "alignat": "aligned",
    "alignat*": "aligned", "gather": "gathered", "gather*": "gathered",
    "multline": "gathered", "multline*": "gathered",
    "equation": "", "equation*": "", "displaymath": "", "math": "",
}
_MATRICES = {"matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix",
             "cases", "array", "aligned", "gathered", "split"}
_DROPPED = {"noindent", "small", "footnotesize", "scriptsize", "tiny", "normalsize", "large",
            "Large", "LARGE", "huge", "toprule", "midrule", "bottomrule", "hline", "cline",
            "centering", "raggedright", "raggedleft", "smallskip", "medskip", "bigskip",
            "vspace", "hspace", "vfill", "hfill", "label", "clearpage", "newpage", "relax",
            "nobreak", "allowbreak", "pagebreak", "strut", "indent", "cmidrule",
            "addlinespace", "rule", "phantom"}
_SYMBOLS = {"%": "%", "#": "#", "$": "$", "&": "&", "_": "_", "{": "{", "}": "}",
            "textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^",
            "textless": "<", "textgreater": ">", "textbar": "|", "textendash": "\u2013",
            "textemdash": "\u2014", "dots": "\u2026", "ldots": "\u2026",
            "textellipsis": "\u2026", "checkmark": "\u2713", "quad": " ", "qquad": "  ",
            " ": " ", ",": " ", ";": " ", ":": " ", "!": "", "/": "", "-": "",
            "LaTeX": "LaTeX", "TeX": "TeX", "S": "\u00a7", "P": "\u00b6",
            "textquotesingle": "'", "textasciigrave": "`"}
_SPECIALS = {"~": "\u00a0", "--": "\u2013", "---": "\u2014", "``": "\u201c", "''": "\u201d",
             "&": " ", "`": "\u2018", "'": "\u2019"}
_STYLES = {"textbf": "**", "bfseries": "**", "emph": "*", "textit": "*", "textsl": "*",
           "underline": "*"}
_PLAIN = {"textrm", "textsf", "textnormal", "textup", "textsc", "mbox", "hbox", "text",
          "makebox", "fbox", "caption"}
_HEADINGS = {"section": "###", "subsection": "####", "subsubsection": "#####",
             "chapter": "##", "part": "##"}
_RUN_IN = {"paragraph", "subparagraph"}


def _context():
    db = get_default_latex_context_db()
    db.add_context_category("derive-display", prepend=True, macros=[
        MacroSpec("paragraph", "*[{"), MacroSpec("subparagraph", "*[{"),
        MacroSpec("ensuremath", "{"), MacroSpec("texttt", "{"), MacroSpec("underline", "{"),
        MacroSpec("vspace", "*{"), MacroSpec("hspace", "*{"), MacroSpec("label", "{"),
        MacroSpec("cmidrule", "{"), MacroSpec("phantom", "{"),
    ])
    return db


_CONTEXT = _context()
_TO_TEXT = LatexNodes2Text(math_mode="verbatim")


def _inner(node) -> str:
    """The source between a node's delimiters (a math node, an environment's body)."""
    return "".join(n.latex_verbatim() for n in (node.nodelist or []) if n is not None)


def _args(node) -> list:
    argd = getattr(node, "nodeargd", None)
    return [a for a in (argd.argnlist if argd else []) if a is not None]


def _last_arg(node):
    args = [a for a in _args(node) if isinstance(a, LatexGroupNode)]
    return args[-1] if args else None


def _plain(nodes) -> str:
    """Nodes as the characters LaTeX prints (for code: nothing is escaped there)."""
    out = []
    for node in nodes or []:
        if isinstance(node, LatexCharsNode):
            out.append(node.chars)
        elif isinstance(node, LatexGroupNode):
            out.append(_plain(node.nodelist))
        elif isinstance(node, LatexMacroNode) and node.macroname in _SYMBOLS:
            out.append(_SYMBOLS[node.macroname])
        elif node is not None:
            out.append(_TO_TEXT.nodelist_to_text([node]))
    return "".join(out)


def _one_line(math: str) -> str:
    return " ".join(math.split())


class _Converter:
    """One LaTeX body to Markdown; ``cell`` is set inside a table, where every block must
    fit on one line."""

    def __init__(self, cell: bool = False, kept: list[str] | None = None) -> None:
        self.cell = cell
        self.kept = [] if kept is None else kept  # <pre> blocks, put back after tidying

    def keep(self, text: str) -> str:
        self.kept.append(text)
        return f"{_KEPT}{len(self.kept) - 1}{_KEPT}"

    def nodes(self, nodes) -> str:
        return "".join(self.node(node) for node in nodes or [] if node is not None)

    def block(self, text: str) -> str:
        return f" {text} " if self.cell else f"\n\n{text}\n\n"

    def node(self, node) -> str:
        if isinstance(node, LatexCharsNode):
            return self.chars(node.chars)
        if isinstance(node, LatexCommentNode):
            return ""
        if isinstance(node, LatexGroupNode):
            return self.nodes(node.nodelist)
        if isinstance(node, LatexMathNode):
            return self.math(_inner(node), node.displaytype == "display")
        if isinstance(node, LatexSpecialsNode):
            return _SPECIALS.get(node.specials_chars, markdown_escape(node.specials_chars))
        if isinstance(node, LatexMacroNode):
            return self.macro(node)
        if isinstance(node, LatexEnvironmentNode):
            return self.environment(node)
        return markdown_escape(_TO_TEXT.nodelist_to_text([node]))

    def chars(self, text: str) -> str:
        # one newline is a space in LaTeX as in Markdown; a blank line a paragraph
        paragraphs = re.split(r"[ \t]*\n[ \t]*\n\s*", text)
        text = ("  " if self.cell else "\n\n").join(
            re.sub(r"\s+", " ", part) for part in paragraphs)
        return markdown_escape(text)

    def math(self, source: str, display: bool) -> str:
        source = source.strip()
        if self.cell:  # a pipe table splits cells at "|" before the math is read
            source = source.replace(r"\|", r"\Vert ").replace("|", r"\vert ")
            return f"$${_one_line(source)}$$" if display else f"${_one_line(source)}$"
        return self.block(f"$${source}$$") if display else f"${_one_line(source)}$"

    def macro(self, node) -> str:
        name = node.macroname
        if name in _DROPPED:
            return ""
        if name == "\\" or name in ("newline", "linebreak"):
            return " " if self.cell else "<br>\n"
        if name == "par":
            return self.block("")
        if name in _SYMBOLS:
            return markdown_escape(_SYMBOLS[name])
        arg = _last_arg(node)
        if name == "ensuremath" and arg is not None:
            return self.math(_inner(arg), False)
        if name in _STYLES:
            if arg is None:
                return ""
            inner = self.nodes([arg])
            mark = _STYLES[name]
            # emphasis marks must touch the text they mark: spaces go outside
            core = inner.strip()
            if not core:
                return inner
            lead = inner[:len(inner) - len(inner.lstrip())]
            trail = inner[len(inner.rstrip()):]
            return f"{lead}{mark}{core}{mark}{trail}"
        if name == "texttt":
            if arg is None:
                return ""
            if any(isinstance(n, LatexMathNode) for n in arg.nodelist or []):
                return self.nodes([arg])
            code = _plain(arg.nodelist).strip()
            fence = "``" if "`" in code else "`"
            pad = " " if code.startswith("`") or code.endswith("`") else ""
            return f"{fence}{pad}{code}{pad}{fence}"
        if name in _PLAIN:
            return self.nodes([arg]) if arg is not None else ""
        if name in _HEADINGS:
            title = self.nodes([arg]).strip() if arg is not None else ""
            return " **" + title + "** " if self.cell else \
                f"\n\n{_HEADINGS[name]} {title}\n\n"
        if name in _RUN_IN:
            title = self.nodes([arg]).strip() if arg is not None else ""
            return ("" if self.cell else "\n\n") + f"**{title}** "
        if name == "item":
            return ""  # items are split by their list
        if name in ("frac", "tfrac", "dfrac", "sqrt", "overline", "mathbf", "mathrm",
                    "mathcal", "mathbb", "boldsymbol", "operatorname", "hat", "bar", "vec",
                    "binom") or name in _GREEK:
            return self.math(node.latex_verbatim(), False)  # math written outside $...$
        # any other command: its text, as LaTeX would print it, without the command
        text = _TO_TEXT.nodelist_to_text([node])
        return markdown_escape(text)

    def environment(self, node) -> str:
        name = node.environmentname
        if name in _MATH_ENVIRONMENTS:
            inner = _inner(node).strip()
            wrap = _MATH_ENVIRONMENTS[name]
            body = rf"\begin{{{wrap}}}{inner}\end{{{wrap}}}" if wrap else inner
            return self.math(body, True)
        if name in _MATRICES:
            return self.math(node.latex_verbatim(), False)
        if name == "verbatim" or name == "lstlisting" or name == "Verbatim":
            source = node.latex_verbatim()
            code = source[source.index("}") + 1:source.rindex("\\end")].strip("\n")
            # <pre>, not a fenced block: Jupyter reads "$" in a fence as math
            pre = "<pre>" + html.escape(code).replace("$", "&#36;") + "</pre>"
            return f" <code>{html.escape(_one_line(code))}</code> " if self.cell else \
                self.block(self.keep(pre))
        if name in ("itemize", "enumerate", "description"):
            return self.items(node, ordered=name == "enumerate")
        if name in ("tabular", "tabular*", "tabularx", "longtable", "array"):
            return self.table(node)
        # center, flushleft, quote, minipage, table, figure, ...: their content
        return self.block(self.nodes(node.nodelist).strip())

    def items(self, node, ordered: bool) -> str:
        items: list[tuple[str, list]] = []
        for child in node.nodelist or []:
            if isinstance(child, LatexMacroNode) and child.macroname == "item":
                label = [a for a in _args(child) if a is not None]
                items.append((self.nodes([label[0]]).strip("[] ") if label else "", []))
            elif items:
                items[-1][1].append(child)
        lines = []
        for k, (label, body) in enumerate(items, 1):
            text = _Converter(self.cell, self.kept).nodes(body).strip()
            if label:
                text = f"**{label}** {text}"
            mark = f"{_ITEM}{k}." if ordered else f"{_ITEM}-"
            if self.cell:
                lines.append(f"{mark} {text}")
            else:  # continuation lines indented so they stay in the item
                lines.append(f"{mark} " + re.sub(r"\n(?=.)", "\n" + _INDENT * (len(mark) + 1),
                                                 _tidy(text)))
        return " ".join(lines) if self.cell else self.block("\n".join(lines))

    def table(self, node) -> str:
        spec = _args(node)
        columns = re.sub(r"[@!<>]\{[^{}]*\}|\{[^{}]*\}|[|\s*]", "",
                         _inner(spec[-1]) if spec else "")
        rows: list[list[list]] = [[[]]]
        header_rows = None
        for child in node.nodelist or []:
            if isinstance(child, LatexMacroNode) and child.macroname == "\\":
                rows.append([[]])
            elif isinstance(child, LatexSpecialsNode) and child.specials_chars == "&":
                rows[-1].append([])
            elif isinstance(child, LatexMacroNode) and child.macroname == "midrule" and \
                    header_rows is None:
                header_rows = len(rows) - 1
            else:
                rows[-1][-1].append(child)
        cell = _Converter(True, self.kept)
        table = [[" ".join(cell.nodes(c).split()) for c in row] for row in rows]
        table = [row for row in table if any(row)]
        if not table:
            return ""
        width = max(len(row) for row in table)
        table = [row + [""] * (width - len(row)) for row in table]
        align = {"l": ":---", "c": ":---:", "r": "---:"}
        rule = [align.get(columns[k] if k < len(columns) else "l", "---") for k in range(width)]
        head = table[0] if header_rows != 0 else [""] * width
        body = table[1:] if header_rows != 0 else table
        lines = ["| " + " | ".join(c or " " for c in head) + " |",
                 "| " + " | ".join(rule) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return self.block("\n".join(lines))


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "sigma",
          "tau", "phi", "psi", "omega", "rho", "eta", "pi", "nabla", "partial", "infty",
          "times", "cdot", "le", "ge", "leq", "geq", "ne", "neq", "approx", "in", "to",
          "odot", "otimes", "oplus", "pm", "sum", "prod", "log", "exp", "max", "min"}


def latex_to_markdown(body: str) -> str:
    """A LaTeX body (prose with math, tables, lists, code) as Markdown that a notebook
    renders: math stays LaTeX inside ``$...$`` / ``$$...$$`` (display environments become
    ``aligned`` / ``gathered``), text commands become Markdown, layout commands go."""
    nodes, _, _ = LatexWalker(body, latex_context=_CONTEXT,
                              tolerant_parsing=True).get_latex_nodes()
    converter = _Converter()
    text = _tidy(converter.nodes(nodes))
    # a line of text opening with "- ", "+ " or "1. " would become a list item: not ours
    text = re.sub(r"(?m)^([\x01 ]*)(?:([-+])|(\d+)([.)]))(?=\s|$)",
                  lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else
                                          m.group(3) + _NOT_A_MARK[m.group(4)]), text)
    text = text.replace(_ITEM, "").replace(_INDENT, " ").strip() + "\n"
    return re.sub(f"{_KEPT}(\\d+){_KEPT}", lambda m: converter.kept[int(m.group(1))], text)


_INDENT = "\x01"  # a list item's continuation indent, kept through _tidy
_KEPT = "\x02"  # around the number of a kept block
_ITEM = "\x03"  # before the mark of a list item the converter makes
# "\\)" would read as a math delimiter in Jupyter's Markdown: the entity instead
_NOT_A_MARK = {".": "\\.", ")": "&#41;"}


def _tidy(text: str) -> str:
    """No spaces at the ends of lines (four at the start would make code), no runs of blank
    lines."""
    text = re.sub(r"[ \t]+\n|\n[ \t]+", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)


# -- SymPy objects in Jupyter ---------------------------------------------------------------------

def in_bar_notation(expr: Any) -> bool:
    """Whether ``expr`` holds derive's quantities (a signal at a time of ``t``/``T``, a bar):
    those print in the bar notation; any other SymPy object prints as SymPy prints it."""
    if not isinstance(expr, sp.Basic):
        return False
    for atom in expr.atoms(sp.core.function.AppliedUndef, sp.MatrixSymbol, sp.Symbol):
        if isinstance(atom, sp.Symbol | sp.MatrixSymbol) and str(atom.name).startswith("bar_"):
            return True
        name, time = _name_and_time(atom)
        if name is None:
            continue
        if isinstance(atom, sp.MatrixSymbol) or sp.sympify(time).free_symbols & {t, T}:
            return True
    return False


def sympy_latex(expr: Any, fallback=None) -> str | None:
    """``text/latex`` of a SymPy object in a notebook: the bar notation
    (``\\overline{c^{(t)}}``, not SymPy's ``\\operatorname{bar}_{c}``) for derive's quantities,
    else what ``fallback`` (a printer registered before, e.g. ``init_printing``'s) or SymPy
    gives."""
    if in_bar_notation(expr):
        try:
            return f"$\\displaystyle {latex(expr)}$"
        except Exception:  # noqa: BLE001 - a display must not raise: SymPy's printer instead
            pass
    if fallback is not None:
        return fallback(expr)
    method = getattr(expr, "_repr_latex_", None)
    return method() if method is not None else None


def register_ipython_printer() -> bool:
    """Make a running IPython kernel print SymPy objects through :func:`sympy_latex`. Called
    on import: ``m.adjoints["c"]`` is a ``sympy.Eq``, whose own ``_repr_latex_`` knows nothing
    of bars. Returns whether a kernel was there. IPython is never imported here."""
    module = sys.modules.get("IPython")
    shell = module.get_ipython() if module is not None and hasattr(module, "get_ipython") \
        else None
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    formatter = shell.display_formatter.formatters.get("text/latex")
    if formatter is None:
        return False
    previous = formatter.type_printers.get(sp.Basic)
    if getattr(previous, "_derive", False):
        return True  # registered already (a re-import)

    def printer(expr: Any) -> str | None:
        return sympy_latex(expr, previous)

    printer._derive = True  # type: ignore[attr-defined]
    formatter.for_type(sp.Basic, printer)
    return True


register_ipython_printer()
