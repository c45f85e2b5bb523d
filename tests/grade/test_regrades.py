"""The verdicts on the seed solutions that a reading of the solutions corrected: each regrade
held against the graded claims files."""


import pytest

from derive.grade.render import latex_report


@pytest.fixture(scope="module")
def reports(seed_reports):
    return seed_reports


def _verdicts(report, pid, label=""):
    return [v for v in report.verdicts if v.claim.problem == pid and label in v.claim.title]


def test_resnet_block_right_choice_wrong_reason(reports):
    (v,) = _verdicts(reports["rnn-cnn-hw"], "rnn-cnn-hw/3.2")
    assert v.status == "judged right answer for a wrong reason"
    assert "no block is chosen" not in v.reason and "identity" in v.reason
    assert not v.reason.lower().startswith("right answer")  # the marker is the verdict's


def test_pixelcnn_sequential_generation_against_the_sequential_answer(reports):
    (v,) = _verdicts(reports["rnn-cnn-hw"], "rnn-cnn-hw/4.1", "one pixel at a time")
    assert v.claim.result == "generation_steps_raster" and v.status == "correct"
    assert not any(w.claim.result == "connections_order" and "generate" in w.claim.title
                   for w in reports["rnn-cnn-hw"].verdicts)


def test_no_half_pixel_padding_is_imputed(reports):
    replacing = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/1c")
    assert not any("padding" in (v.claim.result or "") for v in replacing)
    (shapes,) = [v for v in replacing if v.claim.result == "replacements[*].output_shape"]
    assert shapes.status == "correct"
    assert "1/2" not in latex_report(reports["cmsc25500-midterm"]).split("1c")[1][:3000]


def test_activation_judgement_keeps_to_the_question(reports):
    (v,) = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/2", "acts like ReLU")
    assert v.status == "judged wrong"
    assert "ReLU network" not in v.reason and "saturates" in v.reason


def test_image_rnn_forward_names_the_swapped_scans(reports):
    (v,) = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/6a")
    assert v.status == "judged wrong" and v.reason.startswith("the scan directions are swapped")


def test_image_rnn_flops_the_conclusion_and_the_substituted_channels(reports):
    module, conv, conclusion = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/6d")
    assert module.status == "wrong" and conv.status == "wrong"
    assert "C = 3, halved" in conv.slip  # 81HW is 9C^2 HW at C = 3, the multiplications only
    assert any("C = 3" in e for e in conv.evidence if e.startswith("counterexample"))
    assert conclusion.status == "judged wrong" and "4/9" in conclusion.reason


def test_output_size_one_error_once_and_the_dilation_shown(reports):
    shapes = _verdicts(reports["dsga1008-hw2"], "dsga1008-hw2/1.1b")
    assert len(shapes) == 1  # the output height is the shape's third factor: one claim
    (v,) = shapes
    assert v.status == "wrong"
    assert any("output height" in e and "counted once" in e for e in v.evidence)
    shown = [e for e in v.evidence if e.startswith("counterexample")]
    assert any("D = 2" in e and "K = 2" in e for e in shown)  # the dilation error is visible
    assert any("P = 1" in e and "D = 1" in e for e in shown)  # and the padding's, apart
    assert sum("the same error" in e for e in v.evidence) == 1  # the width repeats the height


def test_one_answer_written_twice_is_one_claim(reports):
    dims = _verdicts(reports["dsga1008-hw2"], "dsga1008-hw2/1.1c", "(i) dimension")
    assert len(dims) == 1
    assert any("second attempt" in e and "the same answer" in e for e in dims[0].evidence)


def test_the_stated_pooling_convention_is_said_once(reports):
    (v,) = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/1a", "FLOPs")
    assert v.status == "partly correct" and "wrong: row 2" in v.reason
    conventions = [e for e in v.evidence if "stated convention" in e]
    assert len(conventions) == 1 and "Rows 5, 10, 15, 18 and 21" in conventions[0]
    assert "factor of 3" not in v.slip


def test_partial_judgements_are_not_wrong(reports):
    (pixel,) = _verdicts(reports["rnn-cnn-hw"], "rnn-cnn-hw/4.3")
    assert pixel.status == "judged partly right"
    (transformer,) = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/4c")
    assert transformer.status == "judged right answer for a wrong reason"
    (schedule,) = _verdicts(reports["cmsc25500-midterm"], "cmsc25500-midterm/5a")
    assert schedule.status == "judged partly right"
