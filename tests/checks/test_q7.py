"""Question 7 checks: sizes, parameter counts, shapes (judged with real torch layers) and the two answers."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw3testing import grade_checks, write_submission
from grader.checks.base import JudgeContext, Observation, Verdict, value_of
from hw3.checks.q7 import random_stack, sequential_shape
from grader.compare import Tolerance
from grader.outcome import Status
from reference.convolution import cnn_output_shape
from tests.hw3testing import HW3

Q7_IDS = ["Q7.conv_output_size", "Q7.pool_output_size", "Q7.conv_params", "Q7.cnn_output_shape", "Q7.answers"]

OTHER_STYLE = '''
import math

import numpy as np


def conv_output_size(i, k, s=1, p=0, d=1):
    return np.int64(math.floor((i + 2 * p - d * (k - 1) - 1) / s) + 1)     # a numpy integer


def pool_output_size(i, k, s=None):
    s = s or k
    return float((i - k) // s + 1)                                         # an integral float


def conv_params(c_in, c_out, k, bias=False):
    return torch.tensor(c_out * (c_in * k * k + int(bias)))                # a 0-d tensor


def cnn_output_shape(in_shape, layers):
    shape = list(in_shape)
    for layer in layers:
        if layer["type"] == "conv":
            x = torch.nn.Conv2d(shape[0], layer["out"], layer["k"], layer.get("s", 1), layer.get("p", 0),
                                layer.get("d", 1))(torch.zeros(1, *shape))
        else:
            x = torch.nn.MaxPool2d(layer["k"], layer.get("s"))(torch.zeros(1, *shape))
        shape = list(x.shape[1:])
    return shape                                                           # a list


Q7 = {"output_dim": 73728.0, "last_layer_params": np.int64(131072)}
'''

BUGGY = '''
def conv_output_size(i, k, s=1, p=0, d=1):    # forgets the dilation
    return (i + 2 * p - k) // s + 1


def pool_output_size(i, k, s=None):           # s defaults to 1: overlapping windows
    return (i - k) // (s or 1) + 1


def conv_params(c_in, c_out, k, bias=False):  # always counts the biases
    return c_out * c_in * k * k + c_out


def cnn_output_shape(in_shape, layers):       # never updates the channels
    C, H, W = in_shape
    for layer in layers:
        k, s = layer["k"], layer.get("s", 1 if layer["type"] == "conv" else layer["k"])
        p, d = layer.get("p", 0), layer.get("d", 1)
        H, W = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n in (H, W))
    return (C, H, W)


Q7 = {"output_dim": 73728, "last_layer_params": 131072 + 128}            # the biases counted
'''

BUGGY_2 = '''
def conv_output_size(i, k, s=1, p=0, d=1):    # padding on one side only
    return (i + p - d * (k - 1) - 1) // s + 1


def conv_params(c_in, c_out, k, bias=False):  # forgets the input channels
    return c_out * k * k + (c_out if bias else 0)


Q7 = None
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q7")
    subs = {
        "reference": write_submission(base / "reference"),
        "other": write_submission(base / "other", patch={"convolution": OTHER_STYLE}),
        "buggy": write_submission(base / "buggy", patch={"convolution": BUGGY}),
        "buggy2": write_submission(base / "buggy2", patch={"convolution": BUGGY_2}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q7_IDS)
                  for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "other"])
def test_correct_solutions_pass(outcomes, style):
    for check_id in Q7_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (style, check_id, outcome.detail)


def test_known_mistakes_are_named(outcomes):
    result = outcomes["buggy"]
    expected = {
        "Q7.conv_output_size": "The dilation is missing: a kernel of size k with dilation d spans d (k - 1) + 1 inputs.",
        "Q7.pool_output_size": "Without s the windows do not overlap: s defaults to k, not 1.",
        "Q7.conv_params": "The biases are counted, but bias=False: only the c_out x c_in x k x k weights.",
    }
    for check_id, sentence in expected.items():
        assert result[check_id].status is Status.FAILED
        assert re.search(re.escape(sentence), result[check_id].message), result[check_id].message
    shape = result["Q7.cnn_output_shape"]
    assert shape.status is Status.FAILED
    assert re.search(re.escape("cnn_output_shape((3, 256, 256), 3 layers: ") + r".*"
                     + re.escape(") is (3, 24, 24), expected (128, 24, 24) (C, H, W)."), shape.message)


def test_q7_with_biases_counted_gets_half(outcomes):
    answers = outcomes["buggy"]["Q7.answers"]
    assert answers.status is Status.FAILED and answers.score == pytest.approx(0.5)
    assert answers.message.startswith("Q7['last_layer_params'] = 131200 is not the number of weights of the last "
                                      "layer: the question excludes the biases: only the 128 x 64 x 4 x 4 weights.")
    assert "131072" not in answers.message and "73728" not in answers.message   # never gives the answers away


def test_more_mistakes(outcomes):
    result = outcomes["buggy2"]
    assert re.search(re.escape("The padding is added on both sides: use i + 2p."),
                     result["Q7.conv_output_size"].message)
    assert re.search(re.escape("The input channels are forgotten: each kernel spans all c_in channels"),
                     result["Q7.conv_params"].message)


def test_q7_none_is_not_answered(outcomes):
    # the `value` probe turns the template's placeholder None into "not started" (grader/probes/registry.py)
    answers = outcomes["buggy2"]["Q7.answers"]
    assert answers.status is Status.NOT_ATTEMPTED and answers.score == 0
    assert re.search(re.escape("Q7 is still None"), answers.message)


def _judge_q7(answers) -> Verdict:
    """The Q7.answers judge on a value as the `value` probe would hand it over (no child needed)."""
    return HW3.catalog["Q7.answers"].judge(JudgeContext([Observation(value_of("convolution.Q7"), returned=answers)],
                                                   Tolerance(), np.random.default_rng(0), reference=HW3.reference_object))


def test_q7_judge_says_not_answered_when_it_sees_none():
    assert _judge_q7(None) == Verdict.failed("Not answered yet: Q7 is None")


def test_q7_shape_instead_of_number_and_forgotten_channels():
    verdict = _judge_q7({"output_dim": (128, 24, 24), "last_layer_params": 128 * 4 * 4})
    assert verdict.fraction == 0
    assert re.search(re.escape("Q7['output_dim'] is a tuple of length 3 holding int: give one integer, the number of values "
                               "C x H x W (not the shape)."), verdict.message)
    assert re.search(re.escape("Q7['last_layer_params'] = 2048 is not the number of weights of the last layer: "
                               "each kernel spans the 64 input channels: 128 kernels of 64 x 4 x 4."), verdict.message)
    verdict = _judge_q7({"output_dim": 24 * 24})
    assert verdict.fraction == 0
    assert re.search(re.escape("Q7['output_dim'] = 576 is not the dimensionality of the last layer's output: that "
                               "is H x W of the output: multiply by its 128 channels too."), verdict.message)
    assert re.search(re.escape("Q7['last_layer_params']: not answered yet."), verdict.message)
    assert _judge_q7({"output_dim": np.int64(73728), "last_layer_params": 131072.0}) == Verdict.passed()
    assert _judge_q7({"output_dim": 73728.5, "last_layer_params": 131072}).message == (
        "Q7['output_dim'] should be an integer, but it is a float (73728.5).")
    assert _judge_q7([73728, 131072]).message.startswith("Q7 should be a dict")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_stacks_are_valid_and_torch_agrees_with_the_reference(seed):
    in_shape, layers = random_stack(np.random.default_rng(seed))
    assert 1 <= len(layers) <= 4
    assert sequential_shape(in_shape, layers) == cnn_output_shape(in_shape, layers)
