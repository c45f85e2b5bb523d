"""A ``cnn`` part: a layer list on an input size, answered by the CNN accounting.

Asks: ``shapes``, ``params``, ``operations`` (under the part's counting convention),
``receptive_fields``, ``first_covering`` (the first layer whose every location sees the whole
input) and ``replace_pools`` (each pool replaced by a strided conv of the same extent).
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.answers import Answer
from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.problemset.spec import Part, check_keys
from derive.topics.cnn.accounting import Row, Table, account, tex_int
from derive.topics.cnn.bruteforce import check_full_size, check_receptive
from derive.topics.cnn.layers import Layer, parse_input, parse_layers

ASKS = {
    "shapes": "the output shape of every layer",
    "params": "the parameters of every layer and in all",
    "operations": "the operations of every layer under the counting convention",
    "receptive_fields": "the receptive field of every layer",
    "first_covering": "the first layer whose every location sees the whole input",
    "replace_pools": "every pool replaced by a strided convolution",
}
KEYS = {"input", "layers", "convention"}
COUNTS = ("flops", "macs")
# above these sizes the independent references would take too long for a key: they are left
# out and the key says so in its audit (a smaller copy of the question checks the same code)
MAX_CHECKED_MACS = 200_000_000
# shapes and parameters alone need one float32 pass, no counting: cheap up to VGG sizes
MAX_SHAPE_CHECKED_MACS = 5_000_000_000
MAX_PERTURBED_PIXELS = 48 * 48


@dataclass(frozen=True)
class Convention:
    """How operations are counted: ``flops`` (every multiplication and addition, and the
    comparisons, exponentials and divisions of the other layers) or ``macs``
    (multiply-accumulates of conv and fc layers only); biases counted or not."""

    count: str = "flops"
    bias: bool = True

    def of(self, row: Row) -> int:
        if self.count == "macs":
            return row.macs + (row.bias_adds if self.bias else 0)
        return row.flops - (0 if self.bias else row.bias_adds)

    @property
    def words(self) -> str:
        if self.count == "macs":
            return ("one operation per multiply-accumulate of a convolution or a fully "
                    "connected layer (the other layers are not counted)"
                    + ("; each bias addition counts one more" if self.bias else
                       "; bias additions are not counted"))
        return ("every multiplication and every addition counts one, as do the comparisons of "
                "ReLU and max pooling, the divisions of average pooling and the two operations "
                "per entry of batch norm"
                + ("; bias additions included" if self.bias else
                   "; bias additions are not counted"))


def validate(part: Part) -> tuple[Table, Convention]:
    check_keys(part, KEYS, {"input", "layers"}, ASKS)
    raw = part.fields["layers"]
    if isinstance(raw, str):
        raw = [line.split("#", 1)[0].strip() for line in raw.splitlines()]
        raw = [line for line in raw if line]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        raise part.fail("layers must be a list of layer lines", "write layers = "
                        "[\"conv 16 3x3 same\", \"relu\", \"pool 2x2/2\"]", "layers")
    try:
        shape = parse_input(part.fields["input"])
    except DeriveError as exc:
        raise part.fail(str(exc), "write input = \"32x32x3\" (height x width x channels)",
                        "input") from None
    try:
        layers = parse_layers(raw)
    except DeriveError as exc:
        raise part.fail(str(exc), "see the layer words in problemsets/README.md",
                        "layers", _layer_text(str(exc), raw)) from None
    try:
        table = account(layers, shape)
    except DeriveError as exc:
        raise part.fail(f"the layers do not fit the input {'x'.join(map(str, shape))}: {exc}",
                        "change the layer's extent, stride or padding, or the input size",
                        "layers", _layer_text(str(exc), raw)) from None
    conv = part.fields.get("convention", {})
    if not isinstance(conv, dict) or set(conv) - {"count", "bias"} or \
            conv.get("count", "flops") not in COUNTS or \
            not isinstance(conv.get("bias", True), bool):
        raise part.fail(f"convention = {conv!r} is not one the key can state",
                        "write convention = { count = \"flops\" or \"macs\", bias = true or "
                        "false }", "convention")
    return table, Convention(conv.get("count", "flops"), conv.get("bias", True))


def _layer_text(message: str, raw: list[str]) -> str | None:
    """The layer a message names (``layer 3 (...)``), to find its line."""
    for i, text in enumerate(raw, start=1):
        if message.startswith(f"layer {i} "):
            return text
    return None


def _shape(shape: tuple[int, ...]) -> str:
    return "$" + r" \times ".join(map(str, shape)) + "$"


def _rf(row: Row, hw: tuple[int, int]) -> str:
    if row.covers_input and row.rf_size[0] >= hw[0] and row.rf_size[1] >= hw[1]:
        return "whole input"
    return f"${row.rf_size[0]}\\times{row.rf_size[1]}$ ({row.rf_jump[0]})"


def table_latex(table: Table, columns: list[str], convention: Convention) -> str:
    hw = table.input_shape[:2]
    cells = {
        "shapes": ("r", "output", lambda r: _shape(r.shape)),
        "params": ("r", "parameters", lambda r: tex_int(r.params)),
        "operations": ("r", "operations", lambda r: tex_int(convention.of(r))),
        "receptive_fields": ("r", "receptive field (jump)", lambda r: _rf(r, hw)),
    }
    chosen = [c for c in cells if c in columns]
    lines = [r"{\small\begin{longtable}{rl" + "".join(cells[c][0] for c in chosen) + "}",
             r"\toprule", r"\# & layer & " + " & ".join(cells[c][1] for c in chosen)
             + r" \\", r"\midrule", r"\endhead"]
    for r in table.rows:
        idx = 0 if r.layer is None else r.layer.index
        name = "input" if r.layer is None else r.layer.label
        lines.append(f"{idx} & \\texttt{{{name}}} & "
                     + " & ".join(cells[c][2](r) for c in chosen) + r" \\")
    totals = {"params": tex_int(table.total_params),
              "operations": tex_int(sum(convention.of(r) for r in table.rows))}
    if set(totals) & set(chosen):
        lines += [r"\midrule", "& total & " + " & ".join(totals.get(c, "") for c in chosen)
                  + r" \\"]
    lines += [r"\bottomrule", r"\end{longtable}}"]
    return "\n".join(lines)


def _checks(table: Table, receptive: bool) -> list[Check]:
    rows = table.as_json()["layers"][1:]
    checks: list[Check] = []
    if table.total_macs <= MAX_CHECKED_MACS:
        checks += check_full_size(rows, table.layers, table.input_shape, flops=True)
    elif table.total_macs <= MAX_SHAPE_CHECKED_MACS:
        checks += check_full_size(rows, table.layers, table.input_shape, flops=False)
    h, w, _ = table.input_shape
    if receptive and h * w <= MAX_PERTURBED_PIXELS:
        checks += check_receptive(rows, table.layers, table.input_shape)
    return checks


def _replaced(table: Table) -> tuple[list[Layer], list[tuple[int, tuple]]]:
    """Each pool (max or average) replaced by a conv with as many filters as channels, the
    pool's extent, stride and padding."""
    lines, replaced = [], []
    for row in table.rows[1:]:
        layer = row.layer
        assert layer is not None
        source = table.rows[layer.index - 1 if layer.source is None else layer.source]
        if layer.kind in ("pool", "avgpool"):
            kh, kw = layer.kernel
            tail = "" if layer.source is None else f" from {layer.source}"
            lines.append(f"conv {source.shape[2]} {kh}x{kw}/{layer.stride[0]} "
                         f"pad {layer.padding[0]}{tail}")
            replaced.append((layer.index, source.shape))
        else:
            lines.append(layer.text)
    return parse_layers(lines), replaced


def answer(part: Part, notation: dict[str, str], pid: str) -> Answer:
    table, convention = validate(part)
    asks = set(part.ask)
    body: list[str] = []
    results: dict[str, object] = {"input": list(table.input_shape)}
    columns = [c for c in ("shapes", "params", "operations", "receptive_fields") if c in asks]
    if "operations" in asks:
        body.append(r"\paragraph{Counting convention.} " + convention.words.capitalize()
                    + "; one example, no batch.")
    if columns:
        body.append(r"\paragraph{Layer by layer.} Receptive fields are in input pixels, with "
                    "the jump (the input distance between neighbouring locations) in brackets."
                    if "receptive_fields" in asks else r"\paragraph{Layer by layer.}")
        body.append(table_latex(table, columns, convention))
        results["layers"] = [{"layer": r.name, "shape": list(r.shape), "params": r.params,
                              "operations": convention.of(r), "rf_size": list(r.rf_size),
                              "rf_jump": list(r.rf_jump)} for r in table.rows]
        results["total_params"] = table.total_params
        results["total_operations"] = sum(convention.of(r) for r in table.rows)
        sentences = []
        if "params" in asks:
            sentences.append(f"The network has ${tex_int(table.total_params)}$ parameters")
        if "operations" in asks:
            sentences.append(f"one forward pass costs "
                             f"${tex_int(results['total_operations'])}$ operations")
        if sentences:
            body.append("; ".join(sentences) + ".")
    if "first_covering" in asks:
        first = table.first_covering()
        if first is None or first.layer is None:
            body.append(r"\paragraph{Whole input.} No layer's every location sees the whole "
                        "input.")
            results["first_covering"] = 0
        else:
            window = first.windows[0]
            lo, hi = window.bounds(0), window.bounds(window.count - 1)
            body.append(r"\paragraph{Whole input.} The first layer whose every output location "
                        f"sees all ${table.input_shape[0]}\\times{table.input_shape[1]}$ input "
                        f"pixels is layer {first.layer.index}, \\texttt{{{first.layer.label}}}: "
                        f"its windows are ${first.rf_size[0]}$ pixels wide; the first location "
                        f"spans input rows ${lo[0]}$ to ${lo[1]}$ and the last ${hi[0]}$ to "
                        f"${hi[1]}$ (negative rows and rows past the end are padding), both "
                        f"containing $0$ to ${table.input_shape[0] - 1}$.")
            results["first_covering"] = first.layer.index
    receptive = bool({"receptive_fields", "first_covering"} & asks)
    checks = _checks(table, receptive)
    if "replace_pools" in asks:
        layers, replaced = _replaced(table)
        if not replaced:
            raise part.fail("replace_pools asks to replace pools, but the network has none",
                            "remove replace_pools from ask, or add a pool", "ask",
                            "replace_pools")
        new = account(layers, table.input_shape)
        same = all(a.shape == b.shape for a, b in zip(new.rows, table.rows, strict=True))
        checks.append(Check.exact("shapes with strided convolutions in place of the pools",
                                  "the pooled network's shapes, layer by layer", same,
                                  f"{len(new.rows) - 1} layers compared"))
        checks += [c for c in _checks(new, False)]
        lines, rows = [], []
        for index, shape in replaced:
            row = new.rows[index]
            assert row.layer is not None
            rows.append({"pool_index": index, "input_shape": list(shape),
                         "filters": row.layer.filters, "extent": list(row.layer.kernel),
                         "stride": row.layer.stride[0], "padding": row.layer.padding[0],
                         "output_shape": list(row.shape), "params": row.params,
                         "operations": convention.of(row)})
            lines.append(f"layer {index} & \\texttt{{{row.layer.label}}} & {_shape(shape)} & "
                         f"{_shape(row.shape)} & {tex_int(row.params)} & "
                         f"{tex_int(convention.of(row))} \\\\")
        body.append(r"\paragraph{Pools replaced by strided convolutions.} Each pool becomes a "
                    "convolution with as many filters as its input has channels, the pool's "
                    "extent, stride and padding, so every later shape is unchanged:")
        body.append(r"\begin{center}\begin{tabular}{llrrrr}\toprule replaced & by & input & "
                    r"output & parameters & operations \\ \midrule " + "\n".join(lines)
                    + r" \bottomrule\end{tabular}\end{center}")
        body.append(f"The network then has ${tex_int(new.total_params)}$ parameters (the pools "
                    f"had none: ${tex_int(new.total_params - table.total_params)}$ more) and "
                    f"costs ${tex_int(sum(convention.of(r) for r in new.rows))}$ operations.")
        results["replaced"] = {"total_params": new.total_params,
                               "total_operations": sum(convention.of(r) for r in new.rows),
                               "replacements": rows}
    return Answer(pid, results, "", "\n\n".join(body), checks, {})
