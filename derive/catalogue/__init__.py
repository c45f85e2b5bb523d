"""The problem catalogue: every problem id the toolkit answers, grouped by problem set.

The ids are the catalogue's own (``SET/PART``); the full statements ship as
``derive/catalogue/problems.md``, a copy of the catalogue.
"""

from __future__ import annotations

from importlib import resources

SETS: dict[str, str] = {
    "csc421-hw4": "LSTM gradient, multidimensional RNN, reversible momentum",
    "cmsc25500-midterm": "CNN accounting, activations, growing capacity, sequence norm, "
    "memory-limited BPTT, RNNs over images",
    "dsga1008-hw2": "conv shapes and Jacobians, gated RNN, AttentionRNN(k)",
    "rnn-cnn-hw": "binary-addition RNN, LSTM gradient, CNN parameters, ResNet BN placement, "
    "PixelCNN vs MDRNN",
}

# id -> short title
PROBLEMS: dict[str, str] = {
    "csc421-hw4/1a": "LSTM: BPTT equations of h, c, g, o, f, i",
    "csc421-hw4/1b": "LSTM: BPTT equation of w_ix (and all eight weights)",
    "csc421-hw4/1c": "LSTM: why the gradient does not explode with forget gates near 1",
    "csc421-hw4/2a": "MDRNN: number of weights and arithmetic operations",
    "csc421-hw4/2b": "MDRNN: sequential steps with unlimited parallel products",
    "csc421-hw4/2c": "MDRNN: advantage and disadvantage against a conv net",
    "csc421-hw4/3a": "Momentum: the inverse map",
    "csc421-hw4/3b": "Momentum: determinant of the Jacobian",
    "cmsc25500-midterm/1a": "CNN accounting: shapes, parameters, FLOPs per layer",
    "cmsc25500-midterm/1b": "CNN accounting: shallowest layer seeing the whole input everywhere",
    "cmsc25500-midterm/1c": "CNN accounting: conv layers replacing the pools",
    "cmsc25500-midterm/2": "Activation after batch norm",
    "cmsc25500-midterm/3a": "Growing capacity: zero-initialised blocks never train",
    "cmsc25500-midterm/3b": "Growing capacity: a function-preserving initialisation that trains",
    "cmsc25500-midterm/4a": "Sequence norm: parameters and forward equations",
    "cmsc25500-midterm/4b": "Sequence norm: causal running-estimate variant, forward and backward",
    "cmsc25500-midterm/4c": "Sequence norm: use in a Transformer",
    "cmsc25500-midterm/5a": "Memory-limited BPTT: O(log T) memory schedule",
    "cmsc25500-midterm/5b": "Memory-limited BPTT: constant memory M",
    "cmsc25500-midterm/6a": "Image RNN: forward pass",
    "cmsc25500-midterm/6b": "Image RNN: backward pass",
    "cmsc25500-midterm/6c": "Image RNN: receptive field",
    "cmsc25500-midterm/6d": "Image RNN: FLOPs against a 3x3 conv",
    "cmsc25500-midterm/6e": "Image RNN: pros and cons",
    "dsga1008-hw2/1.1a": "Conv output size: 21 x 12 input, 4 x 5 kernel, stride 4",
    "dsga1008-hw2/1.1b": "Conv output size: general C, H, W, K, P, S, D, F",
    "dsga1008-hw2/1.1c": "1-D convolution: output, Jacobians and weight gradient",
    "dsga1008-hw2/1.2.1a": "Gated RNN: diagram",
    "dsga1008-hw2/1.2.1b": "Gated RNN: dimension of c[t]",
    "dsga1008-hw2/1.2.1c": "Gated RNN: dl/dW_x",
    "dsga1008-hw2/1.2.1d": "Gated RNN: vanishing and exploding gradients",
    "dsga1008-hw2/1.2.2a": "AttentionRNN(2): diagram",
    "dsga1008-hw2/1.2.2b": "AttentionRNN(2): dimension of a[t]",
    "dsga1008-hw2/1.2.2c": "AttentionRNN(k): the system of equations",
    "dsga1008-hw2/1.2.2d": "AttentionRNN(inf): tied parameters",
    "dsga1008-hw2/1.2.2e": "AttentionRNN(2): dh[t]/dh[t-1] in closed form",
    "dsga1008-hw2/1.2.2f": "AttentionRNN(k): dl/dh[T]",
    "rnn-cnn-hw/1": "Binary addition RNN: weights and exhaustive verification",
    "rnn-cnn-hw/2.1": "LSTM: BPTT equations (input-first weight names)",
    "rnn-cnn-hw/2.2": "LSTM: update equation of w_xi",
    "rnn-cnn-hw/2.3": "LSTM: why the gradient does not explode",
    "rnn-cnn-hw/3.1": "CNN parameter count",
    "rnn-cnn-hw/3.2": "ResNet: placement of batch norm and the skip",
    "rnn-cnn-hw/4.1": "PixelCNN: connections and sequential operations",
    "rnn-cnn-hw/4.2": "MDRNN: connections and sequential operations",
    "rnn-cnn-hw/4.3": "PixelCNN vs MDRNN",
}


def problem_ids(set_id: str | None = None) -> list[str]:
    """Every problem id, in catalogue order (only those of ``set_id`` if given)."""
    return [p for p in PROBLEMS if set_id is None or p.split("/")[0] == set_id]


def set_of(pid: str) -> str:
    return pid.split("/")[0]


def catalogue_text() -> str:
    """The full catalogue (statements and corrected definitions) as shipped with the package."""
    return resources.files("derive.catalogue").joinpath("problems.md").read_text(encoding="utf-8")
