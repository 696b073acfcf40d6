"""Comparing what a student returned with what was expected, torch.testing-style.

Dispatch by type, recurse into tuples, lists and dicts keeping a path to the item
("item [2]['k']"), check shape before values, rtol and atol together
(``|actual - expected| <= atol + rtol * |expected|``), and build every mismatch
message in one place (`_value_mismatch`), shaped like numpy.testing's:

    Tensor-likes are not close!
    Mismatched elements: 3 / 40 (7.5%)
    Greatest absolute difference: 0.5 at index (1, 2) (up to 1e-08 allowed)
    Greatest relative difference: 0.25 at index (1, 2) (up to 1e-06 allowed)

numpy only: judges run in the parent, which must not need torch to compare.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .probes.wire import Opaque, TorchArray

MAX_INDICES_SHOWN = 5


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-6
    atol: float = 1e-8


class Mismatch(Exception):
    """Raised by `assert_close` with a message a student can act on."""


def describe(value: Any) -> str:
    """A short type description: 'a torch.Tensor of shape (3, 2) and dtype float64'."""
    if isinstance(value, np.ndarray):
        kind = "a torch.Tensor" if isinstance(value, TorchArray) else "a numpy.ndarray"
        return f"{kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name} ({value.text})"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__} ({value!r})"


def as_array(value: Any, what: str = "the result") -> np.ndarray:
    """Tensor, ndarray, number or nested lists -> float/int/bool ndarray, or Mismatch saying why not."""
    if isinstance(value, (Opaque, str, dict)) or value is None:
        raise Mismatch(f"{what} should be a tensor, an array or a number, but it is {describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise Mismatch(f"{what} could not be read as an array ({exc}); is a list ragged?") from None
    if arr.dtype == object:
        raise Mismatch(f"{what} could not be read as an array of numbers: it is {describe(value)}")
    return arr


def assert_close(actual: Any, expected: Any, tol: Tolerance = Tolerance(), *, what: str = "the result",
                 equal_nan: bool = False) -> None:
    """Raise `Mismatch` unless `actual` matches `expected` (arrays, numbers, tuples, lists, dicts)."""
    if isinstance(expected, dict):
        _compare_dicts(actual, expected, tol, what, equal_nan)
    elif isinstance(expected, (tuple, list)) and not _is_numeric_sequence(expected):
        _compare_sequences(actual, expected, tol, what, equal_nan)
    else:
        _compare_arrays(as_array(actual, what), np.asarray(expected), tol, what, equal_nan)


def _is_numeric_sequence(value: Any) -> bool:
    try:
        return np.asarray(value).dtype != object
    except (ValueError, TypeError):
        return False


def _compare_dicts(actual: Any, expected: dict, tol: Tolerance, what: str, equal_nan: bool) -> None:
    if not isinstance(actual, dict):
        raise Mismatch(f"{what} should be a dict, but it is {describe(actual)}")
    missing = [k for k in expected if k not in actual]
    if missing:
        raise Mismatch(f"{what} is missing the key(s) {', '.join(map(repr, missing))}")
    for key, value in expected.items():
        assert_close(actual[key], value, tol, what=f"{what}[{key!r}]", equal_nan=equal_nan)


def _compare_sequences(actual: Any, expected: Any, tol: Tolerance, what: str, equal_nan: bool) -> None:
    if not isinstance(actual, (tuple, list)):
        raise Mismatch(f"{what} should be a {type(expected).__name__} of length {len(expected)}, "
                       f"but it is {describe(actual)}")
    if len(actual) != len(expected):
        raise Mismatch(f"{what} has length {len(actual)}, expected {len(expected)}")
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, tol, what=f"{what}[{i}]", equal_nan=equal_nan)


def _compare_arrays(actual: np.ndarray, expected: np.ndarray, tol: Tolerance, what: str, equal_nan: bool) -> None:
    if actual.shape != expected.shape:
        if actual.size == expected.size == 1:
            actual = actual.reshape(expected.shape)
        else:
            raise Mismatch(f"{what} has shape {tuple(actual.shape)}, expected shape {tuple(expected.shape)}")
    if np.iscomplexobj(actual) and not np.iscomplexobj(expected):
        raise Mismatch(f"{what} has complex dtype {actual.dtype}; expected real numbers")
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    close = np.isclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=equal_nan)
    if not close.all():
        raise Mismatch(_value_mismatch(a, e, close, tol, what))


def _value_mismatch(a: np.ndarray, e: np.ndarray, close: np.ndarray, tol: Tolerance, what: str) -> str:
    """The one place where mismatch records become the message."""
    if a.ndim == 0:
        lines = [f"{what} is {_fmt(a.item())}, expected {_fmt(e.item())} "
                 f"(tolerance: rtol={tol.rtol:g}, atol={tol.atol:g})"]
        if not math.isfinite(a.item()) and math.isfinite(e.item()):
            lines.append(_nonfinite_hint(a))
        return "\n".join(lines)
    bad = ~close
    n_bad, n = int(bad.sum()), a.size
    lines = [f"{what}: values are not close!",
             f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)"]
    finite = np.isfinite(a) & np.isfinite(e)
    if (bad & ~finite).any():
        lines.append(_nonfinite_hint(a))
    abs_diff = np.where(finite, np.abs(a - e), np.inf)
    rel_diff = np.where(finite, abs_diff / np.maximum(np.abs(e), np.finfo(np.float64).tiny), np.inf)
    for label, diff, allowed in (("absolute", abs_diff, tol.atol), ("relative", rel_diff, tol.rtol)):
        masked = np.where(bad, diff, -1.0)
        idx = np.unravel_index(int(np.argmax(masked)), a.shape)
        lines.append(f"Greatest {label} difference: {_fmt(float(diff[idx]))} at index {_index(idx)} "
                     f"(up to {allowed:g} allowed)")
    first = [_index(np.unravel_index(i, a.shape)) for i in np.flatnonzero(bad)[:MAX_INDICES_SHOWN]]
    lines.append(f"First mismatches at {', '.join(first)}")
    return "\n".join(lines)


def _nonfinite_hint(a: np.ndarray) -> str:
    kinds = [name for name, test in (("nan", np.isnan), ("inf", np.isinf)) if test(a).any()]
    return f"The result contains {' and '.join(kinds)} where finite values were expected (overflow?)."


def _index(idx: tuple) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def check_integer(actual: Any, expected: int, what: str) -> None:
    """An int answer: a Python int, or an integral float/0-d tensor holding the right value."""
    try:
        array = np.asarray(actual)
        if array.dtype.kind not in "iuf":   # '4353' or True is no count, even if float() would take it
            raise TypeError
        value = float(array.reshape(()))
    except (TypeError, ValueError):
        raise Mismatch(f"{what} should be an integer, but it is {describe(actual)}") from None
    if value != expected:
        raise Mismatch(f"{what} is {_fmt(value)}, expected {expected}")
