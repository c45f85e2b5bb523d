"""The sizes of one convolution layer (1-D or 2-D), validated, with its derived shapes."""

from __future__ import annotations

from dataclasses import dataclass

from derive.core.errors import DeriveError
from derive.topics.conv.shapes import output_size

# Dimension names per spatial rank, in the order the catalogue lists them.
SPATIAL_NAMES = {1: ("L",), 2: ("H", "W")}
DEFAULTS = {
    # dsga1008-hw2/1.1c: x in R^{5x7}, one filter, kernel 3, stride 2, no padding or dilation.
    1: {"C": 5, "L": 7, "K": 3, "S": 2, "D": 1, "P": 0, "F": 1},
    # The same layer on a 5 x 7 image with two channels.
    2: {"C": 2, "H": 5, "W": 7, "K": 3, "S": 2, "D": 1, "P": 0, "F": 1},
}
MAX_ENTRIES = 2_000_000  # a guard against requests that would exhaust memory


@dataclass(frozen=True)
class ConvSpec:
    """A cross-correlation layer: ``C`` input channels, spatial ``sizes``, ``F`` filters of
    extent ``K`` per axis, stride ``S``, dilation ``D``, zero padding ``P`` on every side."""

    C: int
    sizes: tuple[int, ...]
    K: int
    S: int
    D: int
    P: int
    F: int

    def __post_init__(self) -> None:
        # Validates every argument (DeriveError naming it) and the kernel against the input.
        for name, n in zip(self.spatial_names, self.sizes, strict=True):
            try:
                output_size(n, self.K, self.P, self.S, self.D)
            except DeriveError as exc:
                raise DeriveError(f"{exc} (along {name})") from None
        for name in ("C", "F"):
            if getattr(self, name) < 1:
                raise DeriveError(f"{name} must be >= 1, got {getattr(self, name)}")
        total = max(self.size(self.x_shape), self.size(self.W_shape), self.size(self.y_shape))
        if total > MAX_ENTRIES:
            raise DeriveError(f"dims {self.dims} give {total} entries; at most {MAX_ENTRIES}")

    @staticmethod
    def size(shape: tuple[int, ...]) -> int:
        out = 1
        for n in shape:
            out *= n
        return out

    @property
    def rank(self) -> int:
        return len(self.sizes)

    @property
    def spatial_names(self) -> tuple[str, ...]:
        return SPATIAL_NAMES[self.rank]

    @property
    def out_sizes(self) -> tuple[int, ...]:
        return tuple(output_size(n, self.K, self.P, self.S, self.D) for n in self.sizes)

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.C, *self.sizes)

    @property
    def W_shape(self) -> tuple[int, ...]:
        return (self.F, self.C, *([self.K] * self.rank))

    @property
    def y_shape(self) -> tuple[int, ...]:
        return (self.F, *self.out_sizes)

    @property
    def dims(self) -> dict[str, int]:
        named = dict(zip(self.spatial_names, self.sizes, strict=True))
        return {"C": self.C, **named, "K": self.K, "S": self.S, "D": self.D, "P": self.P,
                "F": self.F}

    @classmethod
    def from_dims(cls, rank: int, dims: dict[str, int] | None = None) -> ConvSpec:
        """A spec from ``dims`` (missing names take the defaults of ``rank``)."""
        defaults = DEFAULTS[rank]
        given = dict(dims or {})
        for name, value in given.items():
            if name not in defaults:
                known = ", ".join(defaults)
                raise DeriveError(f"unknown dim {name!r} for a {rank}-D convolution "
                                  f"(dims are {known})")
            if isinstance(value, bool) or not isinstance(value, int):
                raise DeriveError(f"dim {name} must be an integer, got {value!r}")
        merged = {**defaults, **given}
        sizes = tuple(merged[n] for n in SPATIAL_NAMES[rank])
        return cls(merged["C"], sizes, merged["K"], merged["S"], merged["D"], merged["P"],
                   merged["F"])
