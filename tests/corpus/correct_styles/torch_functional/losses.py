"""Problem 3: the cross-entropy loss, computed without overflow."""
import math

import torch
import torch.nn.functional as F


def cross_entropy(f, y):
    f = torch.as_tensor(f)
    y = torch.as_tensor(y, dtype=torch.long, device=f.device)
    if f.dim() == 1:
        return F.cross_entropy(f.unsqueeze(0), y.reshape(1), reduction="none")[0]
    return F.cross_entropy(f, y, reduction="none")


def ce_scaled_onehot(lam, k):
    # log(1 + (k - 1) e^{-lam}) = softplus(log(k - 1) - lam); threshold raised so that the
    # "return x" shortcut only kicks in where log1p(exp(-x)) is below double rounding.
    t = torch.tensor(math.log(k - 1) - lam, dtype=torch.float64)
    return F.softplus(t, threshold=40.0).item()
