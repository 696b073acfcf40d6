"""Problem 3: the cross-entropy loss, computed without overflow (numpy)."""
import math

import numpy as np


def cross_entropy(f, y):
    f = np.asarray(f, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if f.ndim == 1:
        m = np.max(f)
        shifted = f - m
        lse = np.log(np.sum(np.exp(shifted)))
        loss = lse - shifted[int(y)]
        return float(loss)
    m = np.max(f, axis=1, keepdims=True)
    shifted = f - m
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    rows = np.arange(f.shape[0])
    losses = lse - shifted[rows, y]
    return losses


def ce_scaled_onehot(lam, k):
    lam = float(lam)
    if lam >= 0:
        t = (k - 1) * np.exp(-lam)
        return float(np.log1p(t))
    # lam < 0: log(1 + (k-1) e^{-lam}) = -lam + log(e^{lam} + k - 1)
    return float(-lam + np.log(np.exp(lam) + (k - 1)))
