"""``derive answer ID``: one problem's answer with its checks (JSON: a contract)."""

from __future__ import annotations

import argparse
import json

import derive
from derive.printing.jsonable import to_json


def add(sub) -> None:
    p = sub.add_parser("answer", help="the answer to one problem id")
    p.add_argument("id")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ans = derive.answer(args.id)
    if args.format == "json":
        print(json.dumps({"id": ans.id, "answer": to_json(ans.results)}, indent=2))
    elif args.format == "latex":
        print(ans.latex)
    else:
        print(ans.text)
        for c in ans.checks:
            verdict = "pass" if c.passed else "FAIL"
            print(f"  [{verdict}] {c.name}: against {c.against}, error {c.error:.2e} "
                  f"(tolerance {c.tolerance:.0e})")
    return 0
