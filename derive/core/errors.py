"""The one error type users see: bad input, reported without a traceback."""


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
        raise DeriveError(f"{name} must be a positive integer, got {value!r}") from None
    if str(number) != str(value).strip() and not isinstance(value, int):
        raise DeriveError(f"{name} must be a positive integer, got {value!r}")
    if number <= 0:
        raise DeriveError(f"{name} must be a positive integer, got {value!r}")
    return number


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
