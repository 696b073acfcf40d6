"""Which submissions a class folder holds: one entry per submission, or Gradescope's "Export Submissions"
folder (each student's latest), each under a folder name OUT can take."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

METADATA = "submission_metadata.yml"
SUBMISSION_SUFFIXES = (".zip", ".ipynb", ".py")
RESERVED_IDS = frozenset({"grades.csv", "report.html"})
# OUT's own files are named *.csv, *.html, *.json: no submission's folder may take such a name
# (a student who names an upload "checks.csv" would switch off the class analyses).
_OUT_FILE_SUFFIXES = (".csv", ".html", ".json")


class BatchError(Exception):
    """DIR cannot be read as a folder of submissions (message for the instructor)."""


@dataclass(frozen=True)
class BatchItem:
    """One submission to grade: its id (a folder name under OUT), where it is, who submitted it."""

    submission_id: str
    path: Path
    students: tuple[dict, ...] = ()


def discover(folder: Path, exclude: Iterable[Path] = ()) -> list[BatchItem]:
    """The submissions in `folder`: a Gradescope export, or one entry per submission.

    An unzipped export whose metadata sits one folder down (`assignment_123_export/`)
    is found too. Paths in `exclude` (the output folder, when it is inside) are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder of submissions")
    if (folder / METADATA).is_file():
        return _from_gradescope_export(folder)
    excluded = {_real(p) for p in exclude}
    entries = [e for e in sorted(folder.iterdir()) if _real(e) not in excluded]
    visible = [e for e in entries if not e.name.startswith((".", "__MACOSX"))]
    if len(visible) == 1 and (visible[0] / METADATA).is_file():
        return _from_gradescope_export(visible[0])
    items: list[BatchItem] = []
    taken: set[str] = set()
    for entry in visible:
        if entry.is_dir() or entry.suffix.lower() in SUBMISSION_SUFFIXES:
            name = entry.name if entry.is_dir() else entry.stem
            items.append(BatchItem(_unique_id(name, taken), entry))
    return items


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _from_gradescope_export(folder: Path) -> list[BatchItem]:
    """Gradescope's metadata maps each submission's folder name to
    ``{":submitters": [{":name", ":email", ":sid"}, ...], ":created_at", ":score", ":history"}``;
    a submission is graded when it is the latest of at least one of its submitters."""
    metadata = _load_metadata(folder / METADATA)
    candidates = []
    for name, info in metadata.items():
        name = str(name)
        info = info if isinstance(info, dict) else {}
        path = folder / name
        if name in (".", "..") or "/" in name or "\\" in name or not path.exists():
            continue  # not a submission folder of this export
        raw = _field(info, "submitters") or []
        students = tuple(_student(s) for s in raw if isinstance(s, dict)) if isinstance(raw, list) else ()
        candidates.append((_timestamp(_field(info, "created_at")), name, path, students))
    latest: dict[str, tuple] = {}
    for when, name, _, students in candidates:
        for key in {_student_key(s) for s in students}:
            if key not in latest or (when, name) > latest[key]:
                latest[key] = (when, name)
    keep = {name for _, name in latest.values()}
    items: list[BatchItem] = []
    taken: set[str] = set()
    for when, name, path, students in sorted(candidates, key=lambda c: c[1]):
        if name in keep or not students:
            items.append(BatchItem(_unique_id(name, taken), path, students))
    return items


class _MetadataLoader(yaml.SafeLoader):
    """Safe YAML that reads any tag (Ruby's `!ruby/object:BigDecimal` and friends) as plain data."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)   # YAML's third kind of node
    return loader.construct_scalar(node)


_MetadataLoader.add_multi_constructor("!", _plain)
_MetadataLoader.add_multi_constructor("tag:", _plain)


def _load_metadata(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_MetadataLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BatchError(f"{path}: cannot read Gradescope's metadata ({exc})") from None
    if not isinstance(data, dict):
        raise BatchError(f"{path}: expected a mapping of submission folders to their metadata")
    return data


def _field(info: dict, key: str):
    """Gradescope writes Ruby symbols (":name"); accept plain keys too."""
    return info.get(f":{key}", info.get(key))


def _student(raw: dict) -> dict:
    def text(key: str) -> str:
        value = _field(raw, key)
        return "" if value is None else str(value)

    return {"name": text("name"), "email": text("email"), "sid": text("sid")}


def _student_key(student: dict) -> str:
    if student["email"]:
        return "email:" + student["email"].strip().lower()
    if student["sid"]:
        return "sid:" + student["sid"].strip()
    return "name:" + student["name"].strip()


def _timestamp(value) -> float:
    """Seconds since the epoch of a `:created_at` (a YAML timestamp or an ISO string); -inf if unknown."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace(" ", ""))
        except ValueError:
            return float("-inf")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
    return float("-inf")


def _unique_id(name: str, taken: set[str]) -> str:
    """A folder name for OUT: safe characters, not hidden, not reserved, unique even on a
    case-insensitive file system (alice/ and Alice.zip become alice and Alice-2)."""
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "submission"
    candidate, n = base, 1
    while candidate.lower() in taken or _reserved(candidate.lower()):
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate.lower())
    return candidate


def _reserved(candidate: str) -> bool:
    return candidate in RESERVED_IDS or candidate.endswith(_OUT_FILE_SUFFIXES)
