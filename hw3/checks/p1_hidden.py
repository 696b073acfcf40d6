"""Problem 1: the 3-layer MLP that fits f_true (`threelayerSGD.py`): its hidden checks.

The autograder runs them; the student kit ships p1.py, never this file.
"""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Verdict

from .p1 import BIAS, PARAM_NAMES, TrainSetup, _no_model_calls, _unrecorded, train_probe, train_record, unflatten

CHECKS = CheckList(__name__)


NO_REINIT_SETUP = TrainSetup(100, 32, 1, 0.03)


def _judge_no_reinit(ctx: JudgeContext) -> Verdict:
    rec = train_record(ctx.observations[0])
    problem = _no_model_calls(rec)
    if problem:
        return Verdict.failed(problem)
    first = rec.snapshot(rec.steps[0])      # the parameters when the first batch arrived
    if first is None:
        return Verdict.failed(_unrecorded(rec, 0))
    if not np.array_equal(first, rec.init):
        bias = np.concatenate([unflatten(first)[n].reshape(-1) for n in PARAM_NAMES if n.endswith("bias")])
        if np.all(np.abs(bias - BIAS) <= 1e-7):
            return Verdict.failed(f"{rec.setup.call}: when the first batch arrived every bias was 0.03, not the "
                                  "value the model came with: train re-initialized the model. Call initialize() "
                                  "before train, never inside it.")
        return Verdict.failed(f"{rec.setup.call}: the parameters changed before the first SGD step: train must "
                              "continue from the parameters the model has.")
    if np.array_equal(rec.final, rec.init):
        return Verdict.failed(f"{rec.setup.call}: the model it was given still has its initial parameters "
                              "afterwards: train `model` in place, not a copy.")
    return Verdict.passed()


CHECKS.add(Check(
    "P1.train.no_reinit", lambda rng: [train_probe(rng, NO_REINIT_SETUP)], _judge_no_reinit,
    hint="train continues from the parameters the model already has: call initialize(model) before train, "
         "never inside it, and train `model` itself.",
))
