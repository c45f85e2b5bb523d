"""The one error type users see: bad input, reported without a traceback; and the cost
limits that refuse a request too large to run."""

import os


class DeriveError(ValueError):
    """Bad input from a user. The message names the argument and the value.

    The CLI prints it as ``derive: error: <message>`` and exits with status 2; the
    Python API lets it propagate (it is a ``ValueError``).
    """


def require(condition: bool, message: str) -> None:
    """Raise ``DeriveError(message)`` unless ``condition`` holds."""
    if not condition:
        raise DeriveError(message)


def positive_int(name: str, value: object) -> int:
    """``value`` as a positive ``int``, or a ``DeriveError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DeriveError(f"{name} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        if isinstance(value, str) and value.strip().isdigit():  # past int()'s 4300 digits
            raise DeriveError(f"{name} is too large: a number of {len(value.strip())} "
                              "digits") from None
        raise DeriveError(f"{name} must be a positive integer, got {value!r}") from None
    if str(number) != str(value).strip() and not isinstance(value, int):
        raise DeriveError(f"{name} must be a positive integer, got {value!r}")
    if number <= 0:
        raise DeriveError(f"{name} must be a positive integer, got {value!r}")
    return number


def brief(number: int) -> str:
    """An integer for a message: grouped digits, or ``1.2e+30`` when long (``str`` of an
    int past 4300 digits raises)."""
    if -(10**15) < number < 10**15:
        return f"{number:,d}"
    sign, number = ("-", -number) if number < 0 else ("", number)
    exponent = int((number.bit_length() - 1) * 0.30102999566398)  # floor(log10), or 1 less
    mantissa = number / 10**exponent  # int / int is correctly rounded, whatever the size
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{sign}{mantissa:.1f}e+{exponent}"


def numeric_array(name: str, value: object):
    """``value`` as a real or complex NumPy array, or a ``DeriveError`` naming ``name``
    (strings, ragged lists and objects are refused before they reach a kernel)."""
    import numpy as np

    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise DeriveError(f"{name}: not a rectangular array of numbers ({exc})") from None
    if array.dtype.kind not in "biufc" or array.dtype.kind == "b":
        raise DeriveError(f"{name}: expected numbers, got an array of {array.dtype} "
                          f"({str(value)[:40]!r})")
    return array


# ----------------------------------------------------------------------------- cost limits
#
# Every command estimates its cost from its arguments before it starts and refuses above a
# limit, so a large number on the command line is a one-line error, never an exhausted
# machine or a silent hang. Each limit is an environment variable a user may raise.


_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_ABSURD = 10**18  # beyond this no setting of a limit would help: the message says so


class Limit:
    """One budget: ``env`` names the environment variable that overrides ``default``."""

    def __init__(self, env: str, default: int, unit: str, binary: bool = False) -> None:
        self.env = env
        self.default = default
        self.unit = unit
        self.binary = binary  # the value may carry a K, M, G or T suffix (powers of 1024)

    def value(self) -> int:
        """The limit in force: the environment's (read at each use), else the default."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        text = raw.upper().removesuffix("B") if self.binary else raw.replace("_", "")
        factor = _SUFFIXES.get(text[-1:], 1) if self.binary and text[-1:].isalpha() else 1
        digits = text[:-1] if factor > 1 else text
        if not digits.isdigit() or len(digits) > 30 or int(digits) < 1:
            example = "a positive integer" + (" (with K, M, G or T)" if self.binary else "")
            raise DeriveError(f"{self.env} must be {example}, got {raw!r}")
        return int(digits) * factor

    def check(self, cost: int, what: str, unit: str | None = None) -> None:
        """Refuse ``what`` when its estimated ``cost`` exceeds the limit: one line naming the
        estimate (in ``unit``, default the limit's), the limit and the variable that raises
        it."""
        limit = self.value()
        if cost <= limit:
            return
        how = (f"set {self.env}={self.raise_to(cost)} to allow it" if cost < _ABSURD
               else f"far beyond any machine; {self.env} sets the limit")
        raise DeriveError(f"{what} needs about {self.show(cost)} {unit or self.unit}, above "
                          f"the limit of {self.show(limit)} ({how})")

    def show(self, amount: int) -> str:
        """``amount`` for a person: 1.5 GB, grouped digits, or 1.2e+30 when long."""
        if self.binary and amount < _ABSURD:
            for suffix in ("T", "G", "M", "K"):
                if amount >= _SUFFIXES[suffix]:
                    return f"{amount / _SUFFIXES[suffix]:.1f} {suffix}B".replace(".0 ", " ")
            return f"{amount} B"
        return brief(amount) + (" bytes" if self.binary else "")

    def raise_to(self, cost: int) -> str:
        """A value of the variable that would allow ``cost``."""
        if self.binary:
            for suffix in ("T", "G", "M", "K"):
                if cost >= _SUFFIXES[suffix]:
                    return f"{-(-cost // _SUFFIXES[suffix])}{suffix}"
        return str(cost)


# The three budgets; the README lists them with their defaults.
MEMORY = Limit("DERIVE_MAX_MEMORY", 4 * 2**30, "of memory", binary=True)
STEPS = Limit("DERIVE_MAX_STEPS", 2_000_000, "steps")
TERMS = Limit("DERIVE_MAX_TERMS", 10_000, "terms")
