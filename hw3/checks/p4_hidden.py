"""Problem 4: the derivative of a max (`gradients.max_derivative`): its hidden checks.

The autograder runs them; the student kit ships p4.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, Probe

from .p4 import _evaluate, _judge_values, _separated_case, max_call

CHECKS = CheckList(__name__)


def _more_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for n, families, span in ((3, ("wave",), 3.0), (4, ("growth", "poly"), 2.0), (6, ("poly", "wave", "growth"), 4.0),
                              (8, ("poly", "wave", "growth"), 3.0)):
        pairs, x = _separated_case(rng, n, families, span)
        probes.append(max_call(pairs, x))
    pairs, x = _separated_case(rng, 5, ("poly", "wave"), 3.0, argmax_last=True)
    probes.append(max_call(pairs, x))
    # A tie *below* the maximum (the smallest f_i twice): the maximum is still attained once.
    pairs, x = _separated_case(rng, 4, ("poly", "wave", "growth"), 2.0)
    values, _ = _evaluate(pairs, x)
    probes.append(max_call(pairs + [pairs[int(np.argmin(values))]], x))
    return probes


CHECKS.add(Check(
    "P4.max_derivative.more", _more_probes, _judge_values,
    hint=("Any differentiable f_i can come in (sin, exp, polynomials, any number of them): return dfs[I](x) for "
          "the index I of the largest value, and raise ValueError only when that largest value is attained twice."),
))
