"""The CNN vocabulary beyond conv/pool/fc (dilation, groups, average and global pooling, batch
norm, dropout, flatten, residual sums): published counts of well-known networks, and the
NumPy implementation and pixel perturbation as independent references on small networks."""

import pytest

from derive.core.errors import DeriveError
from derive.topics.cnn import numpy_net
from derive.topics.cnn.accounting import account
from derive.topics.cnn.bruteforce import perturbation_fields
from derive.topics.cnn.layers import parse_layers

# torchvision's VGG-16 (configuration D): 138,357,544 parameters
VGG16 = "\n".join(
    [*(f"conv {c} 3x3 same\nrelu" for c in (64, 64)), "pool 2x2/2",
     *(f"conv {c} 3x3 same\nrelu" for c in (128, 128)), "pool 2x2/2",
     *(f"conv {c} 3x3 same\nrelu" for c in (256, 256, 256)), "pool 2x2/2",
     *(f"conv {c} 3x3 same\nrelu" for c in (512, 512, 512)), "pool 2x2/2",
     *(f"conv {c} 3x3 same\nrelu" for c in (512, 512, 512)), "pool 2x2/2",
     "flatten", "fc 4096", "relu", "dropout 0.5", "fc 4096", "relu", "dropout 0.5", "fc 1000"])

# torchvision's AlexNet: 61,100,840 parameters (its adaptive 6x6 average pool is the identity
# on a 224x224 input, whose last feature map is already 6x6)
ALEXNET = """
conv 64 11x11/4 pad 2
relu
pool 3x3/2
conv 192 5x5 pad 2
relu
pool 3x3/2
conv 384 3x3 pad 1
relu
conv 256 3x3 pad 1
relu
conv 256 3x3 pad 1
relu
pool 3x3/2
flatten
dropout 0.5
fc 4096
relu
dropout 0.5
fc 4096
relu
fc 1000
"""


def resnet18() -> str:
    """torchvision's ResNet-18 (11,689,512 parameters): convolutions without bias, each
    followed by batch norm; a projection shortcut (1x1 strided conv, batch norm) where the
    stage halves the size."""
    lines = ["conv 64 7x7/2 pad 3 nobias", "bn", "relu", "pool 3x3/2 pad 1"]

    def block(channels: int, stride: int) -> None:
        entry = len(lines)  # the block's input: the output of this layer number
        lines.extend([f"conv {channels} 3x3/{stride} pad 1 nobias", "bn", "relu",
                      f"conv {channels} 3x3 pad 1 nobias", "bn"])
        main = len(lines)
        if stride == 1:
            lines.append(f"add {entry}")
        else:
            lines.extend([f"conv {channels} 1x1/{stride} nobias from {entry}", "bn",
                          f"add {main}"])
        lines.append("relu")

    for channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        block(channels, stride)
        block(channels, 1)
    lines += ["globalpool", "flatten", "fc 1000"]
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "layers", "params"), [
    ("VGG-16", VGG16, 138_357_544),
    ("AlexNet", ALEXNET, 61_100_840),
    ("ResNet-18", resnet18(), 11_689_512),
])
def test_published_parameter_counts(name, layers, params):
    table = account(layers, "224x224x3")
    assert table.total_params == params, name
    assert table.rows[-1].shape == (1000,)


def test_resnet18_shapes_and_multiply_adds():
    table = account(resnet18(), "224x224x3")
    shapes = [r.shape for r in table.rows if r.layer is not None and r.layer.kind == "add"]
    assert shapes[0] == (56, 56, 64) and shapes[-1] == (7, 7, 512)
    # torchvision's model table: 1.81 "GFLOPS" (multiply-adds of the convolutions and fc)
    assert round(table.total_macs / 1e9, 2) == 1.81


def _last(table, kind):
    return [r for r in table.rows if r.layer is not None and r.layer.kind == kind][-1]


def test_vgg16_receptive_fields_published():
    # conv5_3 sees 196 x 196 input pixels and pool5 212 x 212, jump 32 (Araujo, Norris and
    # Sim, "Computing receptive fields of convolutional neural networks", Distill 2019)
    table = account(VGG16, "224x224x3")
    assert _last(table, "conv").rf_size == (196, 196)
    assert _last(table, "pool").rf_size == (212, 212) and _last(table, "pool").rf_jump == (32, 32)


def test_alexnet_receptive_field_published():
    # AlexNet's pool5: 195 x 195 pixels, jump 32 (the same reference)
    table = account(ALEXNET, "224x224x3")
    assert _last(table, "pool").rf_size == (195, 195) and _last(table, "pool").rf_jump == (32, 32)


SMALL = """
conv 4 3x3 same nobias
bn
relu
conv 4 3x3 same groups 4
conv 6 3x3 pad 2 dilation 2
avgpool 2x2/2
conv 6 1x1/2 nobias from 3
add 6
dropout 0.2
globalpool
flatten
fc 5 nobias
"""


def test_small_network_against_the_numpy_implementation():
    layers = parse_layers(SMALL)
    table = account(layers, "8x8x3")
    run = numpy_net.run(layers, (8, 8, 3), counted=True)
    assert [r.shape for r in table.rows[1:]] == [r.shape for r in run.layers]
    assert [r.params for r in table.rows[1:]] == [r.params for r in run.layers]
    assert [r.flops for r in table.rows[1:]] == [r.flops for r in run.layers]
    plain = numpy_net.run(layers, (8, 8, 3))
    assert abs(plain.output - run.output).max() < 1e-12


def test_small_network_receptive_fields_against_perturbation():
    layers = parse_layers(SMALL)
    table = account(layers, "8x8x3")
    fields = perturbation_fields(layers, (8, 8, 3))
    for row, dep in zip(table.rows[1:], fields, strict=True):
        if len(row.shape) == 3:
            assert row.covers_input == bool(dep.all()), row.name
            # every location's perturbation field inside its exact sets
            for y in range(dep.shape[0]):
                for x in range(dep.shape[1]):
                    rows = {i for i in range(8) if row.row_sets[y] >> i & 1}
                    cols = {j for j in range(8) if row.col_sets[x] >> j & 1}
                    seen = {(p // 8, p % 8) for p in range(64) if dep[y, x, p]}
                    assert seen == {(i, j) for i in rows for j in cols}, (row.name, y, x)


@pytest.mark.parametrize(("layers", "message"), [
    ("conv 4 3x3\nadd 0", "shapes differ"),
    ("conv 6 3x3 same groups 4", "cannot be split"),
    ("conv 4 3x3 same\nadd 2", "earlier layer"),
    ("conv 4 3x3 from 3", "earlier layer"),
])
def test_refusals(layers, message):
    with pytest.raises(DeriveError, match=message):
        account(layers, "8x8x3")


def test_a_planted_wrong_count_is_caught():
    layers = parse_layers(SMALL)
    table = account(layers, "8x8x3")
    run = numpy_net.run(layers, (8, 8, 3))
    planted = [r.params for r in table.rows[1:]]
    planted[1] += 1  # batch norm counted with one parameter too many
    assert planted != [r.params for r in run.layers]
