"""The only format that crosses the process boundary: JSON with tagged arrays.

Never pickle: the parent decodes with `numpy.frombuffer` on a whitelist of dtypes,
so nothing a submission returns can run code in the judge. Tags:

- ``{"__nd__": [dtype, shape, base64], "torch": bool}``: an array (a torch tensor
  when ``torch`` is true, so judges can still check the type the student returned);
- ``{"__tuple__": [...]}``, ``{"__float__": "nan" | "inf" | "-inf"}``;
- ``{"__dict__": [[key, value], ...]}``: a dict whose keys are not all strings;
- ``{"__fn__": name, ...}``: a callable the child builds from its whitelist;
- ``{"__opaque__": type name, "repr": text}``: something that is not plain data.

This module is imported by the child: it depends on numpy and the standard library only.
"""
from __future__ import annotations

import base64
import json
import math
import os
import struct
from typing import Any

import numpy as np

ALLOWED_DTYPES = frozenset(
    {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex128", "complex64"}
)
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # an answer larger than this is unreadable, not a crash of the grader
_HEADER = struct.Struct("!Q")


class WireError(Exception):
    """A message that is not valid wire data (a forged, truncated or oversized answer)."""


class Opaque:
    """A returned value that is not plain data (for example a custom object)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)


class TorchArray(np.ndarray):
    """A numpy array that was a torch tensor in the child (lets judges say what was returned)."""


def _encode_array(arr: np.ndarray, from_torch: bool) -> dict:
    arr = np.asarray(arr, order="C")  # ascontiguousarray would turn 0-d into 1-d
    dtype = arr.dtype.name
    if dtype not in ALLOWED_DTYPES:
        arr, dtype = arr.astype(np.float64), "float64"
    data = base64.b64encode(arr.tobytes()).decode("ascii")
    return {"__nd__": [dtype, list(arr.shape), data], "torch": from_torch}


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn a value into JSON-ready data (torch tensors included, when torch is loaded)."""
    if _depth > 50:
        return {"__opaque__": "nested", "repr": "structure nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return _encode_array(value, isinstance(value, TorchArray))
    tensor = _as_tensor_array(value)
    if tensor is not None:
        return _encode_array(tensor, True)
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v, _depth + 1) for k, v in value.items()}
        return {"__dict__": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    return {"__opaque__": type(value).__name__, "repr": _safe_repr(value)}


def _as_tensor_array(value: Any) -> np.ndarray | None:
    """A torch tensor as a numpy array, without importing torch where it is absent."""
    torch = _loaded_torch()
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    tensor = value.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.resolve_conj().resolve_neg().numpy()


def _loaded_torch():
    import sys

    return sys.modules.get("torch")


def _safe_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException:  # a student's __repr__ may raise anything
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode(data: Any) -> Any:
    """Inverse of `encode`; arrays come back as numpy arrays (TorchArray for tensors)."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__nd__" in data:
        return _decode_array(data)
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__float__" in data:
        return float(data["__float__"])
    if "__dict__" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["__dict__"]}
    if "__opaque__" in data:
        return Opaque(str(data["__opaque__"]), str(data.get("repr", "")))
    return {k: decode(v) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    return key if not isinstance(key, (list, np.ndarray)) else repr(key)


def _decode_array(data: dict) -> np.ndarray:
    try:
        dtype, shape, payload = data["__nd__"]
        if dtype not in ALLOWED_DTYPES:
            raise WireError(f"array dtype {dtype!r} is not allowed")
        arr = np.frombuffer(base64.b64decode(payload), dtype=np.dtype(dtype)).reshape([int(s) for s in shape])
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"malformed array: {exc}") from None
    arr = arr.copy()
    return arr.view(TorchArray) if data.get("torch") else arr


def send(fd: int, message: dict) -> None:
    """Write one length-prefixed JSON message to a file descriptor."""
    body = json.dumps(message, allow_nan=False).encode("utf-8")
    _write_all(fd, _HEADER.pack(len(body)) + body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Blocking read of exactly `size` bytes; EOFError when the writer is gone."""
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def parse_header(header: bytes) -> int:
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"answer of {size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    return size


def parse_body(body: bytes) -> dict:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"answer is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("answer is not a JSON object")
    return message


def receive(fd: int) -> dict:
    """Blocking read of one message (used by the child; the parent reads with a deadline)."""
    return parse_body(read_exact(fd, parse_header(read_exact(fd, _HEADER.size))))


HEADER_SIZE = _HEADER.size
