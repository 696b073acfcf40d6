"""Question 4 checks: a two-layer sigmoid network as a tanh network and back, judged by the map it computes."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hw3testing import write_submission, grade_checks
from grader.checks import elementwise  # noqa: F401
from hw3.checks import _conversions as conv
from hw3.checks import p5  # noqa: F401  (declares the P5 checks)
from hw3.checks import q4  # noqa: F401  (declares the Q4 checks)
from grader.checks.base import JudgeContext, Observation
from grader.compare import Tolerance
from grader.outcome import Status
from reference.activations import sigmoid_mlp_to_tanh, tanh_mlp_to_sigmoid
from tests.hw3testing import HW3

Q4_IDS = ["Q4.sigmoid_to_tanh", "Q4.tanh_to_sigmoid"]

# Correct answers in other styles: the seed's answer to Question 4, index by index (w~1 = w1 / 2,
# w~2 = w2 / 2, w~20 = sum_j w2_kj / 2 + w20) in loops returning nested lists; and the way back with every
# hidden unit mirrored and the units reversed (tanh(z) = 1 - 2 sigmoid(-2z)), another correct answer than
# the reference's. (Problem 5's tests mirror the other direction, for any L.)
OTHER_STYLES = '''
import numpy as np


def sigmoid_mlp_to_tanh(As, bs):
    W1, b1 = np.asarray(As[0]), np.asarray(bs[0])
    W2, b2 = np.asarray(As[1]), np.asarray(bs[1])
    K, M = W2.shape
    V1 = [[w / 2 for w in row] for row in W1.tolist()]
    c1 = [w / 2 for w in b1.tolist()]
    V2 = [[W2[k, j] / 2 for j in range(M)] for k in range(K)]
    c2 = [sum(W2[k, j] / 2 for j in range(M)) + b2[k] for k in range(K)]
    return [V1, V2], [c1, c2]


def tanh_mlp_to_sigmoid(Cs, ds):
    C1, d1, C2, d2 = Cs[0].flip(0), ds[0].flip(0), Cs[1].flip(1), ds[1]
    return (-2 * C1, -2 * C2), (-2 * d1, d2 + C2.sum(dim=1))
'''

BUGS_1 = '''
def sigmoid_mlp_to_tanh(As, bs):                   # forgets the +1/2 offset: off by A_2 1 / 2
    return [As[0] / 2, As[1] / 2], [bs[0] / 2, bs[1]]


def tanh_mlp_to_sigmoid(Cs, ds):                   # 1/2 where 2 belongs
    return [Cs[0] / 2, Cs[1] * 2], [ds[0] / 2, ds[1] - Cs[1].sum(dim=1)]
'''

BUGS_2 = '''
def sigmoid_mlp_to_tanh(As, bs):                   # biases as columns (n, 1)
    Cs, ds = sigmoid_mlp_to_tanh_reference(As, bs)
    return Cs, [d.reshape(-1, 1) for d in ds]


def tanh_mlp_to_sigmoid(Cs, ds):                   # the weights only
    As, bs = tanh_mlp_to_sigmoid_reference(Cs, ds)
    return As
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q4")
    keep = "sigmoid_mlp_to_tanh_reference = sigmoid_mlp_to_tanh\ntanh_mlp_to_sigmoid_reference = tanh_mlp_to_sigmoid\n"
    subs = {
        "reference": write_submission(base / "reference"),
        "styles": write_submission(base / "styles", patch={"activations": OTHER_STYLES}),
        "bugs1": write_submission(base / "bugs1", patch={"activations": BUGS_1}),
        "bugs2": write_submission(base / "bugs2", patch={"activations": keep + BUGS_2}),
    }
    return {name: grade_checks(folder, rubric, ids=Q4_IDS) for name, folder in subs.items()}


@pytest.mark.parametrize("style", ["reference", "styles"])
def test_correct_conversions_pass(outcomes, style):
    for check_id in Q4_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score == 2


def test_forgotten_offset_is_a_constant_shift(outcomes):
    outcome = outcomes["bugs1"]["Q4.sigmoid_to_tanh"]
    assert outcome.status is Status.FAILED
    assert re.search(
        re.escape("sigmoid_mlp_to_tanh(As, bs) for L = 2 layers of widths (") + r"\d, \d, \d"
        + re.escape("): the tanh network you returned does not compute the same x -> y_L map as the given sigmoid "
                    "network. Its output differs from the given network's by the same constant vector for every x: "
                    "the last layer's bias is off. Every hidden unit carries an offset (the +1/2 in sigmoid(z) = "
                    "(1 + tanh(z / 2)) / 2) that the next layer sees: fold it into the next layer's bias.\n"
                    "y_L of your tanh network on 72 inputs x: values are not close!"), outcome.message)
    assert outcome.message.endswith("Hint: " + conv.CONVERSION_HINT_TO_TANH)


def test_wrong_factor_is_named(outcomes):
    outcome = outcomes["bugs1"]["Q4.tanh_to_sigmoid"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("Your first layer halves C_1, but tanh(z) = 2 sigmoid(2z) - 1: the sigmoid network "
                               "sees twice the pre-activation, so its first layer doubles C_1 (the factor is 2, "
                               "not 1/2)."), outcome.message)


def test_structure_problems_are_named(outcomes):
    result = outcomes["bugs2"]
    assert re.search(re.escape("sigmoid_mlp_to_tanh(As, bs) for L = 2 layers of widths (") + r"\d, (\d), \d"
                     + re.escape("), layer 1: d has shape (") + r"\1" + re.escape(", 1), expected (") + r"\1"
                     + re.escape(",) (a vector of n_1 biases, as the given layer's)."),
                     result["Q4.sigmoid_to_tanh"].message)
    assert re.search(re.escape("tanh_mlp_to_sigmoid(Cs, ds) for L = 2 layers of widths (") + r"\d, (\d), \d"
                     + re.escape("): As should be a list of 2 tensors, one per layer, but it is a torch.Tensor of "
                                 "shape (") + r"\1, \d" + re.escape(") and dtype float64."),
                     result["Q4.tanh_to_sigmoid"].message)
    assert all(result[i].status is Status.FAILED for i in Q4_IDS)


# ----------------------------------------------------------------------------- the judge, without a child


@settings(max_examples=50, deadline=None)
@given(d=st.integers(1, 6), m=st.integers(1, 8), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.5, 1.0, 4.0]))
def test_judge_accepts_the_reference_for_any_two_layer_widths(d, m, k, seed, scale):
    rng = np.random.default_rng(seed)
    As, bs = conv.random_mlp(rng, (d, m, k), scale)
    tensors = [torch.from_numpy(a) for a in As], [torch.from_numpy(b) for b in bs]
    for check_id, target, convert in (("Q4.sigmoid_to_tanh", conv.SIG2TANH, sigmoid_mlp_to_tanh),
                                      ("Q4.tanh_to_sigmoid", conv.TANH2SIG, tanh_mlp_to_sigmoid)):
        Ws, vs = convert(*tensors)
        obs = Observation(conv.call(target, As, bs, label="conversion"),
                          returned=([W.numpy() for W in Ws], [v.numpy() for v in vs]))
        verdict = HW3.catalog[check_id].judge(JudgeContext([obs], Tolerance(1e-7, 1e-9), rng, reference=HW3.reference_object))
        assert verdict.fraction == 1.0, verdict.message
