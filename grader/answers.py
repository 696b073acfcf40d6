"""A compact fingerprint of a failed check's answers, for "answers alike" in the batch report.

Computed in the parent from the decoded observations (never from anything the student's code
says about itself): floats rounded to the check's tolerance, shapes, dtypes' kinds and the
types of exceptions raised. Two submissions with the same wrong values on the same inputs get
the same fingerprint; noise below the tolerance does not tell them apart. Only the hash is
kept (in grading.json, for instructors): it reveals no value.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Iterable

import numpy as np

#: Bytes of the SHA-256 kept: 12 hex digits, collisions negligible within a class.
DIGITS = 12
#: Keys under which probes report what they measured (time, memory): they vary from run to run,
#: so they are no part of an answer.
MEASUREMENTS = frozenset({"seconds", "elapsed", "rss_before_mb", "inputs_mb", "peak_mb"})


def fingerprint(observations: Iterable[Any], rtol: float, atol: float) -> str:
    """The hash of what the probes returned or raised (`Observation`s), at the given tolerance."""
    digest = hashlib.sha256()
    sig = _significant_digits(rtol)
    for observation in observations:
        if observation.raised is not None:
            digest.update(b"R" + str(observation.raised.get("type", "")).encode() + b";")
        else:
            _feed(digest, observation.returned, sig, atol)
    return digest.hexdigest()[:DIGITS]


def _significant_digits(rtol: float) -> int:
    """Digits a value may be trusted to at relative tolerance `rtol` (1e-6 -> 5), at least 1."""
    if not rtol or rtol <= 0 or not math.isfinite(rtol):
        return 15
    return max(1, min(15, int(math.floor(-math.log10(rtol))) - 1))


def _feed(digest, value: Any, sig: int, atol: float) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype.kind}{value.shape};".encode())
        if value.dtype.kind in "fc":
            digest.update(_rounded(value, sig, atol).tobytes())
        else:
            digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, float):
        digest.update(b"f" + _rounded(np.asarray([value]), sig, atol).tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}[".encode())
        for item in value:
            _feed(digest, item, sig, atol)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"d{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            if key in MEASUREMENTS:
                continue
            digest.update(repr(key).encode() + b":")
            _feed(digest, value[key], sig, atol)
        digest.update(b"}")
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def _rounded(values: np.ndarray, sig: int, atol: float) -> np.ndarray:
    """`sig` significant digits; entries within `atol` of 0 are 0; NaN and infinities kept as such."""
    values = np.asarray(values, dtype=np.complex128 if values.dtype.kind == "c" else np.float64)
    flat = values.ravel()
    parts = (flat.real, flat.imag) if values.dtype.kind == "c" else (flat,)
    return np.concatenate([_round_real(p, sig, atol) for p in parts])


def _round_real(values: np.ndarray, sig: int, atol: float) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    finite = np.isfinite(out)
    small = finite & (np.abs(out) <= atol)
    out[small] = 0.0
    big = finite & ~small
    if big.any():
        exponent = np.floor(np.log10(np.abs(out[big])))
        scale = 10.0 ** (sig - 1 - exponent)
        out[big] = np.round(out[big] * scale) / scale
    out[out == 0] = 0.0   # -0.0 and 0.0 alike
    return out


_FINGERPRINTED = frozenset({"failed", "error"})


def of_failures(outcomes: Iterable[Any], pending: Iterable[Any]) -> dict[str, str]:
    """check id -> fingerprint, for each check its judge found wrong (or saw raise).

    `pending` pairs with `outcomes` (the runner's checks between its phases). Left out: checks
    decided before judging (missing, crashed, timed out: alike by nature), and non-visible
    checks drawn per student (their inputs differ, so their answers cannot be compared)."""
    prints = {}
    for outcome, item in zip(outcomes, pending):
        if outcome.status.value not in _FINGERPRINTED or item.outcome is not None or not item.observations:
            continue
        if item.entry.secret and item.key:
            continue
        prints[outcome.check_id] = fingerprint(item.observations, item.entry.rtol, item.entry.atol)
    return prints
