"""Every answer's machine-readable results (``derive answer ID --format json``) against the
snapshot ``answers_snapshot.json``: a change of layout or presentation must not change one.  The
snapshot was taken before the package was laid out in layers; the only edits since are the two
answers that name a module path (``cmsc25500-midterm/6a``, ``6b``: ``derive.grid`` moved to
``derive.topics.grid``), and answers corrected on purpose, each with the fact behind it in
``test_key_facts.py``: ``cmsc25500-midterm/2`` (the RMS slope reported over draws of the
upstream gradient; sigmoid's 1/4 bound), ``5a`` (its gradient error is against plain BPTT),
``5b`` (the binomial schedule's constant M/(M+1)), ``6e`` (the module is translation
equivariant), ``rnn-cnn-hw/1`` (a design that counts the column's ones) and ``rnn-cnn-hw/4.3``
(the PixelCNN's connections carry k^2), and one typeset field, ``rnn-cnn-hw/4.1``'s
``connections_grouped_latex``, now in the course's term order (``d + d k^2 - 2``). Regenerate it
deliberately, with a reason in the commit, when an answer is meant to change."""

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
