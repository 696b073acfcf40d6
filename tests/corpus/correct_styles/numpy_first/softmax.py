"""Questions 2 and 3: softmax, Jacobians, VJPs, temperature (numpy)."""
import numpy as np


def _sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(x, dim=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=dim, keepdims=True)
    e = np.exp(x - m)
    total = np.sum(e, axis=dim, keepdims=True)
    return e / total


def softmax_jacobian(x):
    x = np.asarray(x, dtype=np.float64)
    s = softmax(x)
    return np.diag(s) - np.outer(s, s)


def sigmoid_jacobian(x):
    x = np.asarray(x, dtype=np.float64)
    s = _sigmoid(x)
    return np.diag(s * (1.0 - s))


def softmax_vjp(x, g):
    # J is symmetric: J^T g = diag(s) g - s (s^T g) = s * (g - s.g)
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    m = np.max(x)
    shifted = x - m
    e = np.exp(shifted)
    total = np.sum(e)
    s = e / total
    dot = np.dot(s, g)
    centered = g - dot
    out = s * centered
    return out


def sigmoid_vjp(x, g):
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    deriv = s * (1 - s)
    out = deriv * g
    return out


def softmax_temperature(x, c):
    x = np.asarray(x, dtype=np.float64)
    scaled = float(c) * x
    return softmax(scaled)


def two_class_logit(x):
    x = np.asarray(x, dtype=np.float64)
    z = x[0] - x[1]
    return float(z)


def reduce_logits(x):
    x = np.asarray(x, dtype=np.float64)
    y = x[1:] - x[0]
    return y
