"""The Jinja2 environment that renders the LaTeX templates of the reports."""

from __future__ import annotations

import jinja2

from derive.printing.templates import environment as template_environment


def environment() -> jinja2.Environment:
    """The reports' template environment (``derive/report/templates``)."""
    return template_environment("derive.report")


def render(template: str, **context: object) -> str:
    """Render the template named ``template`` (e.g. ``"csc421-hw4.tex"``) with ``context``."""
    return environment().get_template(template).render(**context)
