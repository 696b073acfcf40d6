"""Exercise 2: the mean against the reference; ANSWER against the reference's value."""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, CheckList, judge_each, same_as_reference, value_of

CHECKS = CheckList(__name__)

CHECKS.add(same_as_reference("A2.mean", "stats.mean", lambda rng: [(rng.normal(size=n),) for n in (1, 2, 30)],
                             hint="mean(x) = sum(x) / n, with n the number of entries."))


def _answer_hint(message, obs, expected):
    return message + "\nThe variance is E[X^2] - E[X]^2 over the six faces, each with probability 1/6."


CHECKS.add(Check("A2.answer", lambda rng: [value_of("stats.ANSWER")],
                 lambda ctx: judge_each(ctx, lambda obs: np.float64(ctx.reference("stats.ANSWER")), msg=_answer_hint),
                 hint="Write the number itself (a float), not code that prints it."))
