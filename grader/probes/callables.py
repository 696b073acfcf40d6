"""Functions passed *to* student code (a callback argument, such as ``g`` of ``estimate(g, xs)``).

A request cannot carry code, so it names a callable from this whitelist:
``{"__fn__": "student", "target": "module.function"}``,
``{"__fn__": "torch", "name": "sigmoid"}``, or ``{"__fn__": "poly", "coeffs": [...]}``
(with its derivative under ``"dpoly"``), ``{"__fn__": "affine_sin", ...}``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

TORCH_FUNCTIONS = ("sigmoid", "tanh", "relu", "exp", "sin", "cos", "abs")


def build(spec: dict, student) -> Callable[..., Any]:
    kind = spec["__fn__"]
    if kind == "student":
        return student.resolve(spec["target"])
    if kind == "torch":
        import torch   # torch on first use: the parent builds these for the reference without it

        if spec["name"] not in TORCH_FUNCTIONS:
            raise ValueError(f"torch function {spec['name']!r} is not whitelisted")
        return getattr(torch, spec["name"])
    if kind == "poly":
        return _poly(spec["coeffs"])
    if kind == "dpoly":
        coeffs = spec["coeffs"]
        return _poly([i * c for i, c in enumerate(coeffs)][1:] or [0.0])
    if kind == "affine_sin":  # a * sin(b x + c) + d, and its derivative with "d_affine_sin"
        a, b, c, d = spec["abcd"]
        return lambda x: a * _sin(b * x + c) + d
    if kind == "d_affine_sin":
        a, b, c, _ = spec["abcd"]
        return lambda x: a * b * _cos(b * x + c)
    if kind == "affine_exp":  # a * exp(b x) + c, and its derivative with "d_affine_exp"
        a, b, c = spec["abc"]
        return lambda x: a * _exp(b * x) + c
    if kind == "d_affine_exp":
        a, b, _ = spec["abc"]
        return lambda x: a * b * _exp(b * x)
    raise ValueError(f"unknown callable kind {kind!r}")


def _poly(coeffs: list[float]) -> Callable[[Any], Any]:
    """c0 + c1 x + c2 x^2 + ..., for floats and tensors alike."""

    def poly(x):
        total = 0.0 * x
        for c in reversed(coeffs):
            total = total * x + c
        return total

    return poly


def _sin(x):
    return math.sin(x) if isinstance(x, (int, float)) else x.sin()


def _cos(x):
    return math.cos(x) if isinstance(x, (int, float)) else x.cos()


def _exp(x):
    return math.exp(x) if isinstance(x, (int, float)) else x.exp()
