"""``derive grade`` says how far it is: a line per problem on stderr (--quiet to silence)."""

from __future__ import annotations

from derive.cli import main
from derive.grade import grade

CLAIMS = """title = "two problems"
[["rnn-cnn-hw/4.3"]]
text = "a remark"
[["rnn-cnn-hw/4.3"]]
text = "another remark"
[["dsga1008-hw2/1.2.2b"]]
text = "prose"
"""


def test_grade_reports_each_problem_once_it_is_graded(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text(CLAIMS)
    seen: list[tuple[str, int]] = []
    report = grade(path, progress=lambda pid, verdicts, seconds: seen.append((pid, len(verdicts))))
    assert seen == [("rnn-cnn-hw/4.3", 2), ("dsga1008-hw2/1.2.2b", 1)]
    assert len(report.verdicts) == 3


def test_the_cli_prints_progress_to_stderr_and_quiet_silences_it(tmp_path, capsys):
    path = tmp_path / "claims.toml"
    path.write_text(CLAIMS)
    assert main(["grade", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split()[:3] for line in lines] == [["rnn-cnn-hw/4.3", "2", "claim(s):"],
                                                    ["dsga1008-hw2/1.2.2b", "1", "claim(s):"]]
    assert main(["grade", str(path), "--format", "json", "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == captured.out
