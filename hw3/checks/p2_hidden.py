"""Problem 2: p >> N (`threelayerSGD.py`): the parameter count, and training on noisy labels: its hidden checks.

The autograder runs them; the student kit ships p2.py, never this file.
"""
from __future__ import annotations

from grader.checks.base import Check, CheckList

from .p2 import _count_probe, _judge_counts

CHECKS = CheckList(__name__)


# model name (built in the probe) -> (what it is, trainable count, count including frozen parameters)
GENERAL_MODELS = {
    "linear_3_5": ("nn.Linear(3, 5)", 20, 20),
    "sequential": ("nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))", 58, 58),
    "no_bias": ("nn.Linear(6, 3, bias=False)", 18, 18),
    "conv": ("nn.Conv2d(3, 4, 3)", 112, 112),
    "frozen_layer": ("a Sequential whose first nn.Linear(10, 10) has requires_grad=False, then nn.Linear(10, 1)",
                     11, 121),
    "frozen_bias": ("nn.Linear(4, 6) with its bias frozen (requires_grad=False)", 24, 30),
}


CHECKS.add(Check(
    "P2.count_params.general",
    lambda rng: [_count_probe(name, shown) for name, (shown, _, _) in GENERAL_MODELS.items()],
    _judge_counts(GENERAL_MODELS),
    hint="count_params works for any nn.Module: add p.numel() over model.parameters() with p.requires_grad "
         "(frozen parameters are not trainable).",
))
