"""``make clean`` leaves a checkout as cloned: no environment, reports, caches or scratch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_removes_caches_and_scratch_folders(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    built = [".venv/bin", "reports/out", ".pytest_cache/v", ".ruff_cache/0.1", ".hypothesis/x",
             "derive/__pycache__", "tests/cli/__pycache__", "elsewhere/.derive-build-abc123",
             "derive.egg-info"]
    kept = ["derive/core/cell.py", "reports/claims/rnn-cnn-hw.toml", ".git/HEAD"]
    for folder in built:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "file").write_text("x")
    for name in kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    for folder in built:
        assert not (tmp_path / folder).exists(), folder
    for name in kept:
        assert (tmp_path / name).exists(), name
