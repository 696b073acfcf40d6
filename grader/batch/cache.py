"""What a rerun may skip: the fingerprint of a grading (submission, rubric, problems, the grader's own code)
and the results on disk under it (OUT/<id>/results.json and grading.json)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from importlib import metadata
from pathlib import Path
from typing import Iterable

from .. import filetree
from .. import rubric as rubric_module
from ..assignment import package_dir
from ..outcome import GradingResult
from ..report import gradebook, gradescope
from ..report._common import atomic_write
from .discovery import BatchItem
from .worker import assignment_for


GRADING_FILE = "grading.json"


def records(out: Path, ids) -> dict[str, dict]:
    """Each submission's grading.json as it is on disk (any fingerprint), by id."""
    found = {}
    for sid in ids:
        try:
            data = json.loads((out / sid / GRADING_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            found[sid] = data
    return found


# ---------------------------------------------------------------- fingerprints
def fingerprint(path: Path, rubric: rubric_module.Rubric, problems: Iterable[str] | None = None,
                manifest: str = "") -> str:
    """Content hash of what a result depends on: the submission's files, the rubric, the
    selected problems, and the grader's own code and versions (with the assignment's, `manifest`)."""
    return combined(setup_digest(rubric, problems, manifest), content_digest(path))


def combined(setup: str, content: str) -> str:
    return hashlib.sha256(f"{setup}:{content}".encode()).hexdigest()


def setup_digest(rubric: rubric_module.Rubric, problems: Iterable[str] | None = None, manifest: str = "") -> str:
    """What a grading depends on besides the submission: the grader (and the assignment of `manifest`),
    the rubric, the problems."""
    digest = hashlib.sha256()
    digest.update(grader_digest(manifest).encode())
    digest.update(rubric.digest.encode())
    digest.update(repr(sorted(problems or ())).encode())
    return digest.hexdigest()


def content_digest(path: Path) -> str:
    """The submission's files, names and contents (links hashed as links, never followed)."""
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        _hash_entry(digest, path, path.name)
        return digest.hexdigest()
    for root, dirs, files in filetree.walk(path):  # links are hashed as links, never followed
        dirs[:] = sorted(d for d in dirs if not _unhashed(d))
        for name in sorted([f for f in files if not _unhashed(f)]
                           + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            full = Path(root, name)
            _hash_entry(digest, full, full.relative_to(path).as_posix())
    return digest.hexdigest()


def _unhashed(name: str) -> bool:
    """What locating a submission never looks at (and Python may write while grading)."""
    return name.startswith(".") or name in _UNHASHED or name.endswith(".pyc")


_UNHASHED = frozenset({"__pycache__", "__MACOSX", "site-packages", "node_modules"})


def _hash_entry(digest, path: Path, name: str) -> None:
    if path.is_symlink():
        digest.update(b"L" + name.encode("utf-8", "surrogateescape") + b"\0" + os.readlink(path).encode(
            "utf-8", "surrogateescape") + b"\0")
        return
    if not stat.S_ISREG(path.lstat().st_mode):   # a FIFO or a device would block or never end: its kind only
        digest.update(b"S" + name.encode("utf-8", "surrogateescape") + b"\0")
        return
    digest.update(b"F" + name.encode("utf-8", "surrogateescape") + b"\0")
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(b"\0")


@functools.cache
def grader_digest(manifest: str = "") -> str:
    """The engine's source, the assignment's (reference, checks, probes: a fixed check regrades
    everything) and the versions."""
    digest = hashlib.sha256()
    for name in ("torch", "numpy"):
        try:
            digest.update(f"{name}={metadata.version(name)};".encode())
        except metadata.PackageNotFoundError:
            pass
    digest.update(sys.version.encode())
    here = Path(__file__).resolve().parent.parent   # grader/, the whole engine
    for package in (here, *_assignment_folders(manifest)):
        for file in sorted(package.rglob("*")):
            if file.suffix in (".py", ".yaml", ".json") and "__pycache__" not in file.parts and file.is_file():
                digest.update(file.relative_to(package.parent).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _assignment_folders(manifest: str) -> list[Path]:
    """The folders of an assignment whose change changes results: its manifest's, its reference's, its checks'."""
    if not manifest:
        return []
    assignment = assignment_for(manifest)
    folders = {assignment.manifest.parent, package_dir(assignment.reference, assignment.import_root),
               package_dir(assignment.checks, assignment.import_root)}
    return sorted(folders)


def item_digest(item: BatchItem) -> str | None:
    try:
        return content_digest(item.path)
    except OSError:
        return None  # unreadable: graded every time (and the grading says what is wrong)


def earlier_rows(out: Path, setup: str, present: set[str], ids: Iterable[str] | None = None
                  ) -> tuple[gradebook.BatchRow, ...]:
    """Rows of OUT graded by an earlier run under this setup: of `ids`, or (by default) of every
    submission folder in OUT that is not `present`. Results of another setup are never mixed in."""
    if ids is None:
        ids = [p.name for p in sorted(out.iterdir()) if p.is_dir() and not p.name.startswith(".")] \
            if out.is_dir() else []
    rows = []
    for sid, record in records(out, [i for i in ids if i not in present]).items():
        if record.get("setup") != setup:
            continue
        try:
            result = GradingResult.from_dict(record["result"])
            students = tuple(dict(s) for s in record.get("students") or () if isinstance(s, dict))
        except Exception:   # unreadable: not listed (the next run that holds it grades it again)
            continue
        rows.append(gradebook.BatchRow(sid, students, result))
    return tuple(rows)


# ---------------------------------------------------------------- results on disk
def load_result(folder: Path, stamp: str | None) -> GradingResult | None:
    """The result on disk for this fingerprint, grader failures included."""
    try:
        data = json.loads((folder / GRADING_FILE).read_text(encoding="utf-8"))
        if data.get("fingerprint") != stamp:
            return None
        return GradingResult.from_dict(data["result"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def cached_result(folder: Path, stamp: str) -> GradingResult | None:
    """A result a rerun can keep: same fingerprint, and no failure of the grader, whole or in one check."""
    result = load_result(folder, stamp)
    if result is None or gradebook.row_status(result) == "grader_error":
        return None
    return result


def save_result(folder: Path, result: GradingResult, stamp: str | None, parts: dict | None = None) -> None:
    """results.json for Gradescope, then grading.json (what counts as finished); each atomic.
    `parts`: the setup and content digests the fingerprint combines (for the re-grade impact)."""
    data = (gradescope.fallback_results(result.grader_failure) if result.grader_failure and not result.outcomes
            else gradescope.to_results_json(result))
    gradescope.write_results(data, folder / "results.json")
    record = {"fingerprint": stamp, **(parts or {}), "result": result.to_dict()}
    atomic_write(folder / GRADING_FILE, json.dumps(record, allow_nan=False).encode("utf-8"))
