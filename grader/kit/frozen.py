"""The reference as the student kit knows it: results frozen at build time, replayed by key.

Judges reach the reference through their context (`ctx.reference("module.name")`) or ``import
<reference package>.module`` inside the judge; both import ``<reference package>.<module>``
(the assignment's reference package and its modules, recorded in the kit's kit.json). At
build time (`grader.kit.record`) and in the kit (here) that name is served by a stand-in
module in ``sys.modules`` whose attributes are looked up on demand:

- build time: a recording wrapper around the real function stores, for every call a
  visible judge makes while judging the reference's own answers,
  ``key(target, canonical(arguments)) -> wire-encoded result``;
- in the kit: `FrozenReference` answers the same call from ``frozen.json`` (exactly, or
  for arguments equal up to float rounding), and a call it has no answer for raises
  `FrozenMiss`, which the self-check reports as "judged on Gradescope only".

`canonical` turns arguments into JSON-able data that is identical wherever the same
values are passed (tensors and arrays by dtype, shape and bytes; floats by their exact
hex; functions by name), and raises `Unfreezable` for what has no such form (a lambda,
a model object). Numpy, torch and the standard library only: this module is shipped.
"""
from __future__ import annotations

import base64
import builtins
import contextlib
import functools
import hashlib
import json
import math
import sys
import types
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..probes import wire

FORMAT = 1
#: The tag of a stand-in function in the canonical form (whatever the assignment's reference package is named).
REFERENCE_PACKAGE = "reference"
#: Arguments equal up to this relative difference find a frozen answer (float rounding of another platform).
NEAR_RTOL = 1e-9
NEAR_ATOL = 1e-12
PROXY_ATTRIBUTE = "__frozen_reference__"   # marks record and replay stand-ins: they canonicalize by target


class Unfreezable(Exception):
    """An argument or a result that has no canonical, replayable form."""


class FrozenMiss(LookupError):
    """The kit has no frozen reference answer for this call."""

    def __init__(self, target: str, why: str, package: str = REFERENCE_PACKAGE) -> None:
        super().__init__(
            f"the student kit has no frozen reference answer for {package}.{target}(...) ({why}). "
            "This check needs the reference solution for the values your code returned, "
            "so it is judged on Gradescope only.")
        self.target = target
        self.why = why


# ------------------------------------------------------------------------ canonical form

def canonical(value: Any, _depth: int = 0) -> Any:
    """JSON-able data equal for equal values; `Unfreezable` for values without such a form."""
    if _depth > 40:
        raise Unfreezable("a structure nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return _canonical_numpy_scalar(value)
    if isinstance(value, int):
        return {"i": str(int(value))}
    if isinstance(value, float):
        return {"f": float(value).hex()}
    if isinstance(value, complex):
        return {"c": [value.real.hex(), value.imag.hex()]}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise Unfreezable("an array of Python objects")
        return {"nd": _array_record(np.asarray(value))}
    torch = sys.modules.get("torch")
    if torch is not None:
        special = _canonical_torch(value, torch)
        if special is not None:
            return special
    if isinstance(value, tuple):
        return {"t": [canonical(v, _depth + 1) for v in value]}
    if isinstance(value, list):
        return {"l": [canonical(v, _depth + 1) for v in value]}
    if isinstance(value, dict):
        items = [[canonical(k, _depth + 1), canonical(v, _depth + 1)] for k, v in value.items()]
        return {"d": sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((canonical(v, _depth + 1) for v in value), key=lambda c: json.dumps(c, sort_keys=True))}
    if isinstance(value, slice):
        return {"slice": [canonical(value.start), canonical(value.stop), canonical(value.step)]}
    if isinstance(value, range):
        return {"range": [value.start, value.stop, value.step]}
    if callable(value):
        return canonical_function(value, _depth)
    raise Unfreezable(f"an argument of type {type(value).__name__}")


def _canonical_numpy_scalar(value: np.generic) -> Any:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return {"i": str(int(value))}
    if isinstance(value, np.floating) and value.dtype == np.float64:
        return {"f": float(value).hex()}
    return {"nd": _array_record(np.asarray(value))}


def _canonical_torch(value: Any, torch: Any) -> Any:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().resolve_conj().resolve_neg()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return {"tensor": _array_record(tensor.contiguous().numpy())}
    if isinstance(value, torch.Generator):
        state = value.get_state().numpy().tobytes()
        return {"generator": hashlib.sha256(state).hexdigest()}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value)}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, torch.nn.Module):
        raise Unfreezable(f"a {type(value).__name__} model (an object whose state the call may change)")
    return None


def _array_record(arr: np.ndarray) -> list:
    arr = np.ascontiguousarray(arr) if arr.ndim else arr
    if arr.dtype.name not in wire.ALLOWED_DTYPES:
        raise Unfreezable(f"an array of dtype {arr.dtype}")
    return [arr.dtype.name, list(arr.shape), base64.b64encode(arr.tobytes()).decode("ascii")]


def canonical_function(fn: Callable, _depth: int = 0) -> dict:
    """A function argument: reference stand-ins by target, others by module and name.

    A function made by another function (a closure, a lambda) is named by where it is
    defined (module, qualified name, first line: the kit's copies keep the line numbers)
    and by what it captured, so ``callables.build({"__fn__": "poly", ...})`` gives the same
    form wherever the same spec is built.
    """
    target = getattr(fn, PROXY_ATTRIBUTE, None)
    if isinstance(target, str):
        return {"fn": f"reference.{target}"}
    if isinstance(fn, functools.partial):
        return {"partial": [canonical_function(fn.func, _depth + 1), canonical(list(fn.args), _depth + 1),
                            canonical(dict(fn.keywords), _depth + 1)]}
    if isinstance(fn, type):
        return {"fn": f"{fn.__module__}.{fn.__qualname__}"}
    if isinstance(fn, types.FunctionType):
        name = f"{fn.__module__}.{fn.__qualname__}"
        if "<" not in fn.__qualname__ and not fn.__closure__:
            return {"fn": name}
        try:
            cells = [cell.cell_contents for cell in fn.__closure__ or ()]
        except ValueError:  # an empty cell
            raise Unfreezable(f"the function {fn.__qualname__}, whose closure is not filled in yet") from None
        return {"fn": name, "line": fn.__code__.co_firstlineno, "cells": canonical(cells, _depth + 1),
                "defaults": canonical(list(fn.__defaults__ or ()), _depth + 1)}
    if isinstance(fn, (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType, np.ufunc)):
        owner = getattr(fn, "__module__", None) or getattr(getattr(fn, "__objclass__", None), "__name__", "builtins")
        return {"fn": f"{owner}.{fn.__name__}"}
    raise Unfreezable(f"a callable object of type {type(fn).__name__}")


def call_key(target: str, canon: Any) -> str:
    text = json.dumps([target, canon], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_call(args: tuple, kwargs: dict) -> Any:
    return canonical([list(args), dict(kwargs)])


# ------------------------------------------------------------------------ results

def encode_result(value: Any) -> Any:
    """A reference result as wire data; `Unfreezable` when part of it is not plain data."""
    encoded = wire.encode(value)
    opaque = _find_opaque(encoded)
    if opaque:
        raise Unfreezable(f"a result of type {opaque}")
    return encoded


def _find_opaque(data: Any) -> str | None:
    if isinstance(data, list):
        return next((found for found in map(_find_opaque, data) if found), None)
    if isinstance(data, dict):
        if "__opaque__" in data:
            return str(data["__opaque__"])
        return next((found for found in map(_find_opaque, data.values()) if found), None)
    return None


def decode_result(data: Any) -> Any:
    """Wire data back as the reference returned it: tensors as torch tensors, fresh objects every time."""
    return _as_returned(wire.decode(data))


def _as_returned(value: Any) -> Any:
    if isinstance(value, wire.TorchArray):
        import torch   # torch on first use: the parent's first phase (probing) stays without it

        return torch.from_numpy(np.array(np.asarray(value)))
    if isinstance(value, tuple):
        return tuple(_as_returned(v) for v in value)
    if isinstance(value, list):
        return [_as_returned(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_returned(v) for k, v in value.items()}
    return value


def raise_recorded(raised: list) -> None:
    """Re-raise what the reference raised: the builtin exception of that name, else RuntimeError."""
    name, message = raised
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        raise kind(message)
    raise RuntimeError(f"{name}: {message}")


# ------------------------------------------------------------------------ the kit's side

class ReplayFunction:
    """What a judge gets for a reference function in the kit: answers from frozen.json."""

    def __init__(self, frozen: "FrozenReference", target: str) -> None:
        self._frozen = frozen
        self.__name__ = target.partition(".")[2]
        self.__qualname__ = self.__name__
        setattr(self, PROXY_ATTRIBUTE, target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._frozen.call(getattr(self, PROXY_ATTRIBUTE), args, kwargs)

    def __repr__(self) -> str:
        return f"<frozen {self._frozen.package}.{getattr(self, PROXY_ATTRIBUTE)}>"


class FrozenReference:
    """frozen.json, loaded: `resolve(target)` is what `ctx.reference(target)` returns in the kit.
    `package` and `modules`: the assignment's reference package and its modules (kit.json), served
    as ``package.<module>``."""

    def __init__(self, data: dict, package: str, modules: Sequence[str]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"frozen.json has format {data.get('format')!r}, this kit reads format {FORMAT}")
        self.calls: dict[str, dict] = data.get("calls", {})
        self.values: dict[str, dict] = data.get("values", {})
        self.package = package
        self.reference_modules = tuple(modules)
        self._by_target: dict[str, list[dict]] = {}
        for entry in self.calls.values():
            self._by_target.setdefault(entry["target"], []).append(entry)
        self.misses: list[FrozenMiss] = []       # every miss, in order (the self-check reports them)
        self.hits: set[str] = set()              # the keys of the calls answered

    @classmethod
    def load(cls, path: str | Path, package: str, modules: Sequence[str]) -> "FrozenReference":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), package, modules)

    def resolve(self, target: str) -> Any:
        if target in self.values:
            return decode_result(self.values[target]["value"])
        return ReplayFunction(self, target)

    def call(self, target: str, args: tuple, kwargs: dict) -> Any:
        try:
            canon = canonical_call(args, kwargs)
        except Unfreezable as exc:
            raise self._miss(target, f"its arguments include {exc}") from None
        key = call_key(target, canon)
        entry = self.calls.get(key) or self._near(target, canon)
        if entry is None:
            known = len(self._by_target.get(target, ()))
            why = (f"none of the {known} frozen calls of it has these arguments" if known
                   else "no visible check calls it on the reference's own answers")
            raise self._miss(target, why)
        self.hits.add(key if key in self.calls else call_key(target, entry["args"]))
        if "raised" in entry:
            raise_recorded(entry["raised"])
        return decode_result(entry["result"])

    def _near(self, target: str, canon: Any) -> dict | None:
        """A frozen call whose arguments differ only by float rounding (another platform's numpy or torch)."""
        for entry in self._by_target.get(target, ()):
            if "args" in entry and _near(entry["args"], canon):
                return entry
        return None

    def _miss(self, target: str, why: str) -> FrozenMiss:
        miss = FrozenMiss(target, why, self.package)
        self.misses.append(miss)
        return miss

    def modules(self) -> dict[str, types.ModuleType]:
        return stand_in_modules(self.resolve, self.package, self.reference_modules)

    def install(self) -> None:
        """Serve ``<package>.<module>`` from this file for the rest of the process (the kit's judges)."""
        sys.modules.update(self.modules())


def _near(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        if "f" in a and len(a) == 1:
            return _near_float(float.fromhex(a["f"]), float.fromhex(b["f"]))
        for tag in ("nd", "tensor"):
            if tag in a and len(a) == 1:
                return _near_arrays(a[tag], b[tag])
        return all(_near(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_near(x, y) for x, y in zip(a, b))
    return a == b


def _near_float(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= NEAR_ATOL + NEAR_RTOL * abs(x)


def _near_arrays(a: list, b: list) -> bool:
    if a[0] != b[0] or a[1] != b[1]:
        return False
    if a[2] == b[2]:
        return True
    x = np.frombuffer(base64.b64decode(a[2]), dtype=a[0])
    y = np.frombuffer(base64.b64decode(b[2]), dtype=b[0])
    if x.dtype.kind not in "fc":
        return False
    return bool(np.allclose(x, y, rtol=NEAR_RTOL, atol=NEAR_ATOL, equal_nan=True))


# ------------------------------------------------------------------------ stand-in modules

def stand_in_modules(resolve: Callable[[str], Any], package_name: str,
                     module_names: Sequence[str]) -> dict[str, types.ModuleType]:
    """``<package_name>`` and ``<package_name>.<module>`` for each of `module_names`, whose attributes
    are ``resolve("<module>.<name>")``."""
    package = types.ModuleType(package_name, "The reference, as the grader's judges reach it (stand-in).")
    package.__path__ = []  # a package: ``import <package>.<module>`` finds the submodule in sys.modules
    modules = {package_name: package}
    for name in module_names:
        module = types.ModuleType(f"{package_name}.{name}")
        # PEP 562: a module's __getattr__, set on this module object
        module.__getattr__ = _attribute_of(name, resolve)  # type: ignore[method-assign]
        setattr(package, name, module)
        modules[f"{package_name}.{name}"] = module
    return modules


def _attribute_of(module: str, resolve: Callable[[str], Any]) -> Callable[[str], Any]:
    def getattr_(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return resolve(f"{module}.{name}")

    return getattr_


@contextlib.contextmanager
def modules_installed(modules: dict[str, types.ModuleType]) -> Iterator[None]:
    """Install stand-in modules for the duration of a block, then put back what was there."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
