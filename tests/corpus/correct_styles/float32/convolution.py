"""Questions 6, 7 and 8: 1-D convolution and the shapes and sizes of convolutional layers."""
import torch
import torch.nn.functional as F


def conv1d(x, k, mode="full"):
    x = torch.as_tensor(x, dtype=torch.float32).flatten()
    k = torch.as_tensor(k, dtype=torch.float32).flatten()
    n, m = len(x), len(k)
    # full convolution: zero-pad x by m - 1 on both sides and slide the flipped kernel
    padded = F.pad(x, (m - 1, m - 1))
    windows = padded.unfold(0, m, 1)          # (n + m - 1, m)
    full = windows @ k.flip(0)
    if mode == "full":
        return full
    lo, hi = min(n, m), max(n, m)
    if mode == "valid":
        return full[lo - 1:hi]
    if mode == "same":
        start = (lo - 1) // 2
        return full[start:start + hi]
    raise ValueError("mode must be 'full', 'valid' or 'same'")


def conv_output_size(i, k, s=1, p=0, d=1):
    return int((i + 2 * p - d * (k - 1) - 1) // s + 1)


def pool_output_size(i, k, s=None):
    s = k if s is None else s
    return int((i - k) // s + 1)


def conv_params(c_in, c_out, k, bias=False):
    return int(c_out * c_in * k * k + (c_out if bias else 0))


def cnn_output_shape(in_shape, layers):
    C, H, W = in_shape
    for layer in layers:
        if layer["type"] == "conv":
            k, s, p, d = layer["k"], layer.get("s", 1), layer.get("p", 0), layer.get("d", 1)
            C = layer["out"]
            H = conv_output_size(H, k, s, p, d)
            W = conv_output_size(W, k, s, p, d)
        elif layer["type"] == "pool":
            k = layer["k"]
            s = layer.get("s", k)
            H = pool_output_size(H, k, s)
            W = pool_output_size(W, k, s)
        else:
            raise ValueError("unknown layer type: " + str(layer["type"]))
    return (int(C), int(H), int(W))


# Question 7: 256 -> (256 - 8) // 2 + 1 = 125 -> 125 // 5 = 25 -> 25 + 2 - 4 + 1 = 24
Q7 = {"output_dim": 24 * 24 * 128, "last_layer_params": 4 * 4 * 64 * 128}

# Question 8 (input 3 x 64 x 64)
Q8 = {
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},
    "1b": {"k": 4, "s": 2, "p": 10, "d": 7},   # span 7 * 3 + 1 = 22: (64 + 20 - 22) // 2 + 1 = 32
    "2a": {"k": 4, "s": 4},
    "2b": (64, 7, 7),
    "3a": {"k": 5, "s": 1, "p": 0, "d": 1},
    "3b": {"k": 5, "s": 1, "p": 2, "d": 2},    # span 9: 8 + 4 - 9 + 1 = 4
    "3c": {"k": 7, "s": 1, "p": 1, "d": 1},
}
