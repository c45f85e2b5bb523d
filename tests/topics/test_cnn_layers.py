"""The layer-list parser and the errors a malformed layer list gives (API and CLI)."""

import subprocess
import sys

import pytest

from derive.core.errors import DeriveError
from derive.topics.cnn.accounting import account
from derive.topics.cnn.layers import parse_input, parse_layers


def test_text_list_and_dict_forms_agree():
    text = parse_layers("conv 16 5x5 same\nrelu  # comment\npool 2x2/2\nfc 10\nsoftmax")
    items = parse_layers(["conv 16 5x5 same", "relu", "pool 2x2/2", "fc 10", "softmax"])
    dicts = parse_layers([
        {"kind": "conv", "filters": 16, "kernel": 5, "padding": "same"},
        {"kind": "relu"},
        {"kind": "pool", "kernel": [2, 2], "stride": 2},
        {"kind": "fc", "units": 10},
        {"kind": "softmax"},
    ])
    for a, b, c in zip(text, items, dicts, strict=True):
        assert (a.kind, a.filters, a.kernel, a.stride, a.padding) == (
            b.kind, b.filters, b.kernel, b.stride, b.padding) == (
            c.kind, c.filters, c.kernel, c.stride, c.padding)
    assert text[0].padding == (2, 2) and text[0].label == "conv 16 5x5/1 pad 2"


def test_strides_paddings_and_defaults():
    conv, pool, pool3, valid = parse_layers(
        ["conv 8 3x3/2 pad 1", "pool 2x2", "maxpool 3x3 stride 2", "conv 4 3x5 valid"])
    assert conv.stride == (2, 2) and conv.padding == (1, 1)
    assert pool.stride == (2, 2)  # a pool's stride defaults to its extent
    assert pool3.kind == "pool" and pool3.stride == (2, 2)
    assert valid.kernel == (3, 5) and valid.padding == (0, 0)
    assert parse_input("32x32x3") == (32, 32, 3) == parse_input([32, 32, 3])


BAD_LISTS = [
    ("conv 16 5x5\nblah 3", "layer 2 ('blah 3')", "'blah'"),
    ("conv 16 5y5", "layer 1 ('conv 16 5y5')", "'5y5'"),
    ("conv 16 0x3", "layer 1 ('conv 16 0x3')", "'0'"),
    ("conv 16 3x3\npool 2x2/0", "layer 2 ('pool 2x2/0')", "'0'"),
    ("conv x 3x3", "layer 1 ('conv x 3x3')", "'x'"),
    ("conv 16 4x4 same", "layer 1 ('conv 16 4x4 same')", "4x4"),
    ("conv 16 3x3 pad -1", "layer 1 ('conv 16 3x3 pad -1')", "'-1'"),
    ("fc", "layer 1 ('fc')", "[]"),
    ("relu 3", "layer 1 ('relu 3')", "'3'"),
    ("conv 8 3x3 sideways", "layer 1 ('conv 8 3x3 sideways')", "'sideways'"),
]


@pytest.mark.parametrize("spec, where, value", BAD_LISTS)
def test_malformed_layer_names_layer_and_value(spec, where, value):
    with pytest.raises(DeriveError) as err:
        account(spec, (8, 8, 3))
    assert where in str(err.value) and value in str(err.value)


@pytest.mark.parametrize("spec, where, value", [
    ("conv 4 3x3\npool 4x4/4\npool 2x2/2", "layer 3 ('pool 2x2/2')", "pool extent 2"),
    ("pool 9x9", "layer 1 ('pool 9x9')", "larger than its input 8"),
    ("conv 4 11x11 pad 1", "layer 1 ('conv 4 11x11 pad 1')", "padded input 8 + 2*1 = 10"),
    ("conv 4 3x3\nsoftmax", "layer 2 ('softmax')", "6 x 6 x 4"),
    ("fc 10\nconv 4 3x3", "layer 2 ('conv 4 3x3')", "vector of 10"),
])
def test_sizes_that_do_not_fit(spec, where, value):
    with pytest.raises(DeriveError) as err:
        account(spec, (8, 8, 3))
    assert where in str(err.value) and value in str(err.value)


def test_dict_errors_name_the_field():
    with pytest.raises(DeriveError, match="unknown field 'kernal'"):
        parse_layers([{"kind": "conv", "filters": 3, "kernal": 3}])
    with pytest.raises(DeriveError, match="layer 1 .*bad extent 'big'"):
        parse_layers([{"kind": "pool", "kernel": "big"}])
    with pytest.raises(DeriveError, match="layer 2: expected a string or a dict, got 7"):
        parse_layers(["relu", 7])
    with pytest.raises(DeriveError, match="empty"):
        parse_layers("# nothing\n")
    with pytest.raises(DeriveError, match="input shape C must be a positive integer, got '0'"):
        parse_input("8x8x0")


def run(*argv):
    return subprocess.run([sys.executable, "-m", "derive.cli", *argv], capture_output=True,
                          text=True, timeout=120)


def test_cli_malformed_layer_list_exit_2(tmp_path):
    spec = tmp_path / "net.txt"
    spec.write_text("conv 8 3x3 same\nrelu\npool 20x20/2\n")
    proc = run("cnn", str(spec), "--input", "16x16x3")
    assert proc.returncode == 2
    assert proc.stderr.startswith("derive: error: layer 3 ('pool 20x20/2'): pool extent 20")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_table_inline_and_json():
    import json

    proc = run("cnn", "conv 8 3x3 same; relu; pool 2x2/2; fc 10", "--input", "8x8x3",
               "--format", "json")
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    assert [row["shape"] for row in table["layers"]] == [[8, 8, 3], [8, 8, 8], [8, 8, 8],
                                                          [4, 4, 8], [10]]
    assert table["total_params"] == 8 * (27 + 1) + 10 * (128 + 1)
