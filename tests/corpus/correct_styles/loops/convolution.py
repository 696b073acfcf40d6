"""Questions 6, 7 and 8: 1-D convolution and conv-layer shapes, step by step."""
import torch


def conv1d(x, k, mode="full"):
    xs = torch.as_tensor(x, dtype=torch.float64).tolist()
    ks = torch.as_tensor(k, dtype=torch.float64).tolist()
    n = len(xs)
    m = len(ks)
    full = [0.0] * (n + m - 1)
    for i in range(n):
        for j in range(m):
            full[i + j] += xs[i] * ks[j]
    if mode == "full":
        out = full
    elif mode == "valid":
        length = max(n, m) - min(n, m) + 1
        start = min(n, m) - 1
        out = full[start:start + length]
    elif mode == "same":
        length = max(n, m)
        start = (min(n, m) - 1) // 2
        out = full[start:start + length]
    else:
        raise ValueError("mode must be 'full', 'valid' or 'same'")
    return torch.tensor(out, dtype=torch.float64)


def conv_output_size(i, k, s=1, p=0, d=1):
    span = d * (k - 1) + 1          # input positions covered by the dilated kernel
    padded = i + 2 * p              # input size after zero-padding both borders
    positions = padded - span       # how far the kernel can slide
    steps = positions // s          # complete strides
    return int(steps + 1)


def pool_output_size(i, k, s=None):
    if s is None:
        s = k
    positions = i - k
    steps = positions // s
    return int(steps + 1)


def conv_params(c_in, c_out, k, bias=False):
    per_kernel = c_in * k * k
    total = c_out * per_kernel
    if bias:
        total = total + c_out
    return int(total)


def cnn_output_shape(in_shape, layers):
    C, H, W = in_shape
    for layer in layers:
        if layer["type"] == "conv":
            k = layer["k"]
            s = layer.get("s", 1)
            p = layer.get("p", 0)
            d = layer.get("d", 1)
            H = conv_output_size(H, k, s, p, d)
            W = conv_output_size(W, k, s, p, d)
            C = layer["out"]
        elif layer["type"] == "pool":
            k = layer["k"]
            s = layer.get("s", k)
            H = pool_output_size(H, k, s)
            W = pool_output_size(W, k, s)
        else:
            raise ValueError(f"unknown layer type {layer['type']!r}")
    return (int(C), int(H), int(W))


# Question 7: (3, 256, 256) -conv 64@8x8 s=2-> (64, 125, 125) -pool 5-> (64, 25, 25)
# -conv 128@4x4 s=1 p=1-> (128, 24, 24)
Q7 = {
    "output_dim": 73728,          # 128 * 24 * 24
    "last_layer_params": 131072,  # 128 kernels of 64 x 4 x 4
}

# Question 8, input (3, 64, 64)
Q8 = {
    "1a": {"k": 8, "s": 2, "p": 3, "d": 1},  # (64 + 6 - 8) // 2 + 1 = 32
    "1b": {"k": 2, "s": 2, "p": 3, "d": 7},  # span 8: (64 + 6 - 8) // 2 + 1 = 32
    "2a": {"k": 4, "s": 4},                  # (32 - 4) // 4 + 1 = 8
    "2b": (64, 7, 7),                        # (32 - 8) // 4 + 1 = 7
    "3a": {"k": 2, "s": 2, "p": 0, "d": 1},  # (8 - 2) // 2 + 1 = 4
    "3b": {"k": 3, "s": 2, "p": 2, "d": 2},  # span 5: (8 + 4 - 5) // 2 + 1 = 4
    "3c": {"k": 3, "s": 2, "p": 1, "d": 1},  # (8 + 2 - 3) // 2 + 1 = 4
}
