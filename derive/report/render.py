"""The Jinja2 environment that renders the LaTeX templates of the reports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jinja2

from derive.core.errors import DeriveError
from derive.printing.templates import environment as template_environment


def environment() -> jinja2.Environment:
    """The reports' template environment (``derive/report/templates``)."""
    return template_environment("derive.report")


def render(template: str, **context: object) -> str:
    """Render the template named ``template`` (e.g. ``"csc421-hw4.tex"``) with ``context``."""
    return environment().get_template(template).render(**context)


def write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file beside it and a rename: ``path`` is
    the old file or the whole new one, never half-written (a full disk, an interrupt)."""
    try:
        # the name cut short: a temporary name may not exceed what the file system allows
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:100]}-", dir=path.parent)
    except OSError as exc:
        raise DeriveError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise DeriveError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
