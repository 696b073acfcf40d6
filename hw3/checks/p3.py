"""Problem 3: cross-entropy (`losses.py`)."""
from __future__ import annotations

import numpy as np

from grader.checks.base import CheckList, same_as_reference

CHECKS = CheckList(__name__)


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
    "P3.ce_scaled_onehot", "losses.ce_scaled_onehot",
    lambda rng: [(float(lam), int(k)) for lam, k in ((0.0, 2), (1.0, 3), (2.5, 10), (7.0, 4))],
    hint="l_CE(lam e_y, y) = log(1 + (k - 1) exp(-lam)).",
))
