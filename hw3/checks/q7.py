"""Question 7: output sizes, parameter counts and shapes of convolutional layers (`convolution.py`).

Every expected value comes from real torch layers built in the judge (on the "meta"
device: shapes without memory or arithmetic), never from a formula of ours.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call, value_of
from grader.compare import Mismatch, as_array, check_integer, describe

CHECKS = CheckList(__name__)

SIZE_HINT = ("Along one axis a convolution gives floor((i + 2p - d (k - 1) - 1) / s) + 1: padding on both sides, "
             "a dilated kernel spans d (k - 1) + 1 inputs.")
POOL_HINT = "A pooling window gives floor((i - k) / s) + 1, and without s the windows do not overlap (s = k)."
PARAMS_HINT = ("Each of the c_out kernels has c_in x k x k weights (it spans every input channel); "
               "a bias adds one parameter per kernel, only when bias=True.")
SHAPE_HINT = ("Apply the layers one after the other: a conv sets C to its 'out' and changes H and W, "
              "a pooling keeps C; missing keys take the defaults (s = 1, p = 0, d = 1 for a conv, s = k for a pool).")
Q7_HINT = ("Follow the shape layer by layer: (3, 256, 256) -> conv -> pool -> conv; the dimensionality is "
           "C x H x W of the last output, and the last layer's weights are 128 kernels of 64 x 4 x 4.")


# ---- real layers, on the meta device -------------------------------------------------------------

def conv_shape(in_shape: tuple, out: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> tuple:
    """The (C, H, W) a real nn.Conv2d gives (raises what torch raises on an impossible setting)."""
    import torch

    layer = torch.nn.Conv2d(in_shape[0], out, k, s, p, d, device="meta")
    return tuple(int(v) for v in layer(torch.empty(1, *in_shape, device="meta")).shape[1:])


def pool_shape(in_shape: tuple, k: int, s: int | None = None) -> tuple:
    """The (C, H, W) a real nn.MaxPool2d(k, s) gives (s = None: s = k, torch's default too)."""
    import torch

    layer = torch.nn.MaxPool2d(k, s)
    return tuple(int(v) for v in layer(torch.empty(1, *in_shape, device="meta")).shape[1:])


def sequential_shape(in_shape: tuple, layers: list[dict]) -> tuple:
    """The output shape of a real nn.Sequential of the layers (dicts as cnn_output_shape takes them)."""
    import torch

    modules: list[torch.nn.Module] = []
    channels = in_shape[0]
    for layer in layers:
        if layer["type"] == "conv":
            modules.append(torch.nn.Conv2d(channels, layer["out"], layer["k"], layer.get("s", 1), layer.get("p", 0),
                                           layer.get("d", 1), device="meta"))
            channels = layer["out"]
        else:
            modules.append(torch.nn.MaxPool2d(layer["k"], layer.get("s")))
    net = torch.nn.Sequential(*modules)
    return tuple(int(v) for v in net(torch.empty(1, *in_shape, device="meta")).shape[1:])


def conv_param_count(c_in: int, c_out: int, k: int, bias: bool) -> int:
    import torch

    layer = torch.nn.Conv2d(c_in, c_out, k, bias=bias, device="meta")
    return sum(p.numel() for p in layer.parameters())


def _formula(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """For generating valid settings in the parent only (judges use real layers)."""
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def _integer_check(ctx: JudgeContext, expected_of, explain) -> Verdict:
    for obs in ctx.observations:
        expected = expected_of(obs)
        actual = obs.value
        try:
            check_integer(actual, expected, obs.probe.label)
        except Mismatch as exc:
            known = explain(obs, actual, expected)
            return Verdict.failed(f"{exc}\n{known}" if known else str(exc))
    return Verdict.passed()


def _as_number(value: Any) -> float | None:
    """One number (through the type gate: "73728" is none), else None."""
    try:
        return float(as_array(value).astype(np.float64).reshape(()))
    except (Mismatch, ValueError):
        return None


# ---- conv_output_size ----------------------------------------------------------------------------

def _conv_size_probes(rng: np.random.Generator) -> list[Probe]:
    probes = [call("convolution.conv_output_size", 256, 8, 2, 0, 1, label="conv_output_size(256, 8, 2, 0, 1)"),
              call("convolution.conv_output_size", 25, 4, s=1, p=1, label="conv_output_size(25, 4, s=1, p=1)"),
              call("convolution.conv_output_size", 10, 3, label="conv_output_size(10, 3)")]
    while len(probes) < 14:
        i, k, s, p, d = (int(rng.integers(1, 71)), int(rng.integers(1, 8)), int(rng.integers(1, 5)),
                         int(rng.integers(0, 4)), int(rng.integers(1, 4)))
        if _formula(i, k, s, p, d) < 1 or (d > 1 and k == 1):
            continue
        if len(probes) % 2:
            probes.append(call("convolution.conv_output_size", i, k, s, p, d,
                               label=f"conv_output_size({i}, {k}, {s}, {p}, {d})"))
        else:
            probes.append(call("convolution.conv_output_size", i, k, s=s, p=p, d=d,
                               label=f"conv_output_size({i}, {k}, s={s}, p={p}, d={d})"))
    return probes


def _conv_size_args(obs) -> tuple[int, int, int, int, int]:
    args, kwargs = list(obs.probe.params["args"]), obs.probe.params["kwargs"]
    names = ("i", "k", "s", "p", "d")
    values = dict(zip(names, args))
    values.update(kwargs)
    return values["i"], values["k"], values.get("s", 1), values.get("p", 0), values.get("d", 1)


def _explain_conv_size(obs, actual, expected) -> str:
    i, k, s, p, d = _conv_size_args(obs)
    got = _as_number(actual)
    if got is None:
        return ""
    guesses = [
        ((i + 2 * p - k) // s + 1,
         "The dilation is missing: a kernel of size k with dilation d spans d (k - 1) + 1 inputs."),
        ((i + p - d * (k - 1) - 1) // s + 1, "The padding is added on both sides: use i + 2p."),
        (-(-(i + 2 * p - d * (k - 1) - 1) // s) + 1,
         "Round down: a window that does not fit entirely is dropped (floor)."),
        ((i + 2 * p - d * (k - 1) - 1) // s, "The + 1 is missing: the first window counts too."),
    ]
    for value, why in guesses:
        if value != expected and got == value:
            return why
    return ""


CHECKS.add(Check(
    "Q7.conv_output_size", _conv_size_probes,
    lambda ctx: _integer_check(ctx, lambda obs: conv_shape((1, *[_conv_size_args(obs)[0]] * 2), 1,
                                                           *_conv_size_args(obs)[1:])[1], _explain_conv_size),
    hint=SIZE_HINT,
))


# ---- pool_output_size ----------------------------------------------------------------------------

def _pool_probes(rng: np.random.Generator) -> list[Probe]:
    probes = [call("convolution.pool_output_size", 125, 5, label="pool_output_size(125, 5)"),
              call("convolution.pool_output_size", 32, 8, 4, label="pool_output_size(32, 8, 4)")]
    while len(probes) < 12:
        k = int(rng.integers(1, 7))
        i = int(rng.integers(k, 71))
        if len(probes) % 3 == 0:
            probes.append(call("convolution.pool_output_size", i, k, label=f"pool_output_size({i}, {k})"))
        else:
            s = int(rng.integers(1, 7))
            probes.append(call("convolution.pool_output_size", i, k, s, label=f"pool_output_size({i}, {k}, {s})"))
    return probes


def _pool_args(obs) -> tuple[int, int, int | None]:
    args = list(obs.probe.params["args"]) + [None]
    return args[0], args[1], args[2]


def _explain_pool(obs, actual, expected) -> str:
    i, k, s = _pool_args(obs)
    got = _as_number(actual)
    if s is None and got == (i - k) // 1 + 1 and expected != got:
        return "Without s the windows do not overlap: s defaults to k, not 1."
    return ""


CHECKS.add(Check(
    "Q7.pool_output_size", _pool_probes,
    lambda ctx: _integer_check(ctx, lambda obs: pool_shape((1, _pool_args(obs)[0], _pool_args(obs)[0]),
                                                           _pool_args(obs)[1], _pool_args(obs)[2])[1], _explain_pool),
    hint=POOL_HINT,
))


# ---- conv_params ------------------------------------------------------------------------------------

def _params_probes(rng: np.random.Generator) -> list[Probe]:
    probes = [call("convolution.conv_params", 64, 128, 4, label="conv_params(64, 128, 4)"),
              call("convolution.conv_params", 3, 64, 8, bias=True, label="conv_params(3, 64, 8, bias=True)")]
    for _ in range(6):
        c_in, c_out, k = int(rng.integers(1, 65)), int(rng.integers(1, 129)), int(rng.integers(1, 8))
        bias = bool(rng.integers(0, 2))
        probes.append(call("convolution.conv_params", c_in, c_out, k, bias=bias,
                           label=f"conv_params({c_in}, {c_out}, {k}, bias={bias})"))
    probes.append(call("convolution.conv_params", 5, 7, 3, bias=False, label="conv_params(5, 7, 3, bias=False)"))
    return probes


def _params_args(obs) -> tuple[int, int, int, bool]:
    c_in, c_out, k = obs.probe.params["args"]
    return c_in, c_out, k, bool(obs.probe.params["kwargs"].get("bias", False))


def _explain_params(obs, actual, expected) -> str:
    c_in, c_out, k, bias = _params_args(obs)
    got = _as_number(actual)
    b = c_out if bias else 0
    if not bias and got == expected + c_out:
        return "The biases are counted, but bias=False: only the c_out x c_in x k x k weights."
    if bias and got == expected - c_out:
        return "bias=True: add the c_out biases, one per kernel."
    if got == c_out * k * k + b:
        return "The input channels are forgotten: each kernel spans all c_in channels (c_in x k x k weights)."
    if got == c_out * c_in * k + b:
        return "A square k x k kernel has k * k weights per channel, not k."
    return ""


CHECKS.add(Check(
    "Q7.conv_params", _params_probes,
    lambda ctx: _integer_check(ctx, lambda obs: conv_param_count(*_params_args(obs)), _explain_params),
    hint=PARAMS_HINT,
))


# ---- cnn_output_shape -------------------------------------------------------------------------------

Q7_LAYERS = [
    {"type": "conv", "out": 64, "k": 8, "s": 2, "p": 0},
    {"type": "pool", "k": 5},
    {"type": "conv", "out": 128, "k": 4, "s": 1, "p": 1},
]


def random_stack(rng: np.random.Generator) -> tuple[tuple, list[dict]]:
    """A valid random stack of 1-4 conv / pool layers on a (C, H, W) input; defaults left out at random."""
    while True:
        C, H, W = int(rng.integers(1, 5)), int(rng.integers(8, 65)), int(rng.integers(8, 65))
        in_shape, h, w = (C, H, W), H, W
        layers: list[dict] = []
        for _ in range(int(rng.integers(1, 5))):
            if rng.uniform() < 0.6:
                out, k = int(rng.integers(1, 9)), int(rng.integers(1, 6))   # drawn in this order
                layer: dict[str, object] = {"type": "conv", "out": out, "k": k}
                s, p, d = int(rng.integers(1, 4)), int(rng.integers(0, 3)), int(rng.integers(1, 3))
                for key, value, default in (("s", s, 1), ("p", p, 0), ("d", d, 1)):
                    if value != default or rng.uniform() < 0.5:
                        layer[key] = value
                h, w = _formula(h, k, s, p, d), _formula(w, k, s, p, d)
            else:
                k = int(rng.integers(1, 4))
                layer = {"type": "pool", "k": k}
                stride = int(rng.integers(1, 4)) if rng.uniform() < 0.5 else None
                if stride is not None:
                    layer["s"] = stride
                step = stride or k
                h, w = (h - k) // step + 1, (w - k) // step + 1
            if h < 1 or w < 1:
                break
            layers.append(layer)
        if layers and h >= 1 and w >= 1:
            return in_shape, layers


def _shape_probes(rng: np.random.Generator) -> list[Probe]:
    stacks = [((3, 256, 256), Q7_LAYERS)] + [random_stack(rng) for _ in range(6)]
    return [call("convolution.cnn_output_shape", in_shape, layers,
                 label=f"cnn_output_shape({in_shape}, {len(layers)} layers: {layers})")
            for in_shape, layers in stacks]


def _judge_shapes(ctx: JudgeContext) -> Verdict:
    for obs in ctx.observations:
        in_shape, layers = obs.probe.params["args"]
        expected = sequential_shape(tuple(in_shape), layers)
        actual = obs.value
        try:
            arr = as_array(actual, obs.probe.label)
        except Mismatch as exc:
            return Verdict.failed(str(exc))
        if arr.shape != (3,) or tuple(float(v) for v in arr) != tuple(float(v) for v in expected):
            shown = tuple(arr.tolist()) if arr.ndim == 1 else describe(actual)
            return Verdict.failed(f"{obs.probe.label} is {shown}, expected {expected} (C, H, W).")
    return Verdict.passed()


CHECKS.add(Check("Q7.cnn_output_shape", _shape_probes, _judge_shapes, hint=SHAPE_HINT))


# ---- Question 7's two answers -----------------------------------------------------------------------

OUTPUT_DIM_MISTAKES = {
    24 * 24: "that is H x W of the output: multiply by its 128 channels too.",
    22 * 22 * 128: "the third layer pads 1 on each border: (25 + 2 - 4) / 1 + 1 = 24.",
    120 * 120 * 128: "the 5 x 5 pooling is non-overlapping: its stride is 5, so 125 -> 25.",
    48 * 48 * 128: "the first layer has stride 2: 256 -> (256 - 8) / 2 + 1 = 125.",
    25 * 25 * 128: "that is the shape before the third layer (25 x 25), with its 128 channels.",
}
PARAMS_MISTAKES = {
    128 * 64 * 4 * 4 + 128: "the question excludes the biases: only the 128 x 64 x 4 x 4 weights.",
    128 * 4 * 4: "each kernel spans the 64 input channels: 128 kernels of 64 x 4 x 4.",
    128 * 3 * 4 * 4: "the last layer's input has 64 channels (the first conv's 64 kernels), not the image's 3.",
    128 * 64 * 4: "a 4 x 4 kernel has 16 weights per input channel.",
}


def not_answered(name: str) -> Verdict:
    return Verdict.failed(f"Not answered yet: {name} is None")


def _judge_q7(ctx: JudgeContext) -> Verdict:
    answers = ctx.observations[0].value
    if answers is None:
        return not_answered("Q7")
    if not isinstance(answers, dict):
        return Verdict.failed(f"Q7 should be a dict {{'output_dim': int, 'last_layer_params': int}}, "
                              f"but it is {describe(answers)}.")
    if not {"output_dim", "last_layer_params"} & set(answers):
        return Verdict.failed(f"Q7 has neither key 'output_dim' nor 'last_layer_params': it is {describe(answers)}.")
    # 128 x 24 x 24 = 73728 and 128 x 64 x 4 x 4 = 131072; messages never show them (the check is visible)
    expected = {"output_dim": 128 * 24 * 24, "last_layer_params": 128 * 64 * 4 * 4}
    asked = {"output_dim": "the dimensionality of the last layer's output",
             "last_layer_params": "the number of weights of the last layer"}
    mistakes = {"output_dim": OUTPUT_DIM_MISTAKES, "last_layer_params": PARAMS_MISTAKES}
    good, messages = 0, []
    for key, value in expected.items():
        what = f"Q7[{key!r}]"
        answer = answers.get(key)
        if answer is None:
            messages.append(f"{what}: not answered yet.")
            continue
        if isinstance(answer, (tuple, list)) or (isinstance(answer, np.ndarray) and answer.size > 1):
            messages.append(f"{what} is {describe(answer)}: give one integer"
                            + (", the number of values C x H x W (not the shape)." if key == "output_dim" else "."))
            continue
        number = _as_number(answer)
        if number is None or not np.isfinite(number) or number != int(number):
            messages.append(f"{what} should be an integer, but it is {describe(answer)}.")
        elif number == value:
            good += 1
        else:
            known = mistakes[key].get(int(number))   # a whole number here
            messages.append(f"{what} = {int(number)} is not {asked[key]}" + (f": {known}" if known else "."))
    if not messages:
        return Verdict.passed()
    return Verdict(good / len(expected), "\n".join(messages))


CHECKS.add(Check("Q7.answers", lambda rng: [value_of("convolution.Q7")], _judge_q7, hint=Q7_HINT))
