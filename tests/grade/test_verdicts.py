"""Graded verdicts: partly correct lists and shapes, prose judged partly right or right for a
wrong reason, a stated convention said once, and one answer written twice counted once."""

from types import SimpleNamespace

import pytest
import sympy as sp

from derive.grade import grade, merge_repeats, verdicts
from derive.grade.claims import Claim
from derive.grade.render import summary_sentence, text_report
from derive.grade.verdicts import STATUSES, Verdict, judgement

H, K, S = sp.symbols("H K S", integer=True, positive=True)
LAYERS = {"layers": [{"layer": "conv 16", "params": 1216, "flops": 100},
                     {"layer": "pool 2x2/2", "params": 0, "flops": 30},
                     {"layer": "relu", "params": 0, "flops": 16384},
                     {"layer": "pool 2x2/2", "params": 0, "flops": 12}],
          "output_shape": [sp.Symbol("F"), sp.floor((H - K) / S) + 1],
          "H_out": sp.floor((H - K) / S) + 1}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(verdicts, "answer_or_reason",
                        lambda pid: (SimpleNamespace(results=LAYERS), ""))


def _grade(tmp_path, body):
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return grade(path)


def _claim(**kw):
    return Claim("cmsc25500-midterm/4c", "text", "x", judged=kw.pop("judged", "wrong"), **kw)


def test_a_judgement_is_refined_by_its_reason():
    assert judgement(_claim(because="partly right: a; b")) == ("judged partly right", "a; b")
    assert judgement(_claim(because="in part: a")) == ("judged partly right", "a")
    assert judgement(_claim(judged="right", because="right answer, wrong reason: not that")) \
        == ("judged right answer for a wrong reason", "not that")
    # no marker: the judgement as written, even when the words occur later
    assert judgement(_claim(because="wrong in part: a"))[0] == "judged wrong"
    assert judgement(_claim(because="partlyright: a"))[0] == "judged wrong"
    assert judgement(_claim(judged="right", because="it holds"))[0] == "judged right"


def test_a_claims_file_may_judge_partly_or_right_for_a_wrong_reason(tmp_path):
    body = """
[["cmsc25500-midterm/4c"]]
label = "use in a Transformer"
result = "verdict"
text = "a"
judged = "{judged}"
because = "the conclusion holds"
"""
    for judged, status in (("partly", "judged partly right"),
                           ("right answer, wrong reason",
                            "judged right answer for a wrong reason")):
        report = _grade(tmp_path, body.format(judged=judged))
        assert [v.status for v in report.verdicts] == [status]
    with pytest.raises(Exception, match="judged"):
        _grade(tmp_path, body.format(judged="half"))


def test_a_list_right_in_places_names_its_wrong_rows(fake, tmp_path):
    report = _grade(tmp_path, '[["cmsc25500-midterm/1a"]]\nresult = "layers[*].params"\n'
                    'numbers = [1216, 0, 0, 5]\n[["cmsc25500-midterm/1a"]]\n'
                    'result = "layers[*].params"\nnumbers = [1, 2, 3, 4]\n')
    partly, wrong = report.verdicts
    assert partly.status == "partly correct" and partly.reason == "3 of 4 values are right; " \
        "wrong: row 4"
    assert wrong.status == "wrong"
    assert report.counts()["partly correct"] == 1 and "1 partly correct" in text_report(report)


def test_a_stated_convention_excuses_one_group_once(fake, tmp_path):
    body = ('[["cmsc25500-midterm/1a"]]\nresult = "layers[*].flops"\nnumbers = [100, 10, '
            '{relu}, 4]\nconvention = "one operation per pooled output"\n')
    (v,) = _grade(tmp_path, body.format(relu=16384)).verdicts
    assert v.status == "correct" and "under the solution's stated convention" in v.reason
    assert sum("stated convention" in e for e in v.evidence) == 1
    (planted,) = _grade(tmp_path, body.format(relu=16348)).verdicts  # a real slip besides
    assert planted.status == "partly correct" and "wrong: row 3" in planted.reason
    (unstated,) = _grade(tmp_path, body.format(relu=16384).split("convention")[0]).verdicts
    assert unstated.status == "partly correct" and "rows 2 and 4" in unstated.reason


def test_a_shape_right_in_some_dimensions_is_partly_correct(fake, tmp_path):
    (v,) = _grade(tmp_path, '[["dsga1008-hw2/1.1b"]]\nresult = "output_shape"\n'
                  'shape = ["C", "floor((H-K)/S) + 1"]\nassume = ["H >= K"]\n').verdicts
    assert v.status == "partly correct"
    assert v.reason.startswith("dimension 2 is right") and "dimension 1 is wrong" in v.reason


def test_repeats_are_merged_and_penalised_once(fake, tmp_path):
    report = _grade(tmp_path, '''
[["dsga1008-hw2/1.1b"]]
result = "output_shape"
shape = ["F", "floor((H-K)/S)"]
assume = ["H >= K"]
[["dsga1008-hw2/1.1b"]]
result = "H_out"
formula = "floor((H-K)/S)"
assume = ["H >= K"]
[["dsga1008-hw2/1.1b"]]
result = "output_shape"
shape = [1, "F", "floor((H-K)/S)"]
assume = ["H >= K"]
[["dsga1008-hw2/1.1b"]]
result = "H_out"
formula = "floor((H-K)/S) + 2"
''')
    shape, other = report.verdicts  # the height and the shape again are folded in
    assert shape.claim.result == "output_shape" and shape.status == "partly correct"
    assert sum("counted once" in e for e in shape.evidence) == 2
    assert other.claim.result == "H_out" and other.status == "wrong"  # another answer


def test_merge_keeps_what_differs():
    claim = Claim("dsga1008-hw2/1.1c", "shape", [5, 3], result="i.dimension")
    first = Verdict(claim, "wrong", "", claimed=[sp.Integer(5), sp.Integer(3)],
                    expected=[sp.Integer(1), sp.Integer(3)])
    again = Verdict(Claim("dsga1008-hw2/1.1c", "shape", [1, 5, 3], result="i.dimension",
                          line=9), "wrong", "", claimed=[sp.Integer(1), sp.Integer(5),
                                                         sp.Integer(3)])
    other = Verdict(Claim("dsga1008-hw2/1.1c", "shape", [3], result="i.dimension"), "wrong",
                    "", claimed=[sp.Integer(3)])
    elsewhere = Verdict(Claim("dsga1008-hw2/1.1a", "shape", [5, 3], result="i.dimension"),
                        "wrong", "", claimed=[sp.Integer(5), sp.Integer(3)])
    kept = merge_repeats([first, again, other, elsewhere])
    assert kept == [first, other, elsewhere]
    assert "line 9" in first.evidence[-1]


def test_every_status_is_counted_in_the_summary():
    counts = dict.fromkeys(STATUSES, 1)
    sentence = summary_sentence(counts, len(STATUSES))
    assert "1 partly right, 1 wrong" in sentence
    assert "1 with the right answer for a wrong reason" in sentence
    assert "not machine-checked" in sentence
