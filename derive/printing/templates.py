"""Jinja environments for LaTeX templates: LaTeX-safe delimiters (``\\BLOCK{...}``,
``\\VAR{...}``, ``\\#{...}``), no autoescape (math from the printers goes in raw), strict
undefined, and the filters every template uses: ``latex`` (a SymPy object in the course's bar
notation), ``sympy_latex`` (``sympy.latex`` with sums in the course's order), ``number``,
``escape`` (any text made safe to typeset)."""

from __future__ import annotations

from functools import cache

import jinja2

from derive.printing.latex import course_latex, latex
from derive.printing.tex import latex_breakable, latex_escape, latex_number


@cache
def environment(package: str, folder: str = "templates") -> jinja2.Environment:
    """The environment of the templates in ``package``'s ``folder``."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
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
    env.filters["latex_escape"] = env.filters["escape"] = latex_escape
    env.filters["latex_number"] = env.filters["number"] = latex_number
    env.filters["latex_breakable"] = latex_breakable
    env.filters["latex"] = latex
    env.filters["sympy_latex"] = course_latex
    return env
