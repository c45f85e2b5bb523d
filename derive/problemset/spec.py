"""A problem-set file (TOML) read and validated: its set table, its parts, and where each is.

``tomllib`` reports the line of a syntax error but keeps no positions for values, so the
line of a part or of one of its keys is found in the file's text: the ``n``-th ``[[part]]``
header opens part ``n``, and a key is the first line inside that part's span that starts
with ``key =`` (or, for one item of an array such as an equation, the first line inside the
key's lines holding that item's text). Every error is a :class:`ProblemFileError`,
``FILE:LINE: what (fix: how)``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derive.core.errors import DeriveError

KINDS = ("bptt", "cnn", "conv", "map", "schedule")
MAX_FILE_BYTES = 1 << 20  # a problem file is text a person wrote; more is not one
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SET_KEYS = {"id", "title", "course", "notation", "preamble"}
NOTATION = {
    # key: (default, the values the key accepts)
    "time": ("superscript", ("superscript",)),
    "bars": ("overline", ("overline",)),
    "steps": ("T", None),  # any single letter
    "loss": ("L", None),
}
COMMON_PART_KEYS = {"kind", "id", "title", "statement", "ask"}


class ProblemFileError(DeriveError):
    """A malformed problem file: ``FILE:LINE: what (fix: how)``."""


@dataclass
class Locator:
    """Lines of a problem file's text: of each ``[[part]]`` and of the keys inside it."""

    path: Path
    lines: list[str]

    @property
    def part_starts(self) -> list[int]:
        """1-based line numbers of the ``[[part]]`` headers, in order."""
        return [i + 1 for i, line in enumerate(self.lines)
                if re.match(r"^\s*\[\[\s*part\s*\]\]", line)]

    def part_span(self, index: int) -> tuple[int, int]:
        """First and last line (1-based) of part ``index`` (0-based)."""
        starts = self.part_starts
        if index >= len(starts):
            return (len(self.lines), len(self.lines))
        end = next((i for i in range(starts[index], len(self.lines))
                    if re.match(r"^\s*\[", self.lines[i])), len(self.lines))
        return starts[index], end

    def set_line(self, key: str | None = None) -> int:
        head = next((i + 1 for i, line in enumerate(self.lines)
                     if re.match(r"^\s*\[\s*set\s*\]", line)), 1)
        if key is None:
            return head
        return self._key_in(key, head, len(self.lines)) or head

    def _key_in(self, key: str, first: int, last: int) -> int | None:
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        for i in range(first - 1, min(last, len(self.lines))):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def line(self, part: int | None, key: str | None = None, item: str | None = None) -> int:
        """The line of ``key`` in part ``part`` (its header without a key), or of the array
        item whose text contains ``item``."""
        if part is None:
            return self.set_line(key)
        first, last = self.part_span(part)
        if key is None:
            return first
        at = self._key_in(key, first, last)
        if at is None:
            return first
        if item:
            needle = item.strip()[:40]
            for i in range(at - 1, last):
                if needle and needle in self.lines[i]:
                    return i + 1
        return at

    def error(self, line: int, what: str, fix: str) -> ProblemFileError:
        return ProblemFileError(f"{self.path}:{line}: {what} (fix: {fix})")


@dataclass
class Part:
    """One part: its kind, statement, what it asks and the kind's own fields."""

    index: int  # 0-based position in the file
    id: str
    kind: str
    title: str
    statement: str
    ask: list[str]
    fields: dict[str, Any]
    where: Locator = field(repr=False)

    def line(self, key: str | None = None, item: str | None = None) -> int:
        return self.where.line(self.index, key, item)

    def fail(self, what: str, fix: str, key: str | None = None,
             item: str | None = None) -> ProblemFileError:
        """An error at ``key`` (or the part's header), naming the part."""
        return self.where.error(self.line(key, item), f"part {self.id} ({self.kind}): {what}",
                                fix)


@dataclass
class ProblemSet:
    """A validated problem file."""

    path: Path
    id: str
    title: str
    course: str
    preamble: str
    notation: dict[str, str]
    parts: list[Part]


def read_text(path: Path) -> str:
    """The file's text, or a ``ProblemFileError`` saying why it cannot be read."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProblemFileError(f"{path}: {exc.strerror} (fix: give the path of a problem "
                               "file, e.g. problemsets/gru-homework.toml)") from None
    if not path.is_file():
        raise ProblemFileError(f"{path}: not a file (fix: give the path of a .toml problem "
                               "file)")
    if size > MAX_FILE_BYTES:
        raise ProblemFileError(f"{path}:1: the file has {size:,d} bytes, more than a problem "
                               f"file needs (fix: keep it under {MAX_FILE_BYTES:,d} bytes)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemFileError(f"{path}:1: not UTF-8 text ({exc.reason}) (fix: save the file "
                               "as UTF-8)") from None


def _toml(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = found.group(1) if found else "1"
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ProblemFileError(
            f"{path}:{line}: not valid TOML: {what} (fix: check the quotes, brackets and "
            "'key = value' form of that line; strings with backslashes go in '...' or "
            "'''...''')") from None


def _text(where: Locator, part: int | None, key: str, value: object, required: bool = True
          ) -> str:
    if value is None:
        if required:
            raise where.error(where.line(part, None), f"missing {key!r}",
                              f"add {key} = \"...\"")
        return ""
    if not isinstance(value, str):
        raise where.error(where.line(part, key), f"{key!r} must be a string, got "
                          f"{type(value).__name__}", f"write {key} = \"...\"")
    return value.strip()


def _notation(where: Locator, table: object) -> dict[str, str]:
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise where.error(where.set_line("notation"), "notation must be a table",
                          "write notation = { steps = \"T\", loss = \"L\" }")
    out = {}
    for key, value in table.items():
        if key not in NOTATION:
            raise where.error(where.set_line("notation"), f"unknown notation key {key!r}",
                              f"use one of {', '.join(NOTATION)}")
        allowed = NOTATION[key][1]
        if not isinstance(value, str) or (allowed is not None and value not in allowed) or (
                allowed is None and not re.fullmatch(r"[A-Za-z]", value)):
            accepted = ", ".join(repr(a) for a in allowed) if allowed else "a single letter"
            raise where.error(where.set_line("notation"),
                              f"notation {key} = {value!r} is not supported",
                              f"use {accepted}")
        out[key] = value
    return {key: out.get(key, default) for key, (default, _) in NOTATION.items()}


def load(path: str | Path) -> ProblemSet:
    """Read and validate the problem file at ``path`` (the kinds' own fields are validated by
    their modules when the set is answered)."""
    path = Path(path)
    text = read_text(path)
    where = Locator(path, text.splitlines())
    data = _toml(path, text)
    unknown = sorted(set(data) - {"set", "part"})
    if unknown:
        raise where.error(1, f"unknown top-level table or key {unknown[0]!r}",
                          "a problem file holds one [set] table and [[part]] tables")
    head = data.get("set")
    if not isinstance(head, dict):
        raise where.error(1, "no [set] table", "start the file with [set], id = \"...\", "
                          "title = \"...\" (derive new-set writes a template)")
    extra = sorted(set(head) - SET_KEYS)
    if extra:
        raise where.error(where.set_line(extra[0]), f"unknown key {extra[0]!r} in [set]",
                          f"use {', '.join(sorted(SET_KEYS))}")
    set_id = _text(where, None, "id", head.get("id"))
    if not ID_PATTERN.match(set_id):
        raise where.error(where.set_line("id"), f"set id {set_id!r} is not a file name",
                          "use letters, digits, '-', '_' and '.', e.g. id = \"hw5\"")
    parts_data = data.get("part", [])
    if not isinstance(parts_data, list) or not parts_data:
        raise where.error(where.set_line(), "the set has no parts",
                          "add a [[part]] table with kind = \"bptt\" (or cnn, conv, map, "
                          "schedule)")
    parts: list[Part] = []
    seen: set[str] = set()
    for index, raw in enumerate(parts_data):
        kind = raw.get("kind")
        if kind not in KINDS:
            line = where.line(index, "kind") if "kind" in raw else where.line(index)
            shown = "no kind" if kind is None else f"unknown kind {kind!r}"
            raise where.error(line, f"part {index + 1}: {shown}",
                              f"write kind = one of {', '.join(repr(k) for k in KINDS)}")
        part_id = raw.get("id", str(index + 1))
        if not isinstance(part_id, str) or not ID_PATTERN.match(part_id):
            raise where.error(where.line(index, "id"), f"part id {part_id!r} is not a short "
                              "name", "use letters, digits, '-', '_' or '.', e.g. id = \"2a\"")
        if part_id in seen:
            raise where.error(where.line(index, "id"), f"part id {part_id!r} is used twice",
                              "give each part its own id")
        seen.add(part_id)
        ask = raw.get("ask")
        if not isinstance(ask, list) or not ask or not all(isinstance(a, str) for a in ask):
            raise where.error(where.line(index, "ask" if "ask" in raw else None),
                              f"part {part_id}: 'ask' must be a non-empty list of strings",
                              "write ask = [...] with what the key answers (see "
                              "problemsets/README.md for each kind's words)")
        parts.append(Part(
            index, part_id, kind,
            _text(where, index, "title", raw.get("title"), required=False),
            _text(where, index, "statement", raw.get("statement")),
            list(ask),
            {k: v for k, v in raw.items() if k not in COMMON_PART_KEYS},
            where,
        ))
    return ProblemSet(path, set_id, _text(where, None, "title", head.get("title")),
                      _text(where, None, "course", head.get("course"), required=False),
                      _text(where, None, "preamble", head.get("preamble"), required=False),
                      _notation(where, head.get("notation")), parts)


def check_keys(part: Part, allowed: set[str], required: set[str], asks: dict[str, str]) -> None:
    """Refuse unknown or missing keys and unknown ask words of ``part``."""
    for key in part.fields:
        if key not in allowed:
            raise part.fail(f"unknown key {key!r}", f"a {part.kind} part takes "
                            f"{', '.join(sorted(allowed | COMMON_PART_KEYS))}", key)
    for key in sorted(required):
        if key not in part.fields:
            raise part.fail(f"missing {key!r}", f"add {key} = ... (see problemsets/README.md)")
    for word in part.ask:
        if word not in asks:
            raise part.fail(f"unknown ask {word!r}", "ask for any of "
                            + ", ".join(repr(a) for a in asks), "ask", word)
