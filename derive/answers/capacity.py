"""Answers to cmsc25500-midterm/3a and 3b: widening a deep ReLU MLP from K to 2K units.

Result keys (``derive answer ID --format json``):

3a: ``setup`` (dict of integers: ``D, K, O, n, batch, steps``), ``learning_rate``,
``new_gradient_max_per_step`` (list of floats: the largest |gradient| over every new
entry, per SGD step; all exactly 0), ``new_parameters_max_after`` (float),
``old_trajectory_error`` (the old blocks against the narrow network trained alone),
``argument`` (text).

3b: ``setup``, ``initialisation`` (text), ``output_error`` (dict scheme -> max relative
output difference), ``gradient_norms_step0`` and ``moved_after_training`` (dict block
name -> float, for ``random_in_zero_out``), ``split_symmetry_error`` (max difference
between a unit and its copy after training, Net2Net split),
``random_split_gradient_norms_step0`` (dict block -> float) and ``random_split_untied``
(smallest unit-vs-copy difference after training) for the random-share split, ``argument``.
"""

from __future__ import annotations

import numpy as np

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, relative_error
from derive.topics import capacity as C

SETUP = {"D": 5, "K": 4, "O": 3, "n": 3, "batch": 16, "steps": 25}
LR = 0.05
PRESERVE_TOLERANCE = 1e-12
FD_TOLERANCE = 1e-6


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SETUP["D"], SETUP["batch"]))
    target = rng.normal(size=(SETUP["O"], SETUP["batch"]))
    return x, target


def _narrow(seed: int = 1) -> C.MLP:
    return C.random_mlp(SETUP["D"], SETUP["K"], SETUP["O"], SETUP["n"], seed=seed)


def backprop_check(net: C.MLP, x: np.ndarray, target: np.ndarray, label: str,
                   eps: float = 1e-6) -> Check:
    """Manual backprop against central differences of the loss."""
    grads = net.gradients(x, target)
    error = 0.0
    for k, W in enumerate(net.weights):
        numeric = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            for sign in (1, -1):
                shifted = C.MLP([V.copy() for V in net.weights])
                shifted.weights[k][idx] += sign * eps
                numeric[idx] += sign * shifted.loss(x, target) / (2 * eps)
        error = max(error, relative_error(grads[k], numeric))
    return Check(f"backprop ({label})", "central differences", error, FD_TOLERANCE,
                 f"eps={eps}, every weight")


def preservation_check(narrow: C.MLP, wide: C.MLP, x: np.ndarray, label: str) -> Check:
    """The widened network computes the same outputs as the narrow one."""
    error = relative_error(wide.forward(x)[0], narrow.forward(x)[0])
    return Check(f"function preserved ({label})", "narrow network outputs", error,
                 PRESERVE_TOLERANCE, f"{x.shape[1]} inputs")


def blocks(net: C.MLP) -> dict[str, tuple[int, slice, slice]]:
    """Name -> (matrix index, rows, cols) of each block of new entries after widening."""
    K = net.width // 2
    last = len(net.weights) - 1
    names = ["W_in"] + [f"W_{j}" for j in range(1, last)] + ["W_out"]
    out = {}
    for k, name in enumerate(names):
        if k < last:
            out[f"{name} into new units"] = (k, slice(K, None), slice(None))
        if k > 0:
            rows = slice(None) if k == last else slice(0, K)
            out[f"{name} out of new units"] = (k, rows, slice(K, None))
    return out


def _block_label(name: str) -> tuple[str, str]:
    """``W_in into new units`` as ``("in", "into new units")``: the superscript of the
    statement's name, ``W^{(in)}``, and the rest."""
    matrix, _, rest = name.partition(" ")
    return matrix.removeprefix("W_"), rest


def _block_norms(net: C.MLP, arrays: list[np.ndarray]) -> dict[str, float]:
    return {name: float(np.max(np.abs(arrays[k][r, c])))
            for name, (k, r, c) in blocks(net).items()}


@problem("cmsc25500-midterm/3a")
def answer_3a(pid: str) -> Answer:
    x, target = _data()
    narrow = _narrow()
    wide = C.widen(narrow, "zero")
    masks = C.new_mask(narrow)
    checks = [
        backprop_check(wide, x[:, :4], target[:, :4], "widened, zero blocks"),
        preservation_check(narrow, wide, x, "zero blocks"),
    ]
    reference = C.MLP([W.copy() for W in narrow.weights])
    log = C.train(wide, x, target, SETUP["steps"], LR, masks)
    C.train(reference, x, target, SETUP["steps"], LR)
    after = max(float(np.max(np.abs(W[m]))) for W, m in zip(wide.weights, masks, strict=True))
    old = [W[: R.shape[0], : R.shape[1]] for W, R in zip(wide.weights, reference.weights,
                                                         strict=True)]
    trajectory = max(relative_error(a, b) for a, b in zip(old, reference.weights, strict=True))
    checks += [
        Check.exact("new-parameter gradients exactly zero at every step", "0.0 exactly",
                    all(g == 0.0 for g in log["new_grad_max"]),
                    f"{SETUP['steps']} SGD steps, max {max(log['new_grad_max']):.1e}"),
        Check.exact("new parameters still zero after training", "0.0 exactly", after == 0.0),
        Check("old blocks follow the narrow network", "narrow network trained alone",
              trajectory, PRESERVE_TOLERANCE, f"{SETUP['steps']} SGD steps"),
        Check.exact("training did move the old parameters", "loss decreased",
                    log["losses"][-1] < log["losses"][0],
                    f"loss {log['losses'][0]:.4f} -> {log['losses'][-1]:.4f}"),
    ]
    argument = (
        "A new unit's pre-activation is W[new rows] h = 0, so its activation is ReLU(0) = 0. "
        "The gradient of a weight out of a new unit is delta_next * h_new = 0 (its input is "
        "0). The gradient of a weight into a new unit is delta_new * h_prev, with "
        "delta_new = ReLU'(z_new) * (W_next[:, new]^T delta_next) = 0 because every weight "
        "out of the new unit is 0 (whatever value ReLU'(0) is given). So every new "
        "parameter has gradient exactly 0, stays 0 after the SGD step, and by induction at "
        "every later step: the new units are dead paths. The old weights train exactly as "
        "the narrow network would: the capacity was never added."
    )
    results = {
        "setup": dict(SETUP),
        "learning_rate": LR,
        "new_gradient_max_per_step": log["new_grad_max"],
        "new_parameters_max_after": after,
        "old_trajectory_error": trajectory,
        "argument": argument,
    }
    return from_template(pid, results, checks, grad_max=max(log["new_grad_max"]),
                         losses=log["losses"])


@problem("cmsc25500-midterm/3b")
def answer_3b(pid: str) -> Answer:
    x, target = _data()
    narrow = _narrow()
    wide = C.widen(narrow, "random_in_zero_out", seed=7)
    split = C.widen(narrow, "split")
    split_random = C.widen(narrow, "split_random", seed=11)
    checks = [
        preservation_check(narrow, wide, x, "random in, zero out"),
        preservation_check(narrow, split, x, "Net2Net split"),
        preservation_check(narrow, split_random, x, "split, random shares"),
        backprop_check(wide, x[:, :4], target[:, :4], "widened, random in, zero out"),
    ]
    step0 = _block_norms(wide, wide.gradients(x, target))
    start = [W.copy() for W in wide.weights]
    C.train(wide, x, target, SETUP["steps"], LR)
    moved = _block_norms(wide, [W - W0 for W, W0 in zip(wide.weights, start, strict=True)])
    out_blocks = [b for b in step0 if "out of new" in b]
    in_blocks = [b for b in step0 if "into new" in b]
    C.train(split, x, target, SETUP["steps"], LR)
    K = SETUP["K"]
    symmetry = max(float(np.max(np.abs(W[:K] - W[K:]))) for W in split.weights[:-1])
    split_grad = max(float(np.max(np.abs(g[m]))) for g, m in zip(
        C.widen(narrow, "split").gradients(x, target), C.new_mask(narrow), strict=True))
    random_step0 = _block_norms(split_random, split_random.gradients(x, target))
    C.train(split_random, x, target, SETUP["steps"], LR)
    untied = min(float(np.max(np.abs(W[:K] - W[K:]))) for W in split_random.weights[:-1])
    checks += [
        Check.exact("weights out of new units: non-zero gradient at step 0",
                    "> 0", all(step0[b] > 0 for b in out_blocks),
                    ", ".join(f"{b}: {step0[b]:.2e}" for b in out_blocks)),
        Check.exact("weights into new units: zero gradient at step 0 (no error reaches them)",
                    "0.0 exactly", all(step0[b] == 0.0 for b in in_blocks)),
        Check.exact("training moves every new block", "> 0",
                    all(v > 0 for v in moved.values()),
                    ", ".join(f"{b}: {v:.2e}" for b, v in moved.items())),
        Check.exact("Net2Net split: non-zero new gradients", "> 0", split_grad > 0,
                    f"max {split_grad:.2e}"),
        Check.exact("Net2Net split: unit and copy stay tied", "difference <= 1e-12",
                    symmetry <= 1e-12, f"difference {symmetry:.1e}"),
        Check.exact("random-share split: every new block has non-zero gradient at step 0",
                    "> 0", all(v > 0 for v in random_step0.values()),
                    f"smallest {min(random_step0.values()):.2e}"),
        Check.exact("random-share split: unit and copy come apart", "> 1e-6", untied > 1e-6,
                    f"smallest per-layer difference {untied:.2e}"),
    ]
    errors = {"random_in_zero_out": checks[0].error, "split": checks[1].error,
              "split_random": checks[2].error}
    initialisation = (
        "Give each new unit random incoming weights (from every unit of the layer below, "
        "old and new; new rows of W_in random), and set every weight OUT OF a new unit to "
        "zero (the new columns of W_j and of W_out). The old units and y are unchanged, so "
        "the function is preserved exactly. Now h' = ReLU(C h + D h'_prev) is non-zero, so the "
        "outgoing weights get gradient delta h'^T != 0 at once; after one step they are "
        "non-zero, delta' = ReLU'(z') (B^T delta + ...) becomes non-zero, and the incoming "
        "weights train too. Random incoming weights also break the symmetry between units."
    )
    argument = (
        initialisation + " The Net2Net split (copy a unit, halve both copies' outgoing "
        "weights) also preserves the function and has non-zero gradients, but a unit and "
        "its copy receive identical gradients, so they stay identical forever unless noise "
        "breaks the tie: the split alone does not add capacity under SGD. Splitting with "
        "random shares (the copy takes a fraction s_i in (0.2, 0.8) of unit i's outgoing "
        "weights, the original keeps 1 - s_i) preserves the function too, gives every new "
        "parameter a non-zero gradient at the first step, and unties the copies."
    )
    results = {
        "setup": dict(SETUP),
        "initialisation": initialisation,
        "output_error": errors,
        "gradient_norms_step0": step0,
        "moved_after_training": moved,
        "split_symmetry_error": symmetry,
        "random_split_gradient_norms_step0": random_step0,
        "random_split_untied": untied,
        "argument": argument,
    }
    return from_template(pid, results, checks, smallest=min(random_step0.values()),
                         blocks=[(b, *_block_label(b)) for b in step0])
