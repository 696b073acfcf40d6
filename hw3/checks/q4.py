"""Question 4: a two-layer sigmoid network as a tanh network and back (`activations.py`, L = 2).

Judged like Problem 5(c) by the map the returned network computes (`p5.judge_conversion`):
any correct parameters are accepted.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList
from ._conversions import (CONVERSION_HINT_TO_SIGMOID, CONVERSION_HINT_TO_TANH, SIG2TANH, TANH2SIG, conversion_call,
                           judge_conversions)

CHECKS = CheckList(__name__)


def _two_layer_probes(target: str):
    def probes(rng: np.random.Generator):
        # Question 4's network: D inputs, M hidden units, K outputs; one of them with a single output.
        shapes = [(int(rng.integers(2, 5)), int(rng.integers(3, 7)), int(rng.integers(2, 4))),
                  (int(rng.integers(1, 4)), int(rng.integers(2, 6)), 1)]
        return [conversion_call(target, rng, shapes[0]), conversion_call(target, rng, shapes[1], 2.0)]

    return probes


CHECKS.add(Check("Q4.sigmoid_to_tanh", _two_layer_probes(SIG2TANH), judge_conversions, hint=CONVERSION_HINT_TO_TANH))
CHECKS.add(Check("Q4.tanh_to_sigmoid", _two_layer_probes(TANH2SIG), judge_conversions, hint=CONVERSION_HINT_TO_SIGMOID))
