"""The one discovery: every model module and every answer module is imported once, so that
their registrations (``@register``, ``@problem``) run. Nothing else imports modules by name.

It imports nothing of ``derive`` at load time, so every layer may ask for discovery."""

from __future__ import annotations

import importlib
import pkgutil

PACKAGES = ("derive.models", "derive.answers")
_DISCOVERED = False


def discover() -> None:
    """Import every module of the model and answer packages, once."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            importlib.import_module(f"{package}.{info.name}")


def discover_each() -> list[str]:
    """Import every module on its own, so that one that fails to import does not hide the
    others: the failures, as messages (a report lists them and builds the rest)."""
    global _DISCOVERED
    errors = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            try:
                importlib.import_module(f"{package}.{info.name}")
            except Exception as exc:  # a broken module: report it, keep the others
                errors.append(f"{package}.{info.name}: {type(exc).__name__}: {exc}")
    _DISCOVERED = True
    return errors
