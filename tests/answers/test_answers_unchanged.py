"""Every answer's machine-readable results (``derive answer ID --format json``) against the
snapshot ``answers_snapshot.json``: a change of layout or presentation must not change one.

The snapshot was taken before the package was laid out in layers; the only edits since are the
two answers that name a module path (``cmsc25500-midterm/6a``, ``6b``: ``derive.grid`` moved to
``derive.topics.grid``). Regenerate it deliberately, with a reason in the commit, when an answer
is meant to change."""

import json
from pathlib import Path

import pytest

import derive
from derive.printing.jsonable import to_json

SNAPSHOT = json.loads((Path(__file__).parent / "answers_snapshot.json").read_text())


def test_snapshot_covers_every_answered_problem():
    assert set(SNAPSHOT) == set(derive.answers.registered_problems())


@pytest.mark.parametrize("pid", sorted(SNAPSHOT))
def test_answer_results_are_unchanged(pid):
    results = json.loads(json.dumps(to_json(derive.answer(pid).results)))
    assert results == SNAPSHOT[pid]
