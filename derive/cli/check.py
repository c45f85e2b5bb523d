"""``derive check [NAME ...]``: run the checks; a table of each check, its error and
tolerance; exit status 1 on any failure. A progress line per model or problem goes to stderr
(``--quiet`` to silence); stdout holds only the table (or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import derive
from derive.checks.check import Check
from derive.cli.arguments import model_dims
from derive.core.errors import DeriveError
from derive.recurrent.usercell import is_cell_file, load_model


def add(sub) -> None:
    p = sub.add_parser("check", help="run the checks of models or problems (all by default)")
    p.add_argument("names", nargs="*",
                   help="model names, problem ids or cell files (path/to/cell.py[:NAME])")
    p.add_argument("--dim", action="append", metavar="NAME=VALUE",
                   help="check a cell file at these sizes (and at size 1)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)


def _subjects(names: list[str]) -> list[str]:
    """The names to check, in order, each once (every registered one when none is given); an
    unknown name fails here, before anything runs."""
    if not names:
        return sorted(derive.checkable())
    known = derive.checkable()
    for name in names:
        if not is_cell_file(name) and name not in known:
            derive.check(name)  # raises the DeriveError that suggests close names
    return list(dict.fromkeys(names))


def _starting(index: int, total: int, name: str) -> None:
    # the name first, the outcome on the same line when done: a slow subject is named
    # while it runs
    print(f"[{index:{len(str(total))}d}/{total}] {name:24s} ", end="", file=sys.stderr,
          flush=True)


def _done(checks: list[Check], seconds: float) -> None:
    failed = sum(not c.passed for c in checks)
    verdict = f"{failed} FAILED" if failed else "all passed"
    print(f"{len(checks):3d} checks, {verdict:10s} {seconds:7.2f} s", file=sys.stderr,
          flush=True)


def run(args: argparse.Namespace) -> int:
    results: dict[str, list[Check]] = {}
    if args.dim:
        files = [n for n in args.names if is_cell_file(n)]
        if not files or len(files) != len(args.names):
            raise DeriveError("--dim applies to cell files (derive check cell.py --dim n=3); "
                              "the catalogue's models are checked at their own sizes")
        jobs = {}
        for name in files:
            model = load_model(name)
            sizes = model.dims_for(model_dims(model, args.dim))
            model.check_dims = [{str(d): 1 for d in sizes}, {str(d): v for d, v in sizes.items()}]
            jobs[name] = model.checks
    else:
        jobs = {name: (lambda n=name: derive.check(n)[n]) for name in _subjects(args.names)}
    for index, (name, job) in enumerate(jobs.items(), start=1):
        if not args.quiet:
            _starting(index, len(jobs), name)
        started = time.perf_counter()
        try:
            results[name] = job()
        except BaseException:  # an error, an interrupt: its message starts a line of its own
            if not args.quiet:
                print(file=sys.stderr, flush=True)
            raise
        if not args.quiet:
            _done(results[name], time.perf_counter() - started)
    failed = sum(not c.passed for checks in results.values() for c in checks)
    if args.json:
        print(json.dumps({n: [c.as_json() for c in cs] for n, cs in results.items()}, indent=2))
    else:
        print(f"{'subject':24s} {'check':44s} {'max error':>10s} {'tolerance':>10s}  result")
        for name, checks in results.items():
            for c in checks:
                verdict = "pass" if c.passed else "FAIL"
                print(f"{name:24s} {c.name:44s} {c.error:10.2e} {c.tolerance:10.0e}  {verdict}")
        total = sum(len(cs) for cs in results.values())
        print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0
