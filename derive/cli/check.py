"""``derive check [NAME ...]``: run the checks; a table of each check, its error and
tolerance; exit status 1 on any failure."""

from __future__ import annotations

import argparse
import json

import derive
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.dim:
        files = [n for n in args.names if is_cell_file(n)]
        if not files or len(files) != len(args.names):
            raise DeriveError("--dim applies to cell files (derive check cell.py --dim n=3); "
                              "the catalogue's models are checked at their own sizes")
        results = {}
        for name in files:
            model = load_model(name)
            sizes = model.dims_for(model_dims(model, args.dim))
            model.check_dims = [{str(d): 1 for d in sizes}, {str(d): v for d, v in sizes.items()}]
            results[name] = model.checks()
    else:
        results = derive.check(*args.names)
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
