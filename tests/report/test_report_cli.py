"""``derive report`` with a mistyped set id: a one-line error that suggests the closest ids."""

from __future__ import annotations

import pytest

from derive.cli import main as cli
from derive.report import closest_sets


@pytest.mark.parametrize(
    ("name", "suggested"),
    [("csc999", ["csc421-hw4"]), ("csc421-hw5", ["csc421-hw4"]),
     ("cmsc2550", ["cmsc25500-midterm"]), ("dsga", ["dsga1008-hw2"]),
     ("rnn-cnn", ["rnn-cnn-hw"]), ("xyz", [])],
)
def test_closest_sets(name, suggested):
    assert closest_sets(name) == suggested


def test_an_unknown_set_suggests_the_closest_id(tmp_path, capsys):
    assert cli(["report", "csc999", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derive: error: unknown problem set 'csc999'; did you mean csc421-hw4?")
    assert "Traceback" not in err
