"""`hw3grade batch DIR -o OUT`: a whole class, in parallel, into a gradebook and a report.

DIR holds one submission per entry (folder, .zip, notebook or .py module), or is
Gradescope's "Export Submissions" folder (with `submission_metadata.yml`: then each
student's latest submission is graded). Each submission is graded exactly as
`hw3grade grade` grades it, by `grade_one`, on a pool of warm workers (processes that
imported torch, the reference and the checks once, each with a zygote that forks the
sandboxed child from an interpreter that imported torch once: grader/zygote.py) or on
a Dask cluster (`--scheduler`): the same function through the same `concurrent.futures`
interface.

OUT/<id>/results.json is what Gradescope would show; OUT/<id>/grading.json keeps the
full result and the fingerprint (content hash of the submission, the rubric, the
selected problems and the grader's own code) that lets a rerun skip what has not
changed. grades.csv and report.html are rewritten from the results on disk whenever
the batch ends, Ctrl-C included, so they always list exactly the finished gradings.

Nothing a child does reaches the batch's own processes: the batch (while it runs), the
forkserver, the workers and their zygotes are undumpable (no ptrace, no /proc/<pid>/mem
for the same user); a worker obeys the batch's SIGTERM only and ignores the other
catchable signals; each grading has a wall-clock watchdog, and a worker that dies, is
stopped or overruns it is killed with everything it started and replaced, the others
untouched. A grading disturbed that way (or whose child its zygote lost, or with a
failure of the grader) is graded again alone, with nothing else running; if that fails
too it is a grader failure (`grader_error`, "not your fault"), never cached as final.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import shutil
import signal
import socket
import stat
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence
from urllib.parse import urlsplit

import yaml

from . import manual as manual_module
from . import rubric as rubric_module
from . import zygote as _zygote
from .analysis import after_run as batch_analysis
from .analysis import analysis_html, regrade
from .assignment import Assignment, package_dir
from .assignment import default as default_assignment
from .assignment import load as load_assignment
from .draws import identity_of
from .outcome import GradingResult
from .report import feedback, gradebook, gradescope, html
from .report._common import atomic_write
from .supervision import interruptions, prctl, processes, procfs, signals
from .runner import grade, sandbox_for

if TYPE_CHECKING:   # rich is imported only when a bar is shown
    from rich.progress import Progress

METADATA = "submission_metadata.yml"
SUBMISSION_SUFFIXES = (".zip", ".ipynb", ".py")
GRADING_FILE = "grading.json"
RESERVED_IDS = frozenset({"grades.csv", "report.html"})
# OUT's own files are named *.csv, *.html, *.json: no submission's folder may take such a name
# (a student who names an upload "checks.csv" would switch off the class analyses).
_OUT_FILE_SUFFIXES = (".csv", ".html", ".json")
MAX_ATTEMPTS = 2          # a grading disturbed (its worker died, ...) is graded again, alone, once
POLL_SECONDS = 0.25       # how often the batch looks at Ctrl-C and at its workers while it waits


class BatchError(Exception):
    """DIR cannot be read as a folder of submissions (message for the instructor)."""


@dataclass(frozen=True)
class BatchItem:
    """One submission to grade: its id (a folder name under OUT), where it is, who submitted it."""

    submission_id: str
    path: Path
    students: tuple[dict, ...] = ()


# ---------------------------------------------------------------- discovering submissions
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
    for root, dirs, files in os.walk(path):  # links are hashed as links, never followed
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
    here = Path(__file__).resolve().parent
    for package in (here, *_assignment_folders(manifest)):
        for file in sorted(package.rglob("*")):
            if file.suffix in (".py", ".yaml", ".json") and "__pycache__" not in file.parts and file.is_file():
                digest.update(file.relative_to(package.parent).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _assignment_folders(manifest: str) -> list[Path]:
    """The folders of an assignment whose change changes results: its manifest's, its reference's, its checks'."""
    if not manifest:
        return []
    assignment = _assignment(manifest)
    folders = {assignment.manifest.parent, package_dir(assignment.reference, assignment.import_root),
               package_dir(assignment.checks, assignment.import_root)}
    return sorted(folders)


def _content(item: BatchItem) -> str | None:
    try:
        return content_digest(item.path)
    except OSError:
        return None  # unreadable: graded every time (and the grading says what is wrong)


# ---------------------------------------------------------------- grading one (runs on workers)
def grade_one(path: str, rubric_path: str | None, problems: list[str] | None, submission_id: str,
              zygote: bool = True, identity: str = "", confine: bool = True, assignment: str | None = None) -> dict:
    """Grade one submission as `hw3grade grade` would; plain data back (works on any executor).

    `confine` False: the child without its Landlock sandbox (`--no-sandbox`).
    The dict may carry "interference" (a child lost with its zygote: the grader's failure) and
    "suspect" (a child ended by a signal nothing of the grader sent, or found stopped): the batch
    grades it again, alone (`_settle`)."""
    mark = interruptions.interruptions()
    try:
        graded = _assignment(assignment)
        rubric = graded.load_rubric(rubric_path)
        entries = rubric.select(set(problems) if problems else None)
        sandbox = sandbox_for(graded, rubric, zygote=zygote)
        if not confine and hasattr(sandbox, "confine"):
            sandbox = dataclasses.replace(sandbox, confine=False)
        result = grade(Path(path), graded, rubric=rubric, entries=entries, submission_id=submission_id, sandbox=sandbox,
                       identity=identity or submission_id, fingerprint_answers=True)
    except Exception as exc:  # one broken submission (or a grader bug on it) never stops the batch
        result = GradingResult((), submission_id=submission_id,
                               grader_failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    finally:
        if _TERMINATING:  # the batch was interrupted: the child is killed (above), now leave
            _leave()
    data = result.to_dict()
    for kind, what in interruptions.interruptions_since(mark):
        data[kind] = f"{data[kind]}; {what}" if kind in data else what
    return data


_TERMINATING = False
_CONTROL = None   # in a local worker: its pipe from the batch


def _on_sigterm(signum, frame) -> None:
    """In a worker: unwind the grading (its `finally` kills the child), then exit; but only when the
    batch asked (a "stop" waits on the pipe, or the batch is gone): anyone else's SIGTERM is ignored."""
    global _TERMINATING
    if _CONTROL is not None:
        try:
            asked = _CONTROL.poll(0)
        except (OSError, EOFError, ValueError):
            asked = True
        if not asked:
            return
    if not _TERMINATING:
        _TERMINATING = True
        raise SystemExit(128 + signum)


def _leave() -> None:
    _zygote.shutdown()
    os._exit(128 + signal.SIGTERM)


def _assignment(manifest: str | None) -> Assignment:
    """The batch's assignment in a worker, from its manifest (a worker may be a fresh process)."""
    chosen = load_assignment(manifest) if manifest else default_assignment()
    chosen.import_paths()
    return chosen


def warm_imports(manifest: str | None = None) -> None:
    """Pay the imports once per worker, not once per submission."""
    import torch

    torch.set_num_threads(1)
    assignment = _assignment(manifest)
    assignment.catalog    # noqa: B018  imports every check module
    for name in assignment.modules:
        assignment.reference_module(name)


def _prepare_worker() -> None:
    """Any worker (local or Dask): undumpable, then warm."""
    prctl.set_dumpable(False)
    warm_imports()


def _init_local_worker() -> None:
    signals.as_worker(_on_sigterm)   # Ctrl-C is the batch's; SIGTERM only when the batch asked; SIGHUP... ignored
    processes.adopt_orphans()        # one grading at a time: what a child leaves comes here
    _prepare_worker()


def _worker_main(conn) -> None:
    """A local worker: grade what the batch sends on `conn`, one at a time, until told to stop."""
    global _CONTROL
    _CONTROL = conn
    _init_local_worker()
    conn.send(("ready", os.getpid()))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break   # the batch is gone
            if not (isinstance(message, tuple) and message and message[0] == "grade"):
                break   # "stop"
            _, fn, args = message
            try:
                reply = ("done", fn(*args))
            except Exception as exc:   # grade_one catches its own; this is the worker's bug
                reply = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            try:
                conn.send(reply)
            except (OSError, ValueError):
                break
    finally:
        _zygote.shutdown()


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


class DaskExecutor(cf.Executor):
    """Dask's concurrent.futures executor on a cluster, owning its client."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BatchError("--scheduler needs dask.distributed: pip install 'hw3grade[dask]'") from None
        self.client = Client(address)
        self.client.run(_prepare_worker)
        self._executor = self.client.get_executor(pure=False)

    @property
    def parallelism(self) -> int:
        return max(sum(self.client.nthreads().values()), 1)

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()


def dask_executor(address: str) -> DaskExecutor:
    """The executor for `--scheduler ADDRESS` (pip install 'hw3grade[dask]')."""
    return DaskExecutor(address)


def check_scheduler(address: str, allow_insecure: bool = False) -> str:
    """Refuse a plain-TCP scheduler on another machine (Dask has no authentication of its own:
    anyone who reaches that address runs code on every worker, and reads every submission);
    "" for a secure address, else a warning to print (plain TCP on this machine, or allowed)."""
    scheme, _, rest = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "ws"):
        return ""      # tls://, wss://, inproc://, ucx://: encrypted, or not a network address
    host = urlsplit(f"//{rest}").hostname or ""
    if _loopback(host):
        return (f"the scheduler {address} is plain TCP: every process on this machine that reaches it can run "
                "code on its workers (Dask has no authentication of its own); use TLS on a shared machine "
                "(docs/BATCH.md)")
    if not allow_insecure:
        raise BatchError(f"the scheduler {address} is plain TCP on another machine: whoever reaches it runs code on "
                         "every worker and reads every submission. Use a tls:// scheduler with certificates "
                         "(docs/BATCH.md, \"A shared cluster\"), or --allow-insecure-scheduler on a network "
                         "that is yours alone")
    return f"the scheduler {address} is plain TCP on another machine (--allow-insecure-scheduler)"


def _loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:   # a name: loopback only if every address it has is
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}   # an IP address (a str)
        except OSError:
            return False
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


# ---------------------------------------------------------------- the batch
@dataclass(frozen=True)
class BatchSummary:
    graded: int                  # graded in this run
    skipped: int                 # unchanged since an earlier run: not graded again
    failed: int                  # graded in this run with a failure of the grader
    pending: int                 # not graded because the batch was interrupted (or failed)
    interrupted: bool
    wall_time: float
    rows: tuple[gradebook.BatchRow, ...] = field(repr=False)
    error: str = ""              # the batch itself failed (a bug of ours): what happened; the CSV is still written
    impact: regrade.Impact | None = None   # what a change of rubric/reference/checks did (grader/regrade.py)
    kept: tuple[str, ...] = ()   # rows of earlier runs kept though not in FOLDER (see `--prune`)
    pruned: tuple[str, ...] = ()  # submissions not in FOLDER whose results `--prune` removed from OUT


@dataclass
class _Task:
    item: BatchItem
    stamp: str | None
    attempts: int = 0
    alone: bool = False          # its worker died once: graded again with nothing else running


def run_batch(folder: Path, out: Path, *, jobs: int | None = None, force: bool = False,
              rubric_path: Path | None = None, problems: list[str] | None = None,
              executor: cf.Executor | None = None, progress: str | bool | None = None,
              zygote: bool = True, watchdog: float | None = None, confine: bool = True,
              dry_run: bool = False, analysis: bool = True, manual: Path | None = None,
              only: Iterable[str] | None = None, prune: bool = False,
              assignment: Assignment | None = None) -> BatchSummary:
    """Grade every submission of `folder` into `out` for `assignment` (the default one if not given);
    returns what was done.

    `executor`: where to grade (a DaskExecutor, say); by default a local pool of `jobs`
    warm workers (default: the number of cores). `progress`: "bar" (rich), "lines" (one
    line per grading, for logs), or None/False. Ctrl-C (SIGINT), SIGTERM or SIGHUP stops
    the batch: running gradings are abandoned, and the summary says `interrupted`.
    `watchdog`: the wall-clock seconds a local grading may take before its worker is
    replaced (default: the rubric's `limits.budget_seconds` plus `WATCHDOG_MARGIN`).
    `confine` False: children without their Landlock sandbox (`--no-sandbox`).
    `dry_run`: grade into a staging folder and report the re-grade impact, replacing nothing in `out`.
    `analysis` False: no checks.csv, regrade.csv or instructor sections (to measure their cost).
    `manual`: a CSV of hand-graded scores (grader/manual.py), checked whole before OUT changes.
    `only`: grade just these submission ids (always, as `force`); every other row of OUT is kept.
    `prune`: results in OUT of submissions FOLDER no longer holds are removed, not kept.
    """
    previous = prctl.set_dumpable(False)   # while it runs, no child may trace the batch or write its memory
    options: dict[str, Any] = dict(
        jobs=jobs, force=force, rubric_path=rubric_path, problems=problems, executor=executor, progress=progress,
        zygote=zygote, watchdog=watchdog, confine=confine, manual=manual, only=tuple(only or ()), prune=prune,
        assignment=assignment or default_assignment())
    try:
        if dry_run:
            return batch_analysis.dry_run(Path(folder), Path(out), options, _run_batch)
        return _run_batch(folder, out, **options, analysis=analysis)
    finally:
        if previous == 1:
            prctl.set_dumpable(True)


def _run_batch(folder: Path, out: Path, *, jobs, force, rubric_path, problems, executor, progress, zygote,
               watchdog, confine, assignment: Assignment, analysis=True, exclude=(), manual=None, only=(),
               prune=False) -> BatchSummary:
    started = time.monotonic()
    folder, out = Path(folder), Path(out)
    rubric = assignment.load_rubric(rubric_path)
    chosen = rubric.parse_problem_keys(problems)
    problems = sorted(chosen) if chosen else None
    items = discover(folder, exclude=[out, *exclude])
    setup = setup_digest(rubric, problems, str(assignment.manifest))
    _check_only(only, items)
    earlier = _earlier_rows(out, setup, {i.submission_id for i in items})
    hand = _hand_graded(out, manual, manual_module.parts_for(rubric.manual, problems), items, earlier)
    out.mkdir(parents=True, exist_ok=True)      # nothing in OUT changed before this line
    if manual is not None:
        assert hand is not None   # read from `manual` (ManualError if it could not be)
        manual_module.save(out, hand)
    pruned = _prune(out, earlier) if prune else ()
    kept = () if prune else tuple(r.submission_id for r in earlier)
    tasks: list[_Task] = []
    skipped = 0
    contents = {item.submission_id: _content(item) for item in items}
    stamps = {sid: None if c is None else combined(setup, c) for sid, c in contents.items()}
    if analysis:   # before anything is replaced: the results graded with another rubric, reference or checks
        regrade.keep_previous(out, setup, batch_analysis.records(out, contents))
    for item in items:
        stamp = stamps[item.submission_id]
        if only and item.submission_id not in only:
            continue            # not this run's to grade: its row stays as it is (`_write_summaries`)
        if not force and not only and stamp is not None and _cached(out / item.submission_id, stamp) is not None:
            skipped += 1
        else:
            tasks.append(_Task(item, stamp))
    reporter = _Reporter(progress if progress is not True else "bar", len(tasks), len(items), skipped)
    stop = threading.Event()
    graded = failed = 0
    error = ""
    if tasks:
        args = (str(rubric_path) if rubric_path else None, problems, str(assignment.manifest))
        inflight: dict[cf.Future, _Task] = {}
        pool: _LocalPool | _ExecutorPool | None = None
        try:
            with signals.StopOnSignals(stop), reporter:
                if executor is None:
                    pool = _LocalPool(min(jobs or default_jobs(), len(tasks)),
                                      watchdog or rubric.limits.budget_seconds + WATCHDOG_MARGIN)
                    gradings = _grade_locally(pool, tasks, args, zygote, stop, confine)
                else:
                    pool = _ExecutorPool(executor, inflight)
                    gradings = _grade_all(pool, tasks, inflight, args, zygote, stop, confine)
                for task, result in gradings:
                    _save(out / task.item.submission_id, result, task.stamp,
                          {"setup": setup, "content": contents[task.item.submission_id],
                           "students": list(task.item.students)})
                    graded += 1
                    failed += gradebook.row_status(result) == "grader_error"
                    reporter.advance(task.item, result)
        except KeyboardInterrupt:  # a second Ctrl-C, or run outside the main thread
            stop.set()
        except Exception:          # a bug of ours outside any grading: still write what finished
            error = traceback.format_exc()
        finally:
            if pool is not None:
                with signals.StopOnSignals(stop, second_interrupts=False):   # cleaning up: Ctrl-C only asks again
                    pool.close(abandon=stop.is_set() or bool(error))
    complete = not stop.is_set() and not error and graded == len(tasks) and not only
    paths = {i.submission_id: i.path for i in items}
    report = batch_analysis.Analysis(out, setup, contents, paths, complete) if analysis else None
    listed = [i for i in items if not only or i.submission_id in only]
    others = [i.submission_id for i in items if i not in listed]
    with signals.StopOnSignals(stop, second_interrupts=False):           # the CSV always matches the disk
        rows = _write_summaries(out, listed, stamps, time.monotonic() - started, graded, report,
                                kept=(() if prune else earlier) + _earlier_rows(out, setup, set(), others),
                                hand=hand, left=kept, title=assignment.name, order=rubric.problem_keys)
    return BatchSummary(graded, skipped, failed, len(tasks) - graded, stop.is_set(),
                        time.monotonic() - started, rows, error, report.impact if report else None, kept, pruned)


def _write_feedback(out: Path, rows: list[gradebook.BatchRow], title: str, hand, order: Sequence[str]) -> list[str]:
    """OUT/<id>/feedback.html for every row; one that cannot be written costs its own page only."""
    unwritten = []
    for row in rows:
        try:
            feedback.write_feedback(row, feedback.path_for(out, row.submission_id), title or "Feedback", hand, order)
        except Exception as exc:
            unwritten.append(f"{row.submission_id} ({type(exc).__name__})")
    return unwritten


def _check_only(only: tuple[str, ...], items: list[BatchItem]) -> None:
    unknown = sorted(set(only) - {i.submission_id for i in items})
    if unknown:
        known = ", ".join(i.submission_id for i in items[:20]) + (" ..." if len(items) > 20 else "")
        raise BatchError(f"--only: no submission {', '.join(unknown)} in the folder (there are: {known or 'none'})")


def _earlier_rows(out: Path, setup: str, present: set[str], ids: Iterable[str] | None = None
                  ) -> tuple[gradebook.BatchRow, ...]:
    """Rows of OUT graded by an earlier run under this setup: of `ids`, or (by default) of every
    submission folder in OUT that is not `present`. Results of another setup are never mixed in."""
    if ids is None:
        ids = [p.name for p in sorted(out.iterdir()) if p.is_dir() and not p.name.startswith(".")] \
            if out.is_dir() else []
    rows = []
    for sid, record in batch_analysis.records(out, [i for i in ids if i not in present]).items():
        if record.get("setup") != setup:
            continue
        try:
            result = GradingResult.from_dict(record["result"])
            students = tuple(dict(s) for s in record.get("students") or () if isinstance(s, dict))
        except Exception:   # unreadable: not listed (the next run that holds it grades it again)
            continue
        rows.append(gradebook.BatchRow(sid, students, result))
    return tuple(rows)


def _hand_graded(out: Path, path: Path | None, parts, items: list[BatchItem],
                 earlier: tuple[gradebook.BatchRow, ...]) -> "manual_module.ManualScores | None":
    """The hand-graded scores in force: a new file (checked whole: ManualError), or those kept in OUT."""
    if path is None:
        return manual_module.load(out, parts)
    students = {r.submission_id: r.students for r in earlier} | {i.submission_id: i.students for i in items}
    return manual_module.read(path, parts, students)


def _prune(out: Path, earlier: tuple[gradebook.BatchRow, ...]) -> tuple[str, ...]:
    """`--prune`: the results of submissions no longer in FOLDER leave OUT."""
    for row in earlier:
        shutil.rmtree(out / row.submission_id, ignore_errors=True)
    return tuple(r.submission_id for r in earlier)


def _grade_all(pool: "_ExecutorPool", tasks: list[_Task], inflight: dict, args: tuple, zygote: bool,
               stop: threading.Event, confine: bool = True):
    """On the caller's executor (Dask, say): yield (task, result) as gradings finish, keeping a
    few more in flight than it has workers. A disturbed grading is graded again alone (`_settle`);
    one the executor itself gives up on (Dask's KilledWorker, say) gets a grader failure."""
    queue = collections.deque(tasks)
    while (queue or inflight) and not stop.is_set():
        while queue and not stop.is_set():
            alone = queue[0].alone
            if (alone and inflight) or (not alone and len(inflight) >= pool.window) or \
                    any(t.alone for t in inflight.values()):
                break
            task = queue.popleft()
            task.attempts += 1
            try:
                inflight[pool.submit(grade_one, *_grade_args(task, args, zygote, confine))] = task
            except (cf.BrokenExecutor, RuntimeError) as exc:
                yield task, _failure(task, f"the executor refused it: {type(exc).__name__}: {exc}")
        done, _ = cf.wait(inflight, timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
        for future in done:
            task = inflight.pop(future)
            try:
                data = future.result()
            except cf.CancelledError:
                task.attempts -= 1
                queue.appendleft(task)
                continue
            except Exception as exc:  # Dask's KilledWorker, an unpicklable result, ...
                yield task, _failure(task, f"grading it failed on the executor: {type(exc).__name__}: {exc}")
                continue
            result = _settle(task, "done", data)
            if result is None:
                queue.appendleft(task)
            else:
                yield task, result


def _grade_args(task: _Task, args: tuple, zygote: bool, confine: bool) -> tuple:
    """grade_one's arguments for a task; `args`: (rubric path, problems, the assignment's manifest)."""
    rubric_path, problems, manifest = args
    return (str(task.item.path), rubric_path, problems, task.item.submission_id, zygote,
            identity_of(task.item.students, task.item.submission_id), confine, manifest)


def _grade_locally(pool: "_LocalPool", tasks: list[_Task], args: tuple, zygote: bool, stop: threading.Event,
                   confine: bool = True):
    """On our own workers: yield (task, result) as gradings finish, one grading per worker.

    A grading whose worker died, was stopped or overran the watchdog, or that came back
    disturbed (`_settle`), is graded again alone: with nothing else running, no classmate's
    code can disturb it; if that one fails too, it gets a grader failure.
    """
    waiting = collections.deque(tasks)
    while (waiting or pool.running()) and not stop.is_set():
        if pool.broken:
            while waiting:
                task = waiting.popleft()
                yield task, _failure(task, "no worker process could be started to grade it (each one died "
                                           "before it was ready)")
            break
        for worker in pool.idle():
            running = pool.running()
            if not waiting or stop.is_set() or any(t.alone for t in running) or (waiting[0].alone and running):
                break
            task = waiting.popleft()
            task.attempts += 1
            if not pool.assign(worker, task, (grade_one, _grade_args(task, args, zygote, confine))):
                task.attempts -= 1
                waiting.appendleft(task)
        for task, kind, payload in pool.poll(POLL_SECONDS):
            result = _settle(task, kind, payload)
            if result is None:
                waiting.appendleft(task)
            else:
                yield task, result


def _settle(task: _Task, kind: str, payload) -> GradingResult | None:
    """The result of one attempt ("done": grade_one's dict; "error", "lost": what happened), or
    None when the task must be graded again, alone (nothing else running: no classmate's code).

    - its worker was lost (died, stopped, over the watchdog), or its zygote lost its child
      ("interference"): graded again; a second time, a grader failure;
    - a child was ended by a signal nothing of the grader sent, or found stopped ("suspect"), or
      the result holds a failure of the grader in some check: graded again, and that result is
      kept as it is (alone, what ends a child is its own doing or its own limits).
    A grader failure or a grader error is `grader_error`, never cached: the next run grades it again.
    """
    interference = result = None
    if kind == "done":
        data = dict(payload)
        interference = data.pop("interference", None)
        suspect = data.pop("suspect", None)
        try:
            result = GradingResult.from_dict(data)
        except Exception as exc:
            why = f"its result could not be read ({type(exc).__name__}: {exc})"
        else:
            if not interference and not suspect and gradebook.row_status(result) != "grader_error":
                return result
            why = f"its grading was disturbed: {interference or suspect}"
    elif kind == "error":
        why = f"grading it failed in the worker: {payload}"
    else:
        why = str(payload)
    if task.attempts < MAX_ATTEMPTS:
        task.alone = True
        return None
    if result is not None and not interference:
        return result
    return _failure(task, f"{why}, on the last of {task.attempts} attempts (that one with nothing else running; "
                          "the earlier ones were disturbed too). None of it is the submission's own limits, so this "
                          "is no verdict on it: it is graded again on the next run.")


def _failure(task: _Task, text: str) -> GradingResult:
    return GradingResult((), submission_id=task.item.submission_id, grader_failure=text)


class _ExecutorPool:
    """The caller's executor (Dask, say): the batch submits to it and, interrupted, cancels."""

    def __init__(self, executor: cf.Executor, inflight: dict) -> None:
        self.executor, self.inflight = executor, inflight
        parallelism = getattr(executor, "parallelism", None) or getattr(executor, "_max_workers", None) or 500
        self.window = 2 * parallelism  # enough queued to keep every worker busy, no more

    def submit(self, fn, *args):
        return self.executor.submit(fn, *args)

    def close(self, abandon: bool) -> None:
        if abandon:
            for future in list(self.inflight):
                future.cancel()  # on Dask this cancels the task too


# ---------------------------------------------------------------- local workers
#: Seconds a grading may run past the rubric's budget (child starts, imports, judging: the
#: runner itself stops probing at the budget) before the batch gives up on its worker.
WATCHDOG_MARGIN = 180.0
STARTUP_SECONDS = 300.0   # a worker not ready (torch, the reference, the checks imported) by then is replaced
STOPPED_SECONDS = 3.0     # a worker seen stopped this long while it works (a child's SIGSTOP) is replaced
GAP_SECONDS = 5.0         # the batch itself paused this long (Ctrl-Z, a suspended machine): not counted
START_FAILURES = 5        # workers in a row that die before they are ready: the pool gives up
START_SECONDS = 60.0      # the forkserver forks a worker within this (it may have to import torch first)
#: What the forkserver imports once for every worker it forks; grader._undumpable first: the
#: forkserver (and so each worker from its first instruction) is undumpable.
PRELOAD = ["grader._undumpable", "torch", "numpy", "grader.runner", "grader.batch"]


class _Worker:
    """One local worker process, its pipe, and the grading it runs (if any)."""

    def __init__(self, context, events: queue.Queue) -> None:
        self.conn, theirs = context.Pipe(duplex=True)
        try:
            self.process = context.Process(target=_worker_main, args=(theirs,), name="hw3grade-worker", daemon=True)
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            theirs.close()
        self.pid: int = self.process.pid
        self.server = _forkserver_pid()   # the forkserver that forked it (and reports how it ended)
        self.ready = False
        self.task: _Task | None = None
        self.since = time.monotonic()   # when it started, or took its grading
        self.stopped = 0.0              # seconds seen stopped while starting or grading
        self.exited: float | None = None
        self._reader = threading.Thread(target=self._read, args=(events,), daemon=True,
                                        name=f"hw3grade-worker-{self.pid}")
        self._reader.start()

    def _read(self, events: queue.Queue) -> None:
        """Forward every message of the worker; None once its end is closed (it exited or was killed)."""
        while True:
            try:
                message = self.conn.recv()
            except Exception:   # EOFError, OSError, or a message that does not unpickle
                message = None
            events.put((self, message))
            if message is None:
                self.conn.close()
                return


class _LocalPool:
    """`jobs` warm worker processes, each with a pipe of its own: the batch knows which grading each
    runs, gives it a wall-clock watchdog, and replaces a worker that dies or is stopped (killing
    whatever it started) without touching the others."""

    def __init__(self, jobs: int, watchdog: float) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        self.jobs, self.watchdog = max(jobs, 1), watchdog
        self.events: queue.Queue = queue.Queue()
        self.workers: list[_Worker] = []
        self.start_failures = 0
        self.last_poll = time.monotonic()
        self._fill()

    @property
    def broken(self) -> bool:
        """No worker left, and they keep dying before they are ready."""
        return not self.workers and self.start_failures >= START_FAILURES

    def _fill(self) -> None:
        while len(self.workers) < self.jobs and self.start_failures < START_FAILURES:
            worker = self._start_one()
            if worker is None:
                self.start_failures += 1
            else:
                self.workers.append(worker)

    def _start_one(self) -> "_Worker | None":
        """A new worker from multiprocessing's forkserver, never waiting on a forkserver that something
        stopped (or that died: multiprocessing starts a new one)."""
        server = _forkserver_pid()
        if server is not None and procfs.state(server) in procfs.STOPPED:
            processes.kill_one(server)
        box: list = []

        def start() -> None:
            try:
                box.append(_Worker(self.context, self.events))
            except Exception as exc:   # the fork failed, the forkserver died, ...
                box.append(exc)

        starter = threading.Thread(target=start, daemon=True, name="hw3grade-start-worker")
        starter.start()
        starter.join(START_SECONDS)
        if starter.is_alive():   # the forkserver does not answer: stopped, say; a new one next time
            server = _forkserver_pid()
            if server is not None:
                processes.kill_one(server)
            starter.join(5)
        return box[0] if box and isinstance(box[0], _Worker) else None

    def idle(self) -> list[_Worker]:
        return [w for w in self.workers if w.ready and w.task is None and w.exited is None]

    def running(self) -> list[_Task]:
        return [w.task for w in self.workers if w.task is not None]

    def assign(self, worker: _Worker, task: _Task, call: tuple) -> bool:
        try:
            worker.conn.send(("grade", *call))
        except Exception:
            self._lose(worker, "its worker could not be reached", [])
            self._fill()
            return False
        worker.task, worker.since, worker.stopped = task, time.monotonic(), 0.0
        return True

    def poll(self, timeout: float) -> list[tuple[_Task, str, object]]:
        """Wait up to `timeout` for news. Returns (task, "done" | "error" | "lost", result or why) for
        each grading that ended; replaces the workers that were lost."""
        settled: list[tuple[_Task, str, object]] = []
        try:
            news = [self.events.get(timeout=timeout)]
        except queue.Empty:
            news = []
        while True:
            try:
                news.append(self.events.get_nowait())
            except queue.Empty:
                break
        for worker, message in news:
            if worker not in self.workers:
                continue
            if message is None:
                self._lose(worker, None, settled)
            elif message[0] == "ready":
                worker.ready, worker.since = True, time.monotonic()
                self.start_failures = 0
            elif message[0] in ("done", "error") and worker.task is not None:
                settled.append((worker.task, message[0], message[1]))
                worker.task, worker.since, worker.stopped = None, time.monotonic(), 0.0
        now = time.monotonic()
        gap, self.last_poll = now - self.last_poll, now
        for worker in list(self.workers):
            if gap > GAP_SECONDS:   # the batch itself was paused: so was every grading's clock
                worker.since += gap
                continue
            state = procfs.state(worker.pid)
            if state is None or state in "ZX":   # dead: its reader reports it; at worst, we do
                worker.exited = worker.exited or now
                if now - worker.exited > 2.0:
                    self._lose(worker, None, settled)
                continue
            if worker.ready and worker.task is None:
                continue
            if state in procfs.STOPPED:
                worker.stopped += gap
                if worker.stopped >= STOPPED_SECONDS:
                    self._lose(worker, "the process grading it was stopped (SIGSTOP or the like, which nothing "
                                       "of the grader sends)", settled)
                continue
            limit = self.watchdog if worker.task is not None else STARTUP_SECONDS
            if now - worker.since > limit:
                self._lose(worker, f"the process grading it was still at it after {limit:.0f} s (the watchdog)",
                           settled)
        self._fill()
        return settled

    def _lose(self, worker: _Worker, why: str | None, settled: list) -> None:
        """Kill a worker and everything it started; its grading (if any) ends as `why` (None: it died)."""
        if worker in self.workers:
            self.workers.remove(worker)
        if not worker.ready:
            self.start_failures += 1
        processes.kill_tree(worker.pid, with_root=True)
        worker.process.join(5)
        why = why or _death(worker)
        if worker.task is not None:
            settled.append((worker.task, "lost", why))
            worker.task = None

    def close(self, abandon: bool) -> None:
        """Stop every worker: when idle, or (`abandon`) at once, each killing its child and zygote first."""
        for worker in self.workers:
            try:
                worker.conn.send(("stop",))
            except Exception:
                pass
            if abandon and (worker.task is not None or not worker.ready):
                if procfs.state(worker.pid) in procfs.STOPPED:
                    processes.kill_tree(worker.pid, with_root=True)
                else:
                    try:
                        os.kill(worker.pid, signal.SIGTERM)   # with "stop" waiting: the worker obeys
                    except OSError:
                        pass
        deadline = time.monotonic() + (20 if abandon else 60)
        for worker in self.workers:
            # not process.exitcode: the forkserver reports it, and a child may have killed the forkserver
            while _running(worker.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _running(worker.pid):
                processes.kill_tree(worker.pid, with_root=True)
            worker.process.join(1)
        self.workers = []


def _running(pid: int) -> bool:
    state = procfs.state(pid)
    return state is not None and state not in "ZX"


def _forkserver_pid() -> int | None:
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    return getattr(server, "_forkserver_pid", None)


def _death(worker: _Worker) -> str:
    """How a worker ended, as its forkserver reported it."""
    code = worker.process.exitcode
    if code == 255 and (worker.server is None or not _running(worker.server)):
        return "the process grading it died, and so did its forkserver, which would tell how (killed, then)"
    if code is not None and code < 0:
        return f"the process grading it was killed by {signals.signal_name(-code)}"
    return f"the process grading it exited (code {code})" if code is not None else "the process grading it was lost"


# ---------------------------------------------------------------- results on disk
def _load(folder: Path, stamp: str | None) -> GradingResult | None:
    """The result on disk for this fingerprint, grader failures included."""
    try:
        data = json.loads((folder / GRADING_FILE).read_text(encoding="utf-8"))
        if data.get("fingerprint") != stamp:
            return None
        return GradingResult.from_dict(data["result"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _cached(folder: Path, stamp: str) -> GradingResult | None:
    """A result a rerun can keep: same fingerprint, and no failure of the grader, whole or in one check."""
    result = _load(folder, stamp)
    if result is None or gradebook.row_status(result) == "grader_error":
        return None
    return result


def _save(folder: Path, result: GradingResult, stamp: str | None, parts: dict | None = None) -> None:
    """results.json for Gradescope, then grading.json (what counts as finished); each atomic.
    `parts`: the setup and content digests the fingerprint combines (for the re-grade impact)."""
    data = (gradescope.fallback_results(result.grader_failure) if result.grader_failure and not result.outcomes
            else gradescope.to_results_json(result))
    gradescope.write_results(data, folder / "results.json")
    record = {"fingerprint": stamp, **(parts or {}), "result": result.to_dict()}
    atomic_write(folder / GRADING_FILE, json.dumps(record, allow_nan=False).encode("utf-8"))


def _write_summaries(out: Path, items: list[BatchItem], stamps: dict[str, str | None], wall_time: float,
                     graded: int, analysis: "batch_analysis.Analysis | None" = None,
                     kept: tuple[gradebook.BatchRow, ...] = (), hand=None, left: tuple[str, ...] = (),
                     title: str = "", order: Sequence[str] = ()) -> tuple[gradebook.BatchRow, ...]:
    """grades.csv and report.html from what is on disk for the fingerprints of this run, with the
    `kept` rows of earlier runs (submissions this run did not grade) and the hand-graded scores."""
    rows = list(kept)
    for item in items:
        result = _load(out / item.submission_id, stamps[item.submission_id])
        if result is not None:
            rows.append(gradebook.BatchRow(item.submission_id, item.students, result))
    gradebook.write_grades_csv(rows, out / "grades.csv", hand, order)
    timings = {"wall time of this run": wall_time}
    if graded:
        timings["wall time per submission graded in this run"] = wall_time / graded
    top, bottom = analysis.sections(rows) if analysis else ((), ())
    unwritten = _write_feedback(out, rows, title, hand, order)
    notes = analysis_html.gradebook_notes(rows, hand, left, unwritten)
    html.write_report(rows, out / "report.html", timings=timings, top=(notes, *top) if notes else top,
                      bottom=bottom)
    return tuple(rows)


# ---------------------------------------------------------------- progress
class _Reporter:
    """A rich progress bar (count, rate, ETA), one line per grading, or nothing."""

    def __init__(self, mode: str | None, total: int, items: int, skipped: int) -> None:
        self.mode, self.total = (mode or None), total
        self.done = 0
        self.started = time.monotonic()
        self._bar: Progress | None = None
        if self.mode:
            self._print(f"{items} submissions: {total} to grade, {skipped} unchanged since the last run")

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def __enter__(self) -> "_Reporter":
        if self.mode == "bar" and self.total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=Console(stderr=True), speed_estimate_period=300)
            self._bar.__enter__()
            self._task = self._bar.add_task("grading", total=self.total, rate="")
        return self

    def advance(self, item: BatchItem, result: GradingResult) -> None:
        self.done += 1
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed * 60
        if result.grader_failure:
            self._print(f"grader failure on {item.submission_id}: {result.grader_failure.splitlines()[0]}")
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rate=f"{rate:.1f}/min")
        elif self.mode == "lines":
            left = (self.total - self.done) / (self.done / elapsed)
            self._print(f"[{self.done}/{self.total}] {item.submission_id}: {result.score:g}/{result.max_score:g} "
                        f"({rate:.1f}/min, ETA {_duration(left)})")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# ---------------------------------------------------------------- command line
def add_arguments(commands) -> None:
    batch = commands.add_parser("batch", help="grade a folder of submissions (or a Gradescope export)",
                                description="Grade every submission of FOLDER into OUT: OUT/<id>/results.json, "
                                            "OUT/grades.csv and OUT/report.html. Unchanged submissions are not "
                                            "graded again (see docs/BATCH.md).")
    batch.add_argument("folder", type=Path)
    batch.add_argument("-o", "--output", type=Path, required=True, help="folder for results, grades.csv, report.html")
    batch.add_argument("-j", "--jobs", type=int, default=None, help="parallel workers (default: number of cores)")
    batch.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster instead of locally")
    batch.add_argument("--allow-insecure-scheduler", action="store_true",
                       help="accept a plain tcp:// scheduler on another machine (Dask has no authentication)")
    batch.add_argument("--rubric", type=Path)
    batch.add_argument("--problems", nargs="+", metavar="KEY", help="only these problems (keys of the rubric)")
    batch.add_argument("--no-zygote", action="store_true",
                       help="start every child fresh, as `hw3grade grade` does (slower; same results)")
    batch.add_argument("--no-sandbox", action="store_true",
                       help="start every child without its Landlock sandbox, as on a kernel without one "
                            "(to rule the sandbox out; same results for honest code)")
    batch.add_argument("--no-progress", action="store_true")
    batch.add_argument("--dry-run", action="store_true",
                       help="show what a changed rubric, reference or checks does to every score, replacing nothing")
    batch.add_argument("--no-analysis", action="store_true",
                       help="no checks.csv, regrade.csv or instructor sections in the report (to measure their cost)")
    batch.add_argument("--manual", type=Path, metavar="SCORES.CSV",
                       help="hand-graded scores: one row per student (submission_id, email or sid), one column "
                            "per manual: part of the rubric; checked whole before OUT changes")
    batch.add_argument("--only", nargs="+", metavar="ID",
                       help="grade only these submissions (again); every other row of OUT is kept")
    batch.add_argument("--prune", action="store_true",
                       help="remove from OUT the results of submissions no longer in FOLDER (kept by default)")
    batch.set_defaults(func=_cmd_batch)


def _cmd_batch(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        print("hw3grade: -j must be at least 1", file=sys.stderr)
        return 2
    progress = None if args.no_progress else ("bar" if sys.stderr.isatty() else "lines")
    executor = None
    try:
        if args.scheduler:
            warning = check_scheduler(args.scheduler, args.allow_insecure_scheduler)
            if warning:
                print(f"hw3grade: warning: {warning}", file=sys.stderr)
        executor = dask_executor(args.scheduler) if args.scheduler else None
        summary = run_batch(args.folder, args.output, jobs=args.jobs, force=args.force, rubric_path=args.rubric,
                            problems=args.problems, executor=executor, progress=progress,
                            zygote=not args.no_zygote, confine=not args.no_sandbox, dry_run=args.dry_run,
                            analysis=not args.no_analysis, manual=args.manual, only=args.only, prune=args.prune,
                            assignment=args.assignment)
    except (BatchError, manual_module.ManualError) as exc:
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # OUT cannot be made or written, say
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 3
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    print(f"graded {summary.graded}, unchanged {summary.skipped}, grader failures {summary.failed}"
          + (f", not graded (interrupted) {summary.pending}" if summary.interrupted else "")
          + (f", not graded (the batch failed) {summary.pending}" if summary.error and not summary.interrupted else "")
          + f" in {summary.wall_time:.1f} s -> "
          + (f"nothing replaced (--dry-run); the changes: {args.output / regrade.DRY_RUN_CSV_NAME}" if args.dry_run
             else f"{args.output / 'grades.csv'}, {args.output / 'report.html'}"))
    for line in regrade.impact_lines(summary.impact):
        print(line)
    if summary.kept:
        print(f"kept {len(summary.kept)} row(s) of earlier runs, of submissions not in {args.folder}: "
              f"{', '.join(summary.kept[:20])}{' ...' if len(summary.kept) > 20 else ''} (--prune removes them)")
    if summary.pruned:
        print(f"pruned {len(summary.pruned)} submission(s) no longer in {args.folder}: "
              f"{', '.join(summary.pruned[:20])}")
    if summary.interrupted:
        print(f"hw3grade: interrupted; the finished results are in {args.output}", file=sys.stderr)
        return 130
    if summary.error:
        print(f"hw3grade: the batch itself failed (a bug of the grader); the finished results are in "
              f"{args.output}. Details:\n{summary.error}", file=sys.stderr)
        return 3
    return 0
