"""Problem 7: leaky ReLU (`activations.leaky_relu`; `two_layer_grad` / `two_layer_sgd` with "leaky_relu"): its hidden
checks.

The autograder runs them; the student kit ships p7.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Verdict

from .p6_hidden import dead_mask, dead_probes, trained

CHECKS = CheckList(__name__)


MOVED = 1e-6       # a unit "moves" when a_j and b_j change by more than this (the runs move them by ~1e-3)


def _judge_dead_move(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        a0, b0, u0, X, _ = obs.probe.params["args"][:5]
        label = obs.probe.label
        a1, b1, _ = trained(obs, label)
        for j in np.flatnonzero(dead_mask(a0, b0, X)):
            for name, before, after in (("a", a0, a1), ("b", b0, b1)):
                if not abs(after[j] - before[j]) > MOVED:
                    return Verdict.failed(
                        f"{label}: unit {j} is dead under ReLU at the start (a_{j} X_i + b_{j} < 0 on every sample), "
                        f"and with leaky ReLU its {name}_{j} still did not move ({before[j]:.6g} -> {after[j]:.6g}). "
                        f"With leaky ReLU σ'(z) = alpha > 0 for z < 0, so gb_{j} = r u_{j} alpha is not 0.")
    return Verdict.passed()


CHECKS.add(Check(
    "P7.dead_units_move", lambda rng: dead_probes(rng, "leaky_relu", [None, 0.1]), _judge_dead_move,
    hint=("Under leaky ReLU a unit with a_j x + b_j < 0 still has slope alpha: its gradient gb_j = r u_j alpha "
          "is not 0, so SGD moves a_j and b_j (Problem 7), unlike with ReLU."),
))
