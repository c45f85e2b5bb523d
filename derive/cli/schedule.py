"""``derive schedule NAME --T T [--M M]``: the counts of a memory-limited BPTT schedule
(cmsc25500-midterm/5), as JSON."""

from __future__ import annotations

import argparse
import json

from derive.topics import memory_bptt as schedules


def add(sub) -> None:
    p = sub.add_parser("schedule", help="forward steps and stored states of a memory-limited "
                       "BPTT schedule (cmsc25500-midterm/5), as JSON")
    p.add_argument("schedule", choices=["plain", "bisection", "uniform", "revolve"])
    p.add_argument("--T", type=int, required=True, help="sequence length")
    p.add_argument("--M", type=int, default=None, help="memory slots (uniform, revolve)")
    p.add_argument("--numeric", action="store_true",
                   help="run the tanh RNN and report the difference from plain BPTT")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.numeric:  # run the tanh RNN and compare with plain BPTT
        instance = schedules.random_instance(args.T)
        grads, counts = schedules.run(args.schedule, instance, args.M)
        plain, _ = schedules.run("plain", instance)
        error = max(float(abs(grads[k] - plain[k]).max()) for k in plain)
        extra = {"max_abs_difference_from_plain_bptt": error}
    else:
        counts, extra = schedules.trace(args.schedule, args.T, args.M), {}
    print(json.dumps({**counts.__dict__, "cell_evaluations": counts.cell_evaluations, **extra}))
    return 0
