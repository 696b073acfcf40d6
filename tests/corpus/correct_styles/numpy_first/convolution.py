"""Questions 6, 7 and 8: 1-D convolution and conv-layer shapes (numpy)."""
import numpy as np


def conv1d(x, k, mode="full"):
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    n, m = len(x), len(k)
    full = np.zeros(n + m - 1)
    for j in range(m):  # kernel flipped: out[i] = sum_j k[j] x[i - j]
        full[j:j + n] += k[j] * x
    if mode == "full":
        return full
    if mode == "valid":
        short = min(n, m)
        length = max(n, m) - short + 1
        return full[short - 1:short - 1 + length]
    if mode == "same":
        length = max(n, m)
        start = (min(n, m) - 1) // 2
        return full[start:start + length]
    raise ValueError(f"unknown mode {mode!r}")


def conv_output_size(i, k, s=1, p=0, d=1):
    i, k, s, p, d = int(i), int(k), int(s), int(p), int(d)
    return int((i + 2 * p - d * (k - 1) - 1) // s + 1)


def pool_output_size(i, k, s=None):
    if s is None:
        s = k
    i, k, s = int(i), int(k), int(s)
    return int((i - k) // s + 1)


def conv_params(c_in, c_out, k, bias=False):
    n = int(c_out) * int(c_in) * int(k) * int(k)
    if bias:
        n += int(c_out)
    return int(n)


def cnn_output_shape(in_shape, layers):
    C, H, W = (int(v) for v in in_shape)
    for layer in layers:
        kind = layer["type"]
        if kind == "conv":
            k = layer["k"]
            s = layer.get("s", 1)
            p = layer.get("p", 0)
            d = layer.get("d", 1)
            H = conv_output_size(H, k, s, p, d)
            W = conv_output_size(W, k, s, p, d)
            C = int(layer["out"])
        elif kind == "pool":
            k = layer["k"]
            s = layer.get("s", None)
            H = pool_output_size(H, k, s)
            W = pool_output_size(W, k, s)
        else:
            raise ValueError(f"unknown layer type {kind!r}")
    return (C, H, W)


# Question 7: 3x256x256 -> conv 64@8x8 s2 -> 64x125x125 -> pool 5 -> 64x25x25
#             -> conv 128@4x4 s1 p1 -> 128x24x24
Q7 = {
    "output_dim": 128 * 24 * 24,          # 73728
    "last_layer_params": 128 * 64 * 4 * 4,  # 131072
}

# Question 8, input (3, 64, 64).
Q8 = {
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},   # floor((64 + 6 - 8) / 2) + 1 = 32
    "1b": {"k": 3, "s": 2, "p": 7, "d": 7},   # span 15: floor((64 + 14 - 15) / 2) + 1 = 32
    "2a": {"k": 4, "s": 4},                   # 32 -> 8
    "2b": (64, 7, 7),                         # floor((32 - 8) / 4) + 1 = 7
    "3a": {"k": 5, "s": 1, "p": 0, "d": 1},   # 8 - 5 + 1 = 4
    "3b": {"k": 5, "s": 1, "p": 2, "d": 2},   # span 9: 8 + 4 - 9 + 1 = 4
    "3c": {"k": 7, "s": 1, "p": 1, "d": 1},   # 8 + 2 - 7 + 1 = 4
}
