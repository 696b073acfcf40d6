"""Problem 3: the cross-entropy loss, computed without overflow or cancellation.

Labels are 0-based (PyTorch's convention; the handout writes 1..k).
"""
import math

import torch


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def cross_entropy(f, y):
    """Problem 3 (a student's version: exp overflows for large logits)."""
    f = torch.as_tensor(f, dtype=torch.float64)
    p = torch.exp(f) / torch.exp(f).sum(dim=-1, keepdim=True)
    if f.dim() == 1:
        return -torch.log(p[y])
    return -torch.log(p[torch.arange(f.shape[0]), torch.as_tensor(y)])


def ce_scaled_onehot(lam, k):
    """Problem 3(b): ``l_CE(lam * e_y, y) = log(1 + (k - 1) exp(-lam))`` for k classes, a float.

    Uses ``log1p`` (at lam = 50 the value is (k-1) exp(-50) to full relative
    precision) and never ``exp(+|lam|)``: finite and >= 0 for lam up to 1e4
    (and, for negative lam, equal to ``-lam + log(exp(lam) + k - 1)``).
    """
    lam, k = float(lam), int(k)
    if k < 1:
        raise ValueError(f"ce_scaled_onehot: k must be >= 1, got {k}")
    if lam >= 0:
        return math.log1p((k - 1) * math.exp(-lam))
    return -lam + math.log(math.exp(lam) + (k - 1))
