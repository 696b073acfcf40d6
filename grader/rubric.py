"""rubric.yaml: the one source of points, visibility, tolerances, time limits and seeds.

Loading validates everything and names where a bad value came from:
``rubric.yaml, checks[4] (id 'A1.dot'): 'points' must be a number > 0, got '2a' (str)``.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

_CHECK_FIELDS = {"id", "problem", "title", "points", "visibility", "rtol", "atol", "timeout", "seed"}
_OPTIONAL_FIELDS = {"float32_rtol", "float64_only", "builds_on"}
_DEFAULT_FIELDS = {"visibility", "rtol", "atol", "timeout", "seed"} | _OPTIONAL_FIELDS
_MANUAL_FIELDS = {"id", "problem", "title", "points"}
_LIMIT_FIELDS = {"total_points", "import_timeout", "budget_seconds", "memory_mb", "file_mb", "output_cap"}
_TOP_FIELDS = {"problems", "defaults", "limits", "checks", "manual"}


class RubricError(ValueError):
    """rubric.yaml is malformed: the message names the file, the entry and the field."""


@dataclass(frozen=True)
class CheckEntry:
    id: str
    problem: str
    title: str
    points: float
    visibility: str
    rtol: float
    atol: float
    timeout: float
    seed: int
    float32_rtol: float = 1e-4       # how far a float32 answer may be off, relative to the largest entry
    float64_only: bool = False       # precision is the point: float32 answers get no slack
    builds_on: tuple[str, ...] = ()  # checks whose failure usually explains this one's (named in its message)

    @property
    def secret(self) -> bool:
        """Hidden from students now: its messages never show inputs or expected values."""
        return self.visibility != "visible"


@dataclass(frozen=True)
class ManualEntry:
    id: str
    problem: str
    title: str
    points: float


@dataclass(frozen=True)
class Limits:
    total_points: float = 100.0
    import_timeout: float = 30.0
    budget_seconds: float = 540.0   # the whole grading: below Gradescope's 10-minute default
    memory_mb: int = 448
    file_mb: int = 64
    output_cap: int = 65536


@dataclass(frozen=True)
class Rubric:
    checks: tuple[CheckEntry, ...]
    manual: tuple[ManualEntry, ...]
    limits: Limits
    source: str
    digest: str                      # content hash: a changed rubric regrades everything
    problems: tuple[tuple[str, str], ...] = ()   # (key, name) in the order reports use: ("A1", "Exercise 1")

    @property
    def problem_keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.problems)

    def problem_name(self, key: str) -> str:
        return dict(self.problems).get(key, key)

    def parse_problem_keys(self, keys) -> set[str] | None:
        """"A1 B2", "a1,b2" or ["A1", "B2"] -> {"A1", "B2"}; empty -> None (every problem).
        Unknown keys raise RubricError with the keys there are."""
        if isinstance(keys, str):
            keys = [keys]
        keys = [k for item in (keys or ()) for k in str(item).replace(",", " ").split()]   # "A1,B2" as one word too
        by_upper = {k.upper(): k for k in self.problem_keys}
        wanted = [k.strip() for k in (keys or ()) if k.strip()]
        unknown = sorted(k for k in wanted if k.upper() not in by_upper)
        if unknown:
            raise RubricError(f"unknown problem key(s) {', '.join(unknown)}; use {', '.join(self.problem_keys)}")
        chosen = {by_upper[k.upper()] for k in wanted}
        return chosen if chosen and chosen != set(self.problem_keys) else None

    def entry(self, check_id: str) -> CheckEntry:
        for entry in self.checks:
            if entry.id == check_id:
                return entry
        raise KeyError(check_id)

    def select(self, problems: set[str] | None = None, visible_only: bool = False) -> tuple[CheckEntry, ...]:
        return tuple(e for e in self.checks
                     if (not problems or e.problem in problems) and (not visible_only or not e.secret))

    def in_order(self, keys) -> list[str]:
        """Problem keys, once each, in the rubric's order (unknown keys last)."""
        order = self.problem_keys
        return sorted(set(keys), key=lambda k: order.index(k) if k in order else len(order))

    def describe_problems(self, keys) -> str:
        """("A1", "A3", "B2") -> "Exercises 1, 3 and Bonus 2", from the problem names."""
        groups: dict[str, list[str]] = {}
        for key in self.in_order(keys):
            word, _, number = self.problem_name(key).rpartition(" ")
            groups.setdefault(word, []).append(number if word else key)
        return " and ".join(f"{word}{'s' if len(items) > 1 else ''} {_runs(items)}".strip()
                            for word, items in groups.items())


def _runs(numbers: list[str]) -> str:
    """["1", "2", "3", "5"] -> "1-3, 5": three or more consecutive numbers as a range."""
    parts: list[list[str]] = []
    for item in numbers:
        if parts and item.isdigit() and parts[-1][-1].isdigit() and int(item) == int(parts[-1][-1]) + 1:
            parts[-1].append(item)
        else:
            parts.append([item])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ", ".join(run) for run in parts)


def load(path: str | Path) -> Rubric:
    """Read and validate a rubric file (an assignment's: `Assignment.load_rubric` adds its unittest files)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricError(f"{path.name}: not valid YAML: {exc}") from None
    rubric = parse(data, source=path.name)
    return dataclasses.replace(rubric, source=str(path), digest=hashlib.sha256(text.encode("utf-8")).hexdigest())


def parse(data: Any, source: str = "rubric.yaml") -> Rubric:
    if not isinstance(data, dict):
        raise RubricError(f"{source}: the top level must be a mapping with 'checks'")
    _no_unknown(data, _TOP_FIELDS, source)
    problems = _parse_problems(data.get("problems"), f"{source}, problems")
    defaults = data.get("defaults") or {}
    _no_unknown(defaults, _DEFAULT_FIELDS, f"{source}, defaults")
    limits = _parse_limits(data.get("limits") or {}, f"{source}, limits")
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise RubricError(f"{source}: 'checks' must be a non-empty list")
    keys = tuple(k for k, _ in problems)
    checks = tuple(_parse_check({**defaults, **_mapping(c, f"{source}, checks[{i}]")}, f"{source}, checks[{i}]", keys)
                   for i, c in enumerate(raw_checks))
    manual = tuple(_parse_manual(_mapping(m, f"{source}, manual[{i}]"), f"{source}, manual[{i}]", keys)
                   for i, m in enumerate(data.get("manual") or []))
    if not problems:   # no `problems:` section: the keys the checks use, in order of first use
        problems = tuple((k, k) for k in dict.fromkeys(e.problem for e in checks + manual))
    unique_ids(checks + manual, source)
    _known_causes(checks, source)
    total = round(sum(c.points for c in checks), 6)
    if abs(total - limits.total_points) > 1e-6:
        raise RubricError(f"{source}: the autograded points sum to {total:g}, "
                          f"but limits.total_points says {limits.total_points:g}")
    return Rubric(checks, manual, limits, source, "", problems)


def _parse_problems(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    """`problems:` maps each problem key to the name messages use ({A1: Exercise 1}), in report order."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise RubricError(f"{where}: must be a mapping of problem keys to names, like {{A1: Exercise 1}}")
    for key, name in raw.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(name, str) or not name.strip():
            raise RubricError(f"{where}: {key!r}: {name!r} must map a key to a non-empty name")
    return tuple(raw.items())


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise RubricError(f"{where}: must be a mapping of fields, got {type(value).__name__}")
    return value


def _no_unknown(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RubricError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _parse_check(raw: dict, where: str, keys: tuple[str, ...]) -> CheckEntry:
    where = f"{where} (id {raw.get('id')!r})" if "id" in raw else where
    _no_unknown(raw, _CHECK_FIELDS | _OPTIONAL_FIELDS, where)
    for name in sorted(_CHECK_FIELDS):
        if name not in raw:
            raise RubricError(f"{where}: missing field {name!r}")
    return CheckEntry(
        id=_text(raw, "id", where),
        problem=_problem(raw, keys, where),
        title=_text(raw, "title", where),
        points=_number(raw, "points", where, positive=True),
        visibility=_choice(raw, "visibility", VISIBILITIES, where),
        rtol=_number(raw, "rtol", where),
        atol=_number(raw, "atol", where),
        timeout=_number(raw, "timeout", where, positive=True),
        seed=int(_number(raw, "seed", where, integer=True)),
        float32_rtol=_number(raw, "float32_rtol", where, positive=True) if "float32_rtol" in raw else 1e-4,
        float64_only=_flag(raw, "float64_only", where),
        builds_on=_ids(raw, "builds_on", where),
    )


def _ids(raw: dict, name: str, where: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RubricError(f"{where}: {name!r} must be a list of check ids, got {value!r}")
    return tuple(value)


def _flag(raw: dict, name: str, where: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise RubricError(f"{where}: {name!r} must be true or false, got {value!r} ({type(value).__name__})")
    return value


def _problem(raw: dict, keys: tuple[str, ...], where: str) -> str:
    """One of the `problems:` keys when the rubric declares them, else any non-empty key."""
    return _choice(raw, "problem", keys, where) if keys else _text(raw, "problem", where)


def _parse_manual(raw: dict, where: str, keys: tuple[str, ...]) -> ManualEntry:
    _no_unknown(raw, _MANUAL_FIELDS, where)
    for name in sorted(_MANUAL_FIELDS):
        if name not in raw:
            raise RubricError(f"{where}: missing field {name!r}")
    return ManualEntry(_text(raw, "id", where), _problem(raw, keys, where),
                       _text(raw, "title", where), _number(raw, "points", where, positive=True))


def _parse_limits(raw: dict, where: str) -> Limits:
    _no_unknown(raw, _LIMIT_FIELDS, where)
    values: dict[str, Any] = {k: _number(raw, k, where, positive=True) for k in raw}   # numbers, ints below
    for k in ("memory_mb", "file_mb", "output_cap"):
        if k in values:
            values[k] = int(values[k])
    return Limits(**values)


def _text(raw: dict, name: str, where: str) -> str:
    value = raw[name]
    if not isinstance(value, str) or not value.strip():
        raise RubricError(f"{where}: {name!r} must be a non-empty string, got {value!r} ({type(value).__name__})")
    return value


def _choice(raw: dict, name: str, choices: tuple[str, ...], where: str) -> str:
    value = raw[name]
    if value not in choices:
        raise RubricError(f"{where}: {name!r} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _number(raw: dict, name: str, where: str, positive: bool = False, integer: bool = False) -> float:
    value = raw[name]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (not integer or float(value).is_integer()) and (not positive or value > 0) and (ok and value >= 0)
    if not ok:
        kind = "an integer" if integer else "a number"
        bound = " > 0" if positive else " >= 0"
        raise RubricError(f"{where}: {name!r} must be {kind}{bound}, got {value!r} ({type(value).__name__})")
    return float(value)


def _known_causes(checks: tuple[CheckEntry, ...], source: str) -> None:
    ids = {c.id for c in checks}
    for check in checks:
        unknown = [i for i in check.builds_on if i not in ids or i == check.id]
        if unknown:
            raise RubricError(f"{source}, check {check.id!r}: 'builds_on' names {', '.join(map(repr, unknown))}, "
                              "which is not another check of this rubric")


def unique_ids(entries: tuple, source: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise RubricError(f"{source}: duplicate id {entry.id!r}")
        seen.add(entry.id)
