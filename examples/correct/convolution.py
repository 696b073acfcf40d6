"""Questions 6, 7 and 8: 1-D convolution and the shapes and sizes of convolutional layers.

Along one axis, input size i, kernel k, stride s, zero-padding p, dilation d::

    conv: o = floor((i + 2 p - d (k - 1) - 1) / s) + 1
    pool: o = floor((i - k) / s) + 1   (s = k: non-overlapping windows)
"""
import math

import torch
import torch.nn.functional as _F

_MODES = ("full", "valid", "same")


def _float_tensor(x):
    """``x`` as a floating tensor (float64 unless it already is a floating tensor)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


def conv1d(x, k, mode="full"):
    """Question 6: the true 1-D convolution ``x * k`` (kernel flipped), with ``numpy.convolve``'s modes.

    For n = len(x), m = len(k): "full" has length n + m - 1; "valid" length
    max(n, m) - min(n, m) + 1 (the longer argument is the signal, as numpy
    swaps them); "same" length max(n, m), the full result from index
    (min(n, m) - 1) // 2. Example: [1, 2, 3, 4] * [1, 0, 2] is [1, 2, 5, 8, 6, 8]
    (full), [5, 8] (valid), [2, 5, 8, 6] (same).
    """
    if mode not in _MODES:
        raise ValueError(f"conv1d: mode must be one of {_MODES}, got {mode!r}")
    a, v = _float_tensor(x).reshape(-1), _float_tensor(k).reshape(-1)
    if a.numel() == 0 or v.numel() == 0:
        raise ValueError("conv1d: x and k must not be empty")
    dtype = torch.promote_types(a.dtype, v.dtype)
    a, v = a.to(dtype), v.to(dtype)
    if v.numel() > a.numel():                  # convolution commutes; numpy slides the shorter one
        a, v = v, a
    n, m = a.numel(), v.numel()
    # torch's conv1d is a cross-correlation: flip the kernel; padding m - 1 gives every overlap.
    full = _F.conv1d(a.view(1, 1, n), v.flip(0).view(1, 1, m), padding=m - 1).view(n + m - 1)
    if mode == "full":
        return full
    if mode == "valid":
        return full[m - 1:n].clone()
    start = (m - 1) // 2
    return full[start:start + n].clone()


def conv_output_size(i, k, s=1, p=0, d=1):
    """Question 7: a convolution's output size along one axis, ``floor((i + 2p - d(k - 1) - 1) / s) + 1`` (int)."""
    i, k, s, p, d = (int(v) for v in (i, k, s, p, d))
    if k < 1 or s < 1 or d < 1 or p < 0:
        raise ValueError(f"conv_output_size: need k, s, d >= 1 and p >= 0 (k={k}, s={s}, p={p}, d={d})")
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def pool_output_size(i, k, s=None):
    """Question 7: a pooling layer's output size along one axis, ``floor((i - k) / s) + 1``; s defaults to k."""
    i, k = int(i), int(k)
    s = k if s is None else int(s)
    if k < 1 or s < 1:
        raise ValueError(f"pool_output_size: need k, s >= 1 (k={k}, s={s})")
    return (i - k) // s + 1


def conv_params(c_in, c_out, k, bias=False):
    """Question 7: parameters of a conv layer with c_out kernels of size c_in x k x k (+ c_out biases if bias)."""
    c_in, c_out, k = int(c_in), int(c_out), int(k)
    return c_out * c_in * k * k + (c_out if bias else 0)


def cnn_output_shape(in_shape, layers):
    """Question 7: the output shape ``(C, H, W)`` of a stack of square conv / pool layers.

    Layers: ``{"type": "conv", "out", "k", "s"=1, "p"=0, "d"=1}`` (sets C to
    "out") or ``{"type": "pool", "k", "s"=k}`` (keeps C). ``ValueError`` on an
    unknown type, a missing key, or a layer whose output size is not positive.
    """
    C, H, W = (int(v) for v in in_shape)
    for index, layer in enumerate(layers):
        kind = layer.get("type")
        try:
            if kind == "conv":
                s, p, d = layer.get("s", 1), layer.get("p", 0), layer.get("d", 1)
                C = int(layer["out"])
                H, W = (conv_output_size(size, layer["k"], s, p, d) for size in (H, W))
            elif kind == "pool":
                H, W = (pool_output_size(size, layer["k"], layer.get("s")) for size in (H, W))
            else:
                raise ValueError(f"layer {index}: unknown type {kind!r} (use 'conv' or 'pool')")
        except KeyError as exc:
            raise ValueError(f"layer {index} ({kind}): missing key {exc.args[0]!r}") from None
        if H <= 0 or W <= 0:
            raise ValueError(f"layer {index} ({layer}): output size {H} x {W} is not positive")
    return (C, H, W)


# Question 7: 3 x 256 x 256 -> conv 64 8x8 s2 -> (64, 125, 125) -> 5x5 pool -> (64, 25, 25)
# -> conv 128 4x4 s1 p1 -> (128, 24, 24).
_Q7_LAYERS = [
    {"type": "conv", "out": 64, "k": 8, "s": 2, "p": 0},
    {"type": "pool", "k": 5},
    {"type": "conv", "out": 128, "k": 4, "s": 1, "p": 1},
]
Q7 = {
    "output_dim": math.prod(cnn_output_shape((3, 256, 256), _Q7_LAYERS)),   # 128 * 24 * 24 = 73728
    "last_layer_params": conv_params(64, 128, 4),                          # 128 * 64 * 4 * 4 = 131072
}

# Question 8 (input 3 x 64 x 64). Each setting gives the asked shape (checked in
# tests/reference/test_convolution.py with real torch layers):
#   1a: (64 + 6 - 7 - 1) // 2 + 1 = 32          1b: (64 + 14 - 14 - 1) // 2 + 1 = 32
#   2a: (32 - 4) // 4 + 1 = 8                   2b: (32 - 8) // 4 + 1 = 7
#   3a: (8 - 1 - 1) // 2 + 1 = 4                3b: (8 + 4 - 4 - 1) // 2 + 1 = 4
#   3c: (8 + 2 - 2 - 1) // 2 + 1 = 4
Q8 = {
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},
    "1b": {"k": 3, "s": 2, "p": 7, "d": 7},
    "2a": {"k": 4, "s": 4},
    "2b": (64, 7, 7),
    "3a": {"k": 2, "s": 2, "p": 0, "d": 1},
    "3b": {"k": 3, "s": 2, "p": 2, "d": 2},
    "3c": {"k": 3, "s": 2, "p": 1, "d": 1},
}
