"""Question 6: true 1-D convolution with numpy.convolve's modes (`convolution.py`)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from grader.checks.base import Check, CheckList, JudgeContext, Probe, Verdict, call
from .q2 import close
from grader.compare import Mismatch, Tolerance, as_array, assert_close

CHECKS = CheckList(__name__)

MODES = ("full", "valid", "same")
CONV_HINT = ("Convolution flips the kernel: (x * k)[t] = sum_j x[j] k[t - j]. 'full' has every overlap "
             "(length n + m - 1), 'valid' only complete overlaps, 'same' the central max(n, m) entries of 'full'.")
CORRELATION = "looks like cross-correlation: the kernel must be flipped (true convolution)."


def _label(x: np.ndarray, k: np.ndarray, mode: str | None) -> str:
    shown = lambda a: "[" + ", ".join(f"{v:g}" for v in a) + "]" if a.size <= 8 else f"<{a.size} values>"  # noqa: E731
    return f"conv1d({shown(x)}, {shown(k)}" + (f", mode={mode!r})" if mode else ")")


def conv_call(x: np.ndarray, k: np.ndarray, mode: str | None) -> Probe:
    """conv1d(x, k) (mode left to its default) or conv1d(x, k, mode=mode)."""
    kwargs = {"mode": mode} if mode else {}
    return call("convolution.conv1d", x, k, label=_label(x, k, mode), **kwargs)


def explain_conv(actual, x: np.ndarray, k: np.ndarray, mode: Literal["full", "same", "valid"]) -> str:
    """Name a known bug when `actual` is what it would produce ("" otherwise)."""
    tol = Tolerance(1e-9, 1e-12)
    if close(actual, np.convolve(x, k[::-1], mode), tol) or close(actual, np.correlate(x, k, mode), tol):
        return f"It {CORRELATION}"
    a, v = (x, k) if x.size >= k.size else (k, x)
    full = np.convolve(a, v, "full")
    n, m = a.size, v.size
    if mode == "same":
        start = (m - 1) // 2
        for shift in (-1, 1):
            window = full[start + shift:start + shift + n]
            if 0 <= start + shift and start + shift + n <= full.size and close(actual, window, tol):
                return (f"'same' is off by one: numpy.convolve keeps the entries of 'full' from index (m - 1) // 2 = "
                        f"{start} (m = {m}, the shorter length), not {start + shift}.")
    if mode == "valid" and x.size < k.size:
        try:
            length = as_array(actual).size
        except Mismatch:
            length = None
        if length in (0, None) or length != n - m + 1:
            return ("The kernel is longer than the signal: numpy.convolve swaps them (convolution commutes), "
                    f"so 'valid' has max(n, m) - min(n, m) + 1 = {n - m + 1} entries.")
    return ""


MAX_REPORTED = 3


def _judge_conv(partial: bool):
    """Every call against numpy.convolve; `partial`: credit per call, else all or nothing."""
    def judge(ctx: JudgeContext) -> Verdict:
        messages, good = [], 0
        for obs in ctx.observations:
            x, k = obs.probe.params["args"]
            mode = obs.probe.params["kwargs"].get("mode", "full")
            expected = np.convolve(x, k, mode)
            actual = obs.value
            try:
                assert_close(actual, expected, ctx.tol, what=obs.probe.label)
                good += 1
            except Mismatch as exc:
                known = explain_conv(actual, x, k, mode)
                messages.append(f"{exc}\n{known}" if known else str(exc))
        if not messages:
            return Verdict.passed()
        shown = messages[:MAX_REPORTED]
        if len(messages) > MAX_REPORTED:
            shown.append(f"... and {len(messages) - MAX_REPORTED} more calls differ.")
        fraction = good / len(ctx.observations) if partial else 0.0
        return Verdict(fraction, "\n".join(shown))

    return judge


QUESTION = (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 2.0]))


def _question_probes(rng: np.random.Generator) -> list[Probe]:
    x, k = QUESTION                                   # full [1, 2, 5, 8, 6, 8], valid [5, 8], same [2, 5, 8, 6]
    return [conv_call(x, k, None), conv_call(x, k, "valid"), conv_call(x, k, "same")]


CHECKS.add(Check("Q6.conv1d.question", _question_probes, _judge_conv(partial=True), hint=CONV_HINT))


def _modes_probes(rng: np.random.Generator) -> list[Probe]:
    probes = []
    for n, m in ((8, 3), (11, 5), (6, 4), (9, 1)):
        x, k = rng.normal(size=n), rng.normal(size=m)
        probes += [conv_call(x, k, mode) for mode in MODES]
    return probes


CHECKS.add(Check("Q6.conv1d.modes", _modes_probes, _judge_conv(partial=False), hint=CONV_HINT))
