"""Problem statements parsed from the catalogue (``derive/catalogue/problems.md``), as LaTeX.

The catalogue is Markdown: ``## Set `SET``` headings, ``### `SET/N` Title`` problems whose
body holds the shared definitions (text and code blocks) and a bullet per part (``- `1a` ...``,
several parts may share a bullet, separated by ``; ``). Text is escaped; a code span that is a
formula becomes inline math and a block of equations an aligned display (``mathtext``), an id
an id, anything else escaped typewriter text. A ``[catalogue: ...]`` passage is the catalogue's
own note (what a complete answer holds, what was reconstructed, how a problem reuses another):
it is read (a missing figure, "The same as `X`") but never printed, so a statement reads as the
student's question. Nothing is copied by hand: a problem that reads "The same as `X`" inherits
X's definitions (with the input-first weight names when it says so), and "`2.3` ... is `X/1c`"
takes X/1c's statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from derive.catalogue import PROBLEMS, catalogue_text
from derive.core.errors import DeriveError
from derive.printing.mathtext import equations, to_math
from derive.printing.tex import latex_escape

_CODE = re.compile(r"`([^`]*)`")
_SET_HEADING = re.compile(r"^## Set `([^`]+)`")
_PROBLEM_HEADING = re.compile(r"^### `([^`/]+)/([^`]+)`\s*(.*)$")
_BULLET = re.compile(r"^(\s*)- (.*)$")
_MISSING = re.compile(r"not in the source")
_NOTE = "[catalogue:"
_NOTE_BODY = re.compile(r"\[catalogue:((?:[^\[\]`]|`[^`]*`|\[[^\]]*\])*)\]")
# Problem and set ids, part labels (``1a``, ``2.3``) and the catalogue's own placeholders.
_ID = re.compile(
    r"[a-z]+[0-9]*(?:-[a-z0-9]+)+(?:/[0-9][.0-9a-z]*)?|[0-9]+[a-z]|[0-9]+(?:\.[0-9]+)+[a-z]?"
    r"|SET/PROBLEM"
)
_ROMAN = re.compile(r"`(i|ii|iii|iv|v|vi|vii|viii)`")


@dataclass
class Part:
    """The statement of one catalogue id: its own text, below its problem's definitions."""

    pid: str
    latex: str
    figure_missing: str = ""  # the catalogue's words when the source lacks a figure


@dataclass
class Problem:
    """One numbered problem of a set: shared definitions, then its parts."""

    set_id: str
    number: str
    title: str
    preamble: str  # LaTeX
    parts: dict[str, Part] = field(default_factory=dict)
    figure_missing: str = ""
    out_of_scope: list[tuple[str, str]] = field(default_factory=list)  # (number, LaTeX note)
    same_as: str | None = None  # "The same as `X`": X's definitions are appended
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # part -> (note, target)
    blocks: list[tuple[str, object]] = field(default_factory=list)  # the parsed definitions
    input_first: bool = False  # inherited weight names w_ix are printed w_xi


@dataclass
class Statement:
    """What the report prints above an answer."""

    pid: str
    problem: Problem
    part: Part

    @property
    def latex(self) -> str:
        return self.part.latex


def strip_notes(text: str) -> str:
    """``text`` without its catalogue notes: ``[catalogue: ...]`` passages say what a complete
    answer holds (or what the catalogue reconstructed); the student's question leaves them out."""
    out, pos = [], 0
    while True:
        start = text.find(_NOTE, pos)
        if start == -1:
            out.append(text[pos:])
            break
        depth, k, in_code = 0, start, False
        while k < len(text):
            char = text[k]
            in_code = not in_code if char == "`" else in_code
            if not in_code and char == "[":
                depth += 1
            elif not in_code and char == "]":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        out.append(text[pos:start].rstrip(" "))
        pos = k + 1
    joined = "".join(out)
    joined = re.sub(r"\s+([.,;:)])", r"\1", joined)  # a note removed before punctuation
    return re.sub(r"\(\s*\)|^\s*[.;,]\s*", "", joined).strip()


def note_text(text: str) -> list[str]:
    """The catalogue notes of ``text`` (their bodies)."""
    return [m.group(1).strip() for m in _NOTE_BODY.finditer(text)]


def code_span(code: str, labels: frozenset[str] = frozenset()) -> str:
    """One code span: a problem id as an id, a part label as ``(ii)``, a formula as inline
    math; anything the math converter does not understand stays escaped typewriter text."""
    if code in labels:
        return f"({code})"
    if _ID.fullmatch(code) or code.endswith((".txt", "/")):
        return r"\dvid{" + latex_escape(code) + "}"
    math = to_math(code)
    return f"${math}$" if math else r"\texttt{" + latex_escape(code) + "}"


def _prose(text: str) -> str:
    escaped = latex_escape(text)
    escaped = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"\\textbf{\1}", escaped)
    escaped = re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\\emph{\1}", escaped)
    escaped = re.sub(r'"([^"]*)"', r"``\1''", escaped)  # TeX quotes, not two closing ones
    return re.sub(r"\b(\d+)x(\d+)\b", r"$\1\\times \2$", escaped)  # a 3x3 kernel


def inline(text: str, labels: frozenset[str] = frozenset()) -> str:
    """One line of catalogue Markdown as LaTeX: catalogue notes dropped, escaped prose, code
    spans as math where they are formulas, emphasis; ``labels`` are item labels (``ii``)."""
    text = strip_notes(text)
    out = []
    for i, piece in enumerate(_CODE.split(text)):
        out.append(code_span(piece, labels) if i % 2 else _prose(piece))
    return "".join(out)


# Formula-like words of a short title (``dl/dW_x``, ``w_ix``, ``c[t]``, ``21 x 12``, ``O(log T)``).
_TITLE_MATH = re.compile(
    r"\bd\w+(?:\[[^\]\s]*\])?/d\w+(?:\[[^\]\s]*\])?|\b[A-Za-z]+_[A-Za-z0-9]+\b"
    r"|\b[a-z]\[[a-z0-9+-]+\](?!\w)|\b\d+ x \d+\b|\bO\([^()]*\)"
)


def title(text: str) -> str:
    """A part's short title (``PROBLEMS``) as LaTeX, its formula-like words as math."""
    return inline(_TITLE_MATH.sub(lambda m: f"`{m.group()}`", text))


def code_block(lines: list[str], rename: dict[str, str] | None = None) -> str:
    """A fenced code block: equations as an aligned display when every line parses, else a
    typewriter block that keeps its spacing. ``rename`` maps weight names (w_ix -> w_xi)."""
    if rename:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, rename)) + r")\b")
        lines = [pattern.sub(lambda m: rename[m.group(1)], line) for line in lines]
    display = equations(lines)
    if display:
        return display
    rows = [latex_escape(line).replace(" ", "\\ ") or r"\mbox{}" for line in lines]
    return "\\begin{statementcode}\n" + "\\\\\n".join(rows) + "\n\\end{statementcode}"


def _missing_clause(text: str) -> str:
    """The catalogue's words about a figure the source lacks ('' when none), as plain text
    (the template escapes it)."""
    for note in note_text(text):
        if _MISSING.search(note):
            return note
    return _missing_words(strip_notes(text))


def _missing_words(text: str) -> str:
    match = _MISSING.search(text)
    if not match:
        return ""
    start, end = match.start(), match.end()
    opening = text.rfind("(", 0, start)
    closing = text.find(")", end)
    if opening != -1 and closing != -1 and ")" not in text[opening:start]:
        return text[opening + 1 : closing].strip()
    begin = max(text.rfind(". ", 0, start) + 2, 0)
    stop = text.find(".", end)
    return text[begin : stop if stop != -1 else len(text)].strip()


def _sentence(text: str) -> str:
    """A part's clause as a sentence: capitalised, closed by a full stop."""
    text = text.strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if not text or text[-1] in ".?!" else text + "."


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _blocks_to_latex(blocks: list[tuple[str, object]], rename: dict[str, str] | None = None,
                     labels: frozenset[str] = frozenset()) -> str:
    out = []
    for kind, value in blocks:
        if kind == "text":
            text = inline(value, labels)  # type: ignore[arg-type]
            out += [text] if text else []
        elif kind == "code":
            out.append(code_block(value, rename))  # type: ignore[arg-type]
        elif kind == "items":
            rows = "\n".join(r"\item " + inline(item, labels)  # type: ignore[union-attr]
                             for item in value)  # type: ignore[union-attr]
            out.append("\\begin{itemize}\n" + rows + "\n\\end{itemize}")
    return "\n\n".join(out)


def _labels(blocks: list[tuple[str, object]]) -> frozenset[str]:
    """The roman labels that open a problem's nested items (``- `ii` the dimension ...``)."""
    found = set()
    for kind, value in blocks:
        for item in value if kind == "items" else []:  # type: ignore[union-attr]
            match = _ROMAN.match(str(item))
            found |= {match.group(1)} if match else set()
    return frozenset(found)


def _resolve(set_id: str, number: str, code: str) -> str | None:
    """The catalogue id a bullet's leading code names (``1a`` or ``a`` under ``1.2.1``)."""
    for pid in (f"{set_id}/{code}", f"{set_id}/{number}{code}"):
        if pid in PROBLEMS:
            return pid
    return None


def _split_bullet(set_id: str, number: str, text: str) -> list[tuple[str, str]]:
    """A bullet naming one or more parts -> [(pid, text)]; [] when it names none."""
    starts = []
    for match in _CODE.finditer(text):
        before = text[: match.start()].rstrip()
        if (before == "" or before.endswith(";")) and _resolve(set_id, number, match.group(1)):
            starts.append(match)
    pieces = []
    for k, match in enumerate(starts):
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        body = text[match.end() : end].strip().rstrip(";").strip()
        pieces.append((_resolve(set_id, number, match.group(1)) or "", body))
    return pieces


def _logical_lines(lines: list[str]) -> list[tuple[str, object]]:
    """Group Markdown lines: ("code", lines), ("bullet", text), ("item", text), ("text", text),
    ("blank", ""); a bullet's or item's continuation lines are joined to it."""
    out: list[tuple[str, object]] = []
    code: list[str] | None = None
    for line in lines:
        if code is not None:
            if line.strip().startswith("```"):
                out.append(("code", code))
                code = None
            else:
                code.append(line)
            continue
        if line.strip().startswith("```"):
            code = []
            continue
        if not line.strip():
            out.append(("blank", ""))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            out.append(("item" if bullet.group(1) else "bullet", bullet.group(2).strip()))
            continue
        last = out[-1][0] if out else "blank"
        indented = line.startswith("  ")
        # An indented line continues the bullet above it; under nested items it continues
        # the last item unless it starts a new sentence of the part (capitalised).
        if last == "bullet" and indented or last == "item" and not line.strip()[0].isupper():
            kind, text = out[-1]
            out[-1] = (kind, f"{text} {line.strip()}")
        elif last == "text":
            out[-1] = ("text", f"{out[-1][1]} {line.strip()}")
        else:
            out.append(("text", line.strip()))
    return out


def _parse_problem(set_id: str, number: str, title: str, lines: list[str]) -> Problem:
    preamble: list[tuple[str, object]] = []
    part_blocks: dict[str, list[tuple[str, object]]] = {}
    trailing: list[str] = []
    current: str | None = None

    def add(block: tuple[str, object]) -> None:
        blocks = part_blocks[current] if current else preamble
        if block[0] == "items" and blocks and blocks[-1][0] == "items":
            blocks[-1][1].append(block[1][0])  # type: ignore[union-attr]
        else:
            blocks.append(block)

    for kind, value in _logical_lines(lines):
        if kind == "bullet":
            pieces = _split_bullet(set_id, number, str(value))
            if pieces:
                for pid, body in pieces:
                    current = pid
                    part_blocks[pid] = [("text", _sentence(body))]
            else:
                add(("items", [value]))
        elif kind == "item":
            add(("items", [value]))
        elif kind == "code":
            add(("code", value))
        elif kind == "text":
            text = str(value)
            full = _CODE.match(text)
            if full and full.group(1).startswith(f"{set_id}/") and part_blocks:
                trailing.append(text)  # a note on a sibling problem, e.g. one out of scope
            else:
                add(("text", text))

    # Parts without a bullet: the whole problem is the part, or the catalogue aliases it.
    prefix = f"{set_id}/{number}"
    preamble_raw = " ".join(str(v) for k, v in preamble if k == "text")
    parts: dict[str, Part] = {}
    for pid in [p for p in PROBLEMS if p == prefix or p.startswith(prefix)]:
        suffix = pid[len(set_id) + 1 :]
        if pid != prefix and not re.fullmatch(re.escape(number) + r"[.a-z0-9]*", suffix):
            continue
        if pid in part_blocks:
            raw = " ".join(str(v) for k, v in part_blocks[pid] if k in ("text", "items"))
            blocks = part_blocks[pid]
            parts[pid] = Part(pid, _blocks_to_latex(blocks, labels=_labels(blocks)),
                              _missing_clause(raw))
        elif pid == prefix:
            parts[pid] = Part(pid, "", "")
        else:
            parts[pid] = Part(pid, inline(PROBLEMS[pid]) + ".", "")
    problem = Problem(set_id, number, title, "", parts, _missing_clause(preamble_raw))
    problem.preamble = _blocks_to_latex(preamble)
    problem.blocks = preamble
    problem.out_of_scope = [_out_of_scope(text) for text in trailing]
    problem.aliases = _aliases(preamble_raw)
    problem.same_as = _same_as(preamble_raw)
    problem.input_first = _input_first(preamble_raw)
    return problem


def _out_of_scope(text: str) -> tuple[str, str]:
    """A problem the key does not answer: its number, and the catalogue's reason with the
    problem's id replaced by words (the heading already names the problem)."""
    match = _CODE.match(text)
    number = match.group(1).split("/", 1)[1] if match and "/" in match.group(1) else ""
    if number:
        text = "This problem" + text[match.end():]  # type: ignore[union-attr]
    return number, inline(text)


def _aliases(text: str) -> dict[str, tuple[str, str]]:
    """``"`2.3` (extra credit) is `X/1c`"`` -> {"2.3": ("(extra credit)", "X/1c")}."""
    found = re.finditer(r"`([^`/]+)`([^`]*?)\bis `([^`]+/[^`]+)`", text)
    return {m.group(1): (m.group(2).strip(), m.group(3)) for m in found}


def _input_first(text: str) -> bool:
    """Whether the problem renames the inherited weights ``weights named `w_xi, ...`
    (input-first order)``."""
    return re.search(r"weights\s+named `[^`]*` \(input-first order\)", text) is not None


def _swap_names(blocks: list[tuple[str, object]]) -> dict[str, str]:
    """The two-index weight names of ``blocks``' code with their indices swapped
    (``w_ix`` -> ``w_xi``): the input-first names of the same weights."""
    lines = [line for kind, value in blocks if kind == "code" for line in value]  # type: ignore[union-attr]
    names = set(re.findall(r"\bw_[a-z]{2}\b", "\n".join(lines)))
    return {name: f"w_{name[3]}{name[2]}" for name in names}


def _same_as(text: str) -> str | None:
    match = re.search(r"[Tt]he same as `([^`]+/[^`]+)`", text)
    return match.group(1) if match else None


@cache
def catalogue() -> dict[str, list[Problem]]:
    """Set id -> its problems, in catalogue order, parsed from the shipped catalogue."""
    sets: dict[str, list[Problem]] = {}
    set_id: str | None = None
    heading: tuple[str, str] | None = None
    body: list[str] = []

    def close() -> None:
        if set_id and heading:
            sets[set_id].append(_parse_problem(set_id, heading[0], heading[1], body))

    for line in [*catalogue_text().splitlines(), "---"]:
        set_match = _SET_HEADING.match(line)
        problem_match = _PROBLEM_HEADING.match(line)
        if set_match or problem_match or line.strip() == "---":
            close()
            heading, body = None, []
            if set_match:
                set_id = set_match.group(1)
                sets[set_id] = []
            elif problem_match and problem_match.group(1) == set_id:
                heading = (problem_match.group(2), problem_match.group(3).strip())
            continue
        if heading:
            body.append(line)
    _link(sets)
    return sets


def _find(sets: dict[str, list[Problem]], pid: str) -> tuple[Problem, Part] | None:
    for problem in sets.get(pid.split("/")[0], []):
        if pid in problem.parts:
            return problem, problem.parts[pid]
    return None


def _link(sets: dict[str, list[Problem]]) -> None:
    """Resolve "the same as" (inherit definitions) and "is `X`" (take X's statement)."""
    for problems in sets.values():
        for problem in problems:
            same = problem.same_as
            if same:
                for other in sets.get(same.split("/")[0], []):
                    if f"{other.set_id}/{other.number}" == same and other.preamble:
                        rename = _swap_names(other.blocks) if problem.input_first else None
                        inherited = _blocks_to_latex(other.blocks, rename)
                        own = [problem.preamble] if problem.preamble else []
                        problem.preamble = "\n\n".join([*own, inherited])
            for code, (note, target) in problem.aliases.items():
                pid = f"{problem.set_id}/{code}"
                found = _find(sets, target)
                if pid in problem.parts and found:
                    lead = _sentence(note.strip("() ")) if note else ""
                    problem.parts[pid].latex = (f"({lead}) " if lead else "") + found[1].latex
                    problem.parts[pid].figure_missing = found[1].figure_missing


def conventions() -> str:
    """The catalogue's conventions paragraph (time steps, the loss, the bar notation), as LaTeX,
    without its lead-in (the report prints its own heading)."""
    text = catalogue_text()
    lead = "Conventions used throughout:"
    start = text.find(lead)
    if start == -1:
        return ""
    end = text.find("\n\n", start)
    body = _join(text[start + len(lead) : end if end != -1 else len(text)].splitlines())
    return _sentence(inline(body))


def statement(pid: str) -> Statement:
    """The statement of catalogue id ``pid``."""
    found = _find(catalogue(), pid)
    if not found:
        raise DeriveError(f"no catalogue statement for problem id {pid!r}")
    return Statement(pid, *found)
