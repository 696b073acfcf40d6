"""Question 1 checks: heaviside (H(0) = 1/2), relu_derivative (1/2 at 0), relu_via_heaviside, sigmoid_k."""
from __future__ import annotations

import re

import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks import q1  # noqa: F401  (declares the Q1 checks)
from grader.outcome import Status
from tests.hw3testing import HW3

Q1_IDS = ["Q1.heaviside", "Q1.relu_derivative", "Q1.relu_via_heaviside", "Q1.sigmoid_k"]

# Correct, in other styles: torch.heaviside, numpy for the derivative, Question 1.2's second form
# x (1 - H(-x)), and sigmoid_k through tanh in numpy (finite for k = 1e6 without any care).
OTHER_STYLES = '''
import numpy as np
import torch


def heaviside(x):
    return torch.heaviside(x, torch.tensor(0.5, dtype=x.dtype))


def relu_derivative(z):
    z = np.asarray(z, dtype=float)
    return (z > 0) + 0.5 * (z == 0)


def relu_via_heaviside(x):
    return x * (1 - heaviside(-x))


def sigmoid_k(x, k):
    return 0.5 * (1 + np.tanh(0.5 * k * np.asarray(x, dtype=float)))
'''

# H(0) = 0 (so relu_derivative(0) = 0 too, through the reference's relu_derivative = heaviside), and the
# naive exp(kx) / (1 + exp(kx)): inf / inf = nan for k = 1e6.
BUGS_1 = '''
def heaviside(x):
    return (x > 0).double()


def sigmoid_k(x, k):
    e = torch.exp(k * x)
    return e / (1 + e)
'''

# H(0) = 1; relu_via_heaviside returning H itself; relu_derivative on its own with 0 at the kink.
BUGS_2 = '''
def heaviside(x):
    return (x >= 0).double()


def relu_derivative(z):
    return torch.where(z > 0, 1.0, 0.0).double()


def relu_via_heaviside(x):
    return heaviside(x)
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q1")
    subs = {
        "reference": write_submission(base / "reference"),
        "styles": write_submission(base / "styles", patch={"activations": OTHER_STYLES}),
        "bugs1": write_submission(base / "bugs1", patch={"activations": BUGS_1}),
        "bugs2": write_submission(base / "bugs2", patch={"activations": BUGS_2}),
    }
    return {name: grade_checks(folder, rubric, ids=Q1_IDS) for name, folder in subs.items()}


def _failed(outcome, *patterns: str) -> None:
    assert outcome.status is Status.FAILED, (outcome.check_id, outcome.status, outcome.detail)
    for pattern in patterns:
        assert re.search(pattern, outcome.message), (outcome.check_id, pattern, outcome.message)
    assert outcome.message == outcome.detail + "\nHint: " + HW3.catalog[outcome.check_id].hint


@pytest.mark.parametrize("style", ["reference", "styles"])
def test_correct_solutions_pass_every_q1_check(outcomes, style):
    for check_id in Q1_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


@pytest.mark.parametrize("bundle, value", [("bugs1", "0"), ("bugs2", "1")])
def test_heaviside_at_zero_is_one_half(outcomes, bundle, value):
    _failed(outcomes[bundle]["Q1.heaviside"],
            re.escape(f"heaviside(0) returned {value}, expected 1/2: Question 1 defines H(0) = 1/2.\nheaviside("))


@pytest.mark.parametrize("bundle", ["bugs1", "bugs2"])
def test_relu_derivative_at_zero_is_one_half(outcomes, bundle):
    _failed(outcomes[bundle]["Q1.relu_derivative"],
            re.escape("relu_derivative(0) returned 0, expected 1/2: relu has no derivative at 0, and the contract "
                      "fixes relu_derivative(0) = heaviside(0) = 1/2.\nrelu_derivative("))


def test_relu_via_heaviside(outcomes):
    assert outcomes["bugs1"]["Q1.relu_via_heaviside"].status is Status.PASSED   # x H(x) is 0 at 0 whatever H(0) is
    _failed(outcomes["bugs2"]["Q1.relu_via_heaviside"],
            re.escape("You returned H(x) itself: relu(x) = x H(x) (or x (1 - H(-x))).\nrelu_via_heaviside("))


def test_sigmoid_k_overflow(outcomes):
    _failed(outcomes["bugs1"]["Q1.sigmoid_k"],
            re.escape("sigmoid_k(x, 1000) is nan at x = 2, where the exact value is 1: an intermediate result "
                      "overflowed (in float64 exp(710) is already inf)."))
    assert outcomes["bugs2"]["Q1.sigmoid_k"].status is Status.PASSED
