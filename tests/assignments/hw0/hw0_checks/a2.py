"""Exercise 2: the mean against the reference; ANSWER against the reference's value."""
from __future__ import annotations

import numpy as np

from grader.checks.base import Check, judge_each, reference, register, same_as_reference, value_of

same_as_reference("A2.mean", "stats.mean", lambda rng: [(rng.normal(size=n),) for n in (1, 2, 30)],
                  hint="mean(x) = sum(x) / n, with n the number of entries.")


def _answer_hint(message, obs, expected):
    return message + "\nThe variance is E[X^2] - E[X]^2 over the six faces, each with probability 1/6."


register(Check("A2.answer", lambda rng: [value_of("stats.ANSWER")],
               lambda ctx: judge_each(ctx, lambda obs: np.float64(reference("stats.ANSWER")), msg=_answer_hint),
               hint="Write the number itself (a float), not code that prints it."))
