"""Questions 6, 7 and 8: 1-D convolution and the shapes and sizes of convolutional layers."""
import torch
import torch.nn.functional as F
from torch import nn


def conv1d(x, k, mode="full"):
    x, k = torch.as_tensor(x), torch.as_tensor(k)
    n, m = x.numel(), k.numel()
    # F.conv1d is a cross-correlation: flip the kernel to get a true convolution
    full = F.conv1d(x.reshape(1, 1, n), k.flip(0).reshape(1, 1, m), padding=m - 1).reshape(-1)
    short, long = min(n, m), max(n, m)
    if mode == "full":
        return full
    if mode == "valid":
        return full[short - 1:long]
    if mode == "same":
        start = (short - 1) // 2
        return full[start:start + long]
    raise ValueError(f"mode must be 'full', 'valid' or 'same', not {mode!r}")


def conv_output_size(i, k, s=1, p=0, d=1):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def pool_output_size(i, k, s=None):
    if s is None:
        s = k
    return (i - k) // s + 1


def conv_params(c_in, c_out, k, bias=False):
    layer = nn.Conv2d(c_in, c_out, k, bias=bias, device="meta")   # shapes only, no memory
    return sum(p.numel() for p in layer.parameters())


def cnn_output_shape(in_shape, layers):
    c, h, w = in_shape
    for layer in layers:
        if layer["type"] == "conv":
            args = dict(k=layer["k"], s=layer.get("s", 1), p=layer.get("p", 0), d=layer.get("d", 1))
            c, h, w = layer["out"], conv_output_size(h, **args), conv_output_size(w, **args)
        elif layer["type"] == "pool":
            k, s = layer["k"], layer.get("s", layer["k"])
            h, w = pool_output_size(h, k, s), pool_output_size(w, k, s)
        else:
            raise ValueError(f"unknown layer type {layer['type']!r}")
    return (int(c), int(h), int(w))


# Question 7: 3 x 256 x 256 -> conv 64 @ 8x8, s 2 -> 64 x 125 x 125 -> pool 5 -> 64 x 25 x 25
#             -> conv 128 @ 4x4, s 1, p 1 -> 128 x 24 x 24
Q7 = {
    "output_dim": 128 * 24 * 24,           # 73728
    "last_layer_params": 128 * 64 * 4 * 4,  # 131072
}

# Question 8: input 3 x 64 x 64
Q8 = {
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},   # (64 + 6 - 8) // 2 + 1 = 32
    "1b": {"k": 2, "s": 2, "p": 3, "d": 7},   # (64 + 6 - 7 - 1) // 2 + 1 = 32
    "2a": {"k": 4, "s": 4},                   # (32 - 4) // 4 + 1 = 8
    "2b": (64, 7, 7),                         # (32 - 8) // 4 + 1 = 7
    "3a": {"k": 2, "s": 2, "p": 0, "d": 1},   # (8 - 2) // 2 + 1 = 4
    "3b": {"k": 3, "s": 2, "p": 2, "d": 2},   # (8 + 4 - 4 - 1) // 2 + 1 = 4
    "3c": {"k": 4, "s": 2, "p": 1, "d": 1},   # (8 + 2 - 4) // 2 + 1 = 4
}
