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

The dict syntax has the same fields: ``{"kind": "conv", "filters": 16, "kernel": 5,
"padding": "same", "stride": 1}``; ``kernel`` may be an int or a pair ``[kh, kw]``.
Every error names the layer by its 1-based index and its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from derive.core.errors import DeriveError

KINDS = ("conv", "relu", "pool", "fc", "softmax")
ALIASES = {"maxpool": "pool", "linear": "fc", "dense": "fc"}
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

    @property
    def label(self) -> str:
        """A canonical description, e.g. ``conv 16 5x5/1 pad 2``."""
        kh, kw = self.kernel
        if self.kind == "conv":
            pad = f" pad {self.padding[0]}" if self.padding[0] == self.padding[1] else (
                f" pad {self.padding[0]}x{self.padding[1]}")
            return f"conv {self.filters} {kh}x{kw}/{self.stride[0]}{pad}"
        if self.kind == "pool":
            pad = f" pad {self.padding[0]}" if any(self.padding) else ""
            return f"pool {kh}x{kw}/{self.stride[0]}{pad}"
        if self.kind == "fc":
            return f"fc {self.filters}"
        return self.kind

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
    if kind in ("relu", "softmax"):
        if rest:
            raise DeriveError(f"{_where(index, text)}: {kind} takes no arguments, got {rest!r}")
        return Layer(index, text, kind)
    if kind == "fc":
        if len(rest) != 1:
            raise DeriveError(f"{_where(index, text)}: fc expects one output size, got {rest!r}")
        return Layer(index, text, kind, filters=_count(index, text, "fc size", rest[0]))
    fields: dict[str, object] = {"kind": kind}
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
        elif word in ("pad", "padding", "stride"):
            if not rest:
                raise DeriveError(f"{_where(index, text)}: {word} needs a value")
            fields["padding" if word.startswith("pad") else "stride"] = rest.pop(0)
        else:
            raise DeriveError(f"{_where(index, text)}: unexpected word {word!r}")
    return _build(index, text, fields)


def _build(index: int, text: str, fields: Mapping[str, object]) -> Layer:
    kind = str(fields.get("kind", "")).lower()
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise DeriveError(f"{_where(index, text)}: unknown layer kind {fields.get('kind')!r} "
                          f"(expected one of {', '.join(KINDS)})")
    known = {"kind", "filters", "units", "kernel", "stride", "padding"}
    extra = set(fields) - known
    if extra:
        raise DeriveError(f"{_where(index, text)}: unknown field {sorted(extra)[0]!r}")
    if kind in ("relu", "softmax"):
        return Layer(index, text, kind)
    if kind == "fc":
        size = fields.get("units", fields.get("filters"))
        return Layer(index, text, kind, filters=_count(index, text, "fc size", size))
    raw = fields.get("kernel")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        raw = f"{raw[0]}x{raw[1]}"
    if not isinstance(raw, str):
        raise DeriveError(f"{_where(index, text)}: bad extent {raw!r} (expected KxK, K or KxK/S)")
    kernel, slash_stride = _extent(index, text, raw)
    stride_value = fields.get("stride", slash_stride)
    if kind == "pool" and stride_value is None:
        stride_value = kernel[0] if kernel[0] == kernel[1] else None
        if stride_value is None:
            raise DeriveError(f"{_where(index, text)}: a non-square pool needs a stride")
    stride = _count(index, text, "stride", 1 if stride_value is None else stride_value)
    padding = _padding(index, text, fields.get("padding", 0), kernel)
    filters = _count(index, text, "filters", fields.get("filters")) if kind == "conv" else 0
    return Layer(index, text, kind, filters, kernel, (stride, stride), padding)


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
