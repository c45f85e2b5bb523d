"""A dropped bias is named from the layer itself: its biases are its filters (or units), the
last axis of its output shape, not a field the record must carry."""

from types import SimpleNamespace

import pytest

from derive.grade import grade, verdicts

LAYERS = {
    "layers": [
        {"layer": "input", "kind": "input", "shape": [32, 32, 3], "params": 0},
        {"layer": "conv 16 5x5", "kind": "conv", "shape": [32, 32, 16], "params": 1216},
        {"layer": "pool 2x2", "kind": "pool", "shape": [16, 16, 16], "params": 0},
        {"layer": "conv 24 3x3", "kind": "conv", "shape": [16, 16, 24], "params": 3480},
        {"layer": "fc 10", "kind": "fc", "shape": [10], "params": 61450},
    ],
    "total_params": 66146,
}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(verdicts, "answer_or_reason",
                        lambda pid: (SimpleNamespace(results=LAYERS), ""))


def _grade(tmp_path, body):
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return grade(path).verdicts


def test_a_row_without_its_bias(fake, tmp_path):
    (v,) = _grade(tmp_path, '[["cmsc25500-midterm/1a"]]\nresult = "layers[*].params"\n'
                  'numbers = [0, 1200, 0, 3480, 61450]\n')
    assert v.status == "partly correct" and "a dropped bias" in v.slip and "16 biases" in v.slip


def test_totals_without_biases(fake, tmp_path):
    every, one, neither = _grade(tmp_path, "".join(
        f'[["cmsc25500-midterm/1a"]]\nresult = "total_params"\nnumber = {n}\n'
        for n in (66146 - 16 - 24 - 10, 66146 - 24, 66146 - 23)))
    assert "dropped biases" in every.slip and "16 + 24 + 10" in every.slip
    assert "a dropped bias" in one.slip and "conv 24 3x3" in one.slip
    assert "bias" not in neither.slip  # a planted non-bias difference is not called one


def test_a_pool_row_has_no_bias_to_drop(fake, tmp_path):
    (v,) = _grade(tmp_path, '[["cmsc25500-midterm/1a"]]\nresult = "layers[*].params"\n'
                  'numbers = [0, 1216, -16, 3480, 61450]\n')
    assert v.status == "partly correct" and "bias" not in v.slip
