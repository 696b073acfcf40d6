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

import contextlib
import contextvars
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .probes.wire import Opaque, TorchArray

#: Said when an answer at float32's level fails a `float64_only` check (a fixed sentence: hidden checks keep it).
FLOAT64_REQUIRED = ("This check needs float64 accuracy: your result is off by about float32's rounding error (7 "
                    "significant digits), and precision is what this check is about. Keep the float64 inputs in "
                    "float64 all the way (no .float(), dtype=torch.float32 or float32 constants), and avoid steps "
                    "that lose digits (cancellation, badly conditioned systems).")

MAX_INDICES_SHOWN = 5


@dataclass(frozen=True)
class Tolerance:
    """rtol/atol: the check's own tolerance. `float32_rtol`: float32's level, how far an answer made
    with float32 arithmetic anywhere on the way may be off (norm-wise: relative to the largest expected
    entry), whatever dtype it comes back in. `float64_only`: precision is the point of the check, so
    float32's level does not pass and the message says float64 is required (`judge_precision`)."""

    rtol: float = 1e-6
    atol: float = 1e-8
    float32_rtol: float = 1e-4     # ~800 float32 ulps: a few dozen roundings, times the check's conditioning
    float64_only: bool = False

    def at_float32(self, scale: float = 0.0) -> "Tolerance":
        """float32's level for expected values whose largest finite magnitude is `scale`."""
        return Tolerance(max(self.rtol, self.float32_rtol), max(self.atol, self.float32_rtol * scale),
                         self.float32_rtol, self.float64_only)


@dataclass(frozen=True)
class Judged:
    """What `judge_precision` decided: passed or not, the tolerance the verdict was reached at (for
    the message), and the sentence to add to a failure ("" or FLOAT64_REQUIRED)."""

    passed: bool
    tol: Tolerance
    note: str = ""


def judge_precision(fits: Callable[[Tolerance], bool], tol: Tolerance, scale: float, actual: Any,
                    what: str = "the result") -> Judged:
    """The one place where precision is decided, from the numbers: an answer within `tol` passes; one
    within float32's level only (float32 arithmetic somewhere on the way, whatever dtype it was returned
    in) passes too, noted for the student (FLOAT32_NOTE), except on a `float64_only` check, where it fails
    saying float64 is required (as does a float32 answer there that misses even float32's level).
    `fits(t)` says whether the answer is within tolerance `t`; `scale` is the largest expected magnitude."""
    if fits(tol):
        return Judged(True, tol)
    wide = tol.at_float32(scale)
    within_float32 = fits(wide)
    if within_float32 and not tol.float64_only:
        _note_float32_slack(what)
        return Judged(True, wide)
    if tol.float64_only:
        return Judged(False, tol, FLOAT64_REQUIRED if within_float32 or float32_precision(actual) else "")
    return Judged(False, wide)


class Mismatch(Exception):
    """Raised by `assert_close` with a message a student can act on."""


EXPECTED_NUMBERS = "expected numbers (a tensor, array, number or nested lists of numbers)"


def as_array(value: Any, what: str = "the result") -> np.ndarray:
    """The one type gate, where answers become numbers for judging: a tensor, array, number or nested
    lists of numbers -> a bool/int/float ndarray; anything else (a string anywhere in it, a dict, None,
    an object, bytes, ragged lists, complex numbers) -> Mismatch naming what came back and what was expected."""
    arr = _numeric_array(value)
    if arr is None:
        raise Mismatch(not_numbers(value, what))
    return arr


def not_numbers(value: Any, what: str = "the result") -> str:
    """The type gate's message: '<what> returned a list of str; expected numbers (...)'."""
    if _is_complex(value):
        return f"{what} returned complex numbers ({describe(value)}); expected real numbers"
    return f"{what} returned {describe(value)}; {EXPECTED_NUMBERS}"


def form(value: Any) -> tuple:
    """The structure judges rely on: containers and their lengths (dicts their keys), the shape of
    numbers (nested lists of numbers are arrays; one number in any shape is a number)."""
    arr = _numeric_array(value)
    if arr is not None:
        return ("numbers", () if arr.size == 1 else arr.shape)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), form(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("sequence", tuple(form(v) for v in value))
    return ("other", type(value).__name__)


def holds_only_numbers(value: Any) -> bool:
    """Whether an answer is numbers all the way down: arrays, numbers, and tuples, lists and dicts
    (their values) of them (a tuple of arrays of different shapes is one)."""
    if isinstance(value, dict):
        return all(holds_only_numbers(v) for v in value.values())
    if _numeric_array(value) is not None:
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(holds_only_numbers(v) for v in value)


def holds_non_finite(value: Any) -> bool:
    """Whether an answer holds nan or inf anywhere (in its numbers, or the values of its containers)."""
    if isinstance(value, dict):
        return any(holds_non_finite(v) for v in value.values())
    arr = _numeric_array(value)
    if arr is not None:
        return arr.dtype.kind == "f" and not bool(np.isfinite(arr).all())
    return isinstance(value, (list, tuple)) and any(holds_non_finite(v) for v in value)


def non_finite(value: Any, what: str = "the result") -> str:
    """The message for an answer a judge could not use because it holds nan or inf."""
    return f"{what} returned {describe(value)} holding nan or inf; expected finite numbers"


def _numeric_array(value: Any) -> np.ndarray | None:
    if isinstance(value, (Opaque, str, bytes, dict)) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.dtype == object and _only_ints(value):     # Python ints beyond int64: still numbers
        with contextlib.suppress(OverflowError, ValueError, TypeError):
            arr = np.asarray(value, dtype=np.float64)
    return arr if arr.dtype.kind in "biuf" else None


def _only_ints(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_only_ints(v) for v in value)
    return isinstance(value, int)


def _is_complex(value: Any) -> bool:
    try:
        return np.asarray(value).dtype.kind == "c"
    except (ValueError, TypeError, OverflowError):
        return False


def describe(value: Any) -> str:
    """What came back, the one way messages name it: 'a torch.Tensor of shape (3, 2) and dtype float64',
    'a list of length 2 holding lists of str', 'a ragged list ...', 'a dict', 'None', 'an int (4353)'."""
    if isinstance(value, np.ndarray):
        kind = "a torch.Tensor" if isinstance(value, TorchArray) else "a numpy.ndarray"
        return f"{kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name} ({value.text})"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return _describe_sequence(value)
    if isinstance(value, dict):
        return f"a dict with keys {', '.join(map(repr, list(value)[:6]))}" if value else "an empty dict"
    name = type(value).__name__
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name} ({_short_repr(value)})"


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_sequence(value: list | tuple) -> str:
    kind = type(value).__name__
    if not value:
        return f"an empty {kind}"
    ragged = "ragged " if _ragged(value) else ""
    inner = sorted({_leaf_kind(v) for v in value})
    return f"a {ragged}{kind} of length {len(value)} holding {' and '.join(inner)}"


def _leaf_kind(value: Any) -> str:
    """How an item of a sequence is named: 'str', 'lists of float', 'torch.Tensor', 'None'."""
    if isinstance(value, (list, tuple)):
        inner = sorted({_leaf_kind(v) for v in value}) or ["nothing"]
        return f"{type(value).__name__}s of {' and '.join(inner)}"
    if isinstance(value, np.ndarray):
        kind = "torch.Tensor" if isinstance(value, TorchArray) else "numpy.ndarray"
        return f"{kind} of shape {tuple(value.shape)} ({value.dtype})"
    if isinstance(value, Opaque):
        return value.type_name
    return "None" if value is None else type(value).__name__


def _ragged(value: Any) -> bool:
    """Whether nested sequences have rows of different lengths (or mix rows and numbers)."""
    items = [v for v in value if isinstance(v, (list, tuple))]
    if not items:
        return False
    if len(items) != len(value) or len({len(v) for v in items}) > 1:
        return True
    return any(_ragged(v) for v in items)


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
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    judged = judge_precision(lambda t: bool(np.isclose(a, e, rtol=t.rtol, atol=t.atol, equal_nan=equal_nan).all()),
                             tol, _largest_finite(e), actual, what)
    if not judged.passed:
        close = np.isclose(a, e, rtol=judged.tol.rtol, atol=judged.tol.atol, equal_nan=equal_nan)
        message = _value_mismatch(a, e, close, judged.tol, what)
        raise Mismatch(f"{message}\n{judged.note}" if judged.note else message)


_FLOAT32_SLACK: contextvars.ContextVar[list | None] = contextvars.ContextVar("float32_slack", default=None)


@contextlib.contextmanager
def noting_float32_slack() -> Iterator[list[str]]:
    """Collect the comparisons that passed only thanks to float32 slack (the runner tells the student)."""
    used: list[str] = []
    token = _FLOAT32_SLACK.set(used)
    try:
        yield used
    finally:
        _FLOAT32_SLACK.reset(token)


def _note_float32_slack(what: str) -> None:
    used = _FLOAT32_SLACK.get()
    if used is not None:
        used.append(what)


def float32_precision(value: Any) -> bool:
    """Whether a returned value carries float32 precision at most: a float32 (or float16) array, or
    floats that float32 holds exactly while float16 does not (a float32 result taken out with .item()).
    Evidence the parent recomputes from the numbers themselves, whatever the child says of its dtype."""
    if isinstance(value, dict):
        return any(float32_precision(v) for v in value.values())
    if isinstance(value, (list, tuple)) and not _is_numeric_sequence(value):
        return any(float32_precision(v) for v in value)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return False
    if arr.dtype.kind != "f":
        return False
    if arr.dtype.itemsize <= 4:
        return True
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return False
    with np.errstate(over="ignore"):
        in_float32 = bool((finite.astype(np.float32).astype(np.float64) == finite).all())
        fractional = finite[finite != np.round(finite)]            # integers say nothing of the dtype
        beyond_float16 = bool((fractional.astype(np.float16).astype(np.float64) != fractional).any())
    return in_float32 and beyond_float16


def _largest_finite(expected: Any) -> float:
    try:
        arr = np.abs(np.asarray(expected, dtype=np.float64))
    except (TypeError, ValueError):
        return 0.0
    finite = arr[np.isfinite(arr)]
    return float(finite.max()) if finite.size else 0.0


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
    with np.errstate(over="ignore", invalid="ignore"):
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
        array = as_array(actual, what)
        if array.dtype.kind not in "iuf" or array.size != 1:   # True is no count, even if float() would take it
            raise TypeError
        value = float(array.reshape(()))
    except (Mismatch, TypeError, ValueError):
        raise Mismatch(f"{what} should be an integer, but it is {describe(actual)}") from None
    if value != expected:
        raise Mismatch(f"{what} is {_fmt(value)}, expected {expected}")
