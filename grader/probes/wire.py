"""The only format that crosses the process boundary: framed JSON with raw arrays.

Never pickle: the parent decodes with `numpy.frombuffer` on a whitelist of dtypes,
so nothing a submission returns can run code in the judge.

**Frames.** Every message, both ways, is one frame: a 16-byte header (the magic
``HW3F``, the length of a JSON text as u32, the length of a binary part as u64),
the JSON text (UTF-8, ASCII in practice), then the binary part: the raw bytes of
the arrays the JSON refers to, each at an offset aligned to 16 bytes.

**Tags** in the JSON:

- ``{"__nd__": [dtype, shape, data], "torch": bool}``: an array (a torch tensor when
  ``torch`` is true, so judges can still check the type the student returned). ``data``
  is the offset of its bytes in the binary part (answers), or base64 text (requests and
  `encode`/`decode`, which the student kit stores as JSON). ``"list": true`` marks a plain
  Python list of numbers that travelled as an array (`LIST_AS_ARRAY`);
- ``{"__tuple__": [...]}``, ``{"__float__": "nan" | "inf" | "-inf"}``;
- ``{"__dict__": [[key, value], ...]}``: a dict whose keys are not all plain strings;
- ``{"__fn__": name, ...}``: a callable the child builds from its whitelist (requests only);
- ``{"__opaque__": type name, "repr": text}``: something that is not plain data.

**Two directions, two levels of trust.** Requests (parent to child) are the grader's
own data. Answers (child to parent) are hostile: student code runs in the child's
process and can write any bytes to the answer channel, valid token included. In the
parent, `parse_header` and `read_answer` are the one place where those bytes become
data: they check the frame, then the depth of the JSON before parsing it, then the
message's shape and every field's type, with size limits all along, and they raise
`WireError` and nothing else. An answer is bounded before it is read (`answer_limit`:
a few MB unless a probe kind declares more, which the child reports in its "ready" answer,
sent before any student code runs), and is decoded without multiplying its
size: arrays are views on the binary part, and the child never ships a long list of
numbers as JSON (it sends an array, or refuses when even that is over the limit).

This module is imported by the child: it depends on numpy and the standard library only.
"""
from __future__ import annotations

import base64
import enum
import json
import math
import os
import re
import struct
from dataclasses import dataclass
from dataclasses import field as dataclass_field
import sys
from typing import Any

import numpy as np

ALLOWED_DTYPES = frozenset(
    {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex128", "complex64"}
)

MAGIC = b"HW3F"
_FRAME = struct.Struct("!4sIQ")
HEADER_SIZE = _FRAME.size

#: The largest answer (JSON text plus arrays) a probe may send, unless its kind declares more
#: (`registry.probe(name, answer_bytes=...)`).
DEFAULT_ANSWER_BYTES = 4 * 2**20
#: The most any probe kind may declare.
MAX_ANSWER_BYTES = 256 * 2**20
#: How many declared sizes a "ready" answer may carry.
MAX_DECLARED_KINDS = 1000
#: The JSON text of one answer, whatever its kind: parsing JSON multiplies its size (a Python
#: object per value), so everything bulky must travel in the binary part.
MAX_JSON_BYTES = 1 * 2**20
#: What the child accepts from the parent (trusted; requests carry the checks' inputs).
MAX_REQUEST_BYTES = 256 * 2**20
#: JSON nesting allowed in an answer (a Python nesting of 50, as `encode` keeps, with tags).
MAX_DEPTH = 200
MAX_DIMS = 32
MAX_DIM = 2**40
#: Characters kept of a text field of an answer (messages, exception texts).
MAX_TEXT = 20_000
#: A plain list of at least this many numbers travels as an array (decoded as `ListArray`).
LIST_AS_ARRAY = 4096
_ENCODE_DEPTH = 50
_ALIGN = 16
# A Python int with more bits than this has more decimal digits than `json.loads` accepts.
_MAX_INT_BITS = 13_000

#: The kinds of answer the child sends, and the fields each may carry besides "token".
ANSWER_KINDS = {
    "ready": ("confined", "isolated", "answer_bytes"), "ok": ("value",), "raised": (), "missing": (),
    "import_error": (), "not_implemented": (), "grader_error": (), "too_large": (),
}


class WireError(Exception):
    """A message that is not valid wire data (a forged, truncated or oversized answer)."""


class TooLarge(Exception):
    """(Child side) a value too large for the answer's limit; the message says how large."""


class Opaque:
    """A returned value that is not plain data (for example a custom object)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)

    def __hash__(self) -> int:  # a dict key can be one
        return hash((self.type_name, self.text))


class TorchArray(np.ndarray):
    """A numpy array that was a torch tensor in the child (lets judges say what was returned)."""


class ListArray(np.ndarray):
    """A numpy array that was a plain Python list of numbers (at least `LIST_AS_ARRAY` long) in the child."""


def answer_limit(kind: str | None, declared: dict[str, int] | None = None) -> int:
    """The largest answer, in bytes, a probe of this kind may send: what its kind declared (`declared`, as
    the child's "ready" answer reported it), else the default."""
    if not isinstance(kind, str) or not declared:
        return DEFAULT_ANSWER_BYTES
    return declared.get(kind, DEFAULT_ANSWER_BYTES)


def human(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} kB" if size >= 2**10 else f"{size} bytes"


# ====================================================================== encoding

class Encoded:
    """A value ready for a frame: its JSON tree and the arrays its tags point to."""

    def __init__(self, tree: Any, blobs: list[tuple[int, np.ndarray]], blob_bytes: int) -> None:
        self.tree, self.blobs, self.blob_bytes = tree, blobs, blob_bytes


class _Encoder:
    """`inline`: arrays as base64 text in the JSON; else as offsets into the binary part.
    `limit`: the answer's limit in bytes (None: unlimited); `TooLarge` as soon as it is passed."""

    def __init__(self, inline: bool, limit: int | None = None) -> None:
        self.inline = inline
        self.limit = limit
        self.json_limit = None if limit is None else min(limit, MAX_JSON_BYTES)
        self.blobs: list[tuple[int, np.ndarray]] = []
        self.blob_bytes = 0
        self.json_bytes = 0      # a lower bound of the JSON text's length so far

    # -- accounting
    def _text(self, size: int) -> None:
        self.json_bytes += size
        if self.json_limit is not None and self.json_bytes > self.json_limit:
            raise TooLarge(f"it is more than {human(self.json_limit)} of plain Python data (lists, numbers, text); "
                           "return a tensor or an array, and only what the function should return")

    def _room(self) -> int | None:
        return None if self.limit is None else self.limit - self.blob_bytes - self.json_bytes

    def _reserve(self, nbytes: int, what: str) -> None:
        room = self._room()
        if room is not None and nbytes + _ALIGN > room:
            assert self.limit is not None   # there is room to count only under a limit
            raise TooLarge(f"it holds {what} of about {human(nbytes)}, more than the {human(self.limit)} "
                           "this check accepts; return only what the function should return")

    # -- values
    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > _ENCODE_DEPTH:
            self._text(60)
            return {"__opaque__": "nested", "repr": "structure nested too deeply"}
        if value is None or isinstance(value, bool):
            self._text(5)
            return value
        if isinstance(value, str):
            self._text(len(value) + 2)
            return value
        if isinstance(value, (int, np.integer)):
            value = int(value)
            if value.bit_length() > _MAX_INT_BITS:
                self._text(80)
                return {"__opaque__": "int", "repr": f"an integer of {value.bit_length()} bits"}
            self._text(2)
            return value
        if isinstance(value, (float, np.floating)):
            value = float(value)
            self._text(2)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.bool_):
            self._text(5)
            return bool(value)
        if isinstance(value, np.ndarray):
            return self._array(value, isinstance(value, TorchArray))
        tensor = _as_tensor_array(value)
        if tensor is not None:
            return self._array(tensor, True)
        if isinstance(value, tuple):
            self._text(16 + len(value))
            return {"__tuple__": [self.value(v, depth + 1) for v in value]}
        if isinstance(value, list):
            if not self.inline and len(value) >= LIST_AS_ARRAY:
                self._reserve(8 * len(value), f"a list of {len(value):,} items")
                numbers = _numeric_list(value)
                if numbers is not None:
                    return self._array(numbers, False, as_list=True)
            self._text(2 + len(value))
            return [self.value(v, depth + 1) for v in value]
        if isinstance(value, dict):
            self._text(2 + len(value))
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                out = {}
                for k, v in value.items():
                    self._text(len(k) + 3)
                    out[k] = self.value(v, depth + 1)
                return out
            self._text(12)
            return {"__dict__": [[self.value(k, depth + 1), self.value(v, depth + 1)] for k, v in value.items()]}
        text = _safe_repr(value)
        self._text(len(text) + 40)
        return {"__opaque__": type(value).__name__, "repr": text}

    def _array(self, arr: Any, from_torch: bool, as_list: bool = False) -> dict:
        arr = np.asarray(arr)
        dtype = arr.dtype.name
        size = arr.size * (arr.dtype.itemsize if dtype in ALLOWED_DTYPES else 8)
        self._reserve(size, f"an array of shape {tuple(arr.shape)}")
        if not arr.dtype.isnative:  # the parent reads the bytes in its own (the machine's) order
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if dtype not in ALLOWED_DTYPES:
            arr, dtype = arr.astype(np.float64), "float64"
        arr = np.asarray(arr, order="C")  # ascontiguousarray would turn 0-d into 1-d
        tag: dict[str, Any] = {"__nd__": [dtype, list(arr.shape), 0], "torch": from_torch}
        if as_list:
            tag["list"] = True
        self._text(60 + 4 * arr.ndim)
        if self.inline:
            data = base64.b64encode(arr.tobytes()).decode("ascii")
            self._text(len(data))
            tag["__nd__"][2] = data
        else:
            offset = self.blob_bytes + (-self.blob_bytes) % _ALIGN
            self.blobs.append((offset, arr))
            self.blob_bytes = offset + arr.nbytes
            tag["__nd__"][2] = offset
        return tag


def _numeric_list(value: list) -> np.ndarray | None:
    """A list of plain numbers (all bool, all int, or ints and floats) as one array, else None."""
    kinds = set(map(type, value))
    dtype: type[np.generic]
    if kinds <= {bool, np.bool_}:
        dtype = np.bool_
    elif all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
        dtype = np.int64
    elif all(issubclass(k, (int, float, np.integer, np.floating)) and not issubclass(k, (bool, np.bool_))
             for k in kinds):
        dtype = np.float64
    else:
        return None
    try:
        return np.array(value, dtype=dtype)
    except (OverflowError, ValueError, TypeError):
        return None


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn a value into JSON-ready data, arrays as base64 text (requests, the student kit)."""
    return _Encoder(inline=True).value(value, _depth)


def encode_value(value: Any, limit: int) -> Encoded:
    """(Child side) what a probe returned, for an answer of at most `limit` bytes; `TooLarge` if over."""
    encoder = _Encoder(inline=False, limit=limit)
    tree = encoder.value(value)
    return Encoded(tree, encoder.blobs, encoder.blob_bytes)


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
    return sys.modules.get("torch")


def _safe_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # a student's __repr__ may raise anything
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ====================================================================== decoding

def decode(data: Any) -> Any:
    """Inverse of `encode` (trusted data: requests, the kit's files); arrays come back as numpy
    arrays (TorchArray for tensors). Raises only `WireError`."""
    try:
        return _Decoder(None, strict=False).value(data, 0)
    except WireError:
        raise
    except RecursionError:
        raise WireError("the data is nested too deeply") from None
    except Exception as exc:
        raise WireError(f"malformed data ({type(exc).__name__}: {_short(exc)})") from None


class _Decoder:
    """`strict` (answers): only the tags `encode_value` writes, each with exactly its fields, arrays
    in `blob`. Not strict (requests, the kit): arrays as base64 text, unknown ``__x__`` keys kept."""

    def __init__(self, blob: bytearray | bytes | None, strict: bool) -> None:
        self.blob, self.strict = blob, strict

    def value(self, node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"the answer is nested more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if node is None or kind is bool or kind is int or kind is float:
            return node
        if kind is str:
            return clean_text(node)
        if kind is list:
            return [self.value(v, depth + 1) for v in node]
        if kind is dict:
            return self._dict(node, depth)
        if self.strict:
            raise WireError(f"unexpected {kind.__name__} in the answer")
        return node

    def _dict(self, node: dict, depth: int) -> Any:
        tags = [k for k in node if k in _TAGS]
        if self.strict:
            marked = [k for k in node if not isinstance(k, str) or k.startswith("__")]
            if marked and (len(tags) != 1 or not set(node) <= _TAGS[tags[0]]):
                raise WireError(f"unknown or mixed tags {sorted(map(str, marked))[:4]} in the answer")
        elif len(tags) > 1:
            raise WireError(f"mixed tags {sorted(tags)} in the data")
        if not tags:
            return {clean_text(k) if isinstance(k, str) else k: self.value(v, depth + 1) for k, v in node.items()}
        tag = tags[0]
        if tag == "__nd__":
            return self._array(node)
        if tag == "__tuple__":
            items = node["__tuple__"]
            if type(items) is not list:
                raise WireError("a __tuple__ tag that holds no list")
            return tuple(self.value(v, depth + 1) for v in items)
        if tag == "__float__":
            text = node["__float__"]
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"a __float__ tag with {_short(text)}")
            return float(text)
        if tag == "__dict__":
            pairs = node["__dict__"]
            if type(pairs) is not list:
                raise WireError("a __dict__ tag that holds no list")
            out = {}
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a __dict__ item that is not a [key, value] pair")
                out[_hashable(self.value(pair[0], depth + 2))] = self.value(pair[1], depth + 2)
            return out
        name, text = node["__opaque__"], node.get("repr", "")
        if type(name) is not str or type(text) is not str:
            raise WireError("an __opaque__ tag without a type name and a text")
        return Opaque(printable(name)[:200], printable(text)[:MAX_TEXT])

    def _array(self, node: dict) -> np.ndarray:
        spec = node["__nd__"]
        if type(spec) is not list or len(spec) != 3:
            raise WireError("malformed array: __nd__ must be [dtype, shape, data]")
        dtype, shape, data = spec
        if type(dtype) is not str or dtype not in ALLOWED_DTYPES:
            raise WireError(f"array dtype {_short(dtype)} is not allowed")
        if (type(shape) is not list or len(shape) > MAX_DIMS
                or any(type(s) is not int or not 0 <= s <= MAX_DIM for s in shape)):
            raise WireError(f"malformed array: shape {_short(shape)}")
        for flag in ("torch", "list"):
            if self.strict and type(node.get(flag, False)) is not bool:
                raise WireError(f"malformed array: {flag!r} must be true or false")
        count = math.prod(shape)
        itemsize = np.dtype(dtype).itemsize
        nbytes = count * itemsize
        if type(data) is int and self.blob is not None:
            if not 0 <= data <= len(self.blob) - nbytes:
                raise WireError(f"malformed array: {human(nbytes)} at offset {data} of a {human(len(self.blob))} "
                                "binary part")
            if count == 0:
                arr = np.zeros(shape, dtype=dtype)
            else:
                arr = np.frombuffer(self.blob, dtype=dtype, count=count, offset=data).reshape(shape)
                if data % itemsize:
                    arr = arr.copy()
        elif type(data) is str and not self.strict:
            try:
                raw = base64.b64decode(data)
            except ValueError as exc:
                raise WireError(f"malformed array: {exc}") from None
            if len(raw) != nbytes:
                raise WireError(f"malformed array: {len(raw)} bytes for shape {tuple(shape)} of {dtype}")
            arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        else:
            raise WireError("malformed array: its data is neither an offset nor base64 text")
        if dtype == "bool":  # any byte but 0 and 1 is no valid numpy bool
            arr = arr.view(np.uint8) != 0
        if node.get("list") is True:
            return arr.view(ListArray)
        return arr.view(TorchArray) if node.get("torch") is True else arr


_TAGS = {
    "__nd__": {"__nd__", "torch", "list"}, "__tuple__": {"__tuple__"}, "__float__": {"__float__"},
    "__dict__": {"__dict__"}, "__opaque__": {"__opaque__", "repr"},
}


def _hashable(key: Any) -> Any:
    """A decoded dict key as a dict can hold it (an array, a list or a dict as its text)."""
    try:
        hash(key)
        return key
    except TypeError:
        return _short(key, MAX_TEXT)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # every control character but tab and newline


def clean_text(text: str) -> str:
    """A string any report can write as UTF-8 (lone surrogates replaced): data keeps its characters."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def printable(text: str) -> str:
    """A text for people (messages, exception texts, printed output): control characters (ESC
    sequences that clear or recolour a terminal, CR, NUL, BEL, backspace) shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", clean_text(text))


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ====================================================================== frames

def frame(message: dict, blobs: Encoded | None = None) -> list:
    """The buffers of one frame: header, JSON text, then the arrays of `blobs` (if any)."""
    text = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    blob_bytes = blobs.blob_bytes if blobs is not None else 0
    parts: list = [_FRAME.pack(MAGIC, len(text), blob_bytes), text]
    written = 0
    for offset, arr in (blobs.blobs if blobs is not None else ()):
        if offset > written:
            parts.append(bytes(offset - written))
        if arr.nbytes:
            # numpy's stubs declare an array a buffer (__buffer__) for Python 3.12 on only
            parts.append(memoryview(arr.reshape(-1)).cast("B"))  # type: ignore[arg-type]
        written = offset + arr.nbytes
    return parts


def send(fd: int, message: dict) -> None:
    """Write one frame (no binary part) to a blocking descriptor."""
    for part in frame(message):
        _write_all(fd, part)


def send_answer(fd: int, answer: dict, limit: int = DEFAULT_ANSWER_BYTES) -> None:
    """(Child side) write one answer; its "value", if any, is an `Encoded`. `TooLarge` when the
    frame would be over `limit`: nothing is written then."""
    value = answer.get("value")
    fields = {k: (v.tree if isinstance(v, Encoded) else _plain_field(v)) for k, v in answer.items()}
    parts = frame(fields, value if isinstance(value, Encoded) else None)
    text_size = len(parts[1])
    total = text_size + (value.blob_bytes if isinstance(value, Encoded) else 0)
    if text_size > min(limit, MAX_JSON_BYTES) or total > limit:
        raise TooLarge(f"it is about {human(total)} once encoded, more than the {human(limit)} this check accepts")
    for part in parts:
        _write_all(fd, part)


def _plain_field(value: Any) -> Any:
    """A field of an answer other than its value: texts capped, nothing but plain data."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, dict):
        return {str(k)[:200]: _plain_field(v) for k, v in list(value.items())[:20]}
    if isinstance(value, (list, tuple)):
        return [_plain_field(v) for v in list(value)[:200]]
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return _safe_repr(value)


def _write_all(fd: int, data) -> None:
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


def parse_header(header: bytes, limit: int, json_limit: int | None = None) -> tuple[int, int]:
    """(JSON length, binary length) of a frame of at most `limit` bytes whose JSON text has at most
    `json_limit` (default: `limit`, and `MAX_JSON_BYTES` at most), else `WireError`."""
    if len(header) != HEADER_SIZE:
        raise WireError(f"a truncated frame header ({len(header)} bytes)")
    magic, text_size, blob_size = _FRAME.unpack(header)
    if magic != MAGIC:
        raise WireError(f"not a frame of the grader's protocol (it starts with {magic!r})")
    json_limit = min(limit, MAX_JSON_BYTES) if json_limit is None else json_limit
    if text_size > json_limit or text_size + blob_size > limit:
        raise WireError(f"an answer of {human(text_size + blob_size)} exceeds the {human(limit)} "
                        "this check accepts")
    return text_size, blob_size


def receive(fd: int) -> dict:
    """(Child side) blocking read of one request; EOFError when the parent is gone."""
    text_size, blob_size = parse_header(read_exact(fd, HEADER_SIZE), MAX_REQUEST_BYTES, MAX_REQUEST_BYTES)
    text = read_exact(fd, text_size)
    if blob_size:
        read_exact(fd, blob_size)  # requests carry their arrays as base64 text
    try:
        message = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"a request that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("a request that is not a JSON object")
    return message


# ====================================================================== the parent's one place

def read_answer(text: bytes | bytearray, blob: bytes | bytearray = b"") -> dict:
    """One answer from the child, validated: ``{"token": str | None, <kind>: ..., ["value": ...]}``.

    `kind` is one of `ANSWER_KINDS`; "value" (of "ok") is decoded (arrays are views on `blob`);
    "raised" is ``{"type": str, "message": str[, "mro": [str, ...]]}``; every other kind is a
    text. Raises `WireError`, never anything else, whatever the bytes. `answer_of` makes it an `Answer`.
    """
    try:
        return _read_answer(text, blob)
    except WireError:
        raise
    except RecursionError:
        raise WireError("the answer is nested too deeply") from None
    except MemoryError:
        raise WireError("the answer is too large to read") from None
    except Exception as exc:
        raise WireError(f"a malformed answer ({type(exc).__name__}: {_short(exc)})") from None


def _read_answer(text: bytes | bytearray, blob: bytes | bytearray) -> dict:
    if len(text) > MAX_JSON_BYTES:
        raise WireError(f"an answer whose JSON text has {human(len(text))}")
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise WireError(f"an answer nested {depth} levels deep (at most {MAX_DEPTH})")
    try:
        message = json.loads(bytes(text).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        reason = str(exc)
        raise WireError(f"the answer is not JSON: {reason if len(reason) <= 120 else reason[:117] + '...'}") from None
    if type(message) is not dict:
        raise WireError("the answer is not a JSON object")
    token = message.get("token")
    if token is not None and type(token) is not str:
        raise WireError("the answer's token is not a string")
    kinds = [k for k in message if k in ANSWER_KINDS]
    if len(kinds) != 1:
        raise WireError(f"the answer must say exactly one of {', '.join(ANSWER_KINDS)}"
                        f"{' (it says ' + ', '.join(kinds) + ')' if kinds else ''}")
    kind = kinds[0]
    extra = set(message) - {"token", kind, *ANSWER_KINDS[kind]}
    if extra:
        raise WireError(f"unexpected fields in the answer: {sorted(extra)[:5]}")
    answer: dict[str, Any] = {"token": token}
    field = message[kind]
    if kind == "ok":
        if field is not True or "value" not in message:
            raise WireError("an 'ok' answer without a value")
        answer["ok"] = True
        answer["value"] = _Decoder(blob, strict=True).value(message["value"], 0)
    elif kind == "ready":
        if field is not True:
            raise WireError("a 'ready' answer that is not true")
        answer["ready"] = True
        if "confined" in message:      # "" when the child's sandbox applies, else why not
            answer["confined"] = _text_field(message["confined"], "confined")[:500]
        if "isolated" in message:      # "" when the child's namespaces apply, else why not
            answer["isolated"] = _text_field(message["isolated"], "isolated")[:500]
        if "answer_bytes" in message:  # the sizes the child's probe kinds declare
            answer["answer_bytes"] = _answer_sizes(message["answer_bytes"])
    elif kind == "raised":
        answer["raised"] = _raised(field)
    else:
        answer[kind] = _text_field(field, kind)
    return answer


def _answer_sizes(field: Any) -> dict[str, int]:
    if type(field) is not dict or len(field) > MAX_DECLARED_KINDS:
        raise WireError("'answer_bytes' must be a short mapping of probe kinds to sizes")
    for kind, size in field.items():
        if len(kind) > 200 or type(size) is not int or not 0 < size <= MAX_ANSWER_BYTES:
            raise WireError(f"'answer_bytes' must give each probe kind a size of 1 byte to {human(MAX_ANSWER_BYTES)}")
    return dict(field)


def _raised(field: Any) -> dict[str, str | list[str]]:
    if type(field) is not dict or not set(field) <= {"type", "message", "mro"}:
        raise WireError("a 'raised' answer must be {type, message}")
    out: dict[str, str | list[str]] = {"type": _text_field(field.get("type"), "raised.type")[:200],
           "message": _text_field(field.get("message", ""), "raised.message")}
    if "mro" in field:
        mro = field["mro"]
        if type(mro) is not list or len(mro) > 100:
            raise WireError("'raised.mro' must be a short list of names")
        out["mro"] = [_text_field(name, "raised.mro")[:200] for name in mro]
    return out


def _text_field(value: Any, name: str) -> str:
    if type(value) is not str:
        raise WireError(f"the answer's {name!r} is not a text")
    return printable(value[:MAX_TEXT])


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_QUOTE, _OPEN, _OPEN_BRACE, _CLOSE, _CLOSE_BRACE = 34, 91, 123, 93, 125


def json_depth(text: bytes | bytearray) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it (vectorized:
    escapes dropped, then brackets outside strings counted)."""
    if not text:
        return 0
    data = bytes(text)
    if b"\\" in data:
        data = _ESCAPES.sub(b"", data)
    codes = np.frombuffer(data, dtype=np.uint8)
    in_string = (np.cumsum(codes == _QUOTE, dtype=np.int64) & 1).astype(bool)
    steps = ((codes == _OPEN) | (codes == _OPEN_BRACE)).astype(np.int8) \
        - ((codes == _CLOSE) | (codes == _CLOSE_BRACE)).astype(np.int8)
    steps[in_string] = 0
    if not steps.any():
        return 0
    return int(np.cumsum(steps, dtype=np.int64).max())


# ====================================================================== typed answers (parent side)

class FailureKind(enum.Enum):
    """Why the child gave no answer (grader/sandbox.py decides which)."""

    TIMEOUT = "timeout"     # the deadline passed (the child is killed)
    MEMORY = "memory"       # it ran out of memory (an out-of-memory kill, or its cgroup at its limit)
    CRASH = "crash"         # it died (an exit, a signal), or closed its channel
    PROTOCOL = "protocol"   # it answered something unreadable, forged or oversized (it is killed)
    STARTUP = "startup"     # it died before running any student code: the install's fault, not the student's


@dataclass(frozen=True)
class Answer:
    """One answer to one request, as the parent reads it: one class per kind (`ANSWER_KINDS`),
    plus `Failure` when the child gave none. `token` names the request it answers."""

    token: str | None


@dataclass(frozen=True)
class Ready(Answer):
    """The child is set up; "" when its sandbox (`confined`) and namespaces (`isolated`) apply, else why not."""

    confined: str = ""
    isolated: str = ""
    answer_bytes: dict[str, int] = dataclass_field(default_factory=dict)   # the sizes its probe kinds declare


@dataclass(frozen=True)
class Returned(Answer):
    """("ok") the import worked, or the probe returned `value` (decoded: arrays are views on the frame)."""

    value: Any


@dataclass(frozen=True)
class Raised(Answer):
    """Student code raised: ``{"type": str, "message": str[, "mro": [str, ...]]}``."""

    exception: dict


@dataclass(frozen=True)
class _Text(Answer):
    text: str


class Missing(_Text):
    """A name the probe needs is not defined."""


class ImportFailed(_Text):
    """("import_error") the module does not import."""


class NotImplementedYet(_Text):
    """("not_implemented") the template's stub: not attempted."""


class GraderError(_Text):
    """The grader's own bug (an unknown probe kind, an unreadable field of a probe kind)."""


class Oversized(_Text):
    """("too_large") what the code returned is more than the check accepts; the text says how large."""


@dataclass(frozen=True)
class Failure(Answer):
    """No answer: the child timed out, died, or sent something unreadable; `output` is the end of
    what it printed (for a start that failed, the instructor's detail)."""

    kind: FailureKind
    message: str
    output: str = ""
    at_process_limit: bool = False   # a timeout while the child's cgroup refused it processes (a fork bomb)


_ANSWER_CLASSES = {"ready": Ready, "ok": Returned, "raised": Raised, "missing": Missing,
                   "import_error": ImportFailed, "not_implemented": NotImplementedYet, "grader_error": GraderError,
                   "too_large": Oversized}


def answer_of(message: dict) -> Answer:
    """A validated answer (`read_answer`) as its class."""
    kind = next(k for k in message if k in _ANSWER_CLASSES)
    if kind == "ready":
        return Ready(message["token"], message.get("confined", ""), message.get("isolated", ""),
                     message.get("answer_bytes", {}))
    if kind == "ok":
        return Returned(message["token"], message["value"])
    if kind == "raised":
        return Raised(message["token"], message["raised"])
    return _ANSWER_CLASSES[kind](message["token"], message[kind])
