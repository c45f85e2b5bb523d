"""rnn-cnn-hw/3.2: the checks that separate the placements, each catching a planted error,
and the figure that shows the skip path's share."""

from __future__ import annotations

import copy

import derive
from derive.answers import resnet as P


def _rows() -> dict:
    rows = derive.answer("rnn-cnn-hw/3.2").results["table"]
    return {(r["depth"], r["placement"]): r for r in rows}


def test_comparison_checks_pass_and_catch_planted_errors():
    at = _rows()
    assert all(c.passed for c in P.comparison_checks(at, 0.6, 5))
    leaky = copy.deepcopy(at)
    leaky[(30, "pre")]["skip_path_ratio"] = 0.99  # an identity skip that loses 1%
    assert not P.comparison_checks(leaky, 0.6, 5)[0].passed
    growing = copy.deepcopy(at)
    growing[(300, "post")]["skip_path_ratio"] = 0.5  # the share grows again at depth 300
    assert not P.comparison_checks(growing, 0.6, 5)[1].passed
    assert not P.comparison_checks(at, 1.2, 5)[2].passed  # one seed where pre grows faster
    tame = copy.deepcopy(at)
    tame[(100, "plain")]["full_ratio"] = 50.0
    assert not P.comparison_checks(tame, 0.6, 5)[3].passed


def test_the_figure_shows_the_skip_share_and_the_text_does_not_repeat_the_warning():
    ans = derive.answer("rnn-cnn-hw/3.2")
    (caption, source), = ans.figures.items()
    assert "skip path" in caption and "plain" not in source and "ymax=1.1" in source
    assert source.count(r"\addplot") == 2
    assert "missing" not in ans.latex and "e+" not in ans.latex
