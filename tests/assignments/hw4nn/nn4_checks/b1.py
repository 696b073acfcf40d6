"""Exercise 1: batch norm in numpy, against the reference (the manifest says `arrays: numpy`, so
`x.var(axis=0)` is numpy's population variance on both sides)."""
from __future__ import annotations

import numpy as np

from grader.checks.base import CheckList, same_as_reference

CHECKS = CheckList(__name__)


def _batches(rng: np.random.Generator):
    return [(rng.normal(loc=2.0, scale=s, size=(n, d)), rng.uniform(0.5, 2.0, d), rng.normal(size=d))
            for n, d, s in ((4, 3, 1.0), (10, 5, 3.0), (64, 2, 0.5))]


CHECKS.add(same_as_reference("B1.batchnorm", "norm.batchnorm", _batches,
                             hint="Normalize by the population variance (divide by n, numpy's default ddof=0)."))
