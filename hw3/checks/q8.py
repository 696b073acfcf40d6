"""Question 8: layer settings that give asked shapes (`convolution.Q8`).

"Every setting that gives the asked shape is correct": each answer is judged by
building the real torch layer in the judge (on the "meta" device: shapes only) and
running the question's input through it, after checking the constraints the
question fixes. Partial credit per answer; a setting torch refuses is a wrong answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Verdict, value_of
from .q7 import not_answered
from grader.compare import Mismatch, as_array, describe

CHECKS = CheckList(__name__)

SETTINGS_HINT = ("Along one axis a conv gives floor((i + 2p - d (k - 1) - 1) / s) + 1 and a pooling "
                 "floor((i - k) / s) + 1; answer each part with a dict {'k', 's', 'p', 'd'} (missing keys take "
                 "the defaults) that respects the values the part fixes.")


@dataclass(frozen=True)
class Part:
    key: str
    kind: str                       # "conv" | "pool"
    in_shape: tuple
    out_shape: tuple
    fixed: dict = field(default_factory=dict)

    @property
    def defaults(self) -> dict:
        return {"s": 1, "p": 0, "d": 1} if self.kind == "conv" else {"p": 0, "d": 1}


PARTS = {
    "1a": Part("1a", "conv", (3, 64, 64), (64, 32, 32), {"k": 8, "d": 1}),
    "1b": Part("1b", "conv", (3, 64, 64), (64, 32, 32), {"d": 7, "s": 2}),
    "2a": Part("2a", "pool", (64, 32, 32), (64, 8, 8), {"p": 0, "d": 1}),   # and s = k (non-overlapping)
    "3a": Part("3a", "conv", (64, 8, 8), (128, 4, 4), {"p": 0, "d": 1}),
    "3b": Part("3b", "conv", (64, 8, 8), (128, 4, 4), {"d": 2, "p": 2}),
    "3c": Part("3c", "conv", (64, 8, 8), (128, 4, 4), {"p": 1, "d": 1}),
}
SHAPE_2B = (64, 7, 7)               # MaxPool2d(8, 4) on (64, 32, 32): (32 - 8) // 4 + 1 = 7


def _as_int(value: Any) -> int | None:
    """An integer answer: an int, a numpy integer, an integral float or 0-d array; None otherwise."""
    if isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        number = float(as_array(value).astype(np.float64).reshape(()))
    except (Mismatch, TypeError, ValueError, OverflowError):
        return None
    return int(number) if np.isfinite(number) and number == int(number) else None


def _shown(setting: dict) -> str:
    return ", ".join(f"{name}={setting[name]}" for name in ("k", "s", "p", "d") if name in setting)


def layer_output(part: Part, setting: dict) -> tuple:
    """The shape the real torch layer gives on the part's input (raises what torch raises).

    The layer lives on the "meta" device: shapes without memory, so that no answer
    (k = 10^9 ...) can make the judge allocate. `judge_part` checks the signs first.
    """
    import warnings

    import torch

    x = torch.empty(1, *part.in_shape, device="meta")
    k, s, p, d = setting["k"], setting["s"], setting["p"], setting["d"]
    layer: torch.nn.Module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if part.kind == "conv":
            layer = torch.nn.Conv2d(part.in_shape[0], part.out_shape[0], k, s, p, d, device="meta")
        else:
            layer = torch.nn.MaxPool2d(k, s, padding=p, dilation=d)
        return tuple(int(v) for v in layer(x).shape[1:])


def judge_part(part: Part, answer: Any) -> str:
    """"" when `answer` is a correct setting for `part`, else the sentence that says what is wrong."""
    key = part.key
    if answer is None:
        return f"{key}: not answered yet."
    if not isinstance(answer, dict):
        return f"{key} should be a dict like {{'k': ..., 's': ..., 'p': ..., 'd': ...}}, but it is {describe(answer)}."
    if "k" not in answer or answer["k"] is None:
        return f"{key}: the kernel size k is missing."
    setting = {}
    for name in ("k", "s", "p", "d"):
        raw = answer.get(name)
        if raw is None:
            continue
        value = _as_int(raw)
        if value is None:
            return f"{key}: {name} = {raw!r} is not an integer."
        setting[name] = value
    full = {**part.defaults, **({"s": setting["k"]} if part.kind == "pool" else {}), **setting}
    for name, value in part.fixed.items():
        if full[name] != value:
            return f"{key} must use {name} = {value} (the question fixes it), not {name} = {full[name]}."
    if part.kind == "pool" and full["s"] != full["k"]:
        return f"{key} must be non-overlapping: s = k (here k = {full['k']}, s = {full['s']})."
    # torch's CPU layers refuse these; its shape-only "meta" layers do not check them, so we do
    for name, lowest, rule in (("k", 1, "the kernel size must be at least 1"),
                               ("s", 1, "the stride must be at least 1"),
                               ("p", 0, "the padding cannot be negative"),
                               ("d", 1, "the dilation must be at least 1")):
        if full[name] < lowest:
            return f"{key}: {_shown(full)} is not a valid setting: {rule}."
    try:
        got = layer_output(part, full)
    except Exception as exc:  # torch refuses the setting: a wrong answer, not a grader error
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{key}: {_shown(full)} is not a valid setting on {part.in_shape}: torch says {reason!r}."
    if got != part.out_shape:
        return f"{key}: {_shown(full)} gives {got}, not {part.out_shape}."
    return ""


def judge_2b(answer: Any) -> str:
    if answer is None:
        return "2b: not answered yet."
    try:
        arr = as_array(answer).astype(np.float64)       # the type gate: ("64", "7", "7") is no shape
    except Mismatch:
        arr = None
    if arr is None or arr.shape != (3,) or not np.isfinite(arr).all():
        return f"2b should be the output shape as a tuple (C, H, W), but it is {describe(answer)}."
    shape = tuple(int(v) if v == int(v) else float(v) for v in arr)
    if shape == SHAPE_2B:
        return ""
    hints: dict[tuple[float, ...], str] = {
        (64, 8, 8): " That is 2a's shape: here the windows are 8 wide with stride 4.",
        (64, 6, 6): " The + 1 is missing: the first window counts too.",
        (7, 7, 64): " Give the shape as (C, H, W), channels first."}
    hint = hints.get(shape, "")
    return f"2b: {shape} is not the output shape of a k = 8, s = 4 pooling on (64, 32, 32).{hint}"


def _judge(keys: tuple[str, ...]):
    def judge(ctx: JudgeContext) -> Verdict:
        answers = ctx.observations[0].value
        if answers is None:
            return not_answered("Q8")
        if not isinstance(answers, dict):
            return Verdict.failed(f"Q8 should be a dict with keys {', '.join(map(repr, PARTS))} and '2b', "
                                  f"but it is {describe(answers)}.")
        if not set(answers) & {*PARTS, "2b"}:
            return Verdict.failed(f"Q8 has none of the keys {', '.join(map(repr, PARTS))} and '2b': "
                                  f"it is {describe(answers)}.")
        problems = [judge_2b(answers.get(key)) if key == "2b" else judge_part(PARTS[key], answers.get(key))
                    for key in keys]
        wrong = [p for p in problems if p]
        if not wrong:
            return Verdict.passed()
        return Verdict((len(keys) - len(wrong)) / len(keys), "\n".join(wrong))

    return judge


def _probes(rng: np.random.Generator):
    return [value_of("convolution.Q8")]


CHECKS.add(Check("Q8.layer1", _probes, _judge(("1a", "1b")), hint=SETTINGS_HINT))
CHECKS.add(Check("Q8.layer2", _probes, _judge(("2a", "2b")), hint=SETTINGS_HINT))
CHECKS.add(Check("Q8.layer3", _probes, _judge(("3a", "3b", "3c")), hint=SETTINGS_HINT))
