"""Claims files, verdicts of every kind, hostile claims and the ``derive grade`` CLI."""

import json
import shutil
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import sympy as sp

from derive.core.errors import DeriveError
from derive.grade import errata_latex, grade, verdicts
from derive.grade.claims import load_claims
from derive.grade.render import latex_report

t = sp.Symbol("t")
bar_h, bar_c, o, f, c = (sp.Function(n) for n in ("bar_h", "bar_c", "o", "f", "c"))
H, K, S = sp.symbols("H K S", integer=True, positive=True)

FAKE = {
    "csc421-hw4/1a": {
        "bar_c": sp.Eq(bar_c(t), bar_h(t) * o(t) * (1 - sp.tanh(c(t)) ** 2)
                       + bar_c(t + 1) * f(t + 1)),
    },
    "cmsc25500-midterm/1a": {
        "layers": [
            {"layer": "conv 16", "filters": 16, "params": 1216, "flops": 2457600},
            {"layer": "conv 24", "filters": 24, "params": 3480, "flops": 7077888},
            {"layer": "conv 24b", "filters": 24, "params": 5208, "flops": 100},
        ],
        "total_params": 9904,
    },
    "dsga1008-hw2/1.1b": {"output_shape": [sp.Symbol("F"), sp.floor((H - K) / S) + 1]},
    "cmsc25500-midterm/2": {"verdicts": {"sign(x)": "poor"}, "poor": [2, 3, 5]},
    "rnn-cnn-hw/4.1": {"connections": sp.Symbol("d") * sp.Symbol("k") ** 2 * H},
}


@pytest.fixture
def fake(monkeypatch):
    def lookup(pid):
        if pid in FAKE:
            return SimpleNamespace(results=FAKE[pid], text="the derived answer"), ""
        return None, f"no derived answer for {pid} yet"

    monkeypatch.setattr(verdicts, "answer_or_reason", lookup)


def write(tmp_path, body, name="claims.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def statuses(path):
    return [(v.status, v) for v in grade(path).verdicts]


BAR_C = r"\overline{c^{(t)}} = \overline{h^{(t)}} o^{(t)} (1-\tanh^2(c^{(t)})) SIGN " \
    r"\overline{c^{(t+1)}} f^{(t+1)}"


def test_every_verdict_kind(fake, tmp_path):
    right, flipped = BAR_C.replace("SIGN", "+"), BAR_C.replace("SIGN", "-")
    path = write(tmp_path, f'''
        title = "t"
        [["csc421-hw4/1a"]]
        equation = '{right}'
        [["csc421-hw4/1a"]]
        equation = '{flipped}'
        [["csc421-hw4/1a"]]
        result = "bar_c"
        formula = '\\frac{{1}}{{'
        [["csc421-hw4/1a"]]
        text = "because the forget gate is near 1"
        [["csc421-hw4/2a"]]
        result = "weights"
        number = 12
    ''')
    got = statuses(path)
    assert [s for s, _ in got] == ["correct", "wrong", "unparseable", "not checkable",
                                    "not checkable"]
    wrong = got[1][1]
    assert wrong.evidence and "counterexample" in wrong.evidence[0]
    assert "is flipped" in wrong.slip
    assert got[4][1].reason == "no derived answer for csc421-hw4/2a yet"


def test_numbers_name_their_slips(fake, tmp_path):
    path = write(tmp_path, '''
        [["cmsc25500-midterm/1a"]]
        result = "layers[*].params"
        numbers = ["(5*5*3 + 1)*16", 1216, 5184]
        [["cmsc25500-midterm/1a"]]
        result = "total_params"
        number = 9905
        [["cmsc25500-midterm/1a"]]
        result = "layers[2].params"
        number = 5184
    ''')
    (s1, v1), (s2, v2), (s3, v3) = statuses(path)
    assert s1 == "partly correct" and "row 2 (conv 24)" in v1.evidence[0]
    assert "wrong: rows 2 and 3" in v1.reason and v1.reason.startswith("1 of 3 values")
    assert "copied row" in v1.evidence[0] and "dropped bias" in v1.evidence[1]
    assert s2 == "wrong" and "off-by-one" in v2.slip
    assert s3 == "wrong" and "dropped bias" in v3.slip and "'filters'" in v3.slip


def test_shapes_choices_sets_and_orders(fake, tmp_path):
    path = write(tmp_path, '''
        [["dsga1008-hw2/1.1b"]]
        result = "output_shape"
        shape = ["F", "floor((H-K)/S) + 1"]
        assume = ["H >= K"]
        [["dsga1008-hw2/1.1b"]]
        result = "output_shape"
        shape = ["F", "C", "floor((H-K)/S)"]
        assume = ["H >= K"]
        [["cmsc25500-midterm/2"]]
        result = 'verdicts["sign(x)"]'
        choice = "fine"
        [["cmsc25500-midterm/2"]]
        result = "poor"
        set = [2, 3]
        [["rnn-cnn-hw/4.1"]]
        result = "connections"
        formula = "O(3 d k^2 H)"
        [["rnn-cnn-hw/4.1"]]
        result = "connections"
        formula = "O(d k^2)"
    ''')
    got = statuses(path)
    assert [s for s, _ in got] == ["correct", "wrong", "wrong", "wrong", "correct", "wrong"]
    shape = got[1][1]
    assert "extra dimension: C" in shape.evidence[0]
    assert "dimension 2" in shape.evidence[1] and "H =" in shape.evidence[2]
    assert got[3][1].evidence == ["missing: 5"]


def test_unknown_result_key_is_an_error_at_load_time(fake, tmp_path):
    # a result the answer does not have is a transcription typo, not a verdict
    path = write(tmp_path, '''
        [["dsga1008-hw2/1.1b"]]
        result = "no_such_key"
        number = 3
    ''')
    with pytest.raises(DeriveError) as exc:
        grade(path)
    assert "no_such_key" in str(exc.value) and "output_shape" in str(exc.value)
    assert "line 2" in str(exc.value)


def test_bom_folder_and_empty_files(fake, tmp_path):
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + b'[["cmsc25500-midterm/1a"]]\nresult = "total_params"\n'
                    b"number = 9904\n")
    ((status, _),) = statuses(bom)
    assert status == "correct"
    with pytest.raises(DeriveError, match="is a folder"):
        load_claims(tmp_path)
    empty = write(tmp_path, "", name="empty.toml")
    with pytest.raises(DeriveError, match="no claims"):
        load_claims(empty)
    only_meta = write(tmp_path, 'title = "x"\n', name="meta.toml")
    with pytest.raises(DeriveError, match="no claims"):
        load_claims(only_meta)


HOSTILE_CLAIMS = [
    "__import__('os').system('touch {marker}')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: __import__('os').system('touch {marker}')",
    "2^(10^10)",
    "x^(y^(10^10))",
    "(" * 10_000 + "x" + ")" * 10_000,
    "\\\\frac{{1}}{{\\\\left(",
    "a" * 1_000_000,
    "exp(exp(exp(exp(exp(H)))))",
    "(H + K + S + 1)^64 * (H - K)^64",
]


def test_hostile_claims_get_verdicts_and_run_nothing(tmp_path):
    marker = tmp_path / "pwned"
    body = ""
    for text in HOSTILE_CLAIMS:
        body += ('[["dsga1008-hw2/1.1b"]]\nresult = "H_out"\nformula = "'
                 + text.format(marker=marker) + '"\n')
        body += ('[["rnn-cnn-hw/3.1"]]\nresult = "total_params"\nnumber = "'
                 + text.format(marker=marker)[:2000] + '"\n')
    body += '[["rnn-cnn-hw/3.1"]]\nresult = "total_params"\nnumber = nan\n'
    body += '[["rnn-cnn-hw/3.1"]]\nresult = "layers[*].params"\nnumbers = [inf, 1e308]\n'
    path = write(tmp_path, body)
    # a subprocess with a deadline: a hang fails the test instead of stalling the suite
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "grade", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["verdicts"]) == 2 * len(HOSTILE_CLAIMS) + 2
    for v in report["verdicts"]:
        assert v["verdict"] in ("wrong", "unparseable", "not checkable"), v
        assert v["reason"]
    assert not marker.exists()


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('[["csc421-hw4/1a"]\nformula = "x"', "not valid TOML"),
        ('[["no-such/1"]]\nnumber = 1', "'no-such/1' is not a problem id"),
        ('[["csc421-hw4/1a"]]\nlabel = "x"', "exactly one of"),
        ('[["csc421-hw4/1a"]]\nnumber = 1\nformula = "x"', "got number, formula"),
        ('[["csc421-hw4/1a"]]\n\nnumber = true', "line 3"),
        ('[["csc421-hw4/1a"]]\nnumber = 1\ncolour = "red"', "unknown key 'colour'"),
        ('[["csc421-hw4/1a"]]\nnumber = 1\nresult = "a b"', "malformed result path"),
        ('[["csc421-hw4/1a"]]\nequation = "x + 1"', "needs '='"),
        ('title = 3', "key 'title' must be a string"),
        ("a = " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('[["csc421-hw4/1a"]]\nweights = { w = "x" }', "a table of numbers"),
    ],
)
def test_bad_claims_file_names_file_line_and_value(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with pytest.raises(DeriveError) as err:
        load_claims(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_cli_exit_statuses(tmp_path):
    good = write(tmp_path, '[["rnn-cnn-hw/3.1"]]\nresult = "total_params"\nnumber = 1\n')
    bad = write(tmp_path, '[["rnn-cnn-hw/3.1"]]\nnumber = [1, 2]\n', "bad.toml")
    run = [sys.executable, "-m", "derive.cli", "grade"]
    proc = subprocess.run([*run, str(good)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and "summary:" in proc.stdout  # wrong verdicts: still 0
    for target in (bad, tmp_path / "missing.toml"):
        proc = subprocess.run([*run, str(target)], capture_output=True, text=True, timeout=240)
        assert proc.returncode == 2
        assert proc.stderr.startswith("derive: error:") and "Traceback" not in proc.stderr
        assert str(target) in proc.stderr


def test_bad_assumption_is_a_derive_error(fake, tmp_path):
    path = write(tmp_path, '''
        [["dsga1008-hw2/1.1b"]]
        result = "output_shape"
        shape = ["F", "H"]
        assume = ["H +"]
    ''')
    with pytest.raises(DeriveError, match="assume"):
        grade(path)


def test_latex_errata_body(fake, tmp_path):
    path = write(tmp_path, r'''
        title = "a solution with 50% of $pecial_chars"
        [["csc421-hw4/1a"]]
        equation = '\overline{c^{(t)}} = \overline{h^{(t)}} o^{(t)} - \overline{c^{(t+1)}}'
        note = "a & b"
        [["cmsc25500-midterm/1a"]]
        result = "total_params"
        number = 9904
    ''')
    body = errata_latex(path)
    assert r"\section*{Errata: a solution with 50\% of \$pecial\_chars}" in body
    assert r"\textbf{wrong}" in body and r"\textbf{right}" in body
    assert "Correction:" in body and r"\overline{h^{(t)}}" in body
    assert r"a \& b" in body
    assert body.count(r"\begin{itemize}") == body.count(r"\end{itemize}") == 2


SEEDS = ["rnn-cnn-hw", "cmsc25500-midterm", "dsga1008-hw2"]


@pytest.mark.parametrize("name", SEEDS)
def test_seed_claims_are_all_decided(name, seed_reports):
    report = seed_reports[name]
    assert report.verdicts
    for v in report.verdicts:
        assert v.status != "unparseable", (v.claim.title, v.reason)
        if v.status == "not checkable" and v.claim.kind != "text":
            # only an answer that is not derived (or not building) may leave it undecided
            assert any(why in v.reason for why in ("no derived answer", "has no result",
                                                    "failed to build", "not available")), \
                v.reason
    assert report.counts()["wrong"] > 0  # the seed solutions are wrong in places


class sigma(sp.Function):  # a gate activation as the derived answers write it
    pass


def test_gates_written_out_from_their_forward_definitions(monkeypatch, tmp_path):
    i, x, h, bar_i = (sp.Function(n) for n in ("i", "x", "h", "bar_i"))
    w_ix, w_ih, T = sp.symbols("w_ix w_ih T")
    results = {
        "forward": {"i": sp.Eq(i(t), sigma(w_ix * x(t) + w_ih * h(t - 1)))},
        "bar_w_ix": sp.Eq(sp.Symbol("bar_w_ix"),
                          sp.Sum(bar_i(t) * i(t) * (1 - i(t)) * x(t), (t, 1, T))),
    }
    monkeypatch.setattr(verdicts, "answer_or_reason",
                        lambda pid: (SimpleNamespace(results=results, text=""), ""))
    lhs = r"\overline{w_{ix}} = \sum_{t=1}^{T} \overline{i^{(t)}} "
    gate = r"\sigma'(w_{ix} x^{(t)} + w_{ih} h^{(t-1)})"
    body = ""
    for rhs in (gate + r" x^{(t)}", gate + r" h^{(t-1)}", r"i^{(t)} (1 - i^{(t)}) x^{(t)}"):
        body += '[["csc421-hw4/1b"]]\nequation = ' + "'''" + lhs + rhs + "'''\n"
    path = write(tmp_path, body)
    (s1, v1), (s2, v2), (s3, _) = statuses(path)
    assert s1 == "correct" and "forward definitions" in v1.method
    assert s2 == "wrong" and "T = " in v2.evidence[0]  # the sum is expanded at a small T
    assert s3 == "correct"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_seed_errata_compile(tmp_path, seed_reports):
    # errata_latex(path) is latex_report(grade(path)); the seeds are graded once per process
    bodies = "\n".join(latex_report(seed_reports[name]) for name in SEEDS)
    (tmp_path / "errata.tex").write_text(
        "\\documentclass{article}\\usepackage{amsmath,amssymb}\\usepackage[T1]{fontenc}\n"
        "\\begin{document}\n" + bodies + "\\end{document}\n", encoding="utf-8")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
         "errata.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "errata.pdf").exists()


def test_weights_are_run_not_compared(fake, tmp_path):
    # a working adder (h1 = no carry and no bit, h2 = exactly one bit, h3 = carry out), then
    # the same with one weight's sign flipped, then weights of the wrong shape
    good = ("W_xh = [[0, 0], [-1, -1], [1, 1]], W_hh = [[0, 0, -1], [0, 0, 1], [0, 0, 1]], "
            "W_hy = [[-1, -1, -1]], b_h = [0.5, 0.5, -1.5], b_y = 1.5")
    planted = good.replace("W_hy = [[-1, -1, -1]]", "W_hy = [[-1, 1, -1]]")
    path = write(tmp_path, f"""
        [["rnn-cnn-hw/1"]]
        weights = {{ {good} }}
        [["rnn-cnn-hw/1"]]
        weights = {{ {planted} }}
        [["rnn-cnn-hw/1"]]
        weights = {{ W_xh = [[1, 1, 1]], W_hh = [[0]], W_hy = [[1]], b_h = [0], b_y = 0 }}
        [["csc421-hw4/1a"]]
        weights = {{ w = 1 }}
    """)
    (s1, v1), (s2, v2), (s3, v3), (s4, v4) = statuses(path)
    assert s1 == "correct" and "every pair" in v1.reason
    assert s2 == "wrong" and v2.evidence[0].startswith("counterexample: ")
    assert "should give" in v2.evidence[0]
    assert s3 == "wrong" and "W_xh must have shape" in v3.reason
    assert s4 == "not checkable" and "no verifier" in v4.reason


def test_a_spent_time_budget_leaves_claims_ungraded(fake, monkeypatch, tmp_path):
    import derive.grade as grade_module

    monkeypatch.setattr(grade_module, "BUDGET_SECONDS", -1)
    path = write(tmp_path, '[["cmsc25500-midterm/1a"]]\nresult = "total_params"\nnumber = 1\n')
    ((status, v),) = statuses(path)
    assert status == "not checkable" and "time budget" in v.reason


def test_lstm_claims_against_the_derived_answers(tmp_path):
    # the real answers of csc421-hw4/1a and rnn-cnn-hw/2.2 (input-first weight names)
    bar_h = (r"\overline{h^{(t)}} = \frac{\partial L}{\partial h^{(t)}} "
             r"+ w_{ih} \sigma'(w_{ix}x^{(t+1)} + w_{ih}h^{(t)}) \overline{i^{(t+1)}} "
             r"+ w_{fh} f^{(t+1)}(1-f^{(t+1)}) \overline{f^{(t+1)}} "
             r"+ w_{oh} o^{(t+1)}(1-o^{(t+1)}) \overline{o^{(t+1)}} "
             r"+ w_{gh} (1-(g^{(t+1)})^2) \overline{g^{(t+1)}}")
    bar_c = r"\overline{c^{(t)}} = \overline{h^{(t)}} o^{(t)} (1-\tanh^2(c^{(t)})) " \
        r"+ \overline{c^{(t+1)}} f^{(t)}"
    bar_w = r"\overline{w_{xi}} = \sum_{t=1}^{T} \overline{i^{(t)}} " \
        r"\sigma'(w_{xi} x^{(t)} + w_{hi} h^{(t-1)}) x^{(t)}"
    body = "".join(f'[["{pid}"]]\nequation = ' + "'''" + eq + "'''\n"
                   for pid, eq in (("csc421-hw4/1a", bar_h), ("csc421-hw4/1a", bar_c),
                                   ("rnn-cnn-hw/2.2", bar_w)))
    (s1, v1), (s2, v2), (s3, v3) = statuses(write(tmp_path, body))
    assert s1 == "correct" and "forward definitions" in v1.method
    assert s2 == "wrong" and "f(t) where the right formula has f(t + 1)" in v2.slip
    assert s3 == "correct" and "forward definitions" in v3.method


def test_rows_are_numbered_as_the_answer_key_numbers_them():
    from derive.grade.slips import row_name

    # a layer table starts with the input as layer 0, as in the answer key's tables
    assert row_name(6, ["input", "conv", "pool", "conv", "pool", "conv", "conv 256"]) == \
        "row 6 (conv 256)"
    assert row_name(1, ["conv 16", "conv 24"]) == "row 2 (conv 24)"


def test_a_weights_table_too_large_names_the_limits(tmp_path):
    weights = ", ".join(f"w{i} = 1" for i in range(40))
    path = write(tmp_path, f'''
        [["rnn-cnn-hw/1"]]
        weights = {{{weights}}}
    ''')
    with pytest.raises(DeriveError, match="at most 32 weights, lists of at most 64 entries"):
        load_claims(path)
