"""Grading against another answer source than the catalogue's: the ids a claims file may name,
the answers, the model and the verifier all come from the source, and what it lacks is not
checkable, never looked up in the catalogue."""

import textwrap
from types import SimpleNamespace

import pytest
import sympy as sp

from derive.core.errors import DeriveError
from derive.grade import grade
from derive.grade.claims import load_claims, named_sets
from derive.grade.counterexamples import model_for
from derive.grade.parse import SymbolTable
from derive.grade.results import CATALOGUE, AnswerSource, answers_from, model_definitions
from derive.grade.verdicts import CORRECT, NOT_CHECKABLE, WRONG
from derive.models import get

a, b = sp.symbols("a b", positive=True)
RESULTS = {"hw/1": {"area": a * b, "half": a / 2}}


def answers(pid):
    if pid == "hw/2":
        raise DeriveError("the part has no answer")
    return SimpleNamespace(results=RESULTS[pid])


def write(tmp_path, body, name="claims.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


CLAIMS = '''
    title = "a solution to hw"
    [["hw/1"]]
    result = "area"
    formula = "b a"
    [["hw/1"]]
    result = "half"
    formula = "a / 3"
    [["hw/2"]]
    result = "x"
    formula = "a"
    '''


def test_a_claims_file_names_the_problems_of_its_source(tmp_path):
    path = write(tmp_path, CLAIMS)
    with pytest.raises(DeriveError, match="'hw/1' is not a problem id of the catalogue"):
        load_claims(path)
    assert [c.problem for c in load_claims(path, {"hw/1", "hw/2"}).claims] == \
        ["hw/1", "hw/1", "hw/2"]
    with pytest.raises(DeriveError, match="'hw/2' is not a problem id of the problem set "
                                          r"\(did you mean hw/1\?\)"):
        load_claims(path, {"hw/1"})
    assert named_sets(path) == ["hw"]


def test_claims_are_graded_against_the_source(tmp_path):
    path = write(tmp_path, CLAIMS)
    report = grade(path, answers=answers, problems={"hw/1", "hw/2"})
    statuses = [v.status for v in report.verdicts]
    assert statuses == [CORRECT, WRONG, NOT_CHECKABLE]
    assert any(e.startswith("counterexample") for e in report.verdicts[1].evidence)
    assert "the derived answer for hw/2 is not available: the part has no answer" in \
        report.verdicts[2].reason


def test_the_source_is_the_catalogue_again_after_grading(tmp_path):
    grade(write(tmp_path, CLAIMS), answers=answers, problems={"hw/1", "hw/2"})
    assert CATALOGUE.catalogue and CATALOGUE.answer.__module__ == "derive.answers"
    with pytest.raises(ValueError, match="problems"):
        grade(write(tmp_path, CLAIMS), answers=answers)
    with pytest.raises(ValueError, match="give answers too"):
        grade(write(tmp_path, CLAIMS), problems={"hw/1"})


def test_weights_are_not_run_by_the_catalogue_verifier_for_another_source(tmp_path):
    # the id is the catalogue's, whose verifier runs weights; the source declares none
    path = write(tmp_path, '''
        [["rnn-cnn-hw/1"]]
        weights = { W_xh = [[1, 1]] }
        ''')
    report = grade(path, answers=lambda pid: SimpleNamespace(results={}),
                   problems={"rnn-cnn-hw/1"})
    (verdict,) = report.verdicts
    assert verdict.status == NOT_CHECKABLE and "no verifier" in verdict.reason
    seen = []

    def verifier(weights):
        seen.append(weights)
        return False, "adds 1 + 1 as 3", ["1 + 1: 3"]

    report = grade(path, answers=lambda pid: SimpleNamespace(results={}),
                   problems={"rnn-cnn-hw/1"},
                   grading=lambda pid: SimpleNamespace(model=None, verifier=verifier))
    assert report.verdicts[0].status == WRONG and seen == [{"W_xh": [[1, 1]]}]


def test_a_model_is_found_by_name_in_the_catalogue_only():
    # the catalogue's registered models are searched by the id in their summary ...
    assert model_for("dsga1008-hw2/1.2.1", None) is not None
    # ... never for another source, and a model object is taken as it is
    assert model_for("dsga1008-hw2/1.2.1", None, search=False) is None
    lstm = get("lstm")
    assert model_for("hw/1", lstm, search=False) is lstm
    assert model_for("hw/1", object(), search=False) is None  # not a recurrent cell


def test_gate_definitions_come_from_the_model_object():
    table = SymbolTable()
    for name in ("w_ix", "w_ih", "w_fx", "w_fh", "w_ox", "w_oh", "w_cx", "w_ch"):
        table.add(sp.Symbol(name))
    by_name = model_definitions("csc421-hw4/1a", table)
    assert by_name  # the catalogue names the model "lstm"
    source = AnswerSource(answers, lambda: {"hw/1"},
                          lambda pid: SimpleNamespace(model=get("lstm"), verifier=None))
    with answers_from(source):
        assert model_definitions("hw/1", table) == by_name
    without = AnswerSource(answers, lambda: {"hw/1"},
                           lambda pid: SimpleNamespace(model=None, verifier=None))
    with answers_from(without):
        assert model_definitions("hw/1", table) == {}
