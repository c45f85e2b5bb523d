"""The conv models and answers through the CLI: the grad contract, show, check, answer, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from derive.cli import main


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "derive.cli", *argv], capture_output=True,
                          text=True, timeout=300)


def call(capsys, *argv: str):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def reference_grads(W, x, ybar, S, D, P):
    """Loops over the forward sum of a 1-D layer, independent of derive."""
    F, C, K = W.shape
    L = x.shape[1]
    xp = np.pad(x, [(0, 0), (P, P)])
    y = np.zeros(ybar.shape)
    gW, gxp = np.zeros(W.shape), np.zeros(xp.shape)
    for f in range(F):
        for i in range(ybar.shape[1]):
            for ch in range(C):
                for m in range(K):
                    y[f, i] += W[f, ch, m] * xp[ch, i * S + m * D]
                    gW[f, ch, m] += ybar[f, i] * xp[ch, i * S + m * D]
                    gxp[ch, i * S + m * D] += ybar[f, i] * W[f, ch, m]
    return y, gW, gxp[:, P:P + L]


def test_grad_contract_default_instance(capsys):
    code, out, _ = call(capsys, "grad", "conv1d", "--seed", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"model", "dims", "params", "inputs", "initial", "upstream", "outputs",
                        "grads"}
    assert doc["model"] == "conv1d"
    assert doc["dims"] == {"C": 5, "L": 7, "K": 3, "S": 2, "D": 1, "P": 0, "F": 1}
    assert doc["initial"] == {} and doc["grads"]["initial"] == {}
    W = np.array(doc["params"]["W"])
    x = np.array(doc["inputs"]["x"])
    ybar = np.array(doc["upstream"]["y"])
    assert W.shape == (1, 5, 3) and x.shape == (5, 7) and ybar.shape == (1, 3)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(W, rng.normal(0.0, 0.5, (1, 5, 3)))
    np.testing.assert_array_equal(x, rng.normal(0.0, 0.5, (5, 7)))
    np.testing.assert_array_equal(ybar, rng.normal(0.0, 0.5, (1, 3)))
    y, gW, gx = reference_grads(W, x, ybar, 2, 1, 0)
    np.testing.assert_allclose(doc["outputs"]["y"], y, atol=1e-14)
    np.testing.assert_allclose(doc["grads"]["params"]["W"], gW, atol=1e-14)
    np.testing.assert_allclose(doc["grads"]["inputs"]["x"], gx, atol=1e-14)


def test_grad_with_stride_dilation_padding(capsys):
    code, out, _ = call(capsys, "grad", "conv1d", "--seed", "1", "--dim", "C=2", "--dim", "L=11",
                        "--dim", "K=3", "--dim", "S=2", "--dim", "D=2", "--dim", "P=2",
                        "--dim", "F=3", "--json")
    assert code == 0
    doc = json.loads(out)
    W, x, ybar = (np.array(doc[k][n]) for k, n in (("params", "W"), ("inputs", "x"),
                                                   ("upstream", "y")))
    assert ybar.shape == (3, 6)  # floor((11 + 4 - 4 - 1)/2) + 1
    y, gW, gx = reference_grads(W, x, ybar, 2, 2, 2)
    np.testing.assert_allclose(doc["outputs"]["y"], y, atol=1e-14)
    np.testing.assert_allclose(doc["grads"]["params"]["W"], gW, atol=1e-14)
    np.testing.assert_allclose(doc["grads"]["inputs"]["x"], gx, atol=1e-14)


def test_grad_conv2d(capsys):
    code, out, _ = call(capsys, "grad", "conv2d", "--dim", "H=6", "--dim", "P=1", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["model"] == "conv2d"
    assert np.array(doc["params"]["W"]).shape == (1, 2, 3, 3)
    assert np.array(doc["grads"]["inputs"]["x"]).shape == (2, 6, 7)
    assert np.array(doc["outputs"]["y"]).shape == (1, 3, 4)


@pytest.mark.parametrize("fmt", ["text", "latex", "json"])
def test_show(capsys, fmt):
    code, out, _ = call(capsys, "show", "conv1d", "--format", fmt, "--dim", "P=1")
    assert code == 0
    if fmt == "json":
        doc = json.loads(out)
        names = {s: sp.Symbol(s) for s in ["C", "L", "K", "S", "D", "P", "F", "L_out"]}
        expr = sp.sympify(doc["results"]["dl_dW"]["expression"], locals={
            **names, "x": sp.IndexedBase("x"), "ybar": sp.IndexedBase("ybar")})
        assert isinstance(expr, sp.Sum)
        assert doc["results"]["dy_dx"]["dimension_at_dims"] == [1, 4, 5, 7]
    else:
        assert "transposed convolution" in out and "correlation" in out


def test_check_conv1d_conv2d(capsys):
    code, out, _ = call(capsys, "check", "conv1d", "conv2d", "--json")
    assert code == 0
    doc = json.loads(out)
    for name in ("conv1d", "conv2d"):
        checks = doc[name]
        assert all(c["passed"] for c in checks)
        against = " ".join(c["against"] for c in checks)
        for word in ("SymPy's entry-by-entry derivatives", "complex step",
                     "central differences", "independent loop implementation",
                     "brute-force window enumeration"):
            assert word in against
        # every row of `derive check` says what it checks and how: no two share a name
        names = [c["name"] for c in checks]
        assert len(set(names)) == len(names), names
        for how in ("complex step", "central differences", "plain loops", "general formula"):
            assert sum(how in n for n in names) >= 2, (how, names)


@pytest.mark.parametrize("pid", ["dsga1008-hw2/1.1a", "dsga1008-hw2/1.1b", "dsga1008-hw2/1.1c"])
def test_answer_formats(capsys, pid):
    code, out, _ = call(capsys, "answer", pid, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == pid
    if pid.endswith("a"):
        assert doc["answer"]["spatial_shape"] == [5, 2]
        assert doc["answer"]["output_shape"] == [5, 2]
        assert doc["answer"]["output_shape_formula"] == ["F", 5, 2]
    if pid.endswith("c"):
        assert doc["answer"]["iv"]["dimension"] == [1, 5, 3]
        assert doc["answer"]["i"]["array"][0][0].startswith("W[0, 0, 0]*x[0, 0]")
    code, out, _ = call(capsys, "answer", pid, "--format", "latex")
    assert code == 0 and out.count("{") == out.count("}")
    code, out, _ = call(capsys, "answer", pid)
    assert code == 0 and "[FAIL]" not in out and "[pass]" in out


@pytest.mark.parametrize("argv, words", [
    (["grad", "conv1d", "--dim", "K=9"], ["kernel 9", "7 + 2*0"]),
    (["grad", "conv1d", "--dim", "L=2", "--dim", "P=1", "--dim", "K=5"], ["kernel 5", "2 + 2*1"]),
    (["grad", "conv1d", "--dim", "D=4"], ["dilation 4", "extent 9"]),
    (["grad", "conv1d", "--T", "5"], ["--T", "conv1d"]),
    (["grad", "conv1d", "--dim", "S=0"], ["--dim S", "'0'"]),
    (["grad", "conv2d", "--dim", "L=4"], ["'L'", "C, H, W"]),
    (["grad", "conv1d", "--seed", "-2"], ["--seed", "-2"]),
    (["show", "conv2d", "--dim", "W=2", "--dim", "K=3"], ["kernel 3", "along W"]),
])
def test_bad_input_in_process(capsys, argv, words):
    code, out, err = call(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("derive: error: ") and err.count("\n") == 1
    for word in words:
        assert word in err


@pytest.mark.parametrize("argv", [
    ["grad", "conv1d", "--dim", "K=8", "--json"],
    ["grad", "conv2d", "--T", "3"],
])
def test_bad_input_subprocess(argv):
    proc = run(*argv)
    assert proc.returncode == 2
    assert proc.stderr.startswith("derive: error: ")
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_padding_may_be_zero_but_not_negative():
    import json
    import subprocess
    import sys

    def cli(*argv):
        return subprocess.run([sys.executable, "-m", "derive.cli", *argv],
                              capture_output=True, text=True, timeout=300)

    ok = cli("grad", "conv1d", "--dim", "P=0", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["dims"]["P"] == 0
    bad = cli("grad", "conv1d", "--dim", "P=-1", "--json")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "derive: error: --dim P must be a non-negative integer, got '-1'\n"
