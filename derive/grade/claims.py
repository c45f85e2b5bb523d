"""The claims file: what a solution claims, per problem id, in TOML; and its validating loader.

A claims file transcribes one solution. Top-level keys ``title``, ``source`` and ``student``
describe it; every other top-level key is a problem id of the catalogue holding an array of
claims (``[["set/id"]]`` headers, one per claim)::

    title = "rnn-cnn-hw: one student's solution"
    source = "000_cc7bab1e7bee99b8.txt"

    [["rnn-cnn-hw/3.1"]]
    result = "total_params"            # the key of derive.answer(id).results it is compared to
    number = 22892904                  # the claim: a number, or the student's arithmetic
    label = "total parameter count"    # optional: what is claimed, for the report
    where = "the table's last line"    # optional: where in the source
    note = "..."                       # optional: the transcriber's remark

Each claim has exactly one value field, which says its kind:

``number``    an integer, a decimal or a string of arithmetic (``"(5*5*3 + 1)*16"``).
``numbers``   a list of numbers (or of lists of numbers, e.g. one shape per layer), compared
              position by position with a list result (the ``result`` path may pick a
              column: ``"layers[*].params"``).
``shape``     a list of dimensions: integers or formulas (``["F", "floor((H-K)/S) + 1"]``).
``formula``   a formula in plain math (``a*b + floor((H-K)/S) + 1``) or LaTeX (``\\frac{a}{b}``,
              ``\\lfloor``, ``\\overline{h^{(t)}}``, ``\\sigma'(z)``, ``\\sum_{t=1}^{T}``);
              ``O(d k^2)`` claims an order of growth: right when the ratio to the derived
              formula settles to a non-zero constant as the variables grow.
``equation``  a named equation ``lhs = rhs``; the left side names the quantity
              (``\\overline{c^{(t)}}`` is ``bar_c``) and selects the result when ``result`` is
              omitted.
``choice``    one answer among options (a string or an integer), compared after normalising
              case and spaces.
``set``       an unordered selection (``[2, 3]``), compared with a list result as a set.
``weights``   a table of named weights (``{W_xh = [[1, 1]], b_y = -0.5}``): not compared with
              the derived weights (there are many right ones) but run by the problem's
              verifier (:mod:`derive.grade.verifiers`), a counterexample when they fail.
``text``      prose: shown beside the derived answer, not checkable.

``result`` is a path into the answer's results: ``key``, ``key.sub``, ``key[3]``,
``key[*].field`` (a column of a list of records) or ``key["any text"]`` (a key with spaces).
``assume`` lists the domain of a formula (``["H >= K", "S >= 1"]``), used to sample valid
points for integer formulas; ``work`` is the student's own arithmetic behind a number, checked
against the number claimed; ``explain`` is a result path of the answer's explanation (text),
shown beside the verdict. A malformed file is a ``DeriveError`` naming the file, the line and
key, and the value.
"""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derive.catalogue import PROBLEMS
from derive.core.errors import DeriveError

KINDS = ("number", "numbers", "shape", "formula", "equation", "choice", "set", "weights",
         "text", "blank")
OPTIONAL = ("result", "label", "where", "note", "assume", "work", "explain", "convention",
            "substitute", "layout", "judged", "because", "illegible", "filled")
JUDGEMENTS = ("right", "wrong")
META = ("title", "source", "student")
MAX_FILE_BYTES = 2_000_000
MAX_CLAIMS = 2000
MAX_LIST = 4096  # entries of a numbers/set list
MAX_SHAPE = 16  # dimensions of a shape
RESULT_PATH = r'[A-Za-z0-9_]+(\.[A-Za-z0-9_]+|\[(\*|\d+|"[^"\]]*")\])*'


@dataclass
class Claim:
    """One claim of a solution about one problem."""

    problem: str
    kind: str
    value: Any
    result: str | None = None
    label: str = ""
    where: str = ""
    note: str = ""
    assume: list[str] = field(default_factory=list)
    line: int = 0  # where the claim's header is in the claims file
    work: str = ""  # the student's own arithmetic for a number, checked for consistency
    explain: str = ""  # a result path of the answer's explanation, shown with the verdict
    convention: str = ""  # the claim's own stated convention (e.g. indices from 1) ...
    substitute: dict[str, str] = field(default_factory=dict)  # ... as the derived answer's
    layout: str = ""  # a shape's stated axis order: its axes are then compared as a multiset
    judged: str = ""  # prose: the transcriber's judgement against the derived answer ...
    because: str = ""  # ... and why
    illegible: bool = False  # the source cannot be read here: counted as unreadable
    filled: str = ""  # values the transcriber filled in (illegible in the source)

    @property
    def title(self) -> str:
        return self.label or self.result or self.kind


@dataclass
class ClaimsFile:
    path: str
    title: str
    source: str
    student: str
    claims: list[Claim]


def _header_lines(text: str) -> dict[str, list[int]]:
    """problem id -> the line numbers of its ``[["id"]]`` (or ``["id"]``) headers."""
    lines: dict[str, list[int]] = {}
    pattern = re.compile(r"""^\s*\[\[?\s*["']?([^"'\]]+?)["']?\s*\]\]?\s*(#.*)?$""")
    for n, line in enumerate(text.splitlines(), start=1):
        m = pattern.match(line)
        if m:
            lines.setdefault(m.group(1).strip(), []).append(n)
    return lines


def _key_line(text: str, start: int, key: str) -> int:
    """The line of ``key = ...`` in the table that starts at ``start`` (else ``start``)."""
    lines = text.splitlines()
    for n in range(start, min(len(lines), start + 200)):
        stripped = lines[n].lstrip()
        if n > start - 1 and stripped.startswith("["):
            break
        if re.match(rf"{re.escape(key)}\s*=", stripped):
            return n + 1
    return start


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read(path: Path, name: str) -> str:
    """The text of the claims file ``path``; a ``DeriveError`` saying what is wrong when it
    cannot be one (a folder, missing, a name the file system refuses, empty, too large). A
    pipe or device is read up to the size limit (``derive grade <(...)`` works)."""
    shown = _short(name)  # a name longer than the file system allows would fill the screen
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DeriveError(f"claims file {shown} not found") from None
    except OSError as exc:  # a name too long, a loop of links, no permission
        raise DeriveError(f"claims file {shown}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DeriveError(f"claims file {shown} is a folder, not a claims file (give one "
                          "*.toml file of it)")
    if info.st_size > MAX_FILE_BYTES:
        raise DeriveError(f"claims file {shown} is larger than {MAX_FILE_BYTES} bytes")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise DeriveError(f"claims file {shown} cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise DeriveError(f"claims file {shown} is larger than {MAX_FILE_BYTES} bytes")
    if not raw.strip():
        raise DeriveError(f"claims file {shown} is empty: no claims, so not a claims file "
                          "(expected [[\"SET/ID\"]] tables, one per claim)")
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not content
    except UnicodeDecodeError as exc:
        raise DeriveError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as read_text's newlines


def load_claims(path: str | Path) -> ClaimsFile:
    """Read and validate a claims file; every defect is a ``DeriveError`` naming where it is."""
    path = Path(path)
    name = str(path)
    text = _read(path, name)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        lines = text.splitlines()
        shown = ""
        if m and 0 < int(m.group(1)) <= len(lines):
            shown = f": {_short(lines[int(m.group(1)) - 1])}"
        raise DeriveError(f"{name}: not valid TOML: {exc}{shown}") from None
    except RecursionError:
        raise DeriveError(f"{name}: not valid TOML: nested too deeply") from None
    headers = _header_lines(text)

    def where(pid: str, index: int, key: str | None = None) -> str:
        starts = headers.get(pid, [])
        line = starts[index] if index < len(starts) else 0
        if key and line:
            line = _key_line(text, line, key)
        at = f"line {line}, " if line else ""
        return f"{name}: {at}[[{pid!r}]] claim {index + 1}" + (f", key {key!r}" if key else "")

    meta: dict[str, str] = {}
    claims: list[Claim] = []
    for top, body in data.items():
        if top in META:
            if not isinstance(body, str):
                raise DeriveError(f"{name}: key {top!r} must be a string, got {_short(body)}")
            meta[top] = body
            continue
        if top not in PROBLEMS:
            import difflib

            close = difflib.get_close_matches(top, list(PROBLEMS), n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise DeriveError(f"{name}: {top!r} is not a problem id of the catalogue{hint}")
        entries = body if isinstance(body, list) else [body]
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise DeriveError(f"{where(top, index)}: expected a table, got {_short(entry)}")
            claims.append(_claim(top, index, entry, where, headers))
            if len(claims) > MAX_CLAIMS:
                raise DeriveError(f"{name}: more than {MAX_CLAIMS} claims")
    if not claims:
        raise DeriveError(f"{name}: no claims (expected [[\"SET/ID\"]] tables, one per claim)")
    return ClaimsFile(name, meta.get("title", path.stem), meta.get("source", ""),
                      meta.get("student", ""), claims)


def _claim(pid: str, index: int, entry: dict, where, headers) -> Claim:
    unknown = [k for k in entry if k not in KINDS + OPTIONAL]
    if unknown:
        raise DeriveError(
            f"{where(pid, index, unknown[0])}: unknown key {unknown[0]!r} "
            f"(value {_short(entry[unknown[0]])}); expected one of {', '.join(KINDS + OPTIONAL)}"
        )
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) != 1:
        raise DeriveError(
            f"{where(pid, index)}: a claim needs exactly one of {', '.join(KINDS)}; "
            f"got {', '.join(kinds) or 'none'}"
        )
    kind = kinds[0]
    value = entry[kind]
    _validate_value(kind, value, where(pid, index, kind))
    for key in ("result", "label", "where", "note", "work", "explain"):
        if key in entry and not isinstance(entry[key], str):
            raise DeriveError(f"{where(pid, index, key)}: must be a string, got "
                              f"{_short(entry[key])}")
    for key in ("result", "explain"):
        if key in entry and not re.fullmatch(RESULT_PATH, entry[key]):
            raise DeriveError(f"{where(pid, index, key)}: malformed result path "
                              f"{_short(entry[key])} (expected key, key.sub, key[3], "
                              "key[*].sub)")
    assume = entry.get("assume", [])
    if not isinstance(assume, list) or not all(isinstance(a, str) for a in assume):
        raise DeriveError(f"{where(pid, index, 'assume')}: must be a list of strings, got "
                          f"{_short(assume)}")
    for key in ("convention", "layout", "because", "filled"):
        if key in entry and not isinstance(entry[key], str):
            raise DeriveError(f"{where(pid, index, key)}: must be a string, got "
                              f"{_short(entry[key])}")
    substitute = entry.get("substitute", {})
    if not isinstance(substitute, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k) and
            isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in substitute.items()) or len(substitute) > 16:
        raise DeriveError(f"{where(pid, index, 'substitute')}: must be a table of names to "
                          f"formulas (e.g. {{ i = \"i - 1\" }}), got {_short(substitute)}")
    if substitute and not entry.get("convention"):
        raise DeriveError(f"{where(pid, index, 'substitute')}: a substitution needs the "
                          "convention it states (convention = \"...\")")
    judged = entry.get("judged", "")
    if judged and judged not in JUDGEMENTS:
        raise DeriveError(f"{where(pid, index, 'judged')}: must be one of "
                          f"{', '.join(JUDGEMENTS)}, got {_short(judged)}")
    if judged and (kind != "text" or not entry.get("because")):
        raise DeriveError(f"{where(pid, index, 'judged')}: a judgement is for a text claim "
                          "and needs its reason (because = \"...\")")
    if "illegible" in entry and not isinstance(entry["illegible"], bool):
        raise DeriveError(f"{where(pid, index, 'illegible')}: must be true or false, got "
                          f"{_short(entry['illegible'])}")
    if "layout" in entry and kind != "shape":
        raise DeriveError(f"{where(pid, index, 'layout')}: a layout is for a shape claim")
    starts = headers.get(pid, [])
    return Claim(pid, kind, value, entry.get("result"), entry.get("label", ""),
                 entry.get("where", ""), entry.get("note", ""), list(assume),
                 starts[index] if index < len(starts) else 0, entry.get("work", ""),
                 entry.get("explain", ""), entry.get("convention", ""),
                 {k: str(v) for k, v in substitute.items()}, entry.get("layout", ""),
                 judged, entry.get("because", ""), bool(entry.get("illegible", False)),
                 entry.get("filled", ""))


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _numeric_array(value: Any, depth: int = 0) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    return isinstance(value, list) and depth < 3 and len(value) <= 64 and all(
        _numeric_array(v, depth + 1) for v in value)


def _validate_value(kind: str, value: Any, at: str) -> None:
    ok = {
        "number": _scalar(value),
        "numbers": isinstance(value, list) and all(
            _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v)) for v in value),
        "shape": isinstance(value, list) and all(_scalar(v) for v in value),
        "formula": isinstance(value, str),
        "equation": isinstance(value, str),
        "choice": _scalar(value),
        "set": isinstance(value, list) and all(_scalar(v) for v in value),
        "weights": isinstance(value, dict) and len(value) <= 32 and all(
            isinstance(k, str) and _numeric_array(v) for k, v in value.items()),
        "text": isinstance(value, str),
        "blank": isinstance(value, str),
    }[kind]
    if not ok:
        want = {"number": "a number or a string of arithmetic",
                "numbers": "a list of numbers", "shape": "a list of dimensions",
                "formula": "a string", "equation": "a string 'lhs = rhs'",
                "choice": "a string or a number", "set": "a list",
                "weights": "a table of numbers or (nested) lists of numbers (at most 32 "
                           "weights, lists of at most 64 entries, nested at most 3 deep)",
                "text": "a string", "blank": "a string (where the answer is missing)"}[kind]
        raise DeriveError(f"{at}: expected {want}, got {_short(value)}")
    if kind in ("numbers", "set") and len(value) > MAX_LIST:
        raise DeriveError(f"{at}: more than {MAX_LIST} entries ({len(value)})")
    if kind == "shape" and len(value) > MAX_SHAPE:
        raise DeriveError(f"{at}: more than {MAX_SHAPE} dimensions ({len(value)})")
    if kind == "equation" and "=" not in value:
        raise DeriveError(f"{at}: an equation needs '=', got {_short(value)}")
