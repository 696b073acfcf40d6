"""Problem 2 checks: count_params on MLP() and on other models; the K = 1000 noisy fit, judged on the trained parameters."""
from __future__ import annotations

import re
from pathlib import Path

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


# ---- P2.noisy_fit: judged on the trained parameters, never on what the student's code reports ---------------

NOISY_FIT_SNIFFING = '''
import sys


def _grader_on_stack():
    frame = sys._getframe(1)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(("grader.probes", "hw3.probes")):
            return True
        frame = frame.f_back
    return False


_honest_forward = MLP.forward


def _forward(self, x):
    if not torch.is_grad_enabled() and _grader_on_stack():
        return f_true(x)                       # the noiseless truth, whenever the grader looks
    return _honest_forward(self, x)


MLP.forward = _forward


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    return [0.25] * epochs                     # the noise's variance: a "perfect" fit of noisy labels
'''


def test_noisy_fit_of_a_forward_that_answers_f_true_to_the_grader_fails(submission, rubric):
    noisy = grade_checks(submission(patch={"threelayerSGD": NOISY_FIT_SNIFFING}), rubric, ["P2.noisy_fit"])["P2.noisy_fit"]
    assert noisy.status is Status.FAILED and noisy.score == 0, noisy.detail
    assert re.search(r"^Problem 2 \(labels with noise 0\.5\): in 6 runs of your pipeline \(make_data\(noise_std=0\.5\), "
                     r"MLP\(\), initialize\(model\), train\(model, X, Y\)\) with different seeds, the learned function "
                     r"stays \d\.\d+ or more from f_true", noisy.detail), noisy.detail


def test_noisy_fit_needs_the_contract_s_layers(submission, rubric):
    patch = ("_init = MLP.__init__\n\n\ndef _renamed(self):\n    _init(self)\n    self.hidden = self.l2\n"
             "    del self.l2\n\n\nMLP.__init__ = _renamed\n"
             "MLP.forward = lambda self, x: self.l3(torch.sigmoid(self.hidden(torch.sigmoid(self.l1(x)))))\n")
    noisy = grade_checks(submission(patch={"threelayerSGD": patch}), rubric, ["P2.noisy_fit"])["P2.noisy_fit"]
    assert noisy.status is Status.FAILED, noisy.detail
    assert re.search(re.escape("Problem 2 (labels with noise 0.5): MLP() has no attribute l2. The fit is judged on "
                               "the trained parameters of the contract's layers"), noisy.detail), noisy.detail


@pytest.mark.slow
@pytest.mark.parametrize("style", ["numpy_first", "loops"])
def test_correct_styles_pass_the_noisy_fit(style, rubric):
    folder = Path(__file__).resolve().parents[1] / "corpus" / "correct_styles" / style
    noisy = grade_checks(folder, rubric, ["P2.noisy_fit"])["P2.noisy_fit"]
    assert noisy.status is Status.PASSED, noisy.detail
    assert re.search(r"the learned function is [0-9.]+ from f_true on \[-2, 2\]", noisy.message)
