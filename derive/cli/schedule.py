"""``derive schedule NAME --T T [--M M]``: the counts of a memory-limited BPTT schedule
(cmsc25500-midterm/5), as JSON. The counts come from closed forms, instant for any ``T``;
``--numeric`` runs the schedule, so its cost is estimated first and refused above the
limits (``DERIVE_MAX_STEPS``, ``DERIVE_MAX_MEMORY``)."""

from __future__ import annotations

import argparse
import json

from derive.core.errors import DeriveError
from derive.topics import memory_bptt as schedules


def add(sub) -> None:
    p = sub.add_parser("schedule", help="forward steps and stored states of a memory-limited "
                       "BPTT schedule (cmsc25500-midterm/5), as JSON")
    p.add_argument("schedule", choices=list(schedules.NAMES))
    p.add_argument("--T", type=int, required=True, help="sequence length")
    p.add_argument("--M", type=int, default=None,
                   help="memory slots, 1 <= M < T (uniform and revolve only; required there)")
    p.add_argument("--numeric", action="store_true",
                   help="run the tanh RNN and report the difference from plain BPTT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # the flags' own names in the messages of a missing or misplaced --M
    if args.schedule in schedules.WITH_SLOTS and args.M is None:
        raise DeriveError(f"--M (the number of memory slots, 1 <= M < T) is required for "
                          f"{args.schedule}")
    if args.schedule not in schedules.WITH_SLOTS and args.M is not None:
        raise DeriveError(f"--M applies only to uniform and revolve; {args.schedule} sets its "
                          f"own memory (got --M {args.M})")
    if args.numeric:  # run the tanh RNN and compare with plain BPTT
        counts, error = schedules.compare_with_plain(args.schedule, args.T, args.M)
        extra = {"max_abs_difference_from_plain_bptt": error}
    else:
        counts, extra = schedules.closed_form_counts(args.schedule, args.T, args.M), {}
    print(json.dumps({**counts.__dict__, "cell_evaluations": counts.cell_evaluations, **extra}))
    return 0
