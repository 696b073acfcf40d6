"""Problem 5: activations, softplus', a Lipschitz estimate, mlp_forward, sigmoid <-> tanh MLPs (`activations.py`): its
hidden checks.

The autograder runs them; the student kit ships p5.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, Probe
from grader.checks.elementwise import elementwise_check, extreme_inputs

from ._conversions import SIG2TANH, TANH2SIG, conversion_call, judge_conversions
from .p5 import ACTIVATIONS, P5_DIAGNOSES, _widths

CHECKS = CheckList(__name__)


CHECKS.add(elementwise_check(
    "P5.activations.extreme",
    lambda rng: [(f"activations.{name}", (z,), {}) for name in ACTIVATIONS + ("softplus_derivative",)
                 for z in extreme_inputs(rng)],
    hint=("softplus(z) = log(1 + exp(z)) overflows for z near 1e3: use log1p(exp(-|z|)) + max(z, 0); likewise "
          "sigmoid and tanh must only ever exponentiate -|z| (or use torch.sigmoid, torch.tanh), "
          "so that |z| up to 1e4 gives finite, accurate values (softplus(1e4) == 1e4)."),
    diagnoses=P5_DIAGNOSES,
))


def _deep_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for target in (SIG2TANH, TANH2SIG):
        for L in (5, 5, 4):
            probes.append(conversion_call(target, rng, _widths(rng, L, lo=1, hi=8, hidden_lo=1)))
    return probes


CHECKS.add(Check(
    "P5.conversions.deep", _deep_probes, judge_conversions,
    hint=("Both conversions must work for any L >= 2 and any widths: every hidden layer's offset goes into the "
          "next layer's bias, and a middle layer both rescales its own pre-activation and reads the previous "
          "layer's rescaled, shifted output."),
))
