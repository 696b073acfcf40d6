"""Probe kinds that report more than a call's return value (registered with `registry.probe`).

- ``call_keep_args``: call one student function and return ``{"returned": ..., "args_after": [...],
  "kwargs_after": {...}}``, the arguments as they are *after* the call, so that a judge can tell
  whether the student modified its inputs in place (an update that must return new tensors).
- ``call_catch``: call one student function and return ``{"returned": ...}`` or, when it raised,
  ``{"raised": {"type", "mro", "message"}}``; ``mro`` lists the exception's classes, so that a
  judge expecting ``ValueError`` accepts a student's own subclass of it (at an input the contract says must raise).

Both behave like ``call`` for a function that is missing or not attempted (the runner reports
those). Child side: imports only the standard library and this package.
"""
from __future__ import annotations

from typing import Any

from .registry import probe
from .student import describe_exception


@probe("call_keep_args")
def call_keep_args(student, target: str, args: tuple = (), kwargs: dict | None = None) -> dict[str, Any]:
    """Call ``module.function`` and return what it returned and its arguments after the call."""
    kwargs = dict(kwargs or {})
    returned = student.resolve(target)(*args, **kwargs)
    # Copied now, before anything the student returned is touched: encoding a return value can run
    # student code (a tuple subclass's __iter__, a tensor subclass's __torch_function__) that could
    # put the inputs back as they were.
    args_after, kwargs_after = _snapshot(list(args)), _snapshot(kwargs)
    return {"returned": returned, "args_after": args_after, "kwargs_after": kwargs_after}


def _snapshot(value: Any) -> Any:
    """Plain copies of the grader's own arguments (tensors as numpy arrays), with no override of
    a student's tensor subclass consulted."""
    import numpy as np   # on first use, as every probe kind: the parent imports the kinds' registry without them
    import torch

    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            return value.detach().cpu().clone().numpy()
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True).view(np.ndarray)
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value


@probe("call_catch")
def call_catch(student, target: str, args: tuple = (), kwargs: dict | None = None) -> dict[str, Any]:
    """Call ``module.function``; an ordinary exception is returned as data instead of failing the probe."""
    function = student.resolve(target)          # a missing function stays the runner's business
    try:
        return {"returned": function(*args, **(kwargs or {}))}
    except (NotImplementedError, MemoryError):  # not attempted / out of memory: reported by the runner
        raise
    except Exception as exc:
        return {"raised": {"type": type(exc).__name__,
                           "mro": [cls.__name__ for cls in type(exc).__mro__],
                           "message": describe_exception(exc, student.source_paths())}}
