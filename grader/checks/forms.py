"""The form of each field of a probe's summary, declared next to the probe (`Probe.summary`).

A probe kind that answers a summary (a dict) runs in the child, where student code can replace
it: every summary is hostile input. Its declaration says what each field holds, so that a field
of another form fails the check as the student's (`Observation.value`), before a judge computes
with it. A form is one of:

- a name of `NAMES`: ``"number"``, ``"int"``, ``"shape"`` ...; ``"any"`` checks nothing;
- a set of forms, any one of them: ``{"number", "none"}``;
- a tuple of forms: a list or tuple of exactly these items, ``("str", "int", "int")``;
- a list of one form: a list of any length, every item of that form, ``[("str", "int", "int")]``;
- a dict of forms: a dict with (at least) these keys, each of its form (a summary itself is one).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Union

import numpy as np

Form = Union[str, frozenset, set, tuple, list, Mapping]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


#: form name -> (whether a value has it, how a message names it)
NAMES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "any": (lambda value: True, "anything"),
    "number": (_number, "a number"),
    "finite number": (lambda value: _number(value) and bool(np.isfinite(value)), "a finite number"),
    "int": (_int, "an int"),
    "bool": (lambda value: isinstance(value, (bool, np.bool_)), "True or False"),
    "str": (lambda value: isinstance(value, str), "a str"),
    "none": (lambda value: value is None, "None"),
    "shape": (lambda value: isinstance(value, tuple) and all(_int(d) and d >= 0 for d in value),
              "a shape (a tuple of ints)"),
    "dict": (lambda value: isinstance(value, dict), "a dict"),
    "list": (lambda value: isinstance(value, list), "a list"),
    "numbers": (lambda value: isinstance(value, np.ndarray) and value.dtype.kind in "biuf", "an array of numbers"),
}


def wrong_field(forms: Mapping[str, Form], answer: dict) -> tuple[str, Any, str] | None:
    """The first field of `answer` not of its declared form, as (where, what came back, what the form
    says), where names the innermost item that is wrong (``'layers'[0][1]``); None when all are right."""
    for key, form in forms.items():
        wrong = _wrong(form, answer[key], repr(key))
        if wrong:
            return wrong
    return None


def _wrong(form: Form, value: Any, where: str) -> tuple[str, Any, str] | None:
    if isinstance(form, str):
        has_form, _ = NAMES[form]
        return None if has_form(value) else (where, value, text(form))
    if isinstance(form, (set, frozenset)):
        return None if any(_wrong(f, value, where) is None for f in form) else (where, value, text(form))
    if isinstance(form, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(form):
            return where, value, text(form)
        return _first(_wrong(f, v, f"{where}[{i}]") for i, (f, v) in enumerate(zip(form, value)))
    if isinstance(form, list):
        if not isinstance(value, list):
            return where, value, text(form)
        return _first(_wrong(form[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, dict) or not form.keys() <= value.keys():
        return where, value, text(form)
    return _first(_wrong(f, value[k], f"{where}[{k!r}]") for k, f in form.items())


def _first(wrongs) -> tuple[str, Any, str] | None:
    return next((w for w in wrongs if w), None)


def text(form: Form) -> str:
    """How a message names a form: "a number", "a str or None", "a list of [a str, an int, an int]"."""
    if isinstance(form, str):
        return NAMES[form][1]
    if isinstance(form, (set, frozenset)):
        return " or ".join(sorted(text(f) for f in form))
    if isinstance(form, tuple):
        return f"a list of [{', '.join(text(f) for f in form)}]"
    if isinstance(form, list):
        return f"a list, each item {text(form[0])}"
    return f"a dict of {', '.join(sorted(form))}"


def check_declared(form: Form) -> None:
    """Refuse a declaration naming no known form (at import of the check module, not while judging)."""
    if isinstance(form, str):
        if form not in NAMES:
            raise ValueError(f"unknown summary form {form!r}: one of {', '.join(NAMES)}")
    elif isinstance(form, list) and len(form) != 1:
        raise ValueError(f"a list form holds exactly one form (every item's), not {form!r}")
    elif isinstance(form, Mapping):
        for f in form.values():
            check_declared(f)
    else:
        for f in form:
            check_declared(f)
