"""A claim judged under its stated convention or layout, counterexamples inside the domain,
and the honest mechanisms for what is not machine-checked: a transcriber's judgement (counted
apart), an illegible passage (unreadable), a blank answer (wrong) and filled-in values."""

from types import SimpleNamespace

import pytest
import sympy as sp

from derive.core.errors import DeriveError
from derive.grade import grade, verdicts
from derive.grade.render import latex_report, text_report

i, j = sp.symbols("i j", integer=True, nonnegative=True)
H, K, S = sp.symbols("H K S", integer=True, positive=True)
F = sp.Symbol("F")
m, n, T = sp.symbols("m n T", integer=True, positive=True)
t = sp.Symbol("t", integer=True)
vec = {name: sp.MatrixSymbol(f"{name}(t)", m if name != "x" else n, 1)
       for name in ("c", "bar_h", "x")}

RESULTS = {
    "cmsc25500-midterm/6c": {"receptive_field_size": (i + 1) * (j + 1), "why": "an explanation"},
    "dsga1008-hw2/1.1c": {"ii": {"dimension": [1, 3, 1, 5, 3]}},
    "dsga1008-hw2/1.1b": {"output_shape": [F, sp.floor((H - K) / S) + 1]},
    "dsga1008-hw2/1.2.1c": {"dl_dW_x": sp.Sum(
        sp.HadamardProduct(sp.OneMatrix(m, 1) - vec["c"], vec["bar_h"]) * vec["x"].T,
        (t, 1, T))},
}


@pytest.fixture
def fake(monkeypatch):
    def lookup(pid):
        if pid in RESULTS:
            return SimpleNamespace(results=RESULTS[pid]), ""
        return None, f"no derived answer for {pid} yet"

    monkeypatch.setattr(verdicts, "answer_or_reason", lookup)


def _grade(tmp_path, body):
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    return grade(path)


CONVENTION = '''
[["cmsc25500-midterm/6c"]]
result = "receptive_field_size"
formula = "{f}"
convention = "indices from 1"
substitute = {{ i = "i - 1", j = "j - 1" }}
'''


def test_a_claim_right_under_its_stated_convention(fake, tmp_path):
    right, planted = _grade(tmp_path, CONVENTION.format(f="i*j") +
                            CONVENTION.format(f="i*j + 1")).verdicts
    assert right.status == "correct" and "stated convention" in right.reason
    assert "i -> i - 1" in right.reason
    assert "i -> i - 1" in right.evidence[0]
    assert planted.status == "wrong"  # the convention does not excuse a wrong formula
    (plain,) = _grade(tmp_path, '[["cmsc25500-midterm/6c"]]\nresult = "receptive_field_size"'
                      '\nformula = "i*j"\n').verdicts
    assert plain.status == "wrong"  # without the convention, the answer's own indices


def test_a_substitution_needs_its_convention(fake, tmp_path):
    with pytest.raises(DeriveError, match="convention"):
        _grade(tmp_path, '[["cmsc25500-midterm/6c"]]\nresult = "receptive_field_size"\n'
               'formula = "i*j"\nsubstitute = { i = "i - 1" }\n')


def test_a_stated_layout_compares_the_axes_as_a_multiset(fake, tmp_path):
    body = ('[["dsga1008-hw2/1.1c"]]\nresult = "ii.dimension"\nshape = {s}\n'
            'layout = "channel, output, tap"\n')
    right, planted = _grade(tmp_path, body.format(s="[5, 3, 3]") +
                            body.format(s="[5, 3, 4]")).verdicts
    assert right.status == "correct" and "stated layout" in right.reason
    assert planted.status == "wrong"
    (unstated,) = _grade(tmp_path, '[["dsga1008-hw2/1.1c"]]\nresult = "ii.dimension"\n'
                         'shape = [5, 3, 3]\n').verdicts
    assert unstated.status == "wrong" and "another order" in unstated.slip


def test_shape_counterexamples_are_valid_layers(fake, tmp_path):
    (v,) = _grade(tmp_path, '[["dsga1008-hw2/1.1b"]]\nresult = "output_shape"\n'
                  'shape = ["c", "floor((H - K)/S) + 1"]\nassume = ["H >= K"]\n').verdicts
    assert v.status == "partly correct" and "dimension 1 is wrong" in v.reason
    point = v.decision.point if v.decision else {}
    text = " ".join(v.evidence)
    assert "F = 0" not in text and "c = 0" not in text
    assert all(int(point[k]) >= 1 for k in ("F", "c") if k in point)


def test_a_matrix_answer_is_compared_in_the_scalar_case(fake, tmp_path):
    body = '[["dsga1008-hw2/1.2.1c"]]\nresult = "dl_dW_x"\nformula = "{f}"\n'
    one_step, summed = _grade(tmp_path, body.format(f="(1 - c[t]) bar_h[t] x[t]") + body.format(
        f="Sum((1 - c(t))*bar_h(t)*x(t), (t, 1, T))")).verdicts
    assert one_step.status == "wrong" and "scalar case" in one_step.method
    # agreeing when every dimension is 1 proves nothing about the matrices: not "correct"
    assert summed.status == "not checkable" and "scalar case" in summed.reason


def test_judged_illegible_blank_and_filled(fake, tmp_path):
    report = _grade(tmp_path, '''
[["cmsc25500-midterm/6c"]]
text = "the field grows with i and j"
judged = "right"
because = "it is the upper-left quadrant"

[["cmsc25500-midterm/6c"]]
text = "..."
illegible = true

[["cmsc25500-midterm/6c"]]
result = "receptive_field_size"
blank = "left blank in the source"

[["cmsc25500-midterm/6c"]]
result = "receptive_field_size"
formula = "(i + 1)*(j + 1)"
filled = "j (illegible)"
''')
    judged, illegible, blank, filled = report.verdicts
    assert judged.status == "judged right" and "transcriber" in judged.method
    assert illegible.status == "illegible" and "illegible" in illegible.reason
    assert blank.status == "wrong" and "no answer" in blank.reason
    assert filled.status == "correct" and "filled in by the transcriber" in filled.evidence[0]
    counts = report.counts()
    assert counts["correct"] == 1 and counts["judged right"] == 1  # counted apart
    assert "1 judged right" in text_report(report)
    body = latex_report(report)
    assert "Judged by the transcriber" in body and "not machine-checked" in body


def test_a_judgement_needs_its_reason(fake, tmp_path):
    with pytest.raises(DeriveError, match="because"):
        _grade(tmp_path, '[["cmsc25500-midterm/6c"]]\ntext = "x"\njudged = "right"\n')
    with pytest.raises(DeriveError, match="judged"):
        _grade(tmp_path, '[["cmsc25500-midterm/6c"]]\ntext = "x"\njudged = "maybe"\n'
               'because = "y"\n')
