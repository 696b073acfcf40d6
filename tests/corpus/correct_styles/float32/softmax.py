"""Questions 2 and 3: softmax, its Jacobian, Jacobian-vector products and temperature (float32)."""
import torch


def _f32(t):
    return torch.as_tensor(t, dtype=torch.float32)


def softmax(x, dim=-1):
    x = _f32(x)
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def _sigmoid(x):
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax_jacobian(x):
    s = softmax(x)
    return torch.diag(s) - torch.outer(s, s)


def sigmoid_jacobian(x):
    x = _f32(x)
    # sigma'(x) = sigma(x) (1 - sigma(x)) = sigma(x) sigma(-x): no cancellation for large x
    return torch.diag(_sigmoid(x) * _sigmoid(-x))


def softmax_vjp(x, g):
    s = softmax(x)
    g = _f32(g)
    # (diag(s) - s s^T) g = s * g - s (s . g)
    return s * (g - torch.dot(s, g))


def sigmoid_vjp(x, g):
    x, g = _f32(x), _f32(g)
    return g * _sigmoid(x) * _sigmoid(-x)


def softmax_temperature(x, c):
    return softmax(float(c) * _f32(x))


def two_class_logit(x):
    x = _f32(x)
    return (x[0] - x[1]).item()


def reduce_logits(x):
    x = _f32(x)
    return x[1:] - x[0]
