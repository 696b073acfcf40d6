"""Problem 6: dead ReLUs (`gradients.dead_units`, `two_layer_grad`, `two_layer_sgd` with ReLU): its hidden checks.

The autograder runs them; the student kit ships p6.py, never this file.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call
from grader.compare import Mismatch, as_array, describe

from .p6 import SGD

CHECKS = CheckList(__name__)


def dead_start(rng: np.random.Generator, p: int = 6, n: int = 8, n_dead: int = 2):
    """Distinct samples, units 0..n_dead-1 (shuffled) dead on all of them by a margin, a clear residual."""
    X = rng.uniform(-2, 2, size=n)
    Y = rng.normal(size=n) * 1.5 + 2.0
    a, b, u = rng.normal(size=p) * 0.8, rng.normal(size=p) * 0.5, rng.normal(size=p) * 0.8
    b[:n_dead] = -np.abs(a[:n_dead]) * 2 - rng.uniform(0.5, 1.0, size=n_dead)
    b[n_dead:] = np.abs(a[n_dead:]) * 0.5 + rng.uniform(0.2, 0.6, size=p - n_dead)  # alive on some samples at least
    u[:n_dead] = np.sign(u[:n_dead]) * (np.abs(u[:n_dead]) + 0.3)
    order = rng.permutation(p)
    return a[order], b[order], u[order], X, Y


def dead_probes(rng: np.random.Generator, activation: str, alphas: Sequence[float | None]) -> list[Probe]:
    probes = []
    for alpha in alphas:
        a, b, u, X, Y = dead_start(rng)
        kwargs = {"activation": activation} if alpha is None else {"activation": activation, "alpha": alpha}
        shown = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        probes.append(call(SGD, a, b, u, X, Y, 0.02, 4,
                           label=f"two_layer_sgd(a, b, u, X, Y, lr=0.02, epochs=4{shown}) from a start with dead units",
                           **kwargs))
    return probes


def dead_mask(a: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    return (a[:, None] * X[None, :] + b[:, None] < 0).all(axis=1)


def trained(obs, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (a, b, u) a probe returned, as float64 arrays of the input's shape (Mismatch otherwise)."""
    value = obs.value
    p = obs.probe.params["args"][0].shape
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise Mismatch(f"{label} should return the tuple (a, b, u), but it returned {describe(value)}")
    out = []
    for name, v in zip("abu", value):
        arr = as_array(v, what=f"{label}: {name}").astype(np.float64)
        if arr.shape != p:
            raise Mismatch(f"{label}: {name} has shape {tuple(arr.shape)}, expected {p}")
        if not np.isfinite(arr).all():
            raise Mismatch(f"{label}: {name} contains nan or inf, so the run diverged: does every step go downhill, "
                           "(a, b, u) -= lr * gradient?")
        out.append(arr)
    a, b, u = out
    return a, b, u


def _judge_stay_dead(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        a0, b0, u0, X, _ = obs.probe.params["args"][:5]
        label = obs.probe.label
        a1, b1, u1 = trained(obs, label)
        dead = dead_mask(a0, b0, X)
        for name, before, after in (("a", a0, a1), ("b", b0, b1), ("u", u0, u1)):
            moved = dead & ~np.isclose(after, before, rtol=ctx.tol.rtol, atol=ctx.tol.atol)
            if moved.any():
                j = int(np.flatnonzero(moved)[0])
                return Verdict.failed(
                    f"{label}: unit {j} is dead at the start (a_{j} X_i + b_{j} < 0 on every sample), yet its "
                    f"{name}_{j} moved from {before[j]:.6g} to {after[j]:.6g}. With ReLU its gradient is exactly "
                    "0 on every sample (σ(z) = σ'(z) = 0 for z < 0), so SGD must leave it where it is.")
        live = ~dead
        if all(np.allclose(after[live], before[live]) for before, after in ((a0, a1), (b0, b1), (u0, u1))):
            return Verdict.failed(f"{label}: no unit moved, the live ones included: is SGD taking any steps?")
    return Verdict.passed()


CHECKS.add(Check(
    "P6.dead_stay_dead", lambda rng: dead_probes(rng, "relu", [None, None]), _judge_stay_dead,
    hint=("A ReLU unit with a_j X_i + b_j < 0 on every sample has σ = σ' = 0 there: its ga_j, gb_j, gu_j are "
          "exactly 0 on every SGD step (Problem 6), so its parameters never change."),
))
