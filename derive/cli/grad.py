"""``derive grad MODEL --json``: a random instance of a model and all its gradients (the
reference gradients other test suites read; the keys are a contract)."""

from __future__ import annotations

import argparse
import json

import derive
from derive.cli.arguments import model_dims
from derive.core.errors import DeriveError, positive_int
from derive.printing.jsonable import to_json


def add(sub) -> None:
    p = sub.add_parser("grad", help="a random instance of a model and its gradients, as JSON")
    p.add_argument("model", help="a model name or a cell file (path/to/cell.py[:NAME])")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--T", type=int, default=None)
    p.add_argument("--dim", action="append", metavar="NAME=VALUE")
    p.add_argument("--json", action="store_true", help="JSON output (the only format)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.T is not None:
        positive_int("--T", args.T)
    if args.seed < 0:  # NumPy's generators take seeds >= 0
        raise DeriveError(f"--seed must be a non-negative integer, got {args.seed}")
    model = derive.model(args.model)
    instance = model.grad_instance(seed=args.seed, T=args.T, dims=model_dims(model, args.dim))
    print(json.dumps(to_json(instance)))
    return 0
