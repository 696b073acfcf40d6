"""Problem 7: leaky ReLU (`activations.leaky_relu`; `two_layer_grad` / `two_layer_sgd` with "leaky_relu")."""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList
from grader.checks.elementwise import Case, elementwise_check, matches, shaped_inputs
from .p6 import grad_probes, judge_grads, judge_sgd, sgd_probes

CHECKS = CheckList(__name__)


def _leaky_cases(rng: np.random.Generator):
    cases: list[Case] = [("activations.leaky_relu", (z,), {}) for z in shaped_inputs(rng, 3.0, zeros=True)]
    wide = np.concatenate([rng.normal(size=6) * 3, [-1e4, -1.0, 0.0, 1.0, 1e4]])
    cases += [("activations.leaky_relu", (z, 0.2), {}) for z in (wide, rng.normal(size=(2, 5)) * 3)]
    return cases


def _positive_side(args, kwargs, actual, expected):
    z = np.asarray(args[0], dtype=np.float64)
    alpha = args[1] if len(args) > 1 else 0.01
    if matches(actual, np.where(z >= 0, alpha * z, z)):
        return ("The slope alpha belongs to the negative side: leaky_relu(z) = z for z >= 0 and alpha z for "
                "z < 0.")
    return None


def _alpha_ignored(args, kwargs, actual, expected):
    z = np.asarray(args[0], dtype=np.float64)
    if len(args) > 1 and args[1] != 0.01 and matches(actual, np.where(z >= 0, z, 0.01 * z)):
        return f"Use the alpha argument (here {args[1]:g}) instead of the default 0.01."
    return None


def _is_relu(args, kwargs, actual, expected):
    if matches(actual, np.maximum(np.asarray(args[0], dtype=np.float64), 0.0)):
        return "This is the ReLU: for z < 0 leaky_relu(z) = alpha z, not 0."
    return None


CHECKS.add(elementwise_check(
    "P7.leaky_relu", _leaky_cases,
    hint="leaky_relu(z, alpha) = z for z >= 0 and alpha * z for z < 0, elementwise, for any alpha (default 0.01).",
    diagnoses={"leaky_relu": [_positive_side, _alpha_ignored, _is_relu]},
))

CHECKS.add(Check(
    "P7.two_layer_grad.leaky",
    lambda rng: grad_probes(rng, [{"activation": "leaky_relu"}, {"activation": "leaky_relu"},
                                  {"activation": "leaky_relu", "alpha": 0.1},
                                  {"activation": "leaky_relu", "alpha": 0.25}]),
    judge_grads,
    hint=("The leaky ReLU has σ(z) = z, σ'(z) = 1 for z >= 0 and σ(z) = alpha z, σ'(z) = alpha for z < 0: "
          "gu = r σ(z), gb = r u σ'(z), ga = gb x with r = f(x) - y."),
))

CHECKS.add(Check(
    "P7.two_layer_sgd.leaky",
    lambda rng: sgd_probes(rng, [(1, 5, 0.05, {"activation": "leaky_relu"}),
                                 (4, 3, 0.03, {"activation": "leaky_relu", "alpha": 0.2})], "call"),
    judge_sgd,
    hint=("Same SGD as with ReLU, one sample a step and a fresh permutation each epoch, with the leaky ReLU's "
          "gradient (slope alpha for z < 0) when activation=\"leaky_relu\"."),
))
