"""Statistical tests for judging random draws: thresholds a correct solution fails with probability <= p.

A judge of a function that samples (an initialization, synthetic data) cannot compare with the
reference's values; it tests the sample instead, at a false-fail probability the check chooses
(a Bonferroni share of its budget per test). Each threshold is exact or a proven bound:

- `normal_quantile`: N(0, 1)'s quantile;
- `chi2_interval`: the chi-square interval of probability 1 - p, by bisection on torch's regularized gamma;
- `ks_threshold`: the Dvoretzky-Kiefer-Wolfowitz-Massart bound on the Kolmogorov-Smirnov distance;
- `normal_test`: the three of them on one sample that should be IID N(0, sigma^2) (`NormalTest`);
- `serial_test`: the correlation of adjacent values of a sequence that should be IID N(0, sigma^2), against
  a Chernoff bound (`serial_threshold`): `normal_test` sees only the values, this sees their order
  (N(0, 1)'s quantiles in sorted order pass `normal_test` and fail this).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

def normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)


@functools.lru_cache(maxsize=None)
def chi2_interval(k: int, p: float) -> tuple[float, float]:
    """(lo, hi) with P(chi2_k < lo) = P(chi2_k > hi) = p / 2: exact, by bisection on the regularized gamma."""
    import torch

    def lower_tail(x: float) -> float:   # P(chi2_k <= x)
        return float(torch.special.gammainc(torch.tensor(k / 2, dtype=torch.float64),
                                            torch.tensor(x / 2, dtype=torch.float64)))

    def upper_tail(x: float) -> float:   # P(chi2_k > x), accurate in the far tail
        return float(torch.special.gammaincc(torch.tensor(k / 2, dtype=torch.float64),
                                             torch.tensor(x / 2, dtype=torch.float64)))

    def solve(f, target: float, increasing: bool) -> float:
        a, b = 0.0, k + 60.0 * math.sqrt(2.0 * k) + 200.0
        for _ in range(200):
            mid = 0.5 * (a + b)
            if (f(mid) < target) == increasing:
                a = mid
            else:
                b = mid
        return 0.5 * (a + b)

    return solve(lower_tail, p / 2, True), solve(upper_tail, p / 2, False)


def ks_threshold(n: int, p: float) -> float:
    """The Dvoretzky-Kiefer-Wolfowitz-Massart bound: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2) = p."""
    return math.sqrt(math.log(2.0 / p) / (2.0 * n))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class NormalTest:
    """Three tests that an IID N(0, sigma^2) sample passes, each with false-fail probability <= p:

    - the mean: sqrt(n) * mean / sigma is exactly N(0, 1), so |mean| <= z_{1-p/2} sigma / sqrt(n);
    - the mean square: n * mean(x^2) / sigma^2 is exactly chi2_n (the mean is known to be 0),
      so it lies in the chi2_n interval of probability 1 - p (exact quantiles, `chi2_interval`);
    - the Kolmogorov-Smirnov distance to N(0, sigma^2) is <= the DKW-Massart bound (`ks_threshold`).
    """

    n: int
    mean: float
    std: float          # the root mean square (the standard deviation about the known mean 0)
    ks: float
    mean_ok: bool
    std_ok: bool
    ks_ok: bool
    std_range: tuple[float, float]
    ks_max: float

    @property
    def ok(self) -> bool:
        return self.mean_ok and self.std_ok and self.ks_ok


def normal_test(values: np.ndarray, sigma: float, p: float) -> NormalTest:
    x = np.asarray(values, dtype=np.float64).reshape(-1) / sigma
    n = x.size
    mean = float(x.mean())
    ms = float(np.mean(x * x))
    lo, hi = chi2_interval(n, p)
    z = normal_quantile(1 - p / 2)
    s = np.sort(x)
    cdf = _normal_cdf(s)
    ks = float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(0, n) / n)))
    eps = ks_threshold(n, p)
    return NormalTest(n, mean * sigma, math.sqrt(ms) * sigma, ks, abs(mean) <= z / math.sqrt(n),
                      lo / n <= ms <= hi / n, ks <= eps, (math.sqrt(lo / n) * sigma, math.sqrt(hi / n) * sigma), eps)


def _log_chernoff(shifted: np.ndarray) -> float:
    """log min over theta of E exp(theta * sum_k d_k z_k^2) = -1/2 sum_k log(1 - 2 theta d_k), z IID N(0, 1).

    The minimum is where the derivative sum_k d_k / (1 - 2 theta d_k) (increasing in theta) is 0, found by
    bisection on [0, 1 / (2 max d_k)); it bounds P(sum_k d_k z_k^2 >= 0) (Markov on the exponential).
    """
    top = float(shifted.max())
    if top <= 0.0:
        return -math.inf       # sum_k d_k z_k^2 < 0 almost surely
    a, b = 0.0, 0.5 / top
    for _ in range(200):
        theta = 0.5 * (a + b)
        if np.sum(shifted / (1.0 - 2.0 * theta * shifted)) < 0.0:
            a = theta
        else:
            b = theta
    return -0.5 * float(np.sum(np.log1p(-2.0 * a * shifted)))


@functools.lru_cache(maxsize=None)
def serial_threshold(n: int, p: float) -> float:
    """c with P(|r| > c) <= p, for r = sum_i x_i x_{i+1} / sum_i x_i^2 of n IID N(0, sigma^2) values.

    sum_i x_i x_{i+1} = x'Ax for the tridiagonal A with 1/2 beside its diagonal, whose eigenvalues are
    lambda_k = cos(k pi / (n + 1)); N(0, I) is invariant under rotations, so r >= c exactly when
    sum_k (lambda_k - c) z_k^2 >= 0 with z IID N(0, 1), whose probability the Chernoff bound bounds
    (`_log_chernoff`). c is found by bisection where that bound is p / 2; the spectrum is symmetric
    about 0, so P(r <= -c) has the same bound. A proven bound, not an approximation.
    """
    if n < 2:
        return 1.0
    eigenvalues = np.cos(np.arange(1, n + 1) * math.pi / (n + 1))
    a, b = 0.0, float(eigenvalues.max())
    target = math.log(p / 2)
    for _ in range(100):
        c = 0.5 * (a + b)
        if _log_chernoff(eigenvalues - c) > target:
            a = c
        else:
            b = c
    return b


@dataclass(frozen=True)
class SerialTest:
    """The correlation of adjacent values (about the known mean 0), which IID draws keep within +-limit
    with probability >= 1 - p: near 1 for values in order, near -1 for values that alternate."""

    n: int
    correlation: float
    limit: float

    @property
    def ok(self) -> bool:
        return abs(self.correlation) <= self.limit


def serial_test(values: np.ndarray, p: float) -> SerialTest:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    energy = float(np.sum(x * x))
    correlation = float(np.sum(x[:-1] * x[1:]) / energy) if x.size > 1 and energy > 0 else 0.0
    return SerialTest(x.size, correlation, serial_threshold(x.size, p))
