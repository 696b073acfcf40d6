"""Exercise 1: dot and norm, against the reference on random vectors."""
from __future__ import annotations

import numpy as np

from grader.checks.base import CheckList, same_as_reference

CHECKS = CheckList(__name__)


def _pairs(rng: np.random.Generator):
    return [(rng.normal(size=n), rng.normal(size=n)) for n in (1, 3, 50)]


def _vectors(rng: np.random.Generator):
    return [(rng.normal(scale=s, size=n),) for n, s in ((1, 1.0), (4, 3.0), (100, 0.1))]


CHECKS.add(same_as_reference("A1.dot", "vectors.dot", _pairs, hint="dot(u, v) = sum_i u_i v_i, a 0-d tensor."))
CHECKS.add(same_as_reference("A1.norm", "vectors.norm", _vectors, hint="norm(u) = sqrt(dot(u, u))."))
