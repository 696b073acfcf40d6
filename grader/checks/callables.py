"""Functions passed to student code, on the parent's side: built for the reference exactly as the
child builds them (grader/probes/callables.py), and named in messages ("1 - 2x + 0.5x^2")."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..probes import callables
from .base import Probe, as_torch, no_reference, to_numpy

#: "module.name" -> the reference's object (`JudgeContext.reference`, `Assignment.reference_object`).
Reference = Callable[[str], Any]


class _Resolver:
    """Resolves "module.name" to the reference's, where the child resolves the student's."""

    def __init__(self, reference: Reference) -> None:
        self.resolve = reference


def build_fn(spec: dict, reference: Reference = no_reference) -> Callable[..., Any]:
    """A callable argument as the child builds it (torch functions, polynomials ...), for the reference
    (`reference` resolves an argument that is the student's own function: the reference's stands in)."""
    return callables.build(spec, _Resolver(reference))


def reference_answer(probe: Probe, reference: Reference) -> Any:
    """What the reference returns for a "call" probe, as numpy data."""
    params = probe.params
    function = reference(params["target"])
    return to_numpy(function(*reference_args(params["args"], reference),
                             **reference_args(params.get("kwargs") or {}, reference)))


def reference_args(value: Any, reference: Reference = no_reference) -> Any:
    """Probe arguments as the reference takes them: arrays to tensors, callable specs to callables."""
    if isinstance(value, dict) and "__fn__" in value:
        return build_fn(value, reference)
    if isinstance(value, (list, tuple)):
        return type(value)(reference_args(v, reference) for v in value)
    if isinstance(value, dict):
        return {k: reference_args(v, reference) for k, v in value.items()}
    return as_torch(value)


def fn_name(spec: dict) -> str:
    kind = spec["__fn__"]
    if kind == "torch":
        return spec["name"]
    if kind == "student":
        return spec["target"].partition(".")[2]
    if kind in ("poly", "dpoly"):
        text = poly_text(spec["coeffs"])
        return text if kind == "poly" else f"({text})'"
    if kind in ("affine_sin", "d_affine_sin"):
        a, b, c, d = spec["abcd"]
        text = f"{_times(a)}sin({poly_text([c, b]) if c else poly_text([0, b])}){_plus(d)}"
        return text if kind == "affine_sin" else f"({text})'"
    if kind in ("affine_exp", "d_affine_exp"):
        a, b, c = spec["abc"]
        text = f"{_times(a)}exp({poly_text([0, b])}){_plus(c)}"
        return text if kind == "affine_exp" else f"({text})'"
    return kind


def _times(a: float) -> str:
    return "" if a == 1 else ("-" if a == -1 else f"{a:g} ")


def _plus(c: float) -> str:
    return "" if c == 0 else f" {'+' if c > 0 else '-'} {abs(c):g}"


def poly_text(coeffs: Sequence[float]) -> str:
    """[1, -2, 0.5] -> '1 - 2x + 0.5x^2'."""
    terms = []
    for power, c in enumerate(coeffs):
        if c == 0 and len(coeffs) > 1:
            continue
        mono = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
        mag = abs(c)
        number = f"{mag:g}" if (mag != 1 or power == 0) else ""
        sign = "-" if c < 0 else "+"
        terms.append((sign, f"{number}{mono}"))
    if not terms:
        return "0"
    first_sign, first = terms[0]
    text = ("-" if first_sign == "-" else "") + first
    return text + "".join(f" {s} {t}" for s, t in terms[1:])
