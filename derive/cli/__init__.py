"""The ``derive`` command line: list, show, check, grad, answer, report, grade, schedule, cnn."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from derive.core.errors import DeriveError, positive_int


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in the project's one-line format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DeriveError(message)


def parse_dims(pairs: Sequence[str] | None, may_be_zero: Sequence[str] = (),
               real: Sequence[str] = ()) -> dict[str, int | float]:
    """``["n=3", "k=2"]`` -> ``{"n": 3, "k": 2}``; a malformed pair is a ``DeriveError``.

    Every dimension is a positive integer, but those in ``may_be_zero`` (a model's
    ``nonnegative_dims``, such as a convolution's padding ``P``) may also be 0, and those in
    ``real`` (a model's ``real_dims``, such as the momentum ``beta``) are any real number,
    read by ``float`` (never evaluated); the model judges their value.
    """
    dims: dict[str, int] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise DeriveError(f"--dim expects NAME=VALUE, got {pair!r}")
        if name in dims:
            raise DeriveError(f"--dim {name} is given twice ({name}={dims[name]}, {pair})")
        value = value.strip()
        if name in real:
            try:
                dims[name] = float(value)
            except ValueError:
                raise DeriveError(f"--dim {name} must be a real number, got {value!r}") from None
        elif name not in may_be_zero:
            dims[name] = positive_int(f"--dim {name}", value)
        elif value == "0":
            dims[name] = 0
        else:
            try:
                dims[name] = positive_int(f"--dim {name}", value)
            except DeriveError:
                raise DeriveError(f"--dim {name} must be a non-negative integer, "
                                  f"got {value!r}") from None
    return dims


def _model_dims(model: object, pairs: Sequence[str] | None) -> dict[str, int]:
    return parse_dims(pairs, getattr(model, "nonnegative_dims", ()),
                      getattr(model, "real_dims", ()))


def _cmd_list(args: argparse.Namespace) -> int:
    import derive
    from derive.answers import registered_problems
    from derive.catalogue import PROBLEMS

    answered = set(registered_problems())
    print("models:")
    for name, summary in derive.model_names().items():
        print(f"  {name:20s} {summary}")
    print("problems:")
    for pid, title in PROBLEMS.items():
        mark = " " if pid in answered else "-"
        print(f" {mark}{pid:24s} {title}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    import derive

    model = derive.model(args.model)
    shown = model.show(args.format, _model_dims(model, args.dim))
    print(json.dumps(shown, indent=2) if args.format == "json" else shown)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import derive
    from derive.recurrent.usercell import is_cell_file, load_model

    if args.dim:
        files = [n for n in args.names if is_cell_file(n)]
        if not files or len(files) != len(args.names):
            raise DeriveError("--dim applies to cell files (derive check cell.py --dim n=3); "
                              "the catalogue's models are checked at their own sizes")
        results = {}
        for name in files:
            model = load_model(name)
            sizes = model.dims_for(_model_dims(model, args.dim))
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


def _cmd_grad(args: argparse.Namespace) -> int:
    import derive
    from derive.printing.jsonable import to_json

    if args.T is not None:
        positive_int("--T", args.T)
    if args.seed < 0:  # NumPy's generators take seeds >= 0
        raise DeriveError(f"--seed must be a non-negative integer, got {args.seed}")
    model = derive.model(args.model)
    instance = model.grad_instance(seed=args.seed, T=args.T, dims=_model_dims(model, args.dim))
    print(json.dumps(to_json(instance)))
    return 0


def _cmd_answer(args: argparse.Namespace) -> int:
    import derive
    from derive.printing.jsonable import to_json

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


def _cmd_report(args: argparse.Namespace) -> int:
    from derive import report

    return report.main(args)


def _cmd_grade(args: argparse.Namespace) -> int:
    from derive import grade

    return grade.main(args)


def _cmd_schedule(args: argparse.Namespace) -> int:
    from derive.topics import memory_bptt as schedules
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


def _cmd_cnn(args: argparse.Namespace) -> int:
    from derive.topics.cnn import command

    return command.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="derive", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="every model and every problem id")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("show", help="a model's derived equations")
    p.add_argument("model")
    p.add_argument("--dim", action="append", metavar="NAME=VALUE")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=_cmd_show)

    p = sub.add_parser("check", help="run the checks of models or problems (all by default)")
    p.add_argument("names", nargs="*",
                   help="model names, problem ids or cell files (path/to/cell.py[:NAME])")
    p.add_argument("--dim", action="append", metavar="NAME=VALUE",
                   help="check a cell file at these sizes (and at size 1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser("grad", help="a random instance of a model and its gradients, as JSON")
    p.add_argument("model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--T", type=int, default=None)
    p.add_argument("--dim", action="append", metavar="NAME=VALUE")
    p.add_argument("--json", action="store_true", help="JSON output (the only format)")
    p.set_defaults(run=_cmd_grad)

    p = sub.add_parser("answer", help="the answer to one problem id")
    p.add_argument("id")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=_cmd_answer)

    p = sub.add_parser("report", help="render the solution reports (LaTeX, PDF)")
    p.add_argument("sets", nargs="*", metavar="SET")
    p.add_argument("--out", default="reports/out")
    p.add_argument("--no-pdf", action="store_true")
    p.add_argument("--claims", default="reports/claims", metavar="DIR",
                   help="claims files whose errata to build with their sets (errata-SET.pdf)")
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("grade", help="grade a claims file against the derived answers")
    p.add_argument("claims")
    p.add_argument("--format", choices=["text", "json", "latex"], default="text")
    p.set_defaults(run=_cmd_grade)

    p = sub.add_parser("schedule", help="forward steps and stored states of a memory-limited "
                       "BPTT schedule (cmsc25500-midterm/5), as JSON")
    p.add_argument("schedule", choices=["plain", "bisection", "uniform", "revolve"])
    p.add_argument("--T", type=int, required=True, help="sequence length")
    p.add_argument("--M", type=int, default=None, help="memory slots (uniform, revolve)")
    p.add_argument("--numeric", action="store_true",
                   help="run the tanh RNN and report the difference from plain BPTT")
    p.set_defaults(run=_cmd_schedule)

    p = sub.add_parser("cnn", help="shapes, parameters, FLOPs, receptive fields of a layer list")
    p.add_argument("spec", help="a file (one layer per line), '-', or layers separated by ';'")
    p.add_argument("--input", required=True, metavar="HxWxC")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=_cmd_cnn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except DeriveError as exc:
        if debug:
            raise
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("derive: error: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
