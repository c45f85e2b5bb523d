"""The seed solutions graded once per test process: several test files read their verdicts."""

from pathlib import Path

import pytest

from derive.grade import grade

CLAIMS = Path(__file__).resolve().parents[2] / "reports" / "claims"
SEEDS = ("rnn-cnn-hw", "cmsc25500-midterm", "dsga1008-hw2")


@pytest.fixture(scope="session")
def seed_reports() -> dict:
    """Each seed claims file's graded report, by the file's stem (read-only: shared)."""
    return {name: grade(CLAIMS / f"{name}.toml") for name in SEEDS}
