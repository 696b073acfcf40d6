"""Question 1: the Heaviside step, the derivative of ReLU, ReLU via Heaviside, the sharpened sigmoid (`activations.py`).

The contract fixes H(0) = 1/2 and relu_derivative(0) = 1/2 (the one derivative
taken at a kink); every other input is a plain elementwise comparison.
"""
from __future__ import annotations

import numpy as np

from grader.checks.elementwise import Case, elementwise_check, matches, shaped_inputs
from grader.checks.base import CheckList

CHECKS = CheckList(__name__)


def _at_zero(name: str, why: str):
    """A diagnosis: the value at exactly 0 is not 1/2."""

    def diagnose(args, kwargs, actual, expected):
        zero = np.asarray(args[0]) == 0
        if zero.any() and np.any(actual[zero] != 0.5):
            got = float(actual[zero][actual[zero] != 0.5][0])
            return f"{name}(0) returned {got:g}, expected 1/2: {why}"
        return None

    return diagnose


def _cases(target: str, scale: float = 3.0):
    def make(rng: np.random.Generator):
        return [(target, (x,), {}) for x in shaped_inputs(rng, scale, zeros=True)]

    return make


CHECKS.add(elementwise_check(
    "Q1.heaviside", _cases("activations.heaviside"),
    hint=("H(x) = 1 for x > 0, 1/2 at x = 0, 0 for x < 0, elementwise "
          "(torch.heaviside(x, torch.tensor(0.5, dtype=x.dtype)) does it)."),
    diagnoses={"heaviside": [_at_zero("heaviside", "Question 1 defines H(0) = 1/2.")]},
    var="x",
))

CHECKS.add(elementwise_check(
    "Q1.relu_derivative", _cases("activations.relu_derivative"),
    hint=("relu'(z) is 0 for z < 0 and 1 for z > 0; at the kink z = 0 it does not exist, and the contract "
          "fixes relu_derivative(0) = heaviside(0) = 1/2."),
    diagnoses={"relu_derivative": [_at_zero(
        "relu_derivative",
        "relu has no derivative at 0, and the contract fixes relu_derivative(0) = heaviside(0) = 1/2.")]},
))


def _relu_is_heaviside(args, kwargs, actual, expected):
    x = np.asarray(args[0], dtype=np.float64)
    if matches(actual, (np.sign(x) + 1) / 2):
        return "You returned H(x) itself: relu(x) = x H(x) (or x (1 - H(-x)))."
    if matches(actual, x * (np.sign(-x) + 1) / 2):
        return "x H(-x) is min(x, 0): relu(x) = x H(x)."
    return None


CHECKS.add(elementwise_check(
    "Q1.relu_via_heaviside", _cases("activations.relu_via_heaviside", 4.0),
    hint="Question 1.2: relu(x) = max(0, x) = x H(x), which is 0 at x = 0 whatever H(0) is.",
    diagnoses={"relu_via_heaviside": [_relu_is_heaviside]},
    var="x",
))


def _sigmoid_k_cases(rng: np.random.Generator):
    near = np.array([-2.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 2.0])
    cases: list[Case] = []
    for k in (1.0, 10.0, 1e3, 1e6):
        cases.append(("activations.sigmoid_k", (np.concatenate([near, rng.normal(size=5)]), k), {}))
    cases.append(("activations.sigmoid_k", (rng.normal(size=(3, 4)), 1e6), {}))
    cases.append(("activations.sigmoid_k", (np.array(-0.25), 1e6), {}))
    cases.append(("activations.sigmoid_k", (np.array(0.0), 1e6), {}))
    return cases


def _sigmoid_k_heaviside(args, kwargs, actual, expected):
    x = np.asarray(args[0], dtype=np.float64)
    zero = x == 0
    if zero.any() and np.any(actual[zero] != 0.5):
        return "sigmoid_k(0, k) = sigmoid(0) = 1/2 for every k."
    return None


CHECKS.add(elementwise_check(
    "Q1.sigmoid_k", _sigmoid_k_cases,
    hint=("sigmoid_k(x, k) = 1 / (1 + exp(-k x)); for k = 1e6, exp(k x) overflows, and exp(z) / (1 + exp(z)) "
          "becomes inf / inf = nan: only exponentiate -|k x| (or use torch.sigmoid(k * x))."),
    diagnoses={"sigmoid_k": [_sigmoid_k_heaviside]},
    var="x",
))
