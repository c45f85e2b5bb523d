"""CNN accounting answers: ``cmsc25500-midterm/1a``, ``1b``, ``1c`` and ``rnn-cnn-hw/3.1``.

Result keys:

* ``1a``: ``convention`` (text), ``input`` (shape), ``layers`` (one dict per row, the input
  first: ``layer``, ``index``, ``kind``, ``shape``, ``params``, ``macs``, ``flops``,
  ``rf_size``, ``rf_jump``, ``rf_start``, ``covers_input``), ``total_params``,
  ``total_macs``, ``total_flops``.
* ``1b``: ``index`` and ``layer`` of the shallowest layer whose every output location sees
  the whole input, ``rf_size``, ``rf_start``, ``rf_jump``, ``ordinal`` (e.g. "the 4th pool"),
  ``first_by_size_index`` / ``first_by_size_layer`` (where a size-only judgement would stop),
  ``covering_locations_at_first_by_size`` (how many of that layer's locations really cover),
  ``explanation``.
* ``1c``: ``replacements`` (one dict per pool: ``pool_index``, ``input_shape``, ``filters``,
  ``extent``, ``stride``, ``padding``, ``output_shape``, ``params``, ``flops``),
  ``alternative`` (the same for 3x3 stride 2 padding 1), ``shapes_match`` (bool),
  ``total_params``, ``total_flops`` (of the replaced network), ``first_covering_index``.
* ``3.1``: ``input``, ``layers`` (as in 1a), ``total_params``, ``params_by_layer``.
"""

from __future__ import annotations

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check
from derive.topics.cnn.accounting import (
    CONVENTION,
    Table,
    account,
    format_latex,
    tex_int,
)
from derive.topics.cnn.bruteforce import check_full_size, check_receptive
from derive.topics.cnn.layers import Layer, parse_layers

# The catalogue's network for cmsc25500-midterm/1 (convs: stride 1, "same" padding, bias).
MIDTERM_INPUT = (32, 32, 3)
MIDTERM_NET = """
conv 16 5x5 same
relu
conv 24 3x3 same
relu
pool 2x2/2
conv 32 3x3 same
relu
conv 48 3x3 same
relu
pool 2x2/2
conv 64 3x3 same
relu
conv 64 1x1 same
relu
pool 2x2/2
conv 96 3x3 same
relu
pool 2x2/2
conv 128 3x3 same
relu
pool 2x2/2
"""

# rnn-cnn-hw/3.1, as reconstructed in the catalogue (3x3 convs, padding 1; 2x2/2 pools).
VGG_INPUT = (224, 224, 3)
VGG_NET = """
conv 64 3x3 pad 1
pool 2x2/2
conv 128 3x3 pad 1
pool 2x2/2
conv 256 3x3 pad 1
conv 256 3x3 pad 1
pool 2x2/2
fc 1024
fc 1000
softmax
"""


def _product(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _tex_shape(shape) -> str:
    """``(32, 32, 24)`` as ``32{\\times}32{\\times}24``."""
    return "{\\times}".join(map(str, shape))


def _name(layers: list[Layer], index: int) -> str:
    """'the 4th pool (layer 18, pool 2x2/2)'."""
    layer = layers[index - 1]
    same_kind = sum(1 for x in layers[:index] if x.kind == layer.kind)
    return f"the {_ordinal(same_kind)} {layer.kind} (layer {index}, {layer.label})"


def _full_size_checks(table: Table, flops: bool = True, label: str = "") -> list[Check]:
    """The table against the NumPy implementation of the same network at the same size."""
    return check_full_size(table.as_json()["layers"][1:], table.layers, table.input_shape,
                           flops=flops, label=label)


def _window_agreement(table: Table) -> Check:
    bad = [r.layer.index for r in table.rows[1:] if r.covers_input != r.covers_by_window]
    return Check.exact("whole-input coverage from the window formula",
                       "the exact input rows and columns each location reads", not bad,
                       f"disagree at layers {', '.join(map(str, bad))}" if bad else
                       f"agree on all {len(table.rows) - 1} layers")


def midterm_table() -> Table:
    return account(MIDTERM_NET, MIDTERM_INPUT)


ACCOUNTING_COLUMNS = ("output", "params", "flops")


@problem("cmsc25500-midterm/1a")
def answer_1a(pid: str) -> Answer:
    table = midterm_table()
    results = {"convention": CONVENTION, **table.as_json()}
    checks = _full_size_checks(table)
    return from_template(pid, results, checks, table=format_latex(table, ACCOUNTING_COLUMNS),
                         total_params=tex_int(table.total_params),
                         total_flops=tex_int(table.total_flops))


@problem("cmsc25500-midterm/1b")
def answer_1b(pid: str) -> Answer:
    table = midterm_table()
    layers = table.layers
    first = table.first_covering()
    by_size = table.first_by_size()
    assert first is not None and first.layer is not None
    h = MIDTERM_INPUT[0]
    results: dict = {
        "index": first.layer.index,
        "layer": first.layer.label,
        "ordinal": _name(layers, first.layer.index),
        "rf_size": list(first.rf_size),
        "rf_jump": list(first.rf_jump),
        "rf_start": [first.windows[0].start, first.windows[1].start],
    }
    window = first.windows[0]
    first_rows, last_rows = window.bounds(0), window.bounds(window.count - 1)
    explanation = (
        f"The shallowest layer whose every output location sees all {h} x {h} input pixels is "
        f"{_name(layers, first.layer.index)}: its windows are {first.rf_size[0]} wide with "
        f"jump {first.rf_jump[0]}; location 0 spans input rows "
        f"{first_rows[0]}..{first_rows[1]} and the last location "
        f"{last_rows[0]}..{last_rows[1]}, both containing 0..{h - 1}."
    )
    shortfall = None  # where a size-only judgement would stop, and what it misses there
    if by_size is not None and by_size.layer is not None and by_size is not first:
        w0 = by_size.windows[0]
        full = (1 << h) - 1
        good_rows = sum(1 for s in by_size.row_sets if s == full)
        good_cols = sum(1 for s in by_size.col_sets if s == full)
        results["first_by_size_index"] = by_size.layer.index
        results["first_by_size_layer"] = by_size.layer.label
        results["covering_locations_at_first_by_size"] = good_rows * good_cols
        lo, hi = w0.bounds(0)
        shortfall = {"name": _name(layers, by_size.layer.index), "size": w0.size,
                     "rows": (lo, hi), "padding": -lo, "missed": (hi + 1, h - 1),
                     "covering": good_rows * good_cols, "locations": w0.count * w0.count}
        explanation += (
            f" Judging by size alone would stop earlier, at {shortfall['name']}"
            f" (window {w0.size} >= {h}), but there the window of location 0 spans rows "
            f"{lo}..{hi}: it reaches {-lo} rows into the padding and misses rows "
            f"{hi + 1}..{h - 1}; {shortfall['covering']} of its {shortfall['locations']} "
            f"locations see the whole input."
        )
    results["explanation"] = explanation
    checks = check_receptive(table.as_json()["layers"][1:], layers, MIDTERM_INPUT)
    checks.append(_window_agreement(table))
    return from_template(pid, results, checks, h=h, first_rows=first_rows, last_rows=last_rows,
                         input_rows=(0, h - 1), by_size=shortfall,
                         rf_rows=receptive_rows(table), first_index=first.layer.index)


def receptive_rows(table: Table) -> list[dict]:
    """Per conv or pool layer, from the same windows and exact sets as the answer: the
    window of location 0 and of the last location along an axis (input rows, padding
    included), and how many output locations read every input pixel."""
    h = table.input_shape[0]
    full = (1 << h) - 1
    rows = []
    for r in table.rows[1:]:
        if r.layer.kind not in ("conv", "pool"):
            continue
        w = r.windows[0]
        covering = (sum(s == full for s in r.row_sets) * sum(s == full for s in r.col_sets))
        rows.append({"index": r.layer.index, "label": r.layer.label, "count": w.count,
                     "size": w.size, "jump": w.jump, "first": w.bounds(0),
                     "last": w.bounds(w.count - 1), "covering": covering,
                     "locations": w.count * r.windows[1].count})
    return rows


def _replacement_layers(table: Table, extent: int, padding: int) -> tuple[list[Layer], list]:
    """Each pool replaced by a conv with as many filters as input channels, stride 2."""
    lines, replaced = [], []
    for prev, row in zip(table.rows, table.rows[1:], strict=False):
        layer = row.layer
        assert layer is not None
        if layer.kind == "pool":
            lines.append(f"conv {prev.shape[2]} {extent}x{extent}/2 pad {padding}")
            replaced.append((layer.index, prev.shape))
        else:
            lines.append(layer.text)
    return parse_layers(lines), replaced


def _replacement_rows(new: Table, replaced: list, extent: int, padding: int) -> list[dict]:
    rows = []
    for index, in_shape in replaced:
        row = new.rows[index]
        rows.append({
            "pool_index": index, "input_shape": list(in_shape), "filters": in_shape[2],
            "extent": [extent, extent], "stride": 2, "padding": padding,
            "output_shape": list(row.shape), "params": row.params, "flops": row.flops,
        })
    return rows


def replacement_shape_check(original: Table, replaced: Table, what: str) -> Check:
    """Every layer of ``replaced`` has the output shape of the same layer of ``original``."""
    mismatched = [r.layer.index for r, o in zip(replaced.rows[1:], original.rows[1:],
                                                strict=True) if r.shape != o.shape]
    return Check.exact(f"shapes with {what} convs in place of the pools",
                       "the pooled network's shapes, layer by layer", not mismatched,
                       f"differ at layers {mismatched}" if mismatched else
                       f"all {len(replaced.rows) - 1} layers have the pooled network's shape")


@problem("cmsc25500-midterm/1c")
def answer_1c(pid: str) -> Answer:
    table = midterm_table()
    checks: list[Check] = []
    variants = {}
    for extent, padding in ((2, 0), (3, 1)):
        layers, replaced = _replacement_layers(table, extent, padding)
        new = account(layers, MIDTERM_INPUT)
        checks.append(replacement_shape_check(table, new, f"{extent}×{extent}/2 pad {padding}"))
        mismatched = not checks[-1].passed
        label = f"{extent}×{extent} replacements: "
        checks += _full_size_checks(new, label=label)
        # the part claims where the whole input is first seen: coverage, not the windows
        checks.append(check_receptive(new.as_json()["layers"][1:], new.layers, MIDTERM_INPUT,
                                      label)[0])
        covering = new.first_covering()
        variants[extent] = (new, replaced, covering, not mismatched)
    new, replaced, covering, ok = variants[2]
    alt, alt_replaced, alt_covering, alt_ok = variants[3]
    results = {
        "replacements": _replacement_rows(new, replaced, 2, 0),
        "alternative": _replacement_rows(alt, alt_replaced, 3, 1),
        "shapes_match": ok and alt_ok,
        "total_params": new.total_params,
        "total_flops": new.total_flops,
        "alternative_total_params": alt.total_params,
        "alternative_total_flops": alt.total_flops,
        "first_covering_index": covering.layer.index if covering and covering.layer else 0,
        "alternative_first_covering_index":
            alt_covering.layer.index if alt_covering and alt_covering.layer else 0,
    }
    rows = [{"layer": r["pool_index"], "input": _tex_shape(r["input_shape"]),
             "filters": r["filters"], "output": _tex_shape(r["output_shape"]),
             "params": tex_int(r["params"]), "flops": tex_int(r["flops"])}
            for r in results["replacements"]]
    totals = {"params": new.total_params, "flops": new.total_flops,
              "pooled_params": table.total_params, "pooled_flops": table.total_flops,
              "alternative_params": alt.total_params, "alternative_flops": alt.total_flops}
    return from_template(pid, results, checks, rows=rows,
                         totals={k: tex_int(v) for k, v in totals.items()})


PARAM_COLUMNS = ("output", "params")


@problem("rnn-cnn-hw/3.1")
def answer_3_1(pid: str) -> Answer:
    table = account(VGG_NET, VGG_INPUT)
    fc_at = next(i for i, r in enumerate(table.rows) if r.layer and r.layer.kind == "fc")
    fc_in = table.rows[fc_at - 1].shape  # what the first fc layer flattens
    results = {
        "input": list(VGG_INPUT),
        "layers": table.as_json()["layers"],
        "params_by_layer": {r.name if r.layer is None else f"{r.layer.index} {r.name}": r.params
                            for r in table.rows[1:]},
        "total_params": table.total_params,
    }
    checks = _full_size_checks(table, flops=False)
    return from_template(pid, results, checks, table=format_latex(table, PARAM_COLUMNS),
                         terms=[tex_int(r.params) for r in table.rows[1:] if r.params],
                         total_params=tex_int(table.total_params), fc_input=_tex_shape(fc_in),
                         fc_inputs=tex_int(_product(fc_in)))
