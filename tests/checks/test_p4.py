"""Problem 4 checks: max_derivative away from ties, on more families, and ValueError at a tie."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks import p4
from hw3.checks.p5 import build_fn as p5_build
from grader.outcome import Status
from tests.hw3testing import HW3

P4_IDS = ["P4.max_derivative", "P4.max_derivative.more", "P4.max_derivative.tie"]

# Correct, in other styles: numpy with a tolerance for ties and a ValueError subclass of its own; torch
# tensors in, a tensor out.
NUMPY_STYLE = '''
import numpy as np


class TieError(ValueError):
    """f is not differentiable here (or may not be)."""


def max_derivative(fs, dfs, x):
    values = np.array([f(x) for f in fs], dtype=float)
    top = values.max()
    if np.sum(np.isclose(values, top, rtol=1e-12, atol=1e-12)) > 1:
        raise TieError(f"the maximum {top} is attained more than once at x = {x}")
    return np.float64(dfs[int(np.argmax(values))](x))
'''

TORCH_STYLE = '''
import torch


def max_derivative(fs, dfs, x):
    x = torch.tensor(x, dtype=torch.float64)
    values = torch.stack([torch.as_tensor(f(x), dtype=torch.float64) for f in fs])
    best = torch.argmax(values)
    if (values == values[best]).sum() > 1:
        raise ValueError("tie")
    return dfs[int(best)](x)
'''

# Right values, but a ValueError for ANY two equal values (even below the maximum), and an assert at ties.
TOO_STRICT = '''
def max_derivative(fs, dfs, x):
    values = [f(x) for f in fs]
    if len(set(values)) < len(values):
        raise ValueError("two equal values")
    return dfs[values.index(max(values))](x)
'''

# The maximum value instead of its derivative; a tie is an AssertionError.
VALUE_NOT_DERIVATIVE = '''
def max_derivative(fs, dfs, x):
    values = [f(x) for f in fs]
    assert values.count(max(values)) == 1, "tie"
    return max(values)
'''

# Ignores ties: the first index attaining the maximum.
FIRST_WINS = '''
def max_derivative(fs, dfs, x):
    values = [f(x) for f in fs]
    return dfs[values.index(max(values))](x)
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("p4")
    variants = {"reference": None, "numpy": NUMPY_STYLE, "torch": TORCH_STYLE, "strict": TOO_STRICT,
                "value": VALUE_NOT_DERIVATIVE, "first": FIRST_WINS}
    subs = {name: write_submission(base / name, patch={"gradients": src} if src else None)
            for name, src in variants.items()}
    return {name: grade_checks(folder, rubric, ids=P4_IDS) for name, folder in subs.items()}


@pytest.mark.parametrize("style", ["reference", "numpy", "torch"])
def test_correct_solutions_pass_every_p4_check(outcomes, style):
    for check_id in P4_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


def _judge(check_id: str, probes, returned) -> "Verdict":
    from grader.checks.base import JudgeContext, Observation
    from grader.compare import Tolerance

    observations = [Observation(p, returned=r) for p, r in zip(probes, returned)]
    return HW3.catalog[check_id].judge(JudgeContext(observations, Tolerance(), np.random.default_rng(0), reference=HW3.reference_object))


def test_largest_derivative_is_named():
    """max(df(x) for df in dfs): the judge names it (no child needed: the judge sees only returned values)."""
    for check_id in ("P4.max_derivative", "P4.max_derivative.more"):
        probes = HW3.catalog[check_id].probes(np.random.default_rng(7))
        largest = [max(p5_build(df)(p.params["args"][2]) for df in p.params["args"][1]) for p in probes]
        verdict = _judge(check_id, probes, largest)
        assert verdict.fraction == 0.0
        assert re.match(re.escape("You returned the largest derivative max_i f_i'(x); the derivative of the max is "
                                  "the derivative of the function that attains the maximum value, f_I'(x) with "
                                  "I = argmax_i f_i(x).\nmax_derivative(fs, dfs, ") + r"-?[\d.]+"
                        + re.escape(") with fs = [") + r".+\] is -?[\d.]+, expected -?[\d.]+", verdict.message)


def test_not_raising_at_a_tie(outcomes):
    outcome = outcomes["first"]["P4.max_derivative.tie"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("max_derivative(fs, dfs, ") + r"[\d.]+" + re.escape(") with fs = [")
                     + r".+\] returned -?[\d.]+ instead of raising ValueError at a tie: f_\d and f_\d both attain "
                       r"the maximum -?[\d.]+ at x = [\d.]+, where f need not be differentiable\.",
                     outcome.message), outcome.message
    assert outcome.message.endswith("Hint: " + HW3.catalog["P4.max_derivative.tie"].hint)
    assert outcomes["first"]["P4.max_derivative"].status is Status.PASSED
    assert outcomes["first"]["P4.max_derivative.more"].status is Status.PASSED


def test_the_brief_example_message():
    """|x| at 0 written as max(x, -x), answered with 1/2: the message the handout's reader expects."""
    from grader.checks.base import Observation, JudgeContext
    from grader.compare import Tolerance

    probe = p4.max_call([p4.poly([0, 1]), p4.poly([0, -1])], 0.0, kind="call_catch")
    verdict = HW3.catalog["P4.max_derivative.tie"].judge(
        JudgeContext([Observation(probe, returned={"returned": 0.5})], Tolerance(), np.random.default_rng(0), reference=HW3.reference_object))
    assert verdict.fraction == 0.0
    assert verdict.message == ("max_derivative(fs, dfs, 0) with fs = [x, -x] returned 0.5 instead of raising "
                               "ValueError at a tie: f_0 and f_1 both attain the maximum 0 at x = 0, where f need not "
                               "be differentiable.")


def test_another_exception_at_a_tie(outcomes):
    outcome = outcomes["value"]["P4.max_derivative.tie"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("raised AssertionError: tie (at gradients.py line ") + r"\d+"
                     + re.escape(", in max_derivative) instead of ValueError at a tie."), outcome.message)


def test_value_instead_of_derivative(outcomes):
    outcome = outcomes["value"]["P4.max_derivative"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("You returned the maximum value f(x) = f_I(x) itself, not its derivative f_I'(x).\n"
                               "max_derivative(fs, dfs, "), outcome.message)
    assert outcome.message.endswith("Hint: " + HW3.catalog["P4.max_derivative"].hint)


def test_ties_below_the_maximum_do_not_matter(outcomes):
    result = outcomes["strict"]
    assert result["P4.max_derivative"].status is Status.PASSED
    assert result["P4.max_derivative.tie"].status is Status.PASSED
    more = result["P4.max_derivative.more"]
    assert more.status is Status.FAILED
    assert re.search(r"raised ValueError, but only f_\d attains the maximum -?[\d.]+ at x = -?[\d.]+: equal values "
                     r"below the maximum do not matter\.", more.detail)
    assert more.message == ("This hidden check failed (its inputs and expected values are not shown).\nHint: "
                            + HW3.catalog["P4.max_derivative.more"].hint)


def test_cases_are_well_separated_and_ties_exact():
    """Away from ties the maximum leads by GAP; at the tie probes two values are exactly equal."""
    for check_id in ("P4.max_derivative", "P4.max_derivative.more"):
        for seed in range(5):
            for probe in HW3.catalog[check_id].probes(np.random.default_rng(seed)):
                fs, dfs, x = probe.params["args"]
                values, _ = p4._evaluate(list(zip(fs, dfs)), x)
                ranked = np.sort(values)
                assert ranked[-1] - ranked[-2] >= p4.GAP
    for probe in HW3.catalog["P4.max_derivative.tie"].probes(np.random.default_rng(0)):
        fs, dfs, x = probe.params["args"]
        values, slopes = p4._evaluate(list(zip(fs, dfs)), x)
        winners = np.flatnonzero(values == values.max())
        assert len(winners) == 2 and slopes[winners[0]] != slopes[winners[1]]   # a real kink
