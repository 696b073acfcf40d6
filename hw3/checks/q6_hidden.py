"""Question 6: true 1-D convolution with numpy.convolve's modes (`convolution.py`): its hidden checks.

The autograder runs them; the student kit ships q6.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, Probe

from .q6 import CONV_HINT, MODES, _judge_conv, conv_call

CHECKS = CheckList(__name__)


def _edge_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for n, m in ((7, 2), (10, 4), (3, 6), (4, 7), (1, 3), (5, 5)):
        x, k = np.round(rng.normal(size=n) * 3, 1), np.round(rng.normal(size=m) * 3, 1)
        probes += [conv_call(x, k, mode) for mode in MODES]
    return probes


CHECKS.add(Check("Q6.conv1d.edge", _edge_probes, _judge_conv(partial=False), hint=CONV_HINT))
