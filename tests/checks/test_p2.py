"""Problem 2 checks: count_params on MLP() and on other models (the K = 1000 noisy fit: tests/test_examples.py)."""
from __future__ import annotations

import pytest

from tests.hw3testing import grade_checks
from grader.outcome import Status

COUNT_IDS = ["P2.count_params", "P2.count_params.general"]

# Correct in other styles: the layers' shapes by hand for any module, numpy ints, a 0-d tensor.
OTHER_STYLES = {
    "numpy_int": "import numpy as np\n"
                 "def count_params(model):\n"
                 "    return np.int64(np.sum([np.prod(p.shape) for p in model.parameters() if p.requires_grad]))\n",
    "tensor": "import torch\n"
              "def count_params(model):\n"
              "    return torch.tensor(sum(p.numel() for p in model.parameters() if p.requires_grad))\n",
    "state_dict_loop": "def count_params(model):\n"
                       "    total = 0\n"
                       "    for name, p in model.named_parameters():\n"
                       "        if p.requires_grad:\n"
                       "            total += p.numel()\n"
                       "    return total\n",
}


@pytest.mark.parametrize("style", sorted(OTHER_STYLES))
def test_correct_counts_in_other_styles_pass(style, submission, rubric):
    outcomes = grade_checks(submission(patch={"threelayerSGD": OTHER_STYLES[style]}), rubric, COUNT_IDS)
    assert {i: o.status for i, o in outcomes.items()} == {i: Status.PASSED for i in COUNT_IDS}


def test_counting_tensors_not_entries_is_explained(submission, rubric):
    patch = "def count_params(model):\n    return len(list(model.parameters()))\n"
    outcomes = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, COUNT_IDS)
    visible = outcomes["P2.count_params"]
    assert visible.status is Status.FAILED
    assert "is 6, expected 4353" in visible.message
    assert "number of parameter tensors" in visible.message
    assert outcomes["P2.count_params.general"].status is Status.FAILED


def test_counting_frozen_parameters_fails_only_the_general_check(submission, rubric):
    patch = "def count_params(model):\n    return sum(p.numel() for p in model.parameters())\n"
    outcomes = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, COUNT_IDS)
    assert outcomes["P2.count_params"].status is Status.PASSED
    general = outcomes["P2.count_params.general"]
    assert general.status is Status.FAILED
    assert "requires_grad" in general.message   # the hint survives redaction of the hidden check


def test_hidden_check_reveals_no_model_or_count(submission, rubric):
    patch = "def count_params(model):\n    return 7\n"
    general = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, COUNT_IDS)["P2.count_params.general"]
    assert general.status is Status.FAILED
    for secret in ("nn.Linear(3, 5)", "Conv2d", "20", "112", "is 7"):
        assert secret not in general.message, general.message


def test_a_string_is_not_a_count(submission, rubric):
    patch = "def count_params(model):\n    return '4353'\n"
    visible = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, ["P2.count_params"])["P2.count_params"]
    assert visible.status is not Status.PASSED
