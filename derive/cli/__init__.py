"""The ``derive`` command line, the only user of argparse: one module per command (list,
show, check, grad, answer, report, new-set, grade, schedule, cnn)."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from derive.cli import (
    answer,
    check,
    cnn,
    grad,
    grade,
    listing,
    new_set,
    report,
    schedule,
    show,
)
from derive.cli.arguments import Parser, parse_dims
from derive.core.errors import DeriveError
from derive.report import shown

COMMANDS = (listing, show, check, grad, answer, report, new_set, grade, schedule, cnn)
__all__ = ["Terminated", "build_parser", "main", "parse_dims"]

# Exit statuses: 2 for every error of input or environment (the one-line errors); a signal
# gives the shell's 128 + its number (SIGINT 2, SIGPIPE 13, SIGTERM 15), so that a script can
# tell it from bad input.
INTERRUPTED, BROKEN_PIPE, TERMINATED = 130, 141, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as for Ctrl-C: a TeX build
    is ended, scratch files are removed, earlier outputs stay as they were."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="derive", description="Derive the calculus of neural networks "
                    "symbolically, check every result numerically, typeset it.")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks (accepted anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add(sub)
    return parser


def split_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``argv`` without its ``--debug`` flags (before a ``--``), and whether there was one:
    ``derive show lstm --debug`` means the same as ``derive --debug show lstm``."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return kept, len(kept) != len(argv)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` and SIGINT ``KeyboardInterrupt``, once: a second signal
    while the first unwinds (ending TeX, removing scratch files) is ignored, so the cleanup
    finishes. Outside the main thread (signals cannot be set there) nothing changes; nor does
    a signal that was ignored when the program started."""

    def interrupt(signum: int, frame: object) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous: dict[int, object] = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            # a signal ignored by whoever started us (nohup, a background job) stays ignored
            if signal.getsignal(number) is not signal.SIG_IGN:
                previous[number] = signal.signal(number, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _error(message: str) -> None:
    """``derive: error: MESSAGE`` on stderr, which may itself be a closed pipe."""
    try:
        print(f"derive: error: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _file_error(exc: OSError) -> str:
    """An OSError no command turned into a message of its own, in one line naming the file."""
    name = f" {shown(exc.filename)}" if exc.filename is not None else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device (writing{name})"
    return f"{exc.strerror or exc}{':' + name if name else ''}"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of the closed pipe does
    not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a replaced stdout (tests): nothing to do
        pass


def main(argv: Sequence[str] | None = None) -> int:
    argv, debug = split_debug(sys.argv[1:] if argv is None else argv)
    with _signals_interrupt():
        try:
            args = build_parser().parse_args(argv)
            status = args.run(args)
            sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
            return status
        except BrokenPipeError:
            # stdout's reader has gone (``derive report | head -1``): stop building what no
            # one reads; a command that writes files says so, a listing (``derive list | head``)
            # ends quietly as Unix tools do; the status tells a script with ``set -o pipefail``
            _silence_stdout()
            if debug:
                raise
            if argv and argv[0] == "report":
                _error("output closed early (broken pipe); stopped")
            return BROKEN_PIPE
        except DeriveError as exc:
            if debug:
                raise
            _error(str(exc))
            return 2
        except MemoryError:
            if debug:
                raise
            _error("out of memory: the command needs more memory than is free; try smaller "
                   "sizes (--dim, --T, --input)")
            return 2
        except OSError as exc:  # a full disk, a name too long, a folder where a file goes
            if debug:
                raise
            _error(_file_error(exc))
            return 2
        except Terminated:
            if debug:
                raise
            _error("terminated")
            return TERMINATED
        except KeyboardInterrupt:
            if debug:
                raise
            _error("interrupted")
            return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
