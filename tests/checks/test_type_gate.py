"""Strings are not numbers (issue 16.4), decided in one place (compare.as_array): the reference's own
answers, every number written as a string ("0.5", nested lists of them, "4353"), fail every check
family with the gate's message, where they passed before (np.asarray(..., float) reads "0.5").

Judged in this process on forged observations, as tests/checks/test_unusable_answers.py does."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.checks.base import Observation, to_numpy
from grader.compare import EXPECTED_NUMBERS
from grader.draws import rng_for
from grader.outcome import Status
from grader.probes import callables
from grader.runner import judge_observations
from tests.hw3testing import HW3

RUBRIC = HW3.load_rubric()
CHECKS = HW3.catalog


class _Reference:
    """Resolves "module.name" to the reference's, as the child resolves the student's."""

    def resolve(self, target: str):
        return HW3.reference_object(target)


def _reference_args(value):
    if isinstance(value, dict) and "__fn__" in value:
        return callables.build(value, _Reference())
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_reference_args(v) for v in value)
    if isinstance(value, dict):
        return {k: _reference_args(v) for k, v in value.items()}
    return value


def reference_answer(probe):
    params = probe.params
    returned = HW3.reference_object(params["target"])(*_reference_args(params["args"]), **_reference_args(params["kwargs"]))
    return to_numpy(returned)


def as_strings(value):
    """Every number of an answer written as a string: arrays become nested lists of str."""
    if isinstance(value, (list, tuple)):
        return type(value)(as_strings(v) for v in value)
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        return np.asarray(value).astype(str).tolist()
    return value


def judged(check_id: str, answers) -> object:
    entry = RUBRIC.entry(check_id)
    probes = CHECKS[check_id].probes(rng_for(entry))
    observations = [Observation(p, returned=answers(p)) for p in probes]
    return judge_observations(entry, CHECKS[check_id], observations, HW3)


def failed_on_strings(outcome) -> None:
    assert outcome.status is Status.FAILED, (outcome.status, outcome.detail)
    assert "str" in outcome.message and ("returned" in outcome.message or "is a" in outcome.message), outcome.message


# One check of each family whose probes call a student function, answered with the reference's values.
CALL_FAMILIES = {
    "elementwise": ["P5.activations", "Q1.heaviside", "P7.leaky_relu"],
    "callables (functions as arguments)": ["P4.max_derivative", "P5.lipschitz_estimate"],
    "values compared with the reference": ["Q2.softmax", "Q2.sigmoid_vjp", "P3.cross_entropy.batch", "P3.ce_scaled_onehot", "P6.two_layer_grad.relu"],
    "conversions and interpolators": ["Q4.sigmoid_to_tanh", "Q5.interpolation_matrix", "Q5.relu_interpolator"],
    "ints and shapes": ["Q7.conv_output_size", "Q7.conv_params"],
}


@pytest.mark.parametrize("check_id", [c for ids in CALL_FAMILIES.values() for c in ids])
def test_the_reference_answers_pass_and_the_same_numbers_as_strings_fail(check_id):
    assert judged(check_id, reference_answer).status is Status.PASSED
    failed_on_strings(judged(check_id, lambda probe: as_strings(reference_answer(probe))))


def test_nested_lists_of_numeric_strings_fail_softmax_with_the_gates_message():
    outcome = judged("Q2.softmax", lambda probe: as_strings(reference_answer(probe)))
    assert outcome.message.startswith("softmax(")
    assert f"returned a list of length 5 holding str; {EXPECTED_NUMBERS}" in outcome.message


def test_value_checks_q7_and_q8_take_no_strings():
    q7 = judged("Q7.answers", lambda probe: {"output_dim": "73728", "last_layer_params": "131072"})
    assert q7.status is Status.FAILED and "should be an integer, but it is a str ('73728')" in q7.message
    q8 = judged("Q8.layer2", lambda probe: {"2a": {"k": "4", "s": "4"}, "2b": ("64", "7", "7")})
    assert q8.status is Status.FAILED and q8.score == 0
    assert "2b should be the output shape as a tuple (C, H, W), but it is a tuple of length 3 holding str" in q8.message


def test_training_answers_p1_and_p2_take_no_strings():
    count = judged("P2.count_params", lambda probe: "4353")
    assert count.status is Status.FAILED and "should be an integer, but it is a str ('4353')" in count.message
    made = judged("P1.make_data", lambda probe: {"returned": (np.zeros((probe.params["n"] or 512, 1)).astype(str).tolist(),
                                                              np.zeros((probe.params["n"] or 512, 1)).tolist()),
                                                 "global_rng_used": False})
    failed_on_strings(made)
