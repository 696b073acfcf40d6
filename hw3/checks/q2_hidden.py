"""Question 2: softmax, the Jacobians of softmax and sigmoid, and their O(n) VJPs (`softmax.py`): its hidden checks.

The autograder runs them; the student kit ships q2.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import CheckList

from .q2 import _explain_softmax, calls_as_reference

CHECKS = CheckList(__name__)


STABLE_HINT = ("exp(1e4) overflows to inf and inf / inf is nan: subtract the largest logit along dim before exp, "
               "S(x) = S(x - max x), so no exp ever sees a large positive number.")


def _softmax_extreme_calls(rng: np.random.Generator):
    return [
        ((np.array([1e4, 0.0, -1e4]),), {}),
        ((np.array([1e4, 1e4, -1e4, 9999.0]),), {}),
        ((np.array([-1e4, -1e4, -9999.5]),), {}),
        ((rng.uniform(-1e4, 1e4, size=(4, 5)),), {"dim": -1}),
        ((rng.uniform(-1e4, 1e4, size=(5, 3)),), {"dim": 0}),
        ((rng.normal(size=6) * 1e3 + 5e3,), {}),
    ]


CHECKS.add(calls_as_reference("Q2.softmax.extreme", "softmax.softmax", _softmax_extreme_calls,
                              explain=_explain_softmax, hint=STABLE_HINT))
