"""The claims file: what a solution claims, per problem id, in TOML; and its validating loader.

A claims file transcribes one solution. Top-level keys ``title``, ``source`` and ``student``
describe it; every other top-level key is a problem id of the catalogue (or of the problems
the file is loaded against: an instructor's problem set, ``SET/PART``) holding an array of
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
``matrix``    a block matrix: a string (``"[[A, 0], [0, B]]"`` or ``\\begin{bmatrix} A & 0 \\\\
              0 & B \\end{bmatrix}``) or an array of rows of formulas (``[["A", "0"], ["0",
              "B"]]``), compared block by block with a result that is a list of rows.
``recurrence`` a quantity stated through its previous or next step (``"a(k) = 2 a(k-1) + 1"``)
              with its base cases in ``base`` (``["a(0) = 1"]``): unrolled from the base and
              compared, step by step, with the derived closed form (or list of values).

``result`` is a path into the answer's results: ``key``, ``key.sub``, ``key[3]``,
``key[*].field`` (a column of a list of records) or ``key["any text"]`` (a key with spaces).
``assume`` lists the domain of a formula (``["H >= K", "S >= 1"]``), used to sample valid
points for integer formulas; ``work`` is the student's own arithmetic behind a number, checked
against the number claimed; ``tolerance`` (a number, or a string such as ``"5e-4"``) makes a
decimal ``number`` right within that distance of the derived value (``"0.693 ± 0.001"`` says
the same in the claim); a decimal without one is compared at the precision it is written to
(``0.693`` is right for any value that rounds to it). ``id`` names a claim and ``uses`` lists
the ids of the (equation) claims it builds on: their equations are substituted into it before
the comparison (a missing or circular reference is an error of the file); ``explain`` is a
result path of the answer's explanation (text), shown beside the verdict. A malformed file
is a ``DeriveError`` naming the file, the line and key, and the value.
"""

from __future__ import annotations

import difflib
import re
import stat
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derive.catalogue import PROBLEMS
from derive.core.errors import DeriveError

KINDS = ("number", "numbers", "shape", "formula", "equation", "choice", "set", "weights",
         "text", "blank", "matrix", "recurrence")
OPTIONAL = ("result", "label", "where", "note", "assume", "work", "explain", "convention",
            "substitute", "layout", "judged", "because", "illegible", "filled", "tolerance",
            "id", "uses", "base", "shapes")
MAX_BASE = 8  # base cases of a recurrence
MAX_USES = 16  # claims one claim builds on
JUDGEMENTS = ("right", "partly", "right answer, wrong reason", "wrong")
META = ("title", "source", "student")
MAX_FILE_BYTES = 2_000_000
MAX_CLAIMS = 2000
MAX_LIST = 4096  # entries of a numbers/set list
MAX_SHAPE = 16  # dimensions of a shape
_DIM = r"[A-Za-z0-9_]+(\s*[-+*]\s*[A-Za-z0-9_]+)*"  # a size in a declared shape: n, 2*n + 1
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
    tolerance: str = ""  # a decimal number's stated tolerance (as written)
    id: str = ""  # the claim's name, for the claims that build on it
    uses: list[str] = field(default_factory=list)  # ids of the claims it builds on ...
    given: list[Claim] = field(default_factory=list)  # ... resolved, the deepest first
    base: list[str] = field(default_factory=list)  # a recurrence's base cases
    written: str = ""  # a decimal number as the file writes it (0.690 keeps its last zero)
    shapes: dict[str, str] = field(default_factory=dict)  # matrices and vectors: name -> "m x n"

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
    """``value`` quoted, at most 80 characters: its start and its end (a long path keeps the
    file's own name in view)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:38] + "..." + text[-39:]


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


def named_sets(path: str | Path) -> list[str]:
    """The problem sets a claims file names (``SET`` of its ``[["SET/ID"]]`` tables), read
    without knowing which problems they are: to tell a file about another set from one about
    the set being graded. A file that is not readable TOML, or has a table that is not a
    problem id (a problem file is not a claims file), is a ``DeriveError``."""
    path = Path(path)
    data = _parse(_read(path, str(path)), str(path))
    ids = [str(top) for top in data if top not in META]
    odd = [i for i in ids if not re.fullmatch(r"[^/\s]+/\S+", i)]
    if odd:
        raise DeriveError(f"{path}: {_short(odd[0])} is not a problem id; a claims file has "
                          "[[\"SET/ID\"]] tables, one per claim")
    return sorted({i.split("/")[0] for i in ids})


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        lines = text.splitlines()
        shown = ""
        if m and 0 < int(m.group(1)) <= len(lines):
            shown = f": {_short(lines[int(m.group(1)) - 1])}"
        raise DeriveError(f"{name}: not valid TOML: {exc}{shown}") from None
    except RecursionError:
        raise DeriveError(f"{name}: not valid TOML: nested too deeply") from None


def load_claims(path: str | Path, problems: Collection[str] | None = None) -> ClaimsFile:
    """Read and validate a claims file about ``problems`` (the ids it may name; the
    catalogue's by default); every defect is a ``DeriveError`` naming where it is."""
    known = PROBLEMS if problems is None else problems
    path = Path(path)
    name = str(path)
    text = _read(path, name)
    data = _parse(text, name)
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
        if top not in known:
            close = difflib.get_close_matches(top, list(known), n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            of = "the catalogue" if problems is None else "the problem set"
            raise DeriveError(f"{name}: {top!r} is not a problem id of {of}{hint}")
        entries = body if isinstance(body, list) else [body]
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise DeriveError(f"{where(top, index)}: expected a table, got {_short(entry)}")
            claims.append(_claim(top, index, entry, where, headers))
            if isinstance(entry.get("number"), float) and claims[-1].line:
                claims[-1].written = _written(text, claims[-1].line, entry["number"])
            if len(claims) > MAX_CLAIMS:
                raise DeriveError(f"{name}: more than {MAX_CLAIMS} claims")
    if not claims:
        raise DeriveError(f"{name}: no claims (expected [[\"SET/ID\"]] tables, one per claim)")
    _resolve_uses(name, claims)
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
    tolerance = _tolerance(entry, kind, where(pid, index, "tolerance"))
    claim_id = entry.get("id", "")
    if "id" in entry and not (isinstance(claim_id, str) and
                              re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", claim_id)):
        raise DeriveError(f"{where(pid, index, 'id')}: must be a name (letters, digits, _ . -), "
                          f"got {_short(claim_id)}")
    uses = entry.get("uses", [])
    if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses) or \
            len(uses) > MAX_USES:
        raise DeriveError(f"{where(pid, index, 'uses')}: must be a list of claim ids (at most "
                          f"{MAX_USES}), got {_short(uses)}")
    if uses and kind not in ("formula", "equation"):
        raise DeriveError(f"{where(pid, index, 'uses')}: only a formula or an equation builds "
                          f"on earlier claims, not a {kind} claim")
    base = entry.get("base", [])
    if not isinstance(base, list) or not all(isinstance(b, str) for b in base) or \
            len(base) > MAX_BASE:
        raise DeriveError(f"{where(pid, index, 'base')}: must be a list of equations such as "
                          f"\"a(0) = 1\" (at most {MAX_BASE}), got {_short(base)}")
    if base and kind != "recurrence":
        raise DeriveError(f"{where(pid, index, 'base')}: base cases are for a recurrence claim")
    if kind == "recurrence" and not base:
        raise DeriveError(f"{where(pid, index, 'recurrence')}: a recurrence needs its base "
                          "cases (base = [\"a(0) = 1\"]): without them it states no value")
    shapes = entry.get("shapes", {})
    if not isinstance(shapes, dict) or len(shapes) > 32 or not all(
            isinstance(n, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) and
            isinstance(v, str | int) and not isinstance(v, bool) and
            re.fullmatch(rf"\s*{_DIM}((\s+x\s+|\s*×\s*){_DIM})?\s*", str(v))
            for n, v in shapes.items()):
        raise DeriveError(f"{where(pid, index, 'shapes')}: must be a table of names to shapes "
                          f"(e.g. {{ W = \"m x n\", h = \"n\" }}), got {_short(shapes)}")
    if shapes and kind not in ("formula", "equation"):
        raise DeriveError(f"{where(pid, index, 'shapes')}: shapes are for a formula or an "
                          "equation claim")
    if substitute and (uses or shapes):
        raise DeriveError(f"{where(pid, index, 'substitute')}: a substitution is not applied "
                          "together with 'uses' or 'shapes'; transcribe the claim in the "
                          "derived answer's convention instead")
    if any("=" not in b for b in base):
        raise DeriveError(f"{where(pid, index, 'base')}: a base case is an equation "
                          f"\"a(0) = 1\", got {_short(base)}")
    starts = headers.get(pid, [])
    return Claim(pid, kind, value, entry.get("result"), entry.get("label", ""),
                 entry.get("where", ""), entry.get("note", ""), list(assume),
                 starts[index] if index < len(starts) else 0, entry.get("work", ""),
                 entry.get("explain", ""), entry.get("convention", ""),
                 {k: str(v) for k, v in substitute.items()}, entry.get("layout", ""),
                 judged, entry.get("because", ""), bool(entry.get("illegible", False)),
                 entry.get("filled", ""), tolerance, claim_id, list(uses), [], list(base),
                 "", {k: str(v) for k, v in shapes.items()})


def _written(text: str, start: int, value: float) -> str:
    """The literal of ``number = 0.690`` in the table at line ``start``, digits as written
    (a float keeps no trailing zero); "" when it is not found or reads otherwise."""
    line = text.splitlines()[_key_line(text, start, "number") - 1]
    m = re.match(r"\s*number\s*=\s*([-+]?(?:\d[\d_]*)?\.\d[\d_]*)\s*(?:#.*)?$", line)
    if not m or float(m.group(1)) != value:
        return ""
    return m.group(1).replace("_", "")


def _tolerance(entry: dict, kind: str, at: str) -> str:
    """The stated tolerance of a decimal number, as text ("" when none)."""
    if "tolerance" not in entry:
        return ""
    value = entry["tolerance"]
    if kind != "number":
        raise DeriveError(f"{at}: a tolerance is for a number claim")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DeriveError(f"{at}: must be a positive number, got {_short(value)}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if not re.fullmatch(r"\d+(\.\d*)?([eE][-+]?\d{1,3})?|\.\d+([eE][-+]?\d{1,3})?", text) or \
            float(text) <= 0:
        raise DeriveError(f"{at}: must be a positive number such as 5e-4, got {_short(value)}")
    return text


def _resolve_uses(name: str, claims: list[Claim]) -> None:
    """Attach to each claim the claims its ``uses`` name, deepest first; a reference to no
    claim, to a claim that is not an equation, or a circle of references is an error."""
    by_id: dict[str, Claim] = {}
    for claim in claims:
        if claim.id:
            if claim.id in by_id:
                raise DeriveError(f"{name}: line {claim.line}: id {claim.id!r} is already the "
                                  f"id of the claim at line {by_id[claim.id].line}")
            by_id[claim.id] = claim

    def chain(claim: Claim, path: list[str]) -> list[Claim]:
        found: list[Claim] = []
        for ref in claim.uses:
            if ref in path:
                circle = " -> ".join([*path, ref])
                raise DeriveError(f"{name}: line {claim.line}: circular 'uses': {circle} (a "
                                  "claim cannot build on itself)")
            used = by_id.get(ref)
            if used is None:
                known = ", ".join(sorted(by_id)) or "none"
                raise DeriveError(f"{name}: line {claim.line}, key 'uses': no claim has the id "
                                  f"{ref!r} (ids in the file: {known})")
            if used.kind != "equation":
                raise DeriveError(f"{name}: line {claim.line}, key 'uses': {ref!r} (line "
                                  f"{used.line}) is a {used.kind} claim; a claim builds on "
                                  "equations (lhs = rhs)")
            for c in [*chain(used, [*path, ref]), used]:
                if all(c is not f for f in found):
                    found.append(c)
        return found

    for claim in claims:
        if claim.uses:
            claim.given = chain(claim, [claim.id or f"line {claim.line}"])


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
        "matrix": isinstance(value, str) or (
            isinstance(value, list) and 0 < len(value) <= 16 and all(
                isinstance(row, list) and 0 < len(row) <= 16 and all(_scalar(v) for v in row)
                for row in value)),
        "recurrence": isinstance(value, str),
    }[kind]
    if not ok:
        want = {"number": "a number or a string of arithmetic",
                "numbers": "a list of numbers", "shape": "a list of dimensions",
                "formula": "a string", "equation": "a string 'lhs = rhs'",
                "choice": "a string or a number", "set": "a list",
                "weights": "a table of numbers or (nested) lists of numbers (at most 32 "
                           "weights, lists of at most 64 entries, nested at most 3 deep)",
                "text": "a string", "blank": "a string (where the answer is missing)",
                "matrix": "a string \"[[A, 0], [0, B]]\" or a list of rows of formulas (at "
                          "most 16 x 16 blocks)",
                "recurrence": "a string 'a(k) = 2 a(k-1) + 1'"}[kind]
        raise DeriveError(f"{at}: expected {want}, got {_short(value)}")
    if kind in ("numbers", "set") and len(value) > MAX_LIST:
        raise DeriveError(f"{at}: more than {MAX_LIST} entries ({len(value)})")
    if kind == "shape" and len(value) > MAX_SHAPE:
        raise DeriveError(f"{at}: more than {MAX_SHAPE} dimensions ({len(value)})")
    if kind == "matrix" and isinstance(value, list) and len({len(r) for r in value}) > 1:
        raise DeriveError(f"{at}: the rows have {', '.join(str(len(r)) for r in value)} "
                          "blocks: every row of a block matrix has the same number")
    if kind in ("equation", "recurrence") and "=" not in value:
        raise DeriveError(f"{at}: an equation needs '=', got {_short(value)}")
