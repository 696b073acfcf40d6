"""Problem 3: cross-entropy (`losses.py`)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Verdict, call, same_as_reference
from grader.checks.elementwise import readable
from grader.compare import Mismatch, assert_close

CHECKS = CheckList(__name__)

OVERFLOW_HINT = ("cross_entropy overflows for large logits: subtract the largest logit before exp "
                 "(the log-sum-exp trick), or use torch.logsumexp.")


def _labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.integers(0, k, size=n).astype(np.int64)


CHECKS.add(same_as_reference(
    "P3.cross_entropy.single", "losses.cross_entropy",
    lambda rng: [(rng.normal(size=k) * 2, int(rng.integers(0, k))) for k in (2, 5, 10)],
    hint="For f of shape (k,) and an int y, return -log softmax(f)[y] as a scalar; labels are 0-based.",
))

CHECKS.add(same_as_reference(
    "P3.cross_entropy.batch", "losses.cross_entropy",
    lambda rng: [(rng.normal(size=(n, k)) * 3, _labels(rng, n, k)) for n, k in ((1, 3), (6, 4), (32, 10))],
    hint="For f of shape (n, k) and y of shape (n,), return the n per-sample losses (not their mean).",
))

CHECKS.add(same_as_reference(
    "P3.cross_entropy.large_logits", "losses.cross_entropy",
    lambda rng: [(rng.normal(size=(8, 5)) * scale, _labels(rng, 8, 5)) for scale in (1e2, 1e3, 1e4)],
    hint=OVERFLOW_HINT,
))

CHECKS.add(same_as_reference(
    "P3.ce_scaled_onehot", "losses.ce_scaled_onehot",
    lambda rng: [(float(lam), int(k)) for lam, k in ((0.0, 2), (1.0, 3), (2.5, 10), (7.0, 4))],
    hint="l_CE(lam e_y, y) = log(1 + (k - 1) exp(-lam)).",
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
