"""The per-layer accounting of a CNN: output shape, parameters, MACs, FLOPs, receptive field.

FLOP convention (every scalar addition, multiplication, comparison, exponential and
division counts one; one example, no batch):

* conv, ``F`` filters ``Kh x Kw`` over ``C_in`` channels, with bias: each output costs
  ``Kh Kw C_in`` multiplications, ``Kh Kw C_in - 1`` additions to sum them and 1 bias
  addition, i.e. ``2 Kh Kw C_in``. Padded positions are multiplied like any other (the
  dense implementation does), so border outputs cost the same as interior ones.
* ReLU: one comparison per element.
* max pool ``Kh x Kw``: ``Kh Kw - 1`` comparisons per output element.
* fc, ``N`` outputs from ``n`` inputs, with bias: ``2 n`` per output (``n`` multiplications,
  ``n - 1`` additions, one bias addition).
* softmax over ``n`` entries: ``n`` exponentials, ``n - 1`` additions, ``n`` divisions,
  ``3n - 1`` in all (subtracting the maximum first for stability would add ``2n - 1``).

MACs (multiply-accumulates) are the multiplications of conv and fc layers.

The rest of the vocabulary (what fvcore and torchinfo users expect), in the same convention:

* a grouped conv (``groups g``; depthwise when ``g`` is the input channels) reads ``C_in / g``
  channels per output: ``2 Kh Kw C_in / g`` per output, ``F (Kh Kw C_in / g + 1)``
  parameters; a dilated conv costs what the undilated one does; a conv or fc without bias
  (``nobias``) saves one addition per output and ``F`` parameters;
* average pool ``Kh x Kw``: ``Kh Kw - 1`` additions and one division per output (padding
  counted in the window, as PyTorch's default); global average pool: ``H W`` per channel;
* batch norm (inference, the statistics folded into a scale and a shift): 2 per element,
  ``2 C`` parameters (``C`` the channels, or the entries of a vector);
* dropout (the identity at inference) and flatten: nothing;
* ``add K`` (a residual sum with the output of layer ``K``): 1 per element.

A layer ``from K`` reads the output of layer ``K`` instead of the previous one, so a shortcut
branch (a 1x1 strided conv and its batch norm) is written after the main branch and joined
with ``add``. The receptive field of a sum is the union of its branches' fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from derive.core.errors import MEMORY, STEPS, DeriveError
from derive.topics.cnn.layers import Layer, parse_input, parse_layers
from derive.topics.cnn.receptive import (
    Spans,
    Window,
    axis_params,
    is_contiguous,
    next_sets,
    next_spans,
    next_window,
    union_spans,
    union_window,
)
from derive.topics.conv.shapes import output_size

CONVENTION = (
    "FLOPs count every scalar addition, multiplication, comparison, exponential and division: "
    "a conv output costs 2 Kh Kw C_in (Kh Kw C_in multiplications, Kh Kw C_in - 1 additions, "
    "1 bias addition; padded positions included), a ReLU 1 comparison per element, a Kh x Kw "
    "max pool Kh Kw - 1 comparisons per output, an fc output from n inputs 2n (with its bias), a "
    "softmax over n entries 3n - 1 (n exp, n - 1 additions, n divisions). MACs are the "
    "multiplications of conv and fc layers."
)


def conv_params(kh: int, kw: int, c_in: int, filters: int, groups: int = 1,
                bias: bool = True) -> int:
    return filters * (kh * kw * (c_in // groups) + (1 if bias else 0))


def conv_macs(kh: int, kw: int, c_in: int, outputs: int, groups: int = 1) -> int:
    return outputs * kh * kw * (c_in // groups)


def conv_flops(kh: int, kw: int, c_in: int, outputs: int, groups: int = 1,
               bias: bool = True) -> int:
    return outputs * (2 * kh * kw * (c_in // groups) - (0 if bias else 1))


def pool_flops(kh: int, kw: int, outputs: int) -> int:
    return outputs * (kh * kw - 1)


def fc_params(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_out * (n_in + (1 if bias else 0))


def fc_flops(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_out * (2 * n_in - (0 if bias else 1))


def softmax_flops(n: int) -> int:
    return 3 * n - 1


class ExactSets:
    """The exact input-row and input-column bitmask of every output index of every layer,
    computed on first use. They take memory and time growing with the square of the input
    size (a bitmask of ``H`` bits per output row), so their cost is estimated first and
    refused above the limits; the closed form of :class:`Spans` answers without them
    whenever the layer list leaves no holes."""

    # bytes of one Python int besides its bits, and of its place in a tuple
    OVERHEAD = 40

    def __init__(self, layers: list[Layer], input_hw: tuple[int, int],
                 counts: list[tuple[int, int]]) -> None:
        self.layers = layers
        self.input_hw = input_hw
        self.counts = counts  # output indices per axis of the input and of each layer
        self._sets: list[tuple[tuple[int, ...], tuple[int, ...]]] | None = None

    def reads(self, position: int) -> int:
        """The table row the layer at ``position`` reads (its ``from``, else the one before)."""
        layer = self.layers[position - 1]
        return position - 1 if layer.source is None else layer.source

    def check_cost(self) -> None:
        """Refuse, naming the limit, when the sets would exceed the memory or step budget."""
        h, w = self.input_hw
        memory = sum(ch * (h // 8 + self.OVERHEAD) + cw * (w // 8 + self.OVERHEAD)
                     for ch, cw in self.counts)
        steps = h + w + sum(
            ch * axis_params(layer, 0, self.counts[self.reads(i)][0])[0]
            + cw * axis_params(layer, 1, self.counts[self.reads(i)][1])[0]
            for i, (layer, (ch, cw)) in enumerate(zip(self.layers, self.counts[1:],
                                                      strict=False), start=1))
        what = (f"the exact receptive fields of this layer list (it leaves holes between "
                f"windows) on a {h} x {w} input")
        MEMORY.check(memory, what)
        STEPS.check(steps, what)

    def at(self, position: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(row_sets, col_sets)`` of row ``position`` of the table (0: the input)."""
        if self._sets is None:
            self.check_cost()
            h, w = self.input_hw
            rows, cols = [1 << i for i in range(h)], [1 << j for j in range(w)]
            sets = [(tuple(rows), tuple(cols))]
            for i, (layer, (ch, cw)) in enumerate(zip(self.layers, self.counts[1:],
                                                      strict=True), start=1):
                rows, cols = (list(a) for a in sets[self.reads(i)])
                rows, cols = next_sets(layer, 0, rows, ch), next_sets(layer, 1, cols, cw)
                if layer.kind == "add":  # a sum reads both branches
                    other_rows, other_cols = sets[layer.of]
                    rows = [a | b for a, b in zip(rows, other_rows, strict=True)]
                    cols = [a | b for a, b in zip(cols, other_cols, strict=True)]
                sets.append((tuple(rows), tuple(cols)))
            self._sets = sets
        return self._sets[position]


@dataclass(frozen=True)
class Row:
    """One line of the table: a layer (``None`` for the input) and its accounting."""

    layer: Layer | None
    shape: tuple[int, ...]  # (H, W, C) for spatial outputs, (N,) for vectors
    params: int
    macs: int
    flops: int
    windows: tuple[Window, Window]  # closed-form receptive window per axis
    spans: tuple[Spans, Spans]  # closed form of the exact sets per axis (while exact)
    input_hw: tuple[int, int]
    exact_sets: ExactSets = field(repr=False, compare=False)
    position: int = 0  # this row's index in the table (0: the input)
    bias_adds: int = 0  # the additions of biases among the FLOPs (one per output)

    @property
    def name(self) -> str:
        return "input" if self.layer is None else self.layer.label

    @property
    def row_sets(self) -> tuple[int, ...]:
        """Exact input-row bitmask of each output row (memory grows with ``H^2``)."""
        return self.exact_sets.at(self.position)[0]

    @property
    def col_sets(self) -> tuple[int, ...]:
        return self.exact_sets.at(self.position)[1]

    @property
    def closed_form(self) -> bool:
        """The exact sets are intervals with a closed form on both axes."""
        return self.spans[0].exact and self.spans[1].exact

    @property
    def covers_input(self) -> bool:
        """Every output location's receptive field is the whole input (exact sets; from
        their closed form when the layer list leaves no holes)."""
        if self.closed_form:
            return all(sp.covers(n) for sp, n in zip(self.spans, self.input_hw, strict=True))
        full_rows = (1 << self.input_hw[0]) - 1
        full_cols = (1 << self.input_hw[1]) - 1
        return all(s == full_rows for s in self.row_sets) and all(
            s == full_cols for s in self.col_sets
        )

    @property
    def covers_by_window(self) -> bool:
        """The same judgement from the closed-form windows (positions included)."""
        return all(w.covers(n) for w, n in zip(self.windows, self.input_hw, strict=True))

    @property
    def rf_size(self) -> tuple[int, int]:
        return (self.windows[0].size, self.windows[1].size)

    @property
    def rf_jump(self) -> tuple[int, int]:
        return (self.windows[0].jump, self.windows[1].jump)

    @property
    def contiguous(self) -> bool:
        if self.closed_form:  # intervals by construction
            return True
        return all(is_contiguous(s) for s in (*self.row_sets, *self.col_sets) if s)

    def as_json(self) -> dict:
        return {
            "layer": self.name,
            "index": 0 if self.layer is None else self.layer.index,
            "kind": "input" if self.layer is None else self.layer.kind,
            "shape": list(self.shape),
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "rf_size": list(self.rf_size),
            "rf_jump": list(self.rf_jump),
            "rf_start": [self.windows[0].start, self.windows[1].start],
            "covers_input": self.covers_input,
        }


@dataclass
class Table:
    """The accounting of a whole layer list."""

    input_shape: tuple[int, int, int]
    rows: list[Row] = field(default_factory=list)

    @property
    def layers(self) -> list[Layer]:
        return [r.layer for r in self.rows if r.layer is not None]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def first_covering(self) -> Row | None:
        """The shallowest layer whose every output location sees the whole input."""
        return next((r for r in self.rows[1:] if r.covers_input), None)

    def first_by_size(self) -> Row | None:
        """The shallowest layer whose window size reaches the input size (position ignored)."""
        h, w = self.input_shape[:2]
        return next((r for r in self.rows[1:] if r.rf_size[0] >= h and r.rf_size[1] >= w), None)

    def as_json(self) -> dict:
        return {
            "input": list(self.input_shape),
            "layers": [r.as_json() for r in self.rows],
            "total_params": self.total_params,
            "total_macs": self.total_macs,
            "total_flops": self.total_flops,
        }


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape)


def _out_extent(layer: Layer, axis: int, n: int) -> int:
    kernel, stride, padding = layer.kernel[axis], layer.stride[axis], layer.padding[axis]
    if layer.kind == "pool" and kernel > n + 2 * padding:
        raise layer.fail(f"pool extent {kernel} is larger than its input "
                         f"{n} + 2*{padding} = {n + 2 * padding} along {('rows', 'columns')[axis]}")
    try:
        return output_size(n, kernel, padding, stride, layer.dilation)
    except DeriveError as exc:
        raise layer.fail(str(exc)) from None


def account(
    spec: str | Iterable[str | Mapping[str, object]] | list[Layer], input_shape: object
) -> Table:
    """The table of ``spec`` (a layer list, see :mod:`derive.topics.cnn.layers`) on
    ``input_shape``."""
    if isinstance(spec, list) and spec and all(isinstance(x, Layer) for x in spec):
        layers: list[Layer] = spec  # type: ignore[assignment]
    else:
        layers = parse_layers(spec)  # type: ignore[arg-type]
    h, w, c = parse_input(input_shape)
    # Everything below is closed form, constant memory per layer for any input size; the
    # exact sets are computed (within the limits) only for a layer list with holes.
    windows = (Window(1, 1, 0, h), Window(1, 1, 0, w))
    spans = (Spans.of_input(h), Spans.of_input(w))
    exact = ExactSets(layers, (h, w), [(h, w)])
    table = Table((h, w, c))
    table.rows.append(Row(None, (h, w, c), 0, 0, 0, windows, spans, (h, w), exact))
    for layer in layers:
        source = table.rows[-1] if layer.source is None else table.rows[layer.source]
        shape = source.shape
        windows, spans = source.windows, source.spans
        spatial = len(shape) == 3
        params = macs = flops = bias_adds = 0
        elements = 1
        for s in shape:
            elements *= s
        new_shape: tuple[int, ...] = shape
        counts = (windows[0].count, windows[1].count)
        if layer.kind in ("conv", "pool", "avgpool", "globalpool"):
            if not spatial:
                raise layer.fail(f"{layer.kind} needs a spatial input, got a vector of "
                                 f"{shape[0]}")
        if layer.kind in ("conv", "pool", "avgpool"):
            oh, ow = _out_extent(layer, 0, shape[0]), _out_extent(layer, 1, shape[1])
            kh, kw = layer.kernel
            if layer.kind == "conv":
                if shape[2] % layer.groups:
                    raise layer.fail(f"{shape[2]} input channels cannot be split into "
                                     f"{layer.groups} groups")
                new_shape = (oh, ow, layer.filters)
                outputs = oh * ow * layer.filters
                params = conv_params(kh, kw, shape[2], layer.filters, layer.groups, layer.bias)
                macs = conv_macs(kh, kw, shape[2], outputs, layer.groups)
                flops = conv_flops(kh, kw, shape[2], outputs, layer.groups, layer.bias)
                bias_adds = outputs if layer.bias else 0
            elif layer.kind == "pool":
                new_shape = (oh, ow, shape[2])
                flops = pool_flops(kh, kw, oh * ow * shape[2])
            else:
                new_shape = (oh, ow, shape[2])
                flops = oh * ow * shape[2] * kh * kw
            counts = (oh, ow)
        elif layer.kind == "globalpool":
            new_shape = (1, 1, shape[2])
            flops = elements
            counts = (1, 1)
        elif layer.kind == "fc":
            new_shape = (layer.filters,)
            params = fc_params(elements, layer.filters, layer.bias)
            macs = elements * layer.filters
            flops = fc_flops(elements, layer.filters, layer.bias)
            bias_adds = layer.filters if layer.bias else 0
            counts = (1, 1)
        elif layer.kind == "relu":
            flops = elements
        elif layer.kind == "bn":
            params = 2 * shape[-1]
            flops = 2 * elements
        elif layer.kind == "flatten":
            new_shape = (elements,)
        elif layer.kind == "add":
            other = table.rows[layer.of]
            if other.shape != shape:
                raise layer.fail(f"adds layer {layer.of}'s output "
                                 f"({_shape_text(other.shape)}) to "
                                 f"{_shape_text(shape)}: the shapes differ")
            flops = elements
        elif layer.kind == "softmax":
            if spatial:
                raise layer.fail(f"softmax expects a vector (put it after fc), got "
                                 f"{_shape_text(shape)}")
            flops = softmax_flops(shape[0])
        # dropout: the identity at inference
        new_spans = (next_spans(layer, 0, spans[0], counts[0]),
                     next_spans(layer, 1, spans[1], counts[1]))
        new_windows = (next_window(layer, 0, windows[0], counts[0]),
                       next_window(layer, 1, windows[1], counts[1]))
        if layer.kind == "add":
            other = table.rows[layer.of]
            joined = [union_window(a, b) for a, b in zip(new_windows, other.windows,
                                                          strict=True)]
            if None in joined:
                raise layer.fail(f"the branches added have different strides (jumps "
                                 f"{new_windows[0].jump} and {other.windows[0].jump} input "
                                 "pixels): their locations do not line up")
            new_windows = (joined[0], joined[1])  # type: ignore[assignment]
            new_spans = (union_spans(new_spans[0], other.spans[0]),
                         union_spans(new_spans[1], other.spans[1]))
        exact.counts.append(counts)
        table.rows.append(Row(layer, new_shape, params, macs, flops, new_windows, new_spans,
                              (h, w), exact, len(table.rows), bias_adds))
    if not table.rows[-1].closed_form:  # holes: refuse now if the exact sets cost too much
        exact.check_cost()
    return table


COLUMNS = ("output", "params", "macs", "flops", "rf", "covers")


def _rf_text(r: Row, hw: tuple[int, int], tex: bool) -> str:
    """The window size, or "whole input" once it is wider than the input (a window of 246
    on a 224 input reaches into the padding; its part inside the input is all of it)."""
    if r.rf_size[0] >= hw[0] and r.rf_size[1] >= hw[1] and r.covers_input:
        return "whole input"
    times = "\\times" if tex else "x"
    text = f"{r.rf_size[0]}{times}{r.rf_size[1]}"
    return f"${text}$" if tex else text


def format_text(table: Table, columns: tuple[str, ...] = COLUMNS) -> str:
    """A plain-text table of the chosen ``columns`` (all by default)."""
    hw = table.input_shape[:2]
    cells = {
        "output": ("output", 14, lambda r: _shape_text(r.shape)),
        "params": ("params", 12, lambda r: f"{r.params:,d}"),
        "macs": ("MACs", 14, lambda r: f"{r.macs:,d}"),
        "flops": ("FLOPs", 14, lambda r: f"{r.flops:,d}"),
        "rf": ("RF", 11, lambda r: _rf_text(r, hw, False)),
        "covers": ("jump covers", 11,
                   lambda r: f"{r.rf_jump[0]:>4d} {'yes' if r.covers_input else 'no':>6s}"),
    }
    totals = {"params": table.total_params, "macs": table.total_macs,
              "flops": table.total_flops}
    head = f"{'#':>3} {'layer':22s}" + "".join(
        f" {cells[c][0]:>{cells[c][1]}s}" for c in columns)
    lines = [head, "-" * len(head)]
    for r in table.rows:
        idx = 0 if r.layer is None else r.layer.index
        lines.append(f"{idx:>3} {r.name:22s}" + "".join(
            f" {cells[c][2](r):>{cells[c][1]}s}" for c in columns))
    lines.append("-" * len(head))
    lines.append(f"    {'total':22s}" + "".join(
        f" {f'{totals[c]:,d}' if c in totals else '':>{cells[c][1]}s}" for c in columns))
    return "\n".join(lines)


def tex_int(n: int) -> str:
    """``1234567`` -> ``1{,}234{,}567`` (thousands separators that survive math mode)."""
    return f"{n:,d}".replace(",", "{,}")


def format_latex(table: Table, columns: tuple[str, ...] = COLUMNS) -> str:
    """A booktabs table of the chosen ``columns`` (a LaTeX body fragment)."""
    hw = table.input_shape[:2]
    cells = {
        "output": ("r", "output", lambda r: "$" + " \\times ".join(map(str, r.shape)) + "$"),
        "params": ("r", "params", lambda r: tex_int(r.params)),
        "macs": ("r", "MACs", lambda r: tex_int(r.macs)),
        "flops": ("r", "FLOPs", lambda r: tex_int(r.flops)),
        "rf": ("r", "RF (jump)", lambda r: f"{_rf_text(r, hw, True)} ({r.rf_jump[0]})"),
        "covers": ("c", "covers", lambda r: "yes" if r.covers_input else "no"),
    }
    totals = {"params": table.total_params, "macs": table.total_macs,
              "flops": table.total_flops}
    lines = [
        "\\begin{tabular}{rl" + "".join(cells[c][0] for c in columns) + "}",
        "\\toprule",
        "\\# & layer & " + " & ".join(cells[c][1] for c in columns) + " \\\\",
        "\\midrule",
    ]
    for r in table.rows:
        idx = 0 if r.layer is None else r.layer.index
        lines.append(f"{idx} & \\texttt{{{r.name}}} & "
                     + " & ".join(cells[c][2](r) for c in columns) + " \\\\")
    lines += [
        "\\midrule",
        "& total & " + " & ".join(tex_int(totals[c]) if c in totals else "" for c in columns)
        + " \\\\",
        "\\bottomrule",
        "\\end{tabular}",
    ]
    return "\n".join(lines)
