"""Question 5: a two-layer network with N - 1 hidden units interpolates N samples (`interpolation.py`): its hidden
checks.

The autograder runs them; the student kit ships q5.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList

from .q5 import RELU_HINT, RELU_REASON, SIGMOID_HINT, SIGMOID_REASON, _judge_interpolator, _probes_for

CHECKS = CheckList(__name__)


def hard_samples(rng: np.random.Generator, N: int = 20, n: int = 3, m: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """N samples whose projections on a (random, unit) direction u are at least 1e-2 apart.

    Most neighbours are between 1e-2 and 1.2e-2 apart and a few much further (so one
    epsilon shared by every unit has to be tiny next to the large gaps); across u the
    samples spread widely, so the coordinate axes separate them badly.
    """
    u = rng.normal(size=n)
    u /= np.linalg.norm(u)
    gaps = 1e-2 * (1 + 0.2 * rng.uniform(size=N - 1))
    far = rng.choice(N - 1, size=4, replace=False)
    gaps[far] *= rng.uniform(20, 100, size=4)
    p = rng.normal() + np.concatenate([[0.0], np.cumsum(gaps)])
    basis = np.linalg.svd(u[None, :])[2][1:]                # an orthonormal basis of u's complement
    X = p[:, None] * u + (rng.normal(size=(N, n - 1)) * 2) @ basis
    X = X[rng.permutation(N)]
    F = rng.normal(size=(N, m)) * 5
    return X, F


CHECKS.add(Check("Q5.relu_interpolator.hard",
                 lambda rng: _probes_for("relu_interpolator", [hard_samples(rng), hard_samples(rng, n=2, m=1)]),
                 _judge_interpolator("relu", RELU_REASON), hint=RELU_HINT))


CHECKS.add(Check("Q5.sigmoid_interpolator.hard",
                 lambda rng: _probes_for("sigmoid_interpolator", [hard_samples(rng), hard_samples(rng, n=2, m=1)]),
                 _judge_interpolator("sigmoid", SIGMOID_REASON), hint=SIGMOID_HINT))
