"""Parse a plain CNN layer list (text lines or dicts) into validated ``Layer`` records.

The text syntax, one layer per line or list item (``#`` starts a comment)::

    conv 16 5x5 same          16 filters, 5x5, stride 1, padding (K-1)/2
    conv 64 3x3 pad 1         explicit zero padding
    conv 32 3x3/2 pad 1       stride 2 (also: ``stride 2``)
    conv 8 3x3 valid          no padding
    relu
    pool 2x2/2                max pool, 2x2 window, stride 2 (stride defaults to the extent)
    fc 1024                   fully connected, 1024 outputs (the input is flattened)
    softmax
    conv 64 3x3 pad 2 dilation 2   dilated (atrous): taps D apart, extent D(K-1)+1
    conv 32 3x3 same groups 32     grouped; groups = input channels is depthwise
    conv 64 3x3 same nobias        no bias (a conv followed by batch norm)
    avgpool 2x2/2                  average pool
    globalpool                     global average pool: one value per channel
    bn                             batch norm: a scale and a shift per channel
    dropout 0.5                    the identity at inference (no parameters, no FLOPs)
    flatten                        the spatial output as one vector
    add 4                          adds the output of layer 4 (0: the input) to this one
    conv 128 1x1/2 nobias from 4   any layer may read layer 4's output (a shortcut branch)

The dict syntax has the same fields: ``{"kind": "conv", "filters": 16, "kernel": 5,
"padding": "same", "stride": 1}``; ``kernel`` may be an int or a pair ``[kh, kw]``; also
``dilation``, ``groups``, ``bias`` (true/false), ``from`` and, for ``add``, ``of``.
Every error names the layer by its 1-based index and its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from derive.core.errors import DeriveError

KINDS = ("conv", "relu", "pool", "avgpool", "globalpool", "fc", "softmax", "bn", "dropout",
         "flatten", "add")
ALIASES = {"maxpool": "pool", "linear": "fc", "dense": "fc", "batchnorm": "bn",
           "gap": "globalpool", "globalavgpool": "globalpool", "avg": "avgpool"}
ELEMENTWISE = ("relu", "softmax", "bn", "dropout", "flatten")  # no window, no argument
_EXTENT = re.compile(r"^(\d+)(?:x(\d+))?(?:/(\d+))?$")
# The accounting is closed form for any size; this cap keeps every number a Python int can
# print (int() refuses strings past 4300 digits) and is far beyond any network.
MAX_DIGITS = 18


@dataclass(frozen=True)
class Layer:
    """One layer: ``kernel``, ``stride`` and ``padding`` are (rows, columns) pairs."""

    index: int  # 1-based position in the list
    text: str  # the layer as the user wrote it
    kind: str
    filters: int = 0  # conv: output channels; fc: output units
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: int = 1
    groups: int = 1
    bias: bool = True
    source: int | None = None  # the layer whose output this one reads (None: the previous)
    of: int = 0  # add: the layer whose output is added

    @property
    def label(self) -> str:
        """A canonical description, e.g. ``conv 16 5x5/1 pad 2``."""
        kh, kw = self.kernel
        tail = "" if self.source is None else f" from {self.source}"
        if self.kind == "conv":
            pad = f" pad {self.padding[0]}" if self.padding[0] == self.padding[1] else (
                f" pad {self.padding[0]}x{self.padding[1]}")
            extra = (f" d{self.dilation}" if self.dilation > 1 else "") + (
                f" g{self.groups}" if self.groups > 1 else "") + ("" if self.bias else " nobias")
            return f"conv {self.filters} {kh}x{kw}/{self.stride[0]}{pad}{extra}{tail}"
        if self.kind in ("pool", "avgpool"):
            pad = f" pad {self.padding[0]}" if any(self.padding) else ""
            return f"{self.kind} {kh}x{kw}/{self.stride[0]}{pad}{tail}"
        if self.kind == "fc":
            return f"fc {self.filters}{'' if self.bias else ' nobias'}{tail}"
        if self.kind == "add":
            return f"add {self.of}{tail}"
        return self.kind + tail

    def fail(self, what: str) -> DeriveError:
        return DeriveError(f"{_where(self.index, self.text)}: {what}")


def _where(index: int, text: str) -> str:
    shown = text if len(text) <= 60 else text[:50] + "..."  # the message stays one short line
    return f"layer {index} ({shown!r})"


def _count(index: int, text: str, name: str, value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) > MAX_DIGITS:
        raise DeriveError(f"{_where(index, text)}: {name} must be below 10^{MAX_DIGITS}, got "
                          f"a number of {len(value.strip())} digits")
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if isinstance(value, bool) or str(number) != str(value).strip() or number < 1:
        raise DeriveError(f"{_where(index, text)}: {name} must be a positive integer, "
                          f"got {value!r}")
    return number


def _extent(index: int, text: str, token: str) -> tuple[tuple[int, int], int | None]:
    """``"5x5"``, ``"5"``, ``"3x3/2"`` -> ((kh, kw), stride or None)."""
    match = _EXTENT.match(token)
    if not match:
        raise DeriveError(f"{_where(index, text)}: bad extent {token!r} "
                          "(expected KxK, K or KxK/S)")
    kh = _count(index, text, "extent", match.group(1))
    kw = _count(index, text, "extent", match.group(2) or match.group(1))
    stride = _count(index, text, "stride", match.group(3)) if match.group(3) else None
    return (kh, kw), stride


def _padding(index: int, text: str, value: object, kernel: tuple[int, int]) -> tuple[int, int]:
    if value == "same":
        for k in kernel:
            if k % 2 == 0:
                raise DeriveError(f"{_where(index, text)}: 'same' padding centres the filter "
                                  f"and needs an odd extent, got {kernel[0]}x{kernel[1]}")
        return ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2)
    if value == "valid":
        return (0, 0)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value, value)
    if isinstance(value, str) and value.isdigit():
        if len(value) > MAX_DIGITS:
            raise DeriveError(f"{_where(index, text)}: padding must be below 10^{MAX_DIGITS}, "
                              f"got a number of {len(value)} digits")
        return (int(value), int(value))
    if isinstance(value, list | tuple) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        return (value[0], value[1])
    raise DeriveError(f"{_where(index, text)}: padding must be 'same', 'valid' or a "
                      f"non-negative integer, got {value!r}")


def _parse_text(index: int, text: str) -> Layer:
    tokens = text.lower().replace(",", " ").split()
    if not tokens:
        raise DeriveError(f"{_where(index, text)}: empty layer")
    kind = ALIASES.get(tokens[0], tokens[0])
    rest = tokens[1:]
    if kind not in KINDS:
        raise DeriveError(f"{_where(index, text)}: unknown layer kind {tokens[0]!r} "
                          f"(expected one of {', '.join(KINDS)})")
    fields: dict[str, object] = {"kind": kind}
    if "from" in rest:
        at = rest.index("from")
        if at + 1 >= len(rest):
            raise DeriveError(f"{_where(index, text)}: from needs a layer number")
        fields["from"] = rest[at + 1]
        del rest[at: at + 2]
    if kind == "dropout" and len(rest) == 1 and re.fullmatch(r"0?\.\d+|0|1", rest[0]):
        rest = []  # the drop probability: no effect at inference
    if kind in (*ELEMENTWISE, "globalpool"):
        if rest:
            raise DeriveError(f"{_where(index, text)}: {kind} takes no arguments, got {rest!r}")
        return _build(index, text, fields)
    if kind == "add":
        if len(rest) != 1:
            raise DeriveError(f"{_where(index, text)}: add expects the number of the layer "
                              f"whose output it adds, e.g. 'add 4', got {rest!r}")
        fields["of"] = rest[0]
        return _build(index, text, fields)
    if kind == "fc":
        if "nobias" in rest:
            rest.remove("nobias")
            fields["bias"] = False
        if len(rest) != 1:
            raise DeriveError(f"{_where(index, text)}: fc expects one output size, got {rest!r}")
        fields["filters"] = rest[0]
        return _build(index, text, fields)
    if kind == "conv":
        if len(rest) < 2:
            raise DeriveError(f"{_where(index, text)}: conv expects 'conv F KxK', got {text!r}")
        fields["filters"] = rest.pop(0)
    if not rest:
        raise DeriveError(f"{_where(index, text)}: {kind} needs an extent such as 2x2")
    fields["kernel"] = rest.pop(0)
    while rest:
        word = rest.pop(0)
        if word in ("same", "valid"):
            fields["padding"] = word
        elif word == "nobias" and kind == "conv":
            fields["bias"] = False
        elif word in ("pad", "padding", "stride") or (
                kind == "conv" and word in ("dilation", "groups")):
            if not rest:
                raise DeriveError(f"{_where(index, text)}: {word} needs a value")
            fields["padding" if word.startswith("pad") else word] = rest.pop(0)
        else:
            raise DeriveError(f"{_where(index, text)}: unexpected word {word!r}")
    return _build(index, text, fields)


def _build(index: int, text: str, fields: Mapping[str, object]) -> Layer:
    kind = str(fields.get("kind", "")).lower()
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise DeriveError(f"{_where(index, text)}: unknown layer kind {fields.get('kind')!r} "
                          f"(expected one of {', '.join(KINDS)})")
    known = {"kind", "filters", "units", "kernel", "stride", "padding", "dilation", "groups",
             "bias", "from", "of"}
    extra = set(fields) - known
    if extra:
        raise DeriveError(f"{_where(index, text)}: unknown field {sorted(extra)[0]!r}")
    source = None
    if "from" in fields:
        source = _layer_number(index, text, "from", fields["from"])
    bias = fields.get("bias", True)
    if not isinstance(bias, bool):
        raise DeriveError(f"{_where(index, text)}: bias must be true or false, got {bias!r}")
    if kind in (*ELEMENTWISE, "globalpool"):
        return Layer(index, text, kind, source=source)
    if kind == "add":
        return Layer(index, text, kind, source=source,
                     of=_layer_number(index, text, "add", fields.get("of")))
    if kind == "fc":
        size = fields.get("units", fields.get("filters"))
        return Layer(index, text, kind, filters=_count(index, text, "fc size", size),
                     bias=bias, source=source)
    raw = fields.get("kernel")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        raw = f"{raw[0]}x{raw[1]}"
    if not isinstance(raw, str):
        raise DeriveError(f"{_where(index, text)}: bad extent {raw!r} (expected KxK, K or KxK/S)")
    kernel, slash_stride = _extent(index, text, raw)
    stride_value = fields.get("stride", slash_stride)
    if kind in ("pool", "avgpool") and stride_value is None:
        stride_value = kernel[0] if kernel[0] == kernel[1] else None
        if stride_value is None:
            raise DeriveError(f"{_where(index, text)}: a non-square pool needs a stride")
    stride = _count(index, text, "stride", 1 if stride_value is None else stride_value)
    dilation = _count(index, text, "dilation", fields.get("dilation", 1)) \
        if kind == "conv" else 1
    groups = _count(index, text, "groups", fields.get("groups", 1)) if kind == "conv" else 1
    reach = (dilation * (kernel[0] - 1) + 1, dilation * (kernel[1] - 1) + 1)
    padding = _padding(index, text, fields.get("padding", 0), reach)
    filters = _count(index, text, "filters", fields.get("filters")) if kind == "conv" else 0
    if kind == "conv" and filters % groups:
        raise DeriveError(f"{_where(index, text)}: {filters} filters cannot be split into "
                          f"{groups} groups")
    return Layer(index, text, kind, filters, kernel, (stride, stride), padding, dilation,
                 groups, bias if kind == "conv" else True, source)


def _layer_number(index: int, text: str, name: str, value: object) -> int:
    """A reference to an earlier layer's output: 0 (the input) to ``index - 1``."""
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if isinstance(value, bool) or str(number) != str(value).strip() or not 0 <= number < index:
        raise DeriveError(f"{_where(index, text)}: {name} must name an earlier layer, 0 (the "
                          f"input) to {index - 1}, got {value!r}")
    return number


def parse_layers(spec: str | Iterable[str | Mapping[str, object]]) -> list[Layer]:
    """A layer list from text (one layer per line), a list of strings, or a list of dicts."""
    if isinstance(spec, str):
        items: list[str | Mapping[str, object]] = []
        for line in spec.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                items.append(line)
    else:
        items = list(spec)
    if not items:
        raise DeriveError("the layer list is empty")
    layers = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, str):
            layers.append(_parse_text(index, item.strip()))
        elif isinstance(item, Mapping):
            layers.append(_build(index, repr(dict(item)), item))
        else:
            raise DeriveError(f"layer {index}: expected a string or a dict, got {item!r}")
    return layers


def parse_input(shape: object) -> tuple[int, int, int]:
    """``(H, W, C)`` from a triple or a ``"32x32x3"`` string."""
    parts = shape.lower().split("x") if isinstance(shape, str) else shape
    try:
        parts = list(parts)  # type: ignore[arg-type]
    except TypeError:
        parts = []
    if len(parts) != 3:
        raise DeriveError(f"input shape must be H x W x C, got {shape!r}")
    dims = []
    for name, value in zip("HWC", parts, strict=True):
        text = str(value).strip()
        if text.isdigit() and len(text) > MAX_DIGITS:
            raise DeriveError(f"input shape {name} must be below 10^{MAX_DIGITS}, got a number "
                              f"of {len(text)} digits")
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            raise DeriveError(f"input shape {name} must be a positive integer, got {value!r}")
        dims.append(int(text))
    return (dims[0], dims[1], dims[2])
