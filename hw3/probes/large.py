"""Probe kinds on inputs too large to cross the pipe (Question 2: VJPs at n = 10^6).

The child builds the inputs itself from a cheap deterministic formula, calls the
student's function, and sends back only a summary: the output's shape and dtype,
its entries at the indices the parent chose, its sum, and how long the call took.
The parent recomputes the expected summary in chunks (`hw3/checks/q2.py`), so
neither side ever sends n numbers, and the parent never holds them at once.

Inputs (float64, i = 0 .. n - 1, in exactly this order of operations, which the
judge repeats with numpy):

    x_i = amp * sin(a * i + b)          g_i = cos(c * i) + d

Child side: imports only the standard library, numpy, torch and `grader.probes`.
"""
from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

from grader.probes.registry import probe


def formula_x(n: int, a: float, b: float, amp: float):
    """x_i = amp * sin(a i + b) as one float64 tensor, built in place (no temporaries)."""
    import torch

    return torch.arange(n, dtype=torch.float64).mul_(a).add_(b).sin_().mul_(amp)


def formula_g(n: int, c: float, d: float):
    """g_i = cos(c i) + d as one float64 tensor, built in place."""
    import torch

    return torch.arange(n, dtype=torch.float64).mul_(c).cos_().add_(d)


@probe("vjp_large")
def vjp_large(student, target: str, n: int, x: dict, g: dict, indices: Any) -> dict:
    """Call ``target(x, g)`` on the formula inputs of size n; return a summary of the output.

    `x` is ``{"a", "b", "amp"}``, `g` is ``{"c", "d"}``; `indices` (int64, arrives as a
    tensor) are the entries sent back. Memory is freed before returning.
    """
    func = student.resolve(target)
    picks = np.asarray(indices, dtype=np.int64).reshape(-1)
    gc.collect()
    peak_reset = _reset_peak()
    rss_before = _rss_mb()
    xs = formula_x(int(n), float(x["a"]), float(x["b"]), float(x["amp"]))
    gs = formula_g(int(n), float(g["c"]), float(g["d"]))
    inputs_mb = _rss_mb() - rss_before
    try:
        started = time.perf_counter()
        out = func(xs, gs)
        elapsed = time.perf_counter() - started
    finally:
        del xs, gs
    try:
        summary = _summarize(out, picks, int(n))
    finally:
        del out
        gc.collect()
    peak = _peak_mb()
    summary.update({
        "elapsed": elapsed,
        "rss_before_mb": rss_before,
        "inputs_mb": inputs_mb,
        # peak RSS of the call (inputs included) above the RSS before the inputs existed;
        # None where the kernel cannot reset the high-water mark
        "peak_mb": (peak - rss_before) if peak_reset and peak is not None else None,
    })
    return summary


def _summarize(out: Any, picks: np.ndarray, n: int) -> dict:
    """What the judge needs of a (possibly huge) result, as small plain data (no n-sized temporaries)."""
    import torch

    arr: torch.Tensor | np.ndarray
    if isinstance(out, torch.Tensor):
        kind, arr = "torch.Tensor", out.detach().cpu()
        shape, dtype = tuple(arr.shape), str(arr.dtype).replace("torch.", "")
        readable = not (arr.is_complex() or arr.dtype == torch.bfloat16)
    else:
        kind = "numpy.ndarray" if isinstance(out, np.ndarray) else type(out).__name__
        try:
            arr = np.asarray(out)
        except Exception:  # ragged lists and the like: the judge says what came back
            return {"type": kind, "shape": None, "dtype": None}
        shape, dtype = tuple(arr.shape), str(arr.dtype)
        readable = arr.dtype.kind in "biuf"
    summary: dict[str, object] = {"type": kind, "shape": shape, "dtype": dtype}
    size = arr.numel() if isinstance(arr, torch.Tensor) else arr.size
    if not readable or size != n:
        return summary
    flat = arr.reshape(-1)
    if isinstance(flat, torch.Tensor):
        summary["values"] = flat[torch.from_numpy(picks)].to(torch.float64).numpy()
        summary["sum"] = float(flat.sum(dtype=torch.float64))
        summary["abs_max"] = max(abs(float(flat.max())), abs(float(flat.min())))
    else:
        summary["values"] = flat[picks].astype(np.float64)
        summary["sum"] = float(flat.sum(dtype=np.float64))
        summary["abs_max"] = max(abs(float(flat.max())), abs(float(flat.min())))
    return summary


def _rss_mb() -> float:
    return _status_field("VmRSS")


def _peak_mb() -> float | None:
    try:
        return _status_field("VmHWM")
    except (OSError, ValueError):
        return None


def _status_field(name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024.0
    raise ValueError(name)


def _reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False

