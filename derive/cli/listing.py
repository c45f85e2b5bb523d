"""``derive list``: every model and every problem id."""

from __future__ import annotations

import argparse

import derive
from derive.answers import registered_problems
from derive.catalogue import PROBLEMS


def add(sub) -> None:
    p = sub.add_parser("list", help="every model and problem id")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    answered = set(registered_problems())
    print("models:")
    for name, summary in derive.models().items():
        print(f"  {name:20s} {summary}")
    print("problems:")
    for pid, title in PROBLEMS.items():
        mark = " " if pid in answered else "-"
        print(f" {mark}{pid:24s} {title}")
    return 0
