"""compare.py: precision is judged from the numbers themselves (float32 arithmetic anywhere on the way is
judged at float32 precision, whatever the dtype returned), except on float64_only checks."""
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


float32_errors = arrays(np.float64, 40, elements=st.floats(1.0, 16.0)).map(lambda k: k * 2.0 ** -24)
signs = arrays(np.float64, 40, elements=st.sampled_from([-1.0, 1.0]))


def at_float32_error(expected: np.ndarray, error: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """A float64 answer off by 1 to 16 float32 roundings in every entry (float32 arithmetic on the way)."""
    return expected * (1 + sign[:expected.size] * error[:expected.size])


@given(values, float32_errors, signs)
def test_float64_answers_at_float32_error_pass_on_ordinary_checks_and_say_so(expected, error, sign):
    answer = at_float32_error(expected, error, sign)
    assert answer.dtype == np.float64
    with noting_float32_slack() as slack:
        assert_close(answer, expected, Tolerance(1e-9, 0.0), what="x")
    assert slack == ["x"]


@given(values, float32_errors, signs)
def test_float64_answers_at_float32_error_fail_on_float64_only_checks_saying_why(expected, error, sign):
    with pytest.raises(Mismatch) as info:
        assert_close(at_float32_error(expected, error, sign), expected, Tolerance(1e-9, 0.0, float64_only=True))
    assert str(info.value).endswith("\n" + FLOAT64_REQUIRED)


@given(values, st.integers(0, 39), st.sampled_from([np.float64, np.float32]), st.booleans())
def test_errors_well_above_float32_level_fail_as_before(expected, index, dtype, float64_only):
    wrong = expected.copy()
    wrong[index % wrong.size] += 1e-2 * np.abs(expected).max()
    with noting_float32_slack() as slack, pytest.raises(Mismatch) as info:
        assert_close(wrong.astype(dtype), expected, Tolerance(1e-6, 1e-8, float64_only=float64_only))
    assert "values are not close!" in str(info.value) or " is " in str(info.value)
    assert slack == []
    assert (FLOAT64_REQUIRED in str(info.value)) is (float64_only and dtype is np.float32)


def test_sigmoid_in_float32_times_a_float64_g_passes_at_float32_precision():
    """Issue 16.3: a correct sigmoid_vjp whose sigmoid ran in float32 (then times the float64 g)."""
    x = np.array([-6.3, -4.1, -0.7, 0.2, 1.9, 3.3, 5.8, 7.4])       # 1 - s cancels in float32 at large x
    g = np.random.default_rng(1).normal(size=x.size)
    exact = 1 / (1 + np.exp(-x))
    s32 = (1 / (1 + np.exp(-x.astype(np.float32)))).astype(np.float32)
    answer = (s32 * (1 - s32)).astype(np.float64) * g
    assert answer.dtype == np.float64 and not float32_precision(answer)
    with pytest.raises(Mismatch):
        assert_close(answer, exact * (1 - exact) * g, Tolerance(1e-6, 1e-8, float64_only=True))
    with noting_float32_slack() as slack:
        assert_close(answer, exact * (1 - exact) * g, TOL, what="sigmoid_vjp(x, g)")
    assert slack == ["sigmoid_vjp(x, g)"]


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
