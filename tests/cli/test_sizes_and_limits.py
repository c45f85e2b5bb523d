"""Huge sizes and misleading messages (issue 15): every size is answered from a closed form or
refused from an estimate of its cost, in one line naming the limit and how to raise it.

The huge cases run ``derive`` in a child process whose address space is capped (``resource``),
so a regression that allocates shows as a failure here, not as an exhausted machine."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from derive.cli import main
from derive.core.errors import MEMORY, STEPS, TERMS, DeriveError, Limit, brief, positive_int
from derive.topics import memory_bptt as S

ADDRESS_SPACE = 1536 * 2**20  # enough for Python, NumPy and SymPy (about 0.5 GB), not more
LIMIT_VARIABLES = ("DERIVE_MAX_MEMORY", "DERIVE_MAX_STEPS", "DERIVE_MAX_TERMS")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def derive_capped(*argv: str, **env: str) -> subprocess.CompletedProcess:
    """``derive ARGV`` in a child with its address space capped, the default limits unless
    ``env`` sets them, and one BLAS thread (each reserves address space)."""
    child_env = {k: v for k, v in os.environ.items() if k not in LIMIT_VARIABLES}
    child_env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **env)
    return subprocess.run([sys.executable, "-m", "derive.cli", *argv], capture_output=True,
                          text=True, timeout=120, preexec_fn=_cap_memory, env=child_env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.startswith("derive: error: "), proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    for name in LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------ huge sizes, capped memory


@pytest.mark.parametrize("argv, needles", [
    (["show", "attention_rnn", "--dim", "k=1000000000"],
     ["AttentionRNN(k=1,000,000,000)", "DERIVE_MAX_TERMS"]),
    (["grad", "attention_rnn", "--dim", "k=5000", "--json"],
     ["AttentionRNN(k=5,000)", "45,008 terms", "DERIVE_MAX_TERMS=45008"]),
    (["grad", "attention_rnn_inf", "--T", "1000", "--json"],
     ["T=1,000 steps", "DERIVE_MAX_TERMS"]),
    (["grad", "lstm", "--T", "10000000", "--json"],
     ["lstm over T=10,000,000 steps", "of memory", "DERIVE_MAX_MEMORY="]),
    (["grad", "gated_rnn", "--dim", "n=100000", "--dim", "m=100000", "--json"],
     ["gated_rnn", "n=100,000, m=100,000", "TB of memory", "DERIVE_MAX_MEMORY="]),
    (["grad", "attention_rnn", "--dim", "n=100000", "--json"],
     ["attention_rnn (k=2)", "DERIVE_MAX_MEMORY="]),
    (["schedule", "uniform", "--T", "100000", "--M", "4", "--numeric"],
     ["1,250,324,999 steps (cell evaluations)", "DERIVE_MAX_STEPS=1250324999"]),
    (["schedule", "plain", "--T", "1000000000", "--numeric"], ["DERIVE_MAX_STEPS="]),
    (["cnn", "pool 1x1/2; conv 2 2x2", "--input", "1000000x1000000x3"],
     ["exact receptive fields", "holes", "DERIVE_MAX_MEMORY="]),
    (["cnn", "conv 1 3x3", "--input", "1000000000000000000000x5x3"],
     ["input shape H must be below 10^18"]),
])
def test_huge_sizes_are_refused_in_one_line_before_allocating(argv, needles):
    assert_one_line_error(derive_capped(*argv), *needles)


def test_cnn_accounting_of_a_huge_input_is_closed_form():
    proc = derive_capped("cnn", "conv 16 3x3; pool 2x2/2; fc 10", "--input",
                         "100000000x100000000x3", "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = json.loads(proc.stdout)
    conv, pool, fc = table["layers"][1:]
    assert conv["shape"] == [99_999_998, 99_999_998, 16]
    assert conv["macs"] == 99_999_998**2 * 16 * 27
    assert pool["shape"] == [49_999_999, 49_999_999, 16]
    assert fc["params"] == 10 * (49_999_999**2 * 16 + 1)
    assert [r["covers_input"] for r in table["layers"]] == [False, False, False, True]


def test_cnn_padding_of_a_billion_is_closed_form():
    proc = derive_capped("cnn", "conv 16 3x3 pad 1000000000; pool 2x2/2; fc 10", "--input",
                         "32x32x3", "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    layers = json.loads(proc.stdout)["layers"]
    assert layers[1]["shape"] == [2_000_000_030, 2_000_000_030, 16]
    assert layers[1]["rf_start"] == [-1_000_000_000, -1_000_000_000]
    assert layers[3]["covers_input"] is True


@pytest.mark.parametrize("argv, counts", [
    (["plain", "--T", "1000000000"],
     {"forward_steps": 999_999_999, "peak_slots": 1_000_000_000}),
    (["uniform", "--T", "100000", "--M", "4"],
     {"forward_steps": S.uniform_steps(100_000, 4), "peak_slots": 4}),
    (["revolve", "--T", "1000000000", "--M", "4"],
     {"forward_steps": 312_880_073_576, "peak_slots": 4}),
    (["revolve", "--T", "1000000000", "--M", "1"],
     {"forward_steps": 10**9 * (10**9 - 1) // 2, "peak_slots": 1}),
    (["bisection", "--T", "1000000000"],
     {"forward_steps": S.bisection_steps(10**9), "peak_slots": 30}),
])
def test_schedule_counts_of_a_huge_T_come_from_closed_forms(argv, counts):
    proc = derive_capped("schedule", *argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert {k: out[k] for k in counts} == counts
    assert out["reverse_steps"] == out["T"]


# ------------------------------------------------------------------ the limits themselves


def test_limits_are_read_from_the_environment_and_named(monkeypatch):
    monkeypatch.setenv("DERIVE_MAX_MEMORY", "2G")
    assert MEMORY.value() == 2 * 2**30
    monkeypatch.setenv("DERIVE_MAX_MEMORY", "512mb")
    assert MEMORY.value() == 512 * 2**20
    monkeypatch.setenv("DERIVE_MAX_STEPS", "1_000")
    assert STEPS.value() == 1000
    with pytest.raises(DeriveError, match="DERIVE_MAX_STEPS=1001 to allow it"):
        STEPS.check(1001, "x")
    STEPS.check(1000, "x")
    monkeypatch.setenv("DERIVE_MAX_TERMS", "lots")
    with pytest.raises(DeriveError, match="DERIVE_MAX_TERMS must be a positive integer, "
                                          "got 'lots'"):
        TERMS.value()


def test_limit_messages_stay_short_for_any_size():
    limit = Limit("X_LIMIT", 10, "things")
    with pytest.raises(DeriveError) as err:
        limit.check(10**9000, "asking")
    assert len(str(err.value)) < 200 and "1.0e+9000 things" in str(err.value)
    assert "far beyond any machine" in str(err.value)
    assert brief(12_345) == "12,345" and brief(-(10**20)) == "-1.0e+20"
    with pytest.raises(DeriveError, match="--dim k is too large: a number of 5000 digits"):
        positive_int("--dim k", "9" * 5000)


def test_raising_or_lowering_a_limit_moves_the_refusal():
    assert_one_line_error(derive_capped("show", "attention_rnn", "--dim", "k=2",
                                        DERIVE_MAX_TERMS="20"),
                          "AttentionRNN(k=2) needs about 26 terms", "DERIVE_MAX_TERMS=26")
    assert_one_line_error(derive_capped("schedule", "revolve", "--T", "60", "--M", "3",
                                        "--numeric", DERIVE_MAX_STEPS="100"),
                          "DERIVE_MAX_STEPS=")
    assert_one_line_error(derive_capped("grad", "lstm", "--json", DERIVE_MAX_MEMORY="1K"),
                          "DERIVE_MAX_MEMORY=")
    assert_one_line_error(derive_capped("grad", "lstm", "--json", DERIVE_MAX_MEMORY="-3"),
                          "DERIVE_MAX_MEMORY must be a positive integer", "'-3'")


def test_sizes_within_the_limits_still_run(capsys):
    status, out, _ = run_main(capsys, "grad", "lstm", "--T", "3", "--json")
    assert status == 0 and json.loads(out)["dims"] == {"T": 3}
    status, out, _ = run_main(capsys, "schedule", "revolve", "--T", "30", "--M", "3",
                              "--numeric")
    assert status == 0 and json.loads(out)["max_abs_difference_from_plain_bptt"] < 1e-12


# ------------------------------------------------------------------ messages that say what is wrong


@pytest.mark.parametrize("model, known", [
    ("attention_rnn", "its dimensions: n, k"),
    ("gated_rnn", "its dimensions: n, m"),
    ("lstm", "it has no dimensions"),
    ("conv1d", "its dimensions: C, L, K, S, D, P, F"),
    ("momentum", "its dimensions: D, beta"),
])
def test_a_name_that_is_no_dimension_is_called_so(capsys, model, known):
    status, out, err = run_main(capsys, "show", model, "--dim", "alpha=0.1")
    assert status == 2 and out == ""
    assert err == f"derive: error: --dim alpha: {model} has no dimension 'alpha' ({known})\n"


@pytest.mark.parametrize("argv", [
    ["show", "lstm", "--dim", "n=99999"],
    ["grad", "lstm", "--dim", "n=99999", "--json"],
    ["show", "momentum", "--dim", "n=99999"],
    ["grad", "conv1d", "--dim", "n=99999", "--json"],
    ["show", "attention_rnn_inf", "--dim", "n=2", "--dim", "m=99999"],
])
def test_a_dimension_the_model_lacks_is_refused_not_ignored(capsys, argv):
    status, out, err = run_main(capsys, *argv)
    assert status == 2 and out == ""
    assert "has no dimension" in err and err.count("\n") == 1


def test_a_tiny_beta_is_shown_as_given_and_inverted(capsys):
    status, out, err = run_main(capsys, "show", "momentum", "--dim", "beta=1e-320")
    assert status == 0, err
    assert "1.0e-320" in out and "beta=0" not in out
    status, out, err = run_main(capsys, "show", "momentum", "--dim", "beta=0")
    assert status == 2 and "got beta=0.0" in err
    status, out, err = run_main(capsys, "show", "momentum", "--dim", "beta=inf")
    assert status == 2 and "beta must be finite, got beta=inf" in err


@pytest.mark.parametrize("argv, message", [
    (["revolve", "--T", "10"],
     "--M (the number of memory slots, 1 <= M < T) is required for revolve"),
    (["uniform", "--T", "10"],
     "--M (the number of memory slots, 1 <= M < T) is required for uniform"),
    (["plain", "--T", "10", "--M", "3"],
     "--M applies only to uniform and revolve; plain sets its own memory (got --M 3)"),
    (["bisection", "--T", "10", "--M", "3"],
     "--M applies only to uniform and revolve; bisection sets its own memory (got --M 3)"),
])
def test_schedule_M_is_required_or_refused_by_name(capsys, argv, message):
    status, out, err = run_main(capsys, "schedule", *argv)
    assert status == 2 and out == "" and err == f"derive: error: {message}\n"


def test_cnn_spec_that_names_a_missing_file_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_main(capsys, "cnn", "nosuchfile.txt", "--input", "32x32x3")
    assert status == 2 and "unknown layer kind" not in err
    assert err.startswith("derive: error: layer list file 'nosuchfile.txt': no such file")
    (tmp_path / "net").mkdir()
    status, _, err = run_main(capsys, "cnn", "net", "--input", "32x32x3")
    assert status == 2 and "'net': is a directory" in err
    # a single inline layer is still a layer, not a file name
    status, out, _ = run_main(capsys, "cnn", "fc 10", "--input", "2x2x1")
    assert status == 0 and "fc 10" in out
    (tmp_path / "net.txt").write_text("conv 4 3x3\nrelu\n")
    status, out, _ = run_main(capsys, "cnn", "net.txt", "--input", "8x8x1")
    assert status == 0 and "conv 4 3x3" in out


def test_cnn_spec_name_longer_than_the_file_system_allows(tmp_path):
    name = "a" * 5000 + ".txt"
    proc = derive_capped("cnn", name, "--input", "32x32x3")
    assert_one_line_error(proc, "layer list file", "too long")
    assert len(proc.stderr) < 300


def test_cnn_numbers_past_what_int_reads_are_refused_by_size(capsys):
    status, _, err = run_main(capsys, "cnn", f"conv {'9' * 5000} 3x3; relu", "--input",
                              "8x8x1")
    assert status == 2 and "filters must be below 10^18, got a number of 5000 digits" in err
    assert len(err) < 300


def test_shape_errors_in_one_short_line(capsys):
    status, _, err = run_main(capsys, "cnn", f"conv 1 3x3 pad {'9' * 40}; relu", "--input",
                              "8x8x1")
    assert status == 2 and "padding must be below 10^18" in err and len(err) < 300

