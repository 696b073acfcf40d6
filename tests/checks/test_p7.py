"""Problem 7 checks: leaky_relu, two_layer_grad and two_layer_sgd with leaky ReLU, dead units that move again."""
from __future__ import annotations

import re

import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks import p7  # noqa: F401  (declares the P7 checks)
from grader.outcome import Status
from tests.hw3testing import HW3

P7_IDS = ["P7.leaky_relu", "P7.two_layer_grad.leaky", "P7.two_layer_sgd.leaky", "P7.dead_units_move"]

# Correct, in other styles: leaky_relu in numpy (an ndarray out; the part before two_layer_grad is also the
# activations module); the gradient by autograd with F.leaky_relu; SGD over an index list shuffled by Python's
# random module.
OTHER_STYLES = '''
import random

import numpy as np
import torch
import torch.nn.functional as F


def leaky_relu(z, alpha=0.01):
    z = np.asarray(z, dtype=float)
    return np.where(z >= 0, z, alpha * z)


def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    a, b, u = (t.detach().clone().requires_grad_(True) for t in (a, b, u))
    z = a * x + b
    s = F.relu(z) if activation == "relu" else F.leaky_relu(z, negative_slope=alpha)
    loss = 0.5 * (u @ s - y) ** 2
    loss.backward()
    return a.grad, b.grad, u.grad


def two_layer_sgd(a, b, u, X, Y, lr, epochs, activation="relu", alpha=0.01, generator=None):
    a, b, u = a.detach().clone(), b.detach().clone(), u.detach().clone()
    order = list(range(len(X)))
    for _ in range(epochs):
        random.shuffle(order)
        for i in order:
            ga, gb, gu = two_layer_grad(a, b, u, X[i], Y[i], activation, alpha)
            a, b, u = a - lr * ga, b - lr * gb, u - lr * gu
    return a, b, u
'''

# The slope on the wrong side, in both the activation and the gradient (the reference's SGD then uses it).
BUG_SIDE_ACTIVATION = '''
def leaky_relu(z, alpha=0.01):
    return torch.where(z >= 0, alpha * z, z)
'''
BUG_SIDE_GRADIENT = '''
def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    z = a * x + b
    if activation == "relu":
        s, ds = torch.relu(z), (z > 0).double()
    else:
        s = torch.where(z >= 0, alpha * z, z)
        ds = torch.where(z >= 0, torch.full_like(z, alpha), torch.ones_like(z))
    r = torch.dot(u, s) - y
    gb = r * u * ds
    return gb * x, gb, r * s
'''

# alpha ignored by leaky_relu; `activation` ignored by the gradient (always the ReLU's), so dead units stay dead.
BUG_ALPHA_ACTIVATION = '''
def leaky_relu(z, alpha=0.01):
    return torch.where(z >= 0, z, 0.01 * z)
'''
BUG_RELU_GRADIENT = '''
def two_layer_grad(a, b, u, x, y, activation="relu", alpha=0.01):
    z = a * x + b
    s = torch.relu(z)
    r = torch.dot(u, s) - y
    gb = r * u * (z > 0)
    return gb * x, gb, r * s
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("p7")
    subs = {
        "reference": write_submission(base / "reference"),
        "styles": write_submission(base / "styles", patch={"activations": OTHER_STYLES.split("def two_layer_grad")[0],
                                                           "gradients": OTHER_STYLES}),
        "side": write_submission(base / "side", patch={"activations": BUG_SIDE_ACTIVATION,
                                                       "gradients": BUG_SIDE_GRADIENT}),
        "ignored": write_submission(base / "ignored", patch={"activations": BUG_ALPHA_ACTIVATION,
                                                             "gradients": BUG_RELU_GRADIENT}),
    }
    return {name: grade_checks(folder, rubric, ids=P7_IDS) for name, folder in subs.items()}


def _failed(outcome, *patterns: str, hidden: bool = False) -> None:
    assert outcome.status is Status.FAILED, (outcome.check_id, outcome.status, outcome.detail)
    for pattern in patterns:
        assert re.search(pattern, outcome.detail), (outcome.check_id, pattern, outcome.detail)
    hint = "\nHint: " + HW3.catalog[outcome.check_id].hint
    if hidden:
        message = re.sub(r"\nThis check builds on code that also failed [^\n]*", "", outcome.message)  # builds_on
        assert message == "This hidden check failed (its inputs and expected values are not shown)." + hint
    else:
        assert outcome.message == outcome.detail + hint


@pytest.mark.parametrize("style", ["reference", "styles"])
def test_correct_solutions_pass_every_p7_check(outcomes, style):
    for check_id in P7_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


def test_slope_on_the_positive_side(outcomes):
    result = outcomes["side"]
    _failed(result["P7.leaky_relu"],
            re.escape("The slope alpha belongs to the negative side: leaky_relu(z) = z for z >= 0 and alpha z for "
                      "z < 0.\nleaky_relu("))
    _failed(result["P7.two_layer_grad.leaky"],
            re.escape("The slope alpha belongs to the negative side: leaky_relu(z) = z for z >= 0 and alpha z for "
                      "z < 0, so σ'(z) = 1 for z >= 0 and alpha for z < 0.\nga of two_layer_grad(a, b, u, x, y, "
                      "activation='leaky_relu') with a, b, u, x, y = [") + r"[-\d., \[\]\n]+"
            + re.escape(": values are not close!"))
    assert result["P7.two_layer_sgd.leaky"].status is Status.FAILED
    assert result["P7.dead_units_move"].status is Status.PASSED     # they move, with slope 1 even


def test_alpha_and_activation_ignored(outcomes):
    result = outcomes["ignored"]
    _failed(result["P7.leaky_relu"], re.escape("Use the alpha argument (here 0.2) instead of the default 0.01.\n"
                                               "leaky_relu("))
    _failed(result["P7.two_layer_grad.leaky"],
            re.escape("With activation=\"leaky_relu\" a unit with z_j < 0 has slope alpha, not 0: this is your ReLU "
                      "gradient (Problem 7: the gradient no longer vanishes).\n"))
    _failed(result["P7.two_layer_sgd.leaky"])
    _failed(result["P7.dead_units_move"],
            re.escape("two_layer_sgd(a, b, u, X, Y, lr=0.02, epochs=4, activation='leaky_relu') from a start with dead "
                      "units: unit ") + r"(\d)" + re.escape(" is dead under ReLU at the start (a_") + r"\1"
            + re.escape(" X_i + b_") + r"\1" + re.escape(" < 0 on every sample), and with leaky ReLU its a_") + r"\1"
            + re.escape(" still did not move ("), hidden=True)
