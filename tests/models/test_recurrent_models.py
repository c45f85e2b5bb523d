"""The LSTM and the gated RNN end to end: forward against independent NumPy code, the
`derive grad` contract, the REPL API, bad input, readable results."""

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import derive
from derive.cli import main
from derive.core.errors import DeriveError


def sig(a):
    return 1 / (1 + np.exp(-a))


def numpy_lstm(p, xs, h, c):
    hs = []
    for x in xs:
        i = sig(p["w_ix"] * x + p["w_ih"] * h)
        f = sig(p["w_fx"] * x + p["w_fh"] * h)
        o = sig(p["w_ox"] * x + p["w_oh"] * h)
        g = np.tanh(p["w_gx"] * x + p["w_gh"] * h)
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.array(hs)


def numpy_gated(p, xs, h):
    hs = []
    for x in xs:
        c = sig(p["W_c"] @ x + p["W_h"] @ h)
        h = c * h + (1 - c) * (p["W_x"] @ x)
        hs.append(h)
    return np.array(hs)


def cli(*argv):
    return subprocess.run([sys.executable, "-m", "derive.cli", *argv], capture_output=True,
                          text=True, timeout=300)


def test_lstm_grad_contract_and_forward():
    proc = cli("grad", "lstm", "--seed", "7", "--T", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"model", "dims", "params", "inputs", "initial", "upstream", "outputs",
                        "grads"}
    assert out["model"] == "lstm" and out["dims"] == {"T": 6}
    assert set(out["params"]) == {"w_ix", "w_ih", "w_fx", "w_fh", "w_ox", "w_oh", "w_gx",
                                  "w_gh"}
    assert set(out["initial"]) == {"h", "c"} and out["initial"]["h"] != 0
    assert set(out["grads"]) == {"params", "inputs", "initial"}
    assert len(out["inputs"]["x"]) == len(out["upstream"]["h"]) == len(out["outputs"]["h"]) == 6
    hs = numpy_lstm(out["params"], out["inputs"]["x"], out["initial"]["h"], out["initial"]["c"])
    assert np.allclose(hs, out["outputs"]["h"], rtol=1e-14, atol=1e-15)


def test_lstm_grad_is_the_gradient_of_the_contract_loss():
    out = derive.model("lstm").grad_instance(seed=3, T=5)
    p, xs = out["params"], out["inputs"]["x"]
    h0, c0, u = out["initial"]["h"], out["initial"]["c"], np.array(out["upstream"]["h"])

    def loss(p=p, xs=xs, h0=h0, c0=c0):
        return float(u @ numpy_lstm(p, np.array(xs), h0, c0))

    eps = 1e-6
    for name in p:
        up, dn = dict(p), dict(p)
        up[name] += eps
        dn[name] -= eps
        fd = (loss(p=up) - loss(p=dn)) / (2 * eps)
        assert abs(fd - out["grads"]["params"][name]) < 1e-8
    fd_h0 = (loss(h0=h0 + eps) - loss(h0=h0 - eps)) / (2 * eps)
    assert abs(fd_h0 - out["grads"]["initial"]["h"]) < 1e-8


def test_gated_rnn_grad_contract_and_forward():
    proc = cli("grad", "gated_rnn", "--seed", "2", "--T", "4", "--dim", "n=3", "--dim", "m=2",
               "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["dims"] == {"T": 4, "n": 3, "m": 2}
    assert set(out["params"]) == {"W_c", "W_h", "W_x"} and set(out["initial"]) == {"h"}
    assert np.shape(out["params"]["W_c"]) == (2, 3) and np.shape(out["inputs"]["x"]) == (4, 3)
    p = {k: np.array(v) for k, v in out["params"].items()}
    hs = numpy_gated(p, np.array(out["inputs"]["x"]), np.array(out["initial"]["h"]))
    assert np.allclose(hs, out["outputs"]["h"], rtol=1e-14, atol=1e-15)
    assert np.shape(out["grads"]["params"]["W_x"]) == (2, 3)


def test_kernels_accept_complex_and_batches():
    model = derive.model("gated_rnn")
    inst = model.random_instance(0, 3, {"n": 2, "m": 3}, batch=4)
    inst["inputs"]["x"] = inst["inputs"]["x"].astype(complex)
    result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"],
                        {"n": 2, "m": 3})
    assert result.values["h"][3].shape == (4, 3, 1)
    assert np.iscomplexobj(result.grads["W_h"])


@pytest.mark.parametrize("argv, needle", [
    (["grad", "lstm", "--T", "0", "--json"], "--T must be a positive integer, got 0"),
    (["grad", "lstm", "--T", "-3", "--json"], "--T must be a positive integer, got -3"),
    (["grad", "gated_rnn", "--dim", "n=0", "--json"], "--dim n must be a positive integer"),
    (["grad", "gated_rnn", "--dim", "n=2.5", "--json"], "'2.5'"),
    (["grad", "gated_rnn", "--dim", "q=2", "--json"], "no dimension 'q'"),
    (["grad", "gated_rnn", "--dim", "n", "--json"], "--dim expects NAME=VALUE, got 'n'"),
    (["grad", "lstn", "--json"], "unknown model 'lstn'; did you mean lstm"),
    (["grad", "lstm", "--seed", "-1", "--json"], "--seed must be a non-negative integer, got -1"),
    (["grad", "gated_rnn", "--dim", "n=2", "--dim", "n=3", "--json"], "--dim n is given twice"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    # in this process (what a fresh interpreter adds is shown once, below)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("derive: error:") and needle in err and err.count("\n") == 1
    assert "Traceback" not in err and out == ""


def test_bad_input_in_a_fresh_interpreter_is_one_line_exit_2():
    proc = cli("grad", "lstm", "--T", "0", "--json")
    assert proc.returncode == 2
    assert proc.stderr == "derive: error: --T must be a positive integer, got 0\n"
    assert proc.stdout == ""


def test_bptt_rejects_wrong_shapes_naming_the_argument():
    model = derive.model("gated_rnn")
    inst = model.random_instance(0, 3, {"n": 2, "m": 3})
    bad = dict(inst["params"], W_h=np.zeros((2, 2)))
    with pytest.raises(DeriveError, match=r"params\['W_h'\]: expected shape \(3, 3\)"):
        model.bptt(bad, inst["inputs"], inst["upstream"], inst["initial"], {"n": 2, "m": 3})
    with pytest.raises(DeriveError, match=r"inputs\['x'\]"):
        model.bptt(inst["params"], {"x": np.zeros((3, 1, 5))}, inst["upstream"],
                   inst["initial"], {"n": 2, "m": 3})
    with pytest.raises(DeriveError, match="initial: missing state 'h'"):
        model.bptt(inst["params"], inst["inputs"], inst["upstream"], {}, {"n": 2, "m": 3})


def test_bptt_rejects_unknown_keys_and_non_numbers_naming_the_argument():
    model = derive.model("lstm")
    inst = model.random_instance(0, 3)
    args = inst["params"], inst["inputs"], inst["upstream"], inst["initial"]
    with pytest.raises(DeriveError, match=r"upstream: lstm has no 'c' \(expected 'h'\)"):
        model.bptt(args[0], args[1], dict(args[2], c=args[2]["h"]), args[3])
    with pytest.raises(DeriveError, match=r"inputs: lstm has no 'y'"):
        model.bptt(args[0], dict(args[1], y=args[1]["x"]), args[2], args[3])
    with pytest.raises(DeriveError, match=r"initial: lstm has no state 'g'"):
        model.bptt(*args[:3], dict(args[3], g=args[3]["h"]))
    with pytest.raises(DeriveError, match=r"params\['w_ix'\]: expected numbers"):
        model.bptt(dict(args[0], w_ix="0.5"), *args[1:])
    with pytest.raises(DeriveError, match=r"inputs\['x'\]: not a rectangular array"):
        model.bptt(args[0], {"x": [[0.1], [0.2, 0.3], [0.4]]}, *args[2:])


def test_repl_api_reads_like_the_textbook():
    m = derive.model("lstm")
    assert set(m.equations) == {"i", "f", "o", "g", "c", "h"}
    assert isinstance(m.adjoints["c"], sp.Eq)
    sig_c = m.cell.signals
    t = m.cell.t
    expected_c = (sig_c["h"].bar(t) * sig_c["o"](t) * (1 - sp.tanh(sig_c["c"](t)) ** 2)
                  + sig_c["c"].bar(t + 1) * sig_c["f"](t + 1))
    assert sp.expand(m.adjoints["c"].rhs - expected_c) == 0
    assert not m.adjoints["h"].rhs.has(sp.exp)  # sigma' through the gates, never exponentials
    assert len(m.weight_grads) == 8
    assert isinstance(m.weight_grads["w_ix"].rhs, sp.Sum)
    jac = m.jacobian("h")
    assert jac.has(sig_c["o"](t)) and jac.has(sig_c["c"](t - 1))
    latex = m._repr_latex_()
    assert latex.startswith("$") and r"\overline{c^{(t)}}" in latex


def test_show_latex_uses_bar_notation():
    proc = cli("show", "lstm", "--format", "latex")
    assert proc.returncode == 0
    tex = proc.stdout
    for needle in [r"\overline{h^{(t)}} &= \frac{\partial L_{t}}{\partial h^{(t)}}",
                   r"\overline{c^{(t+1)}} f^{(t+1)}", r"i^{(t+1)} \left(1 - i^{(t+1)}\right)",
                   r"\overline{w_{ix}} &= \sum_{t=1}^{T}"]:
        assert needle in tex
    assert "exp" not in tex


def test_show_json_and_text():
    out = json.loads(cli("show", "gated_rnn", "--format", "json").stdout)
    assert set(out) == {"model", "forward", "adjoints", "weight_gradients"}
    assert "bar_h(t + 1) (.) c(t + 1)" in out["adjoints"]["h"]
    assert "W_h^T" in cli("show", "gated_rnn").stdout or "(W_h)^T" in cli("show",
                                                                          "gated_rnn").stdout


def test_answers_of_the_lstm_problems():
    a = derive.answer("csc421-hw4/1a")
    assert set(a.results) == {"bar_h", "bar_c", "bar_g", "bar_o", "bar_f", "bar_i"}
    assert a.passed and len(a.checks) >= 4
    b = derive.answer("rnn-cnn-hw/2.2")
    assert "bar_w_xi" in b.results and "w_{xi}" in b.latex and r"\xi" not in b.latex
    c = derive.answer("csc421-hw4/1c")
    assert c.passed
    assert str(c.results["limits"]["bar_c"]) == "bar_c(t + 1)"
    assert str(c.results["limits"]["bar_h"]) == "dL_dh(t)"


def test_answers_of_the_gated_rnn_problems():
    assert derive.answer("dsga1008-hw2/1.2.1b").results["dimension"] == ["m"]
    c = derive.answer("dsga1008-hw2/1.2.1c")
    assert c.results["dimension"] == ["m", "n"] and c.passed
    d = derive.answer("dsga1008-hw2/1.2.1d")
    assert d.passed and "DiagMatrix(c(t))" in str(d.results["jacobian"])


def test_answer_json_formulas_parse_with_sympy():
    proc = cli("answer", "csc421-hw4/1b", "--format", "json")
    out = json.loads(proc.stdout)
    parsed = sp.sympify(out["answer"]["bar_w_ix"])
    assert isinstance(parsed, sp.Sum)


def test_keep_bars_false_gives_the_same_gradients():
    model = derive.model("lstm")
    inst = model.random_instance(4, 7, batch=3)
    full = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"])
    lean = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"],
                      keep_bars=False)
    for name in full.grads:
        assert np.array_equal(full.grads[name], lean.grads[name])
    for step in range(1, 8):
        assert np.array_equal(full.bars["x"][step], lean.bars["x"][step])
    assert np.array_equal(full.bars["h"][0], lean.bars["h"][0])
    assert len(lean.bars["i"]) < len(full.bars["i"])


def test_diagram_check_catches_a_missing_edge(monkeypatch):
    from derive.printing import cellgraph
    model = derive.model("gated_rnn")
    assert cellgraph.graph_check(model).passed
    edges = cellgraph.graph_edges(model.cell)
    kept = [e for e in edges if (e[0], e[1]) != ("x@0", "c@0")]
    assert len(kept) == len(edges) - 1
    monkeypatch.setattr(cellgraph, "graph_edges", lambda cell: kept)
    planted = cellgraph.graph_check(model)
    assert not planted.passed and "x@0 -> c@0" in planted.detail
    assert "tikzpicture" in cellgraph.cell_graph(model.cell)
