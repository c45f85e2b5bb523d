"""A malformed problem file is refused in one line naming the file, the line and the fix, with
exit status 2, no traceback and nothing written."""

import re

import pytest

from derive.cli import main
from derive.problemset import load

GOOD_BPTT = '''[set]
id = "s"
title = "t"

[[part]]
kind = "bptt"
statement = "s"
dims = { n = 2, m = 2 }
inputs = { x = "n" }
states = { h = "m" }
params = { W = "m x n", U = "m x m" }
equations = [
  "c = sigma(W x(t) + U h(t-1))",
  "h = c ⊙ h(t-1) + (1 - c) ⊙ W x(t)",
]
output = "h"
ask = ["bptt"]
'''

GOOD_CNN = '''[set]
id = "s"
title = "t"

[[part]]
kind = "cnn"
statement = "s"
input = "8x8x3"
layers = ["conv 4 3x3 same", "relu", "pool 2x2/2"]
ask = ["shapes"]
'''

GOOD_SCHEDULE = '''[set]
id = "s"
title = "t"

[[part]]
kind = "schedule"
statement = "s"
T = [10, 100]
M = [2, 4]
schedules = ["uniform", "revolve"]
ask = ["counts"]
'''

CASES = {
    "toml syntax": (GOOD_CNN.replace('title = "t"', 'title = "t'), 3, "not valid TOML"),
    "unknown kind": (GOOD_CNN.replace('kind = "cnn"', 'kind = "rnn"'), 6, "unknown kind 'rnn'"),
    "bad shape": (GOOD_BPTT.replace('U = "m x m"', 'U = "m by m"'), 11, "bad shape 'm by m'"),
    "undeclared size": (GOOD_BPTT.replace('U = "m x m"', 'U = "m x k"'), 11, "uses 'k'"),
    "reads the future": (GOOD_BPTT.replace("U h(t-1))", "U h(t+1))"), 13, "reads the future"),
    "undefined symbol": (GOOD_BPTT.replace("U h(t-1))", "V h(t-1))"), 13,
                         "undefined symbol 'V'"),
    "shapes do not conform": (GOOD_BPTT.replace("W x(t) + U", "x(t) W + U"), 13,
                              "do not conform"),
    "layers do not fit": (GOOD_CNN.replace('"pool 2x2/2"', '"pool 16x16"'), 9,
                          "do not fit the input"),
    "unknown layer word": (GOOD_CNN.replace('"relu"', '"relux"'), 9, "unknown layer kind"),
    "unknown ask": (GOOD_CNN.replace('["shapes"]', '["shapes", "colour"]'), 10,
                    "unknown ask 'colour'"),
    "unknown key": (GOOD_CNN.replace('input = "8x8x3"', 'input = "8x8x3"\nsize = 3'), 9,
                    "unknown key 'size'"),
    "M not below every T": (GOOD_SCHEDULE.replace("M = [2, 4]", "M = [2, 10]"), 9,
                            "M"),
    "M without a schedule that takes it": (
        GOOD_SCHEDULE.replace('["uniform", "revolve"]', '["bisection"]'), 9,
        "no schedule takes memory slots"),
    "no parts": ('[set]\nid = "s"\ntitle = "t"\n', 1, "no parts"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_refused_with_file_line_and_fix(name, tmp_path, capsys):
    text, line, words = CASES[name]
    path = tmp_path / "set.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    status = main(["report", str(path), "--out", str(out), "--no-pdf", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    first = err.strip().splitlines()[-1]
    assert re.match(rf"^derive: error: {re.escape(str(path))}:{line}: ", first), first
    assert words in first and "(fix: " in first, first
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_the_good_files_build(tmp_path, capsys):
    for i, text in enumerate((GOOD_BPTT, GOOD_CNN, GOOD_SCHEDULE)):
        path = tmp_path / f"set{i}.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["report", str(path), "--out", str(tmp_path / "out"), "--no-pdf",
                     "--quiet"]) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "s.tex").exists()


def test_a_missing_problem_file_is_named(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.toml"), "--out", str(tmp_path)]) == 2
    assert "problem file" in capsys.readouterr().err


def test_new_set_writes_a_template_and_never_overwrites(tmp_path, capsys):
    path = tmp_path / "hw.toml"
    assert main(["new-set", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert main(["new-set", str(path)]) == 2
    assert "not overwritten" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == text
    assert [p.kind for p in load(path).parts] == ["bptt", "cnn", "map"]


def test_a_problem_file_in_the_claims_folder_is_refused(tmp_path, capsys):
    # the folder holds the problem file itself: not a claims file, refused by name
    path = tmp_path / "set.toml"
    path.write_text(GOOD_CNN, encoding="utf-8")
    assert main(["report", str(path), "--claims", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "set.toml" in err and "is not a problem id" in err
    assert not (tmp_path / "out").exists()
