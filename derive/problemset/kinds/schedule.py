"""A ``schedule`` part: memory-limited BPTT schedules at given ``T`` and ``M`` (one value or a
list of each, a grid), answered by the closed forms of :mod:`derive.topics.memory_bptt` and
checked by running the schedules.

Asks: ``counts`` (forward steps, reverse steps, peak stored states, cell evaluations).
"""

from __future__ import annotations

from derive.answers import Answer
from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.problemset.spec import Part, check_keys
from derive.topics import memory_bptt as mb
from derive.topics.cnn.accounting import tex_int

ASKS = {"counts": "the counts of each schedule"}
KEYS = {"T", "M", "schedules"}
MAX_TRACED_STEPS = 200_000  # one schedule is run to check its counts below this cost
MAX_GRID = 100  # rows of the table: a question, not a sweep
NAMES = {"plain": "plain BPTT (every state stored)", "bisection": "recursive bisection",
         "uniform": "uniform checkpoints", "revolve": "binomial checkpointing (revolve)"}


def _values(part: Part, key: str) -> list:
    """``T`` or ``M`` as a list: one value, or a list of them (checked by the topic)."""
    raw = part.fields.get(key)
    if raw is None:
        return [None]
    if isinstance(raw, list):
        if not raw:
            raise part.fail(f"{key} = [] gives no value", f"write {key} = 100 or a list, "
                            f"{key} = [10, 100]", key)
        return list(raw)
    return [raw]


def validate(part: Part) -> tuple[list[tuple[str, int, int | None]], bool]:
    """Every (schedule, T, M) the part asks for, in the order of the table, and whether it
    asks for one T and at most one M."""
    check_keys(part, KEYS, {"T", "schedules"}, ASKS)
    schedules = part.fields["schedules"]
    if not isinstance(schedules, list) or not schedules or any(s not in mb.NAMES
                                                               for s in schedules):
        raise part.fail(f"schedules = {schedules!r}", f"list some of {', '.join(mb.NAMES)}",
                        "schedules")
    Ts, Ms = _values(part, "T"), _values(part, "M")
    if not any(s in mb.WITH_SLOTS for s in schedules) and Ms != [None]:
        raise part.fail("M is given but no schedule takes memory slots", "remove M, or add "
                        "uniform or revolve to schedules", "M")
    cases: list[tuple[str, int, int | None]] = []
    for s in schedules:
        for T in Ts:
            for M in (Ms if s in mb.WITH_SLOTS else [None]):
                try:
                    T_, M_ = mb.schedule_arguments(s, T, M)
                except DeriveError as exc:
                    raise part.fail(f"{s}: {exc}", "give T (steps) and, for uniform and "
                                    "revolve, M (memory slots, 1 <= M < T for every T)",
                                    "M" if "M" in str(exc) else "T") from None
                cases.append((s, T_, M_))
    if len(cases) > MAX_GRID:
        raise part.fail(f"{len(cases)} rows of counts", f"ask for at most {MAX_GRID} "
                        "(schedule, T, M) combinations", "T")
    return cases, len(Ts) == 1 and len(Ms) == 1


def answer(part: Part, notation: dict[str, str], pid: str) -> Answer:
    cases, single = validate(part)
    rows, table, checks = [], [], []
    results: dict[str, object] = {}
    traced: dict[str, list[bool]] = {}
    for s, T, M in cases:
        counts = mb.closed_form_counts(s, T, M)
        entry = {"forward_steps": counts.forward_steps, "reverse_steps": counts.reverse_steps,
                 "peak_slots": counts.peak_slots, "cell_evaluations": counts.cell_evaluations}
        table.append({"schedule": s, "T": T, "M": M, **entry})
        if single:
            results[s] = entry
        rows.append([NAMES[s], tex_int(T), tex_int(M) if M else "--",
                     *map(tex_int, (counts.forward_steps, counts.reverse_steps,
                                    counts.peak_slots, counts.cell_evaluations))])
        if counts.cell_evaluations <= MAX_TRACED_STEPS:
            run = mb.trace(s, T, M)
            traced.setdefault(s, []).append(
                (run.forward_steps, run.reverse_steps, run.peak_slots) ==
                (counts.forward_steps, counts.reverse_steps, counts.peak_slots))
    results["table"] = table
    for s, agree in traced.items():
        total = sum(1 for c in cases if c[0] == s)
        where = next(f"T = {T}" + (f", M = {M}" if M else "") for c, T, M in cases if c == s)
        what = f"(at {where})" if total == 1 else f"({len(agree)} of {total} cases)"
        beyond = total - len(agree)
        left = "" if not beyond else (
            f"; {beyond} larger {'case exceeds' if beyond == 1 else 'cases exceed'} "
            f"{MAX_TRACED_STEPS:,d} evaluations")
        checks.append(Check.exact(f"{s} counts {what}",
                                  "the schedule run step by step, its steps counted",
                                  all(agree), f"{sum(agree)} of {len(agree)} agree{left}"))
    slotted = any(M is not None for _, _, M in cases)
    head = ["schedule", "$T$", "$M$", "forward steps", "reverse steps", "peak stored",
            "evaluations"]
    if not slotted:  # no column of dashes
        head.pop(2)
        rows = [row[:2] + row[3:] for row in rows]
    memory = f", at most $M = {cases[0][2]}$ stored states" if single and slotted else ""
    steps = f"For $T = {cases[0][1]}$ steps{memory}" if single else (
        "For each $T$ and $M$" if slotted else "For each $T$")
    slots = "; $M$ is the number of states that may be stored at once" if slotted else ""
    body = (rf"\paragraph{{Counts.}} {steps} (a forward step advances the cell once; a "
            f"reverse step backpropagates through one step{slots}):\n"
            r"{\small\begin{longtable}{l" + "r" * (len(head) - 1) + r"}\toprule "
            + " & ".join(head) + r" \\ \midrule \endhead" + "\n"
            + "\n".join(" & ".join(row) + r" \\" for row in rows)
            + r" \bottomrule\end{longtable}}")
    return Answer(pid, results, "", body, checks, {})
