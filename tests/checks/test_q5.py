"""Question 5 checks: the matrix M and the two exact interpolators (any exact construction passes)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from tests.hw3testing import grade_checks, write_submission
from hw3.checks.q5 import RELU_HINT, check_interpolator
from hw3.checks.q5_hidden import hard_samples
from grader.compare import Tolerance
from grader.messages import FLOAT64_REQUIRED
from grader.outcome import Status
from reference.interpolation import relu_interpolator, sigmoid_interpolator

Q5_IDS = ["Q5.interpolation_matrix", "Q5.relu_interpolator", "Q5.relu_interpolator.hard",
          "Q5.sigmoid_interpolator", "Q5.sigmoid_interpolator.hard"]

# Another construction in numpy: samples sorted in *decreasing* order of projection (as in
# the seed answer), an epsilon of its own for every unit (half the gap below it), M upper
# triangular, solved by least squares; sigmoid: Question 5.4 with u scaled to gaps >= 1.
OTHER_STYLE = '''
import numpy as np
import torch


def interpolation_matrix(X, w, b1, phi):
    X, w, b1 = np.asarray(X), np.asarray(w), np.asarray(b1)
    Z = np.add.outer(X @ w, b1)
    hidden = phi(torch.from_numpy(Z)).numpy()
    return np.hstack([hidden, np.ones((X.shape[0], 1))])


def _best_direction(X):
    rng = np.random.default_rng(1)
    best, best_gap = None, -1.0
    for u in rng.normal(size=(200, X.shape[1])):
        u = u / np.linalg.norm(u)
        gap = np.diff(np.sort(X @ u)).min() if len(X) > 1 else 1.0
        if gap > best_gap:
            best, best_gap = u, gap
    return best, best_gap


def relu_interpolator(X, F):
    X, F = np.asarray(X), np.asarray(F)
    N = X.shape[0]
    u, _ = _best_direction(X)
    p = X @ u
    ps = np.sort(p)[::-1]                                  # decreasing
    eps = (ps[:-1] - ps[1:]) / 2                           # one epsilon per unit
    b1 = -ps[:-1] + eps
    M = interpolation_matrix(X, u, b1, torch.relu)
    V = np.linalg.lstsq(M, F, rcond=None)[0]
    return np.tile(u, (N - 1, 1)), b1, V[:-1].T, V[-1]


def sigmoid_interpolator(X, F, lam=50.0):
    X, F = torch.as_tensor(X), torch.as_tensor(F)
    N = X.shape[0]
    u, gap = _best_direction(X.numpy())
    u = torch.from_numpy(u / gap)
    ps = torch.sort(X @ u).values
    w, b1 = lam * u, -lam * ps[:-1]                        # kinks at all but the largest
    M = torch.from_numpy(interpolation_matrix(X, w, b1, torch.sigmoid))
    V = torch.linalg.lstsq(M, F).solution
    return [w.repeat(N - 1, 1).tolist(), b1.tolist(), V[:-1].T.tolist(), V[-1].tolist()]
'''

BUGGY = '''
def interpolation_matrix(X, w, b1, phi):      # forgets the column of ones
    return phi((X @ w)[:, None] + b1[None, :])


def relu_interpolator(X, F):                  # Question 5.3 with one epsilon shared by every unit
    u = _direction(X)
    p = X @ u
    ps = torch.sort(p, descending=True).values
    eps = float((ps[:-1] - ps[1:]).min()) / 2
    b1 = -ps[:-1] + eps
    M = torch.cat([torch.relu(p[:, None] + b1[None, :]), torch.ones(len(p), 1, dtype=X.dtype)], 1)
    V = torch.linalg.solve(M, F)
    return u.repeat(len(p) - 1, 1), b1, V[:-1].T, V[-1]


def sigmoid_interpolator(X, F, lam=50.0):    # a unit u, and the limit lam -> oo of M instead of M
    u = _direction(X)
    p = X @ u
    ps = torch.sort(p).values
    w, b1 = lam * u, -lam * ps[1:]
    z = lam * p[:, None] + b1[None, :]
    M_limit = torch.where(z > 0, 1.0, torch.where(z < 0, 0.0, 0.5)).to(X.dtype)
    M = torch.cat([M_limit, torch.ones(len(p), 1, dtype=X.dtype)], 1)
    V = torch.linalg.solve(M, F)
    return w.repeat(len(p) - 1, 1), b1, V[:-1].T, V[-1]
'''

BUGGY_2 = '''
_reference_relu_interpolator = relu_interpolator


def relu_interpolator(X, F):                  # exact, but every unit has its own scale: rows differ
    W1, b1, W2, b2 = _reference_relu_interpolator(X, F)
    scale = torch.arange(1, W1.shape[0] + 1, dtype=W1.dtype)
    return W1 * scale[:, None], b1 * scale, W2 / scale, b2


_reference_sigmoid_interpolator = sigmoid_interpolator


def sigmoid_interpolator(X, F, lam=50.0):    # W2 as (N - 1, m)
    W1, b1, W2, b2 = _reference_sigmoid_interpolator(X, F, lam)
    return W1, b1, W2.T, b2


'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q5")
    subs = {
        "reference": write_submission(base / "reference"),
        "other": write_submission(base / "other", patch={"interpolation": OTHER_STYLE}),
        "buggy": write_submission(base / "buggy", patch={"interpolation": BUGGY}),
        "buggy2": write_submission(base / "buggy2", patch={"interpolation": BUGGY_2}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:                 # one child each, side by side
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q5_IDS) for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "other"])
def test_correct_constructions_pass(outcomes, style):
    for check_id in Q5_IDS:
        outcome = outcomes[style][check_id]
        assert outcome.status is Status.PASSED, (style, check_id, outcome.detail)


def test_matrix_needs_the_ones_column(outcomes):
    outcome = outcomes["buggy"]["Q5.interpolation_matrix"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("The last column of ones is missing: it multiplies b2 in M [W2, b2]^T = F."),
                     outcome.message)


def test_shared_epsilon_fails_only_on_the_hard_samples(outcomes):
    result = outcomes["buggy"]
    assert result["Q5.relu_interpolator"].status is Status.PASSED
    hard = result["Q5.relu_interpolator.hard"]
    assert hard.status is Status.FAILED
    assert re.search(re.escape("relu_interpolator(X, F) on 20 samples in R^3: the network misses sample ") + r"\d+"
                     + re.escape(" by ") + r"\d\.\de-?\d+" + re.escape(" (relative to max|F|): a tiny epsilon makes M "
                                                                        "badly conditioned."), hard.detail)
    assert "misses sample" not in hard.message and hard.message.endswith("Hint: " + RELU_HINT)   # hidden


def test_shapes_are_named(outcomes):
    outcome = outcomes["buggy2"]["Q5.sigmoid_interpolator"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("sigmoid_interpolator(X, F) on 6 samples in R^3: W2 has shape (5, 2), expected (2, 5) "
                               "(N = 6 samples in R^3, F in R^2: N - 1 = 5 hidden units)."), outcome.message)


def test_rows_of_w1_must_be_identical(outcomes):
    outcome = outcomes["buggy2"]["Q5.relu_interpolator"]
    assert outcome.status is Status.FAILED
    assert re.search(re.escape("The rows of W1 are not all the same: Question 5.2 restricts W1 to [w, ..., w]^T."),
                     outcome.message)


def test_limit_matrix_is_not_exact(outcomes):
    result = outcomes["buggy"]
    for check_id in ("Q5.sigmoid_interpolator", "Q5.sigmoid_interpolator.hard"):
        assert result[check_id].status is Status.FAILED
    assert re.search(re.escape(": the network misses sample ") + r"\d+ by [\d.e-]+"
                     + re.escape(" (relative to max|F|): M is only nearly triangular at finite lam"),
                     result["Q5.sigmoid_interpolator"].message)


def test_judge_of_interpolators_directly():
    """The property judge on hand-made answers (no child): exact passes, near misses are named."""
    rng = np.random.default_rng(5)
    X, F = hard_samples(rng)
    strict = Tolerance(1e-6, float64_only=True)
    W1, b1, W2, b2 = (t.numpy() for t in relu_interpolator(torch.from_numpy(X), torch.from_numpy(F)))
    assert check_interpolator((W1, b1, W2, b2), X, F, "relu", strict) == ""
    off = b2 + 1e-3 * np.abs(F).max()
    assert re.fullmatch(r"the network misses sample \d+ by 1\.0e-3 \(relative to max\|F\|\)",
                        check_interpolator((W1, b1, W2, off), X, F, "relu", strict))
    near = b2 + 1e-5 * np.abs(F).max()                          # float32's level: float64 is what is missing
    assert check_interpolator((W1, b1, W2, near), X, F, "relu", strict).endswith(f"\n{FLOAT64_REQUIRED}")
    assert check_interpolator((W1, b1, W2, near), X, F, "relu", Tolerance(1e-6)) == ""
    assert check_interpolator((W1, b1, W2), X, F, "relu", strict).startswith("It should return the tuple (W1, b1, W2, b2)")
    assert check_interpolator((W1, b1, W2 * np.nan, b2), X, F, "relu", strict) == "The weights contain nan or inf."
    sig = tuple(t.numpy() for t in sigmoid_interpolator(torch.from_numpy(X), torch.from_numpy(F)))
    assert check_interpolator(sig, X, F, "sigmoid", strict) == ""
    assert check_interpolator(sig, X, F, "relu", strict).startswith("the network misses")


def test_hard_samples_are_as_the_contract_says():
    for seed in range(20):
        u = np.random.default_rng(seed).normal(size=3)        # hard_samples draws its direction first
        X, F = hard_samples(np.random.default_rng(seed))
        assert X.shape == (20, 3) and F.shape == (20, 2)
        gaps = np.diff(np.sort(X @ (u / np.linalg.norm(u))))
        assert gaps.min() >= 1e-2 * (1 - 1e-9)                # 20 projections at least 1e-2 apart
        assert np.sum(gaps < 1.2e-2 * (1 + 1e-9)) == 15       # most of them close, four far apart
