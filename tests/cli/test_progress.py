"""Progress of the long commands: a line per model or problem on stderr, on a terminal or not,
silenced by --quiet; stdout (which scripts parse) unchanged."""

from __future__ import annotations

import json

from derive.cli import main

FAST = ["cmsc25500-midterm/6a", "cmsc25500-midterm/6c"]  # problems whose checks take ms


def test_check_shows_a_line_per_subject(capsys):
    assert main(["check", *FAST]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split()[:2] for line in lines] == [["[1/2]", FAST[0]], ["[2/2]", FAST[1]]]
    assert all("checks, all passed" in line for line in lines)
    table = captured.out.splitlines()
    assert table[0].split()[:2] == ["subject", "check"]
    assert table[-1].endswith("passed, 0 failed")
    assert main(["check", *FAST, "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == captured.out


def test_check_json_stays_json(capsys):
    assert main(["check", FAST[0], "--json"]) == 0
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == [FAST[0]]
    assert captured.err.startswith("[1/1] " + FAST[0])


def test_check_refuses_an_unknown_name_before_running_any(capsys):
    assert main(["check", FAST[0], "no_such_thing"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("derive: error: nothing to check named 'no_such_thing'")
    assert captured.err.count("\n") == 1 and captured.out == ""


def test_an_error_during_a_check_starts_its_own_line(monkeypatch, capsys):
    import derive

    def broken(*names):
        raise derive.DeriveError("a check could not run")

    monkeypatch.setattr(derive, "check", broken)
    monkeypatch.setattr(derive, "checkable", lambda: {FAST[0]: (None, "")})
    assert main(["check", FAST[0]]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "derive: error: a check could not run"
    assert lines[0].split() == ["[1/1]", FAST[0]]
