"""Questions 2 and 3: softmax, its Jacobian, Jacobian-vector products and temperature.

``S(x)_i = exp(x_i) / sum_j exp(x_j)``, computed as ``S(x - max x)`` so that no
large positive number is exponentiated (stable for logits up to 1e4 and beyond).
"""
import torch


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def _sigmoid(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_slope(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)) = sigma(z) sigma(-z), without cancellation."""
    return _sigmoid(z) * _sigmoid(-z)


def _normalized_exp(z, dim):
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def softmax(x, dim=-1):
    """Question 2: the softmax of ``x`` along ``dim`` (max-subtraction trick); same shape, slices sum to 1."""
    return _normalized_exp(_float_tensor(x), dim)


def softmax_jacobian(x):
    """Question 2.2: the (n, n) Jacobian ``diag(S(x)) - S(x) S(x)^T`` for x of shape (n,)."""
    s = softmax(_float_tensor(x).reshape(-1))
    return torch.diag(s) - torch.outer(s, s)


def sigmoid_jacobian(x):
    """Question 2.3: the (n, n) Jacobian ``diag(sigma(x) (1 - sigma(x)))`` of the elementwise sigmoid."""
    return torch.diag(_sigmoid_slope(_float_tensor(x).reshape(-1)))


def softmax_vjp(x, g):
    """Question 2.4: ``J(x)^T g = S(x) * (g - S(x) . g)`` in O(n) time and memory (never builds J)."""
    x, g = _float_tensor(x).reshape(-1), _float_tensor(g).reshape(-1)
    # In place after the first temporary: fewer n-sized vectors alive at once.
    s = (x - x.max()).exp_()
    s.div_(s.sum())
    return (g - torch.dot(s, g.to(s.dtype))).mul_(s)


def sigmoid_vjp(x, g):
    """Question 2.4: ``J(x)^T g = sigma(x) (1 - sigma(x)) * g`` in O(n) time and memory."""
    x, g = _float_tensor(x).reshape(-1), _float_tensor(g).reshape(-1)
    # sigma(x) sigma(-x) = e / (1 + e)^2 with e = exp(-|x|): stable, and in place
    # after the first temporaries.
    e = torch.exp(-x.abs())
    return e.div_((1 + e).square_()).mul_(g)


def softmax_temperature(x, c):
    """Question 3: ``S(c x)`` for x of shape (n,) and a number ``c >= 0``.

    Computed as the normalized ``exp(c (x - max x))``: c = 0 gives the uniform
    vector, c = 1e6 the limit (1 on the maximum, shared equally among exact ties),
    never nan.
    """
    x = _float_tensor(x)
    c = float(c)
    if c == 0:
        return torch.full_like(x, 1.0 / x.shape[-1])
    # c (x - max x) <= 0 (for c < 0 shift by the minimum instead): exactly 0 on the
    # extreme entries, so nothing overflows and c = 1e6 gives the limit, ties shared.
    shift = x.amax(dim=-1, keepdim=True) if c > 0 else x.amin(dim=-1, keepdim=True)
    e = torch.exp(c * (x - shift))
    return e / e.sum(dim=-1, keepdim=True)


def two_class_logit(x):
    """Question 3: for x of shape (2,), the float ``z = x_0 - x_1`` with ``S(x) = [sigmoid(z), 1 - sigmoid(z)]``."""
    x = _float_tensor(x).reshape(-1)
    if x.numel() != 2:
        raise ValueError(f"two_class_logit: x must have 2 entries, got {x.numel()}")
    return float(x[0] - x[1])


def reduce_logits(x):
    """Question 3: for x of shape (K,), ``y = x[1:] - x[0]`` (shape (K - 1,)) with ``S(x) = S([0, y])``."""
    x = _float_tensor(x).reshape(-1)
    return x[1:] - x[0]
