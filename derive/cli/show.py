"""``derive show MODEL``: a model's derived equations (text, LaTeX or JSON)."""

from __future__ import annotations

import argparse
import json

import derive
from derive.cli.arguments import model_dims


def add(sub) -> None:
    p = sub.add_parser("show", help="a model's derived equations")
    p.add_argument("model", help="a model name or a cell file (path/to/cell.py[:NAME])")
    p.add_argument("--dim", action="append", metavar="NAME=VALUE")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = derive.model(args.model)
    shown = model.show(args.format, model_dims(model, args.dim))
    print(json.dumps(shown, indent=2) if args.format == "json" else shown)
    return 0
