"""Problem 2: p >> N (`threelayerSGD.py`): the parameter count, and training on noisy labels.

Probes are in `hw3/probes/training.py` (``p2_count_params``, ``p1_fit``).
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict
from .p1 import MODULE, FitSpec, fit_judge, fit_probes
from grader.compare import Mismatch, check_integer

CHECKS = CheckList(__name__)

MLP_PARAMS = (1 * 64 + 64) + (64 * 64 + 64) + (64 * 1 + 1)   # 4353

TENSORS = {"mlp": 6, "linear_3_5": 2, "sequential": 4, "no_bias": 1, "conv": 2, "frozen_layer": 4, "frozen_bias": 2}


def _count_probe(model: str, shown: str) -> Probe:
    return Probe("p2_count_params", {"model": model}, MODULE, f"count_params({shown})")


def _explain(model: str, value, expected: int, with_frozen: int) -> str:
    try:
        v = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        return ""
    if v == TENSORS.get(model) and v != expected:
        return (" That is the number of parameter tensors; count their entries: "
                "sum(p.numel() for p in model.parameters() if p.requires_grad).")
    if v == with_frozen != expected:
        return " It counts frozen parameters too: count only those with p.requires_grad."
    return ""


def _judge_counts(expected: dict[str, tuple[str, int, int]]):
    def judge(ctx: JudgeContext) -> Verdict:
        for obs in ctx.observations:
            model = obs.probe.params["model"]
            _, count, with_frozen = expected[model]
            value = obs.value
            try:
                check_integer(value, count, obs.probe.label)
            except Mismatch as exc:
                return Verdict.failed(str(exc) + _explain(model, value, count, with_frozen))
        return Verdict.passed()
    return judge


CHECKS.add(Check(
    "P2.count_params", lambda rng: [_count_probe("mlp", "MLP()")],
    _judge_counts({"mlp": ("MLP()", MLP_PARAMS, MLP_PARAMS)}),
    hint="p = (1*64 + 64) + (64*64 + 64) + (64*1 + 1): weights and biases of every layer, "
         "sum(p.numel() for p in model.parameters() if p.requires_grad).",
))


# The same rule as P1.fit (hw3/checks/p1.py, FIT_RMSE and FIT_RUNS): measured with noise 0.5 too. Judged,
# as P1.fit, on the trained parameters of l1, l2, l3 evaluated in this process as the contract's MLP.
P2_FIT = FitSpec(0.5, "Problem 2 (labels with noise 0.5)")

CHECKS.add(Check(
    "P2.noisy_fit", fit_probes(P2_FIT), fit_judge(P2_FIT),
    hint="Train on make_data(noise_std=0.5) exactly as in Problem 1 (initialize, then train with its defaults).",
))
