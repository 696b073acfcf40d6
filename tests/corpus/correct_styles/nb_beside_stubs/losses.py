"""Problem 3: the cross-entropy loss, computed without overflow.

The handout numbers classes 1..k; in code they are 0-based (0..k-1), as in
PyTorch. The grader passes float64 tensors for logits and int64 tensors (or
Python ints) for labels.
"""
import math

import torch


def cross_entropy(f, y):
    """Problem 3: the cross-entropy loss ``l_CE(f, y) = -log(exp(f_y) / sum_j exp(f_j))``.

    Two shapes are accepted:

    - ``f`` of shape (k,) and ``y`` an int (a Python int or a 0-dim int64 tensor):
      return the scalar loss (a 0-dim tensor or a float);
    - ``f`` of shape (n, k) and ``y`` of shape (n,), int64: return the n
      per-sample losses, shape (n,) (not their mean).

    The labels are 0-based: ``y`` is in 0..k-1.

    Numerics the grader probes: logits as large as 1e4 in absolute value, e.g.
    ``f = [1e4, 0, -1e4]``. ``exp(1e4)`` overflows (float64 overflows above
    about 709), so the formula as written gives ``inf / inf = nan``. Use the
    log-sum-exp trick: ``log sum_j exp(f_j) = m + log sum_j exp(f_j - m)`` with
    ``m = max_j f_j``, so the loss is ``logsumexp(f) - f_y``. The result is
    always finite and >= 0 (Problem 3(a)), never nan or inf.
    """
    raise NotImplementedError("Problem 3: implement cross_entropy")


def ce_scaled_onehot(lam, k):
    """Problem 3(b): ``l_CE(lam * e_y, y)`` for k classes, in closed form, as a float.

    Work out ``l_CE(lam * e_y, y)`` by hand: it does not depend on ``y`` and
    equals ``log(1 + (k - 1) * exp(-lam))``, which tends to 0 as lam -> infinity.
    ``lam`` is a number, ``k >= 2`` an int; return a Python float.

    Numerics the grader probes:

    - at ``lam = 50`` the exact value is about ``(k - 1) * exp(-50)``, roughly
      2e-22 * (k - 1). ``math.log(1 + t)`` returns exactly 0 there, because
      ``1 + t`` rounds to 1: the answer must be right to full relative precision,
      so use ``math.log1p(t)`` (or ``torch.log1p``);
    - for ``lam`` up to 1e4 the value must be finite and >= 0, never nan or inf:
      never compute ``exp(lam)`` (it overflows to inf, and inf / inf is nan).
    """
    raise NotImplementedError("Problem 3: implement ce_scaled_onehot")
