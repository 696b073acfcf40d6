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
    """Problem 3: ``l_CE(f, y) = -log(exp(f_y) / sum_j exp(f_j))``.

    ``f`` of shape (k,) with an int ``y`` gives a 0-dim tensor; ``f`` of shape
    (n, k) with ``y`` of shape (n,) gives the n per-sample losses, shape (n,).

    Computed as ``M + log1p(sum_{j != j*} exp(d_j - M))`` with ``d = f - f_y``,
    ``M = max_j d_j = d_{j*} >= 0``: never exponentiates a positive number (finite
    for logits up to 1e4 and beyond) and keeps the loss accurate, and > 0, when
    it is tiny (the label holds the largest logit by a wide margin).
    """
    f = _float_tensor(f)
    single = f.dim() == 1
    if single:
        f = f.unsqueeze(0)
    if f.dim() != 2:
        raise ValueError(f"cross_entropy: f must have shape (k,) or (n, k), got {tuple(f.shape)}")
    y = torch.as_tensor(y, dtype=torch.int64).reshape(-1)
    if y.numel() != f.shape[0]:
        raise ValueError(f"cross_entropy: {f.shape[0]} rows of logits but {y.numel()} labels")
    d = f - f.gather(1, y.unsqueeze(1))               # d_y = 0, so M >= 0
    m, j_star = d.max(dim=1, keepdim=True)
    e = torch.exp(d - m).scatter(1, j_star, 0.0)      # drop the term exp(0) = 1 of the argmax
    loss = m.squeeze(1) + torch.log1p(e.sum(dim=1))
    return loss[0] if single else loss


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
