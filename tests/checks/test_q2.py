"""Question 2 checks: softmax, Jacobians, VJPs (small and at n = 10^6)."""
from __future__ import annotations

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor
import time

import numpy as np
import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks.q2 import VJP_HINT, expected_large
from grader.outcome import Status
from grader.runner import grade
from tests.hw3testing import HW3

Q2_IDS = ["Q2.softmax", "Q2.softmax.extreme", "Q2.softmax_jacobian", "Q2.sigmoid_jacobian",
          "Q2.softmax_vjp", "Q2.sigmoid_vjp", "Q2.vjp_large"]

NUMPY_STYLE = '''
import numpy as np


def softmax(x, dim=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def softmax_jacobian(x):
    s = softmax(x)
    return (np.diag(s) - np.outer(s, s)).tolist()          # nested lists are accepted


def sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def sigmoid_jacobian(x):
    s = sigmoid(x)
    return np.diag(s * (1 - s))


def softmax_vjp(x, g):
    s = softmax(x)
    g = np.asarray(g)
    return s * g - s * np.dot(s, g)


def sigmoid_vjp(x, g):
    s = sigmoid(x)
    return s * (1 - s) * np.asarray(g)
'''

BUGGY = '''
def softmax(x, dim=-1):                       # naive: exp(1e4) = inf, inf / inf = nan
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def sigmoid_jacobian(x):                      # the diagonal only, not the (n, n) matrix
    s = torch.sigmoid(x)
    return s * (1 - s)


def softmax_vjp(x, g):                        # O(n^2): builds the n x n Jacobian
    return softmax_jacobian(x).T @ g


def sigmoid_vjp(x, g):
    s = torch.sigmoid(x)
    return torch.diag(s * (1 - s)) @ g
'''

BUGGY_2 = '''
def softmax(x, dim=-1):                       # ignores dim
    return torch.softmax(torch.as_tensor(x), -1)


def sigmoid_vjp(x, g):                        # right values, shape (n, 1)
    s = torch.sigmoid(x)
    return (s * (1 - s) * g).reshape(-1, 1)


def softmax_vjp(x, g):                        # forgets the - (s . g) term
    return softmax(x) * g
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    """Every Q2 check on the reference, a numpy-style solution and two buggy ones (one child each)."""
    base = tmp_path_factory.mktemp("q2")
    subs = {
        "reference": write_submission(base / "reference"),
        "numpy": write_submission(base / "numpy", replace={"softmax": NUMPY_STYLE}),
        "buggy": write_submission(base / "buggy", patch={"softmax": BUGGY}),
        "buggy2": write_submission(base / "buggy2", patch={"softmax": BUGGY_2}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:                 # one child each, side by side
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q2_IDS) for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "numpy"])
def test_correct_solutions_pass_every_q2_check(outcomes, style):
    for check_id in Q2_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (check_id, outcome.detail)
        assert outcome.score == outcome.max_score


def test_large_vjps_report_their_time(outcomes):
    message = outcomes["reference"]["Q2.vjp_large"].message
    assert re.search(r"At n = 10\^6: softmax_vjp took [\d.]+ s, peak memory \d+ MB; sigmoid_vjp took [\d.]+ s, "
                     r"peak memory \d+ MB \(x and g included: 15 MB\)\.", message)


def test_naive_softmax_is_nan_on_large_logits(outcomes):
    result = outcomes["buggy"]
    assert result["Q2.softmax"].status is Status.PASSED           # moderate logits are fine
    extreme = result["Q2.softmax.extreme"]
    assert extreme.status is Status.FAILED
    assert re.search(re.escape("The result has nan: exp of a large logit overflowed (inf / inf)."), extreme.detail)
    # hidden: the student sees no inputs, only the hint
    assert "1e+04" not in extreme.message and "softmax(" not in extreme.message
    assert re.escape("subtract the largest logit along dim before exp") in re.escape(extreme.message)


def test_jacobian_must_be_a_matrix(outcomes):
    outcome = outcomes["buggy"]["Q2.sigmoid_jacobian"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("has shape (4,), expected shape (4, 4)"), outcome.message)


def test_vjp_building_the_jacobian_fails_fast_at_large_n(outcomes):
    result = outcomes["buggy"]
    assert result["Q2.softmax_vjp"].status is Status.PASSED        # right at small n
    assert result["Q2.sigmoid_vjp"].status is Status.PASSED
    large = result["Q2.vjp_large"]
    assert large.status is Status.ERROR, large.detail
    assert re.search(r"softmax_vjp\(x, g\) with n = 10\^6 raised (RuntimeError|MemoryError)", large.message)
    assert "n x n matrix where a vector suffices" in large.message   # out of memory, explained
    assert large.message.endswith("Hint: " + VJP_HINT)
    assert large.duration < 30                                      # the allocation fails at once


def test_softmax_must_follow_dim(outcomes):
    outcome = outcomes["buggy2"]["Q2.softmax"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("It normalised along the last dimension: with dim=0 every slice along dim 0 "
                               "must sum to 1."), outcome.message)


def test_vjp_shape_and_missing_term(outcomes):
    result = outcomes["buggy2"]
    assert result["Q2.softmax_vjp"].status is Status.FAILED
    assert result["Q2.sigmoid_vjp"].status is Status.FAILED
    large = result["Q2.vjp_large"]
    assert large.status is Status.FAILED
    assert re.search(re.escape("softmax_vjp(x, g) with n = 10^6, at ") + r"\d+" + re.escape(" sampled entries,: "
                     "values are not close!"), large.message)
    assert re.search(re.escape("sigmoid_vjp(x, g) with n = 10^6 returned torch.Tensor of shape (1000000, 1), "
                               "expected shape (1000000,) like x."), large.message)


def test_quadratic_time_vjp_times_out(tmp_path, rubric):
    """O(n) memory but a Python loop per entry: stopped at the probe's time limit (shortened here)."""
    folder = write_submission(tmp_path / "s", patch={"softmax": '''
        def softmax_vjp(x, g):
            s = softmax(x)
            return torch.stack([s[i] * (g[i] - torch.dot(s, g)) for i in range(len(x))])
    '''})
    entry = dataclasses.replace(rubric.entry("Q2.vjp_large"), timeout=3)
    started = time.monotonic()
    result = grade(folder, HW3, rubric=rubric, entries=[entry])
    outcome = result.outcomes[0]
    assert outcome.status is Status.TIMEOUT
    assert "did not finish within 3 s" in outcome.message and outcome.message.endswith("Hint: " + VJP_HINT)
    assert time.monotonic() - started < 30


def test_expected_large_matches_a_direct_computation():
    """The chunked closed form agrees with the plain formula on a size that fits (n = 3 * 10^6 + 17)."""
    n = 3 * 10**6 + 17
    picks = np.array([0, 5, 123456, n - 1])
    params = {"n": n, "x": {"a": 1.3, "b": 0.2, "amp": 5.0}, "g": {"c": 0.9, "d": 0.7}, "indices": picks}
    i = np.arange(n, dtype=np.float64)
    x, g = np.sin(i * 1.3 + 0.2) * 5.0, np.cos(i * 0.9) + 0.7
    s = np.exp(x - x.max())
    s /= s.sum()
    soft = s * (g - s @ g)
    sig = 1 / (1 + np.exp(-x))
    sigm = sig * (1 - sig) * g
    got = expected_large({**params, "target": "softmax.softmax_vjp"})
    np.testing.assert_allclose(got["values"], soft[picks], rtol=1e-10)
    assert abs(got["sum"] - soft.sum()) < 1e-12 and got["l1"] == pytest.approx(np.abs(soft).sum(), rel=1e-10)
    got = expected_large({**params, "target": "softmax.sigmoid_vjp"})
    np.testing.assert_allclose(got["values"], sigm[picks], rtol=1e-10)
    assert got["sum"] == pytest.approx(sigm.sum(), rel=1e-10)


def test_large_vjps_get_a_child_of_their_own(tmp_path, rubric):
    """Memory that an earlier check left behind in the shared child never fails the large-n VJPs."""
    hoard = '''
_HOARD = []
_softmax = softmax


def softmax(x, dim=-1):
    import numpy
    _HOARD.append(numpy.ones(45 * 2**20 // 8 * 8))   # 360 MB kept alive in the child
    return _softmax(x, dim)
'''
    folder = write_submission(tmp_path / "hoarder", patch={"softmax": hoard})
    outcomes = grade_checks(folder, rubric, ["Q2.softmax", "Q2.vjp_large"])
    assert outcomes["Q2.vjp_large"].status is Status.PASSED, outcomes["Q2.vjp_large"].message


def test_o_n_vjps_with_twenty_live_temporaries_pass(tmp_path, rubric):
    """The check tells O(n) from O(n^2); it does not grade the number of temporaries (HOMEWORK.md)."""
    folder = write_submission(tmp_path / "temporaries", patch={"softmax": '''
import numpy as np


def sigmoid_vjp(x, g):
    x, g = np.asarray(x, dtype=np.float64), np.asarray(g, dtype=np.float64)
    kept = [x * (i + 1) for i in range(17)]          # 17 live copies, plus e, s and the result
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return s * (1 - s) * g + 0 * kept[0]


def softmax_vjp(x, g):
    x, g = np.asarray(x, dtype=np.float64), np.asarray(g, dtype=np.float64)
    kept = [x + i for i in range(17)]
    z = x - x.max()
    e = np.exp(z)
    s = e / e.sum()
    return s * (g - s @ g) + 0 * kept[0]
'''})
    outcome = grade_checks(folder, rubric, ["Q2.vjp_large"])["Q2.vjp_large"]
    assert outcome.status is Status.PASSED, outcome.message
