"""The Jinja2 environment that renders the LaTeX templates of the reports."""

from __future__ import annotations

from functools import cache

import jinja2

from derive.printing.tex import latex_breakable, latex_escape, latex_number


@cache
def environment() -> jinja2.Environment:
    """The template environment: LaTeX-safe delimiters, no autoescape, strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("derive.report", "templates"),
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
