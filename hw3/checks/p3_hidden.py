"""Problem 3: cross-entropy (`losses.py`): its hidden checks.

The autograder runs them; the student kit ships p3.py, never this file.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Verdict, call, same_as_reference
from grader.checks.elementwise import readable
from grader.compare import Mismatch, assert_close

from .p3 import _labels

CHECKS = CheckList(__name__)


OVERFLOW_HINT = ("cross_entropy overflows for large logits: subtract the largest logit before exp "
                 "(the log-sum-exp trick), or use torch.logsumexp.")


CHECKS.add(same_as_reference(
    "P3.cross_entropy.large_logits", "losses.cross_entropy",
    lambda rng: [(rng.normal(size=(8, 5)) * scale, _labels(rng, 8, 5)) for scale in (1e2, 1e3, 1e4)],
    hint=OVERFLOW_HINT,
))


def _scaled_onehot_large(rng: np.random.Generator):
    return [call("losses.ce_scaled_onehot", float(lam), int(k), label=f"ce_scaled_onehot({lam:g}, {k})")
            for lam, k in ((50.0, 3), (80.0, 10), (300.0, 2), (1e3, 7), (1e4, 5))]


def _judge_scaled_onehot_large(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        lam, k = obs.probe.params["args"]
        expected = math.log1p((k - 1) * math.exp(-lam))
        actual = obs.value
        try:
            assert_close(actual, expected, dataclasses.replace(ctx.tol, atol=0.0), what=obs.probe.label)
        except Mismatch as exc:
            if np.all(readable(actual) == 0.0):
                return Verdict.failed(f"{exc}\nThe result is exactly 0: log(1 + tiny) lost the tiny part "
                                      "to rounding; torch.log1p / math.log1p keeps it.")
            return Verdict.failed(str(exc))
    return Verdict.passed()


CHECKS.add(Check(
    "P3.ce_scaled_onehot.large_lam", _scaled_onehot_large, _judge_scaled_onehot_large,
    hint="For large lam, 1 + (k-1)exp(-lam) rounds to 1: use log1p, and never exp(+lam).",
))
