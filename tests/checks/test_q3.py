"""Question 3 checks: temperature (and its limits), two_class_logit, reduce_logits."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.hw3testing import grade_checks, write_submission
from grader.outcome import Status

Q3_IDS = ["Q3.softmax_temperature", "Q3.softmax_temperature.limits", "Q3.two_class_logit", "Q3.reduce_logits"]

OTHER_STYLE = '''
import numpy as np
import torch


def softmax_temperature(x, c):
    return torch.softmax(c * x, dim=-1)                    # torch's softmax is stable: fine at c = 1e6


def two_class_logit(x):
    return torch.log(softmax(x)[0]) - torch.log(softmax(x)[1])    # a 0-d tensor, log-odds


def reduce_logits(x):
    x = np.asarray(x)
    return list(x[1:] - x[0])                              # a list
'''

NUMPY_STYLE = '''
import numpy as np


def softmax_temperature(x, c):
    x = np.asarray(x)
    z = c * (x - x.max())
    e = np.exp(z)
    return e / e.sum()


def two_class_logit(x):
    return np.float64(x[0] - x[1]).item()


def reduce_logits(x):
    x = np.asarray(x)
    return x[1:] - x[0]
'''

BUGGY = '''
def softmax_temperature(x, c):                # exp(1e6 * x) = inf: inf / inf = nan
    e = torch.exp(c * x)
    return e / e.sum()


def two_class_logit(x):                       # the sign flipped
    return float(x[1] - x[0])


def reduce_logits(x):                         # forgets to subtract x[0]
    return x[1:]
'''

BUGGY_2 = '''
def softmax_temperature(x, c):                # the limit as a one-hot argmax: ties not shared
    if c > 1e3:
        out = torch.zeros_like(x)
        out[torch.argmax(x)] = 1.0
        return out
    return softmax(c * x)


def two_class_logit(x):                       # a vector, not one number
    return x - x.mean()


def reduce_logits(x):                         # K entries instead of K - 1
    return x - x[0]
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q3")
    subs = {
        "reference": write_submission(base / "reference"),
        "other": write_submission(base / "other", patch={"softmax": OTHER_STYLE}),
        "numpy": write_submission(base / "numpy", patch={"softmax": NUMPY_STYLE}),
        "buggy": write_submission(base / "buggy", patch={"softmax": BUGGY}),
        "buggy2": write_submission(base / "buggy2", patch={"softmax": BUGGY_2}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:                 # one child each, side by side
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q3_IDS) for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "other", "numpy"])
def test_correct_solutions_pass(outcomes, style):
    for check_id in Q3_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (style, check_id, outcome.detail)


def test_naive_temperature_gives_nan_at_the_limit(outcomes):
    result = outcomes["buggy"]
    assert result["Q3.softmax_temperature"].status is Status.PASSED   # moderate c is fine
    limits = result["Q3.softmax_temperature.limits"]
    assert limits.status is Status.FAILED
    assert re.search(re.escape("The result has nan: c x overflows exp (or exp underflows to 0 / 0). "
                               "Subtract max(x) before multiplying by c."), limits.message)
    assert re.search(re.escape("Hint: S(c x) = S(c (x - max x))"), limits.message)


def test_limit_must_share_ties(outcomes):
    limits = outcomes["buggy2"]["Q3.softmax_temperature.limits"]
    assert limits.status is Status.FAILED
    assert re.search(re.escape("x has 2 tied maxima: at c = 1e6 they share the 1 equally (0.5 each)"), limits.message)


def test_two_class_logit_sign(outcomes):
    outcome = outcomes["buggy"]["Q3.two_class_logit"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("The sign is flipped: sigmoid(z) must be S(x)[0], the probability of the first "
                               "class."), outcome.message)


def test_two_class_logit_is_one_number(outcomes):
    outcome = outcomes["buggy2"]["Q3.two_class_logit"]
    assert outcome.status is Status.FAILED
    assert re.search(r"two_class_logit\(.*\) should be one number z, but it is a torch\.Tensor of shape \(2,\)",
                     outcome.message)


def test_reduce_logits_must_subtract_the_first_logit(outcomes):
    outcome = outcomes["buggy"]["Q3.reduce_logits"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("S([0, y]) must equal S(x). y = x[1:] forgets to subtract x[0]"), outcome.message)


def test_reduce_logits_has_k_minus_1_entries(outcomes):
    outcome = outcomes["buggy2"]["Q3.reduce_logits"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("has shape (2,), expected (1,) (K - 1 = 1 logits). It has K entries: drop the "
                               "first one, which the 0 in [0, y] stands for."), outcome.message)
