"""A claims file of many hard claims finishes: one time budget per file, identical claims
graded once. (No timing assertions: the verdicts say what happened.)"""

from derive.grade import grade
from derive.grade.equivalence import DEADLINE_REACHED


def _file(tmp_path, claims):
    path = tmp_path / "many.toml"
    path.write_text('title = "many claims"\n' + "".join(
        f'[["cmsc25500-midterm/5b"]]\nresult = "evaluations_m1"\nformula = "{c}"\n'
        for c in claims), encoding="utf-8")
    return path


def test_many_hard_claims_stop_at_the_files_budget(tmp_path):
    # no point evaluates these (a square root of a negative number): each claim would cost a
    # full search for points and a symbolic simplification
    claims = [f"sqrt(-T^2 - {k})" for k in range(1, 61)]
    report = grade(_file(tmp_path, claims), budget=4)
    assert len(report.verdicts) == 60
    reasons = [v.reason for v in report.verdicts]
    first = next(i for i, r in enumerate(reasons) if DEADLINE_REACHED in r)
    assert first < 59  # the budget ran out before the end of the file ...
    for v in report.verdicts[first:]:  # ... and every claim after it says so
        assert v.status == "not checkable" and DEADLINE_REACHED in v.reason
    assert "time budget" in report.verdicts[-1].reason


def test_identical_claims_reuse_the_first_verdict(tmp_path):
    report = grade(_file(tmp_path, ["T*(T+1)/2"] * 300 + ["T*(T-1)/2"] * 300), budget=600)
    # one answer written 300 times is one claim, graded once and counted once
    assert [v.status for v in report.verdicts] == ["correct", "wrong"]
    right, wrong = report.verdicts
    assert right.evidence[-1].endswith("is the same answer: one claim, counted once")
    assert "(lines 5, 8, 11, 14, 17 and 294 more)" in right.evidence[-1]
    assert not any("reused" in e for e in right.evidence)
    assert report.counts()["correct"] == 1 and report.counts()["wrong"] == 1
