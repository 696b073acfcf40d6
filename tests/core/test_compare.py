"""compare.py: the tolerance follows the dtype the student chose, decided from the numbers themselves."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grader.compare import Mismatch, Tolerance, assert_close, float32_precision, noting_float32_slack
from grader.messages import FLOAT64_REQUIRED
from grader.probes.wire import TorchArray

TOL = Tolerance(1e-6, 1e-8, float32_rtol=1e-4)
values = arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3))


def as_float32(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32)


@given(values)
def test_a_float32_rounding_of_the_answer_passes(expected):
    with noting_float32_slack() as slack:
        assert_close(as_float32(expected), expected, TOL)
        assert_close([float(v) for v in as_float32(expected)], expected, TOL)   # .item() of each entry
    assert all("the result" in what for what in slack)


@given(values, st.integers(0, 39))
def test_a_float32_answer_wrong_beyond_float32_precision_fails(expected, index):
    wrong = expected.copy()
    index %= wrong.size
    wrong[index] += 1e-3 * np.abs(expected).max() * np.sign(wrong[index] or 1.0)
    with pytest.raises(Mismatch):
        assert_close(as_float32(wrong), expected, TOL)


@given(values)
def test_float64_answers_get_no_float32_slack(expected):
    off = expected * (1 + 1e-5)     # the error a float32 pipeline makes, but in a float64 answer
    with pytest.raises(Mismatch):
        assert_close(off, expected, TOL)


def test_float64_only_checks_give_no_slack_and_say_why():
    expected = np.array([0.1, 0.7, 1.3])
    strict = Tolerance(1e-9, 0.0, float64_only=True)
    with pytest.raises(Mismatch) as info:
        assert_close(expected.astype(np.float32), expected, strict)
    assert FLOAT64_REQUIRED in str(info.value)
    with pytest.raises(Mismatch) as info:
        assert_close(expected * (1 + 1e-6), expected, strict)    # a float64 answer that is wrong is just wrong
    assert FLOAT64_REQUIRED not in str(info.value)


def test_slack_is_noted_only_when_it_was_needed():
    expected = np.array([0.25, 0.5, 3.0])
    with noting_float32_slack() as slack:
        assert_close(expected.astype(np.float32), expected, TOL)      # exact in float32: no slack needed
    assert slack == []
    third = np.array([1 / 3])
    with noting_float32_slack() as slack:         # a few float32 roundings off: within 1e-4, beyond 1e-6
        assert_close((third * (1 + 1e-5)).astype(np.float32), third, TOL, what="x")
    assert slack == ["x"]


@pytest.mark.parametrize("value, low", [
    (np.float32(0.1), True),
    (float(np.float32(0.1)), True),                         # .item() of a float32 result
    (0.1, False),
    (np.array([0.0, 0.5, 1.0, 4353.0]), False),              # exact everywhere: nothing says float32
    (np.full(3, 0.1, dtype=np.float32).view(TorchArray), True),
    ((np.ones(2), [float(np.float32(2 / 3))]), True),
    ({"W": np.float64(2 / 3)}, False),
    (np.array([1, 2, 3]), False),
    ("0.1", False),
    (None, False),
])
def test_float32_precision_is_read_from_the_numbers(value, low):
    assert float32_precision(value) is low


def test_float64_results_are_not_mistaken_for_float32():
    """A value computed in float64 is float32-exact with probability ~2^-29."""
    computed = np.exp(np.random.default_rng(0).normal(size=10_000))
    assert not any(float32_precision(v) for v in computed)
    assert float32_precision(computed.astype(np.float32).astype(np.float64))
