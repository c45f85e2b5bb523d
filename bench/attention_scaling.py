"""AttentionRNN(k): derivation and compilation time as k doubles, 1 ... 256, for the derivation
in this tree and (with ``--before REV``) the derivation of an earlier commit, side by side.

Each (k, tree) runs cold in a fresh process: the cell is built, its BPTT derived (n symbolic),
then its forward and backward kernels compiled at n = 16. The two trees alternate at every k
and every repeat, so both see the same load; the best of the repeats is reported.

    .venv/bin/python bench/attention_scaling.py                       # this tree only
    .venv/bin/python bench/attention_scaling.py --before 61de962      # and that commit's

The earlier commit is read with ``git archive`` into a temporary folder (the working tree is
not touched). Figures go to bench/attention_scaling.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
N = 16

ONE = """
import json, sys, time
from derive.calculus.adjoint import derive_adjoints
from derive.numeric.kernels import compile_kernels
from derive.topics.attention import attention_cell, n
k = int(sys.argv[1])
t1 = time.perf_counter()
cell = attention_cell(k)
adjoints = derive_adjoints(cell)
t2 = time.perf_counter()
compile_kernels(cell, adjoints, {n: SIZE})
t3 = time.perf_counter()
terms = sum(map(len, adjoints.bars.values())) + sum(map(len, adjoints.grads.values()))
print(json.dumps({"derive": t2 - t1, "compile": t3 - t2, "terms": terms}))
""".replace("SIZE", str(N))


def run(tree: Path, k: int, timeout: float) -> dict | None:
    """One cold derivation of AttentionRNN(k) with the package at ``tree``; None past
    ``timeout`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(tree), "DERIVE_MAX_TERMS": str(10**8)}
    try:
        done = subprocess.run([sys.executable, "-c", ONE, str(k)], env=env, cwd=tree,
                              capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(runs: list[dict | None]) -> dict | None:
    found = [r for r in runs if r is not None]
    if not found:
        return None
    return min(found, key=lambda r: r["derive"] + r["compile"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a commit whose derivation to time alongside")
    parser.add_argument("--before-max-k", type=int, default=128,
                        help="largest k for the earlier commit (its cost grows as k^2)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--ks", type=int, nargs="*", default=KS, help="the k to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        trees = {"after": ROOT}
        if args.before:
            old = Path(scratch) / "before"
            old.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "derive"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            trees["before"] = old
        print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for k in args.ks:
            runs: dict[str, list] = {name: [] for name in trees}
            for _ in range(args.repeats):
                for name, tree in trees.items():  # alternating: both see the same load
                    if name == "before" and k > args.before_max_k:
                        continue
                    runs[name].append(run(tree, k, args.timeout))
            row = {"k": k, **{name: best(found) for name, found in runs.items()}}
            rows.append(row)
            print(json.dumps(row), flush=True)
        print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)

    def cell(r: dict | None, key: str) -> str:
        return "-" if r is None else f"{r[key]:.2f}"

    print("\n| k | derive s | compile s | total s | terms |"
          + (" before: derive s | compile s | total s | terms | before / after |"
             if args.before else ""))
    print("|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|---:|" if args.before else ""))
    for row in rows:
        a, b = row["after"], row.get("before")
        line = (f"| {row['k']} | {cell(a, 'derive')} | {cell(a, 'compile')} | "
                f"{a['derive'] + a['compile']:.2f} | {a['terms']:,} |")
        if args.before:
            total = None if b is None else b["derive"] + b["compile"]
            ratio = "-" if b is None else f"{total / (a['derive'] + a['compile']):.1f}x"
            line += (f" {cell(b, 'derive')} | {cell(b, 'compile')} | "
                     f"{'-' if total is None else f'{total:.2f}'} | "
                     f"{'-' if b is None else format(b['terms'], ',')} | {ratio} |")
        print(line)


if __name__ == "__main__":
    main()
