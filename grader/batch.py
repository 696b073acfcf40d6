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
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import yaml

from . import rubric as rubric_module
from .outcome import GradingResult
from .report import gradebook, gradescope, html
from .report._common import atomic_write

METADATA = "submission_metadata.yml"
SUBMISSION_SUFFIXES = (".zip", ".ipynb", ".py")
GRADING_FILE = "grading.json"
RESERVED_IDS = frozenset({"grades.csv", "report.html"})
MAX_ATTEMPTS = 2          # a submission whose worker died is graded again, alone, once
POLL_SECONDS = 0.25       # how often the batch looks at Ctrl-C while it waits


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
    items, taken = [], set()
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
    items, taken = [], set()
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
    while candidate.lower() in taken or candidate.lower() in RESERVED_IDS:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate.lower())
    return candidate


# ---------------------------------------------------------------- fingerprints
def fingerprint(path: Path, rubric: rubric_module.Rubric, problems: Iterable[str] | None = None) -> str:
    """Content hash of what a result depends on: the submission's files, the rubric, the
    selected problems, and the grader's own code and versions."""
    digest = hashlib.sha256()
    digest.update(grader_digest().encode())
    digest.update(rubric.digest.encode())
    digest.update(repr(sorted(problems or ())).encode())
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
    digest.update(b"F" + name.encode("utf-8", "surrogateescape") + b"\0")
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(b"\0")


@functools.cache
def grader_digest() -> str:
    """The grader's and the reference's source (a fixed check regrades everything) and the versions."""
    from importlib import metadata

    digest = hashlib.sha256()
    for name in ("torch", "numpy"):
        try:
            digest.update(f"{name}={metadata.version(name)};".encode())
        except metadata.PackageNotFoundError:
            pass
    digest.update(sys.version.encode())
    here = Path(__file__).resolve().parent
    for package in (here, here.parent / "reference"):
        for file in sorted(package.rglob("*")):
            if file.suffix in (".py", ".yaml", ".json") and "__pycache__" not in file.parts and file.is_file():
                digest.update(file.relative_to(here.parent).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _stamp(item: BatchItem, rubric: rubric_module.Rubric, problems: list[str] | None) -> str | None:
    try:
        return fingerprint(item.path, rubric, problems)
    except OSError:
        return None  # unreadable: graded every time (and the grading says what is wrong)


# ---------------------------------------------------------------- grading one (runs on workers)
def grade_one(path: str, rubric_path: str | None, problems: list[str] | None, submission_id: str,
              zygote: bool = True) -> dict:
    """Grade one submission as `hw3grade grade` would; plain data back (works on any executor)."""
    import traceback

    from .runner import grade, sandbox_for

    try:
        rubric = rubric_module.load(rubric_path)
        entries = rubric.select(set(problems) if problems else None)
        result = grade(Path(path), rubric, entries=entries, submission_id=submission_id,
                       sandbox=sandbox_for(rubric, zygote=zygote))
    except Exception as exc:  # one broken submission (or a grader bug on it) never stops the batch
        result = GradingResult((), submission_id=submission_id,
                               grader_failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    finally:
        if _TERMINATING:  # the batch was interrupted: the child is killed (above), now leave
            _leave()
    return result.to_dict()


_TERMINATING = False


def _on_sigterm(signum, frame) -> None:
    """In a worker: unwind the grading (its `finally` kills the child), then exit."""
    global _TERMINATING
    if not _TERMINATING:
        _TERMINATING = True
        raise SystemExit(128 + signum)


def _leave() -> None:
    from . import zygote

    zygote.shutdown()
    os._exit(128 + signal.SIGTERM)


def warm_imports() -> None:
    """Pay the imports once per worker, not once per submission."""
    import importlib

    import torch

    torch.set_num_threads(1)
    from .checks.catalog import load_checks
    from .submission import MODULES

    load_checks()
    for name in MODULES:
        importlib.import_module(f"reference.{name}")
    import grader.runner  # noqa: F401


def _init_local_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle, not each worker's
    signal.signal(signal.SIGTERM, _on_sigterm)
    warm_imports()


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


def local_executor(jobs: int) -> cf.ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "numpy", "grader.runner", "grader.batch"])
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_local_worker)


class DaskExecutor(cf.Executor):
    """Dask's concurrent.futures executor on a cluster, owning its client."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BatchError("--scheduler needs dask.distributed: pip install 'hw3grade[dask]'") from None
        self.client = Client(address)
        self.client.run(warm_imports)
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


# ---------------------------------------------------------------- the batch
@dataclass(frozen=True)
class BatchSummary:
    graded: int                  # graded in this run
    skipped: int                 # unchanged since an earlier run: not graded again
    failed: int                  # graded in this run with a failure of the grader
    pending: int                 # not graded because the batch was interrupted
    interrupted: bool
    wall_time: float
    rows: tuple[gradebook.BatchRow, ...] = field(repr=False)


@dataclass
class _Task:
    item: BatchItem
    stamp: str | None
    attempts: int = 0
    alone: bool = False          # its worker died once: graded again with nothing else running


def run_batch(folder: Path, out: Path, *, jobs: int | None = None, force: bool = False,
              rubric_path: Path | None = None, problems: list[str] | None = None,
              executor: cf.Executor | None = None, progress: str | bool | None = None,
              zygote: bool = True) -> BatchSummary:
    """Grade every submission of `folder` into `out`; returns what was done.

    `executor`: where to grade (a DaskExecutor, say); by default a local pool of `jobs`
    warm workers (default: the number of cores). `progress`: "bar" (rich), "lines" (one
    line per grading, for logs), or None/False. Ctrl-C (SIGINT) or SIGTERM stops the
    batch: running gradings are abandoned, and the summary says `interrupted`.
    """
    started = time.monotonic()
    folder, out = Path(folder), Path(out)
    rubric = rubric_module.load(rubric_path)
    problems = _check_problems(problems)
    items = discover(folder, exclude=[out])
    out.mkdir(parents=True, exist_ok=True)
    tasks: list[_Task] = []
    skipped = 0
    stamps = {item.submission_id: _stamp(item, rubric, problems) for item in items}
    for item in items:
        stamp = stamps[item.submission_id]
        if not force and stamp is not None and _cached(out / item.submission_id, stamp) is not None:
            skipped += 1
        else:
            tasks.append(_Task(item, stamp))
    reporter = _Reporter(progress if progress is not True else "bar", len(tasks), len(items), skipped)
    stop = threading.Event()
    graded = failed = 0
    if tasks:
        pool = _Pool(executor, min(jobs or default_jobs(), len(tasks)))
        args = (str(rubric_path) if rubric_path else None, problems)
        inflight: dict[cf.Future, _Task] = {}
        try:
            with _stop_on_signals(stop), reporter:
                for task, result in _grade_all(pool, tasks, inflight, args, zygote, stop):
                    _save(out / task.item.submission_id, result, task.stamp)
                    graded += 1
                    failed += bool(result.grader_failure)
                    reporter.advance(task.item, result)
        except KeyboardInterrupt:  # a second Ctrl-C, or run outside the main thread
            stop.set()
        finally:
            with _stop_on_signals(stop, second_interrupts=False):   # cleaning up: Ctrl-C only asks again
                pool.close(abandon=list(inflight) if stop.is_set() else None)
    with _stop_on_signals(stop, second_interrupts=False):           # the CSV always matches the disk
        rows = _write_summaries(out, items, stamps, time.monotonic() - started, graded)
    return BatchSummary(graded, skipped, failed, len(tasks) - graded, stop.is_set(),
                        time.monotonic() - started, rows)


def _check_problems(problems: list[str] | None) -> list[str] | None:
    if not problems:
        return None
    wanted = sorted({p.upper() for p in problems})
    unknown = [p for p in wanted if p not in rubric_module.PROBLEMS]
    if unknown:
        raise rubric_module.RubricError(f"unknown problem key(s) {', '.join(unknown)}; "
                                        f"use {', '.join(rubric_module.PROBLEMS)}")
    return None if set(wanted) == set(rubric_module.PROBLEMS) else wanted   # all of them: the same run as none


def _grade_all(pool: "_Pool", tasks: list[_Task], inflight: dict, args: tuple, zygote: bool,
               stop: threading.Event):
    """Yield (task, result) as gradings finish, keeping a few more in flight than workers.

    When a local worker dies (BrokenProcessPool), the pool is rebuilt and every grading
    that was running is done again alone, so that the one that kills its worker is
    identified and gets a grader failure, and the others their real result.
    """
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
                inflight[pool.submit(grade_one, str(task.item.path), *args, task.item.submission_id, zygote)] = task
            except (cf.BrokenExecutor, RuntimeError) as exc:
                if not pool.rebuildable:
                    yield task, _failure(task, f"the executor refused it: {type(exc).__name__}: {exc}")
                    continue
                task.attempts -= 1
                queue.appendleft(task)
                pool.rebuild()
                break
        done, _ = cf.wait(inflight, timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
        broken = False
        for future in done:
            task = inflight.pop(future)
            try:
                yield task, GradingResult.from_dict(future.result())
            except cf.BrokenExecutor as exc:
                broken = True
                if task.attempts < MAX_ATTEMPTS and pool.rebuildable:
                    task.alone = True
                    queue.appendleft(task)
                else:
                    yield task, _failure(task, f"the process grading it died ({exc or type(exc).__name__})")
            except cf.CancelledError:
                queue.appendleft(task)
            except Exception as exc:  # Dask's KilledWorker, an unpicklable result, ...
                yield task, _failure(task, f"grading it failed on the executor: {type(exc).__name__}: {exc}")
        if broken:
            pool.rebuild()


def _failure(task: _Task, text: str) -> GradingResult:
    return GradingResult((), submission_id=task.item.submission_id, grader_failure=text)


class _Pool:
    """The executor: the caller's, or a local pool of warm workers that is rebuilt if one dies."""

    def __init__(self, executor: cf.Executor | None, jobs: int) -> None:
        self.own = executor is None
        self.jobs = max(jobs, 1)
        self.executor = executor if executor is not None else local_executor(self.jobs)
        parallelism = self.jobs if self.own else (getattr(executor, "parallelism", None)
                                                  or getattr(executor, "_max_workers", None) or 500)
        self.window = 2 * parallelism  # enough queued to keep every worker busy, no more

    @property
    def rebuildable(self) -> bool:
        return self.own

    def submit(self, fn, *args):
        return self.executor.submit(fn, *args)

    def rebuild(self) -> None:
        if not self.own:
            return
        self._terminate()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = local_executor(self.jobs)

    def close(self, abandon: list[cf.Future] | None) -> None:
        """Shut our own pool down; on interruption, abandon the gradings still running."""
        if abandon is not None:
            for future in abandon:
                future.cancel()  # on Dask this cancels the task too
            if self.own:
                self._terminate()
                self.executor.shutdown(wait=False, cancel_futures=True)
        elif self.own:
            self.executor.shutdown(wait=True)

    def _terminate(self) -> None:
        """SIGTERM the workers: each kills its running child and its zygote, then exits."""
        processes = list((getattr(self.executor, "_processes", None) or {}).values())   # None once broken
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + 20
        for process in processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join(5)


class _stop_on_signals:
    """While grading: the first Ctrl-C (or SIGTERM) asks the batch to stop, a second one interrupts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: threading.Event, *, second_interrupts: bool = True) -> None:
        self.stop = stop
        self.second_interrupts = second_interrupts
        self.previous: dict = {}

    def _handler(self, signum, frame) -> None:
        if self.stop.is_set() and self.second_interrupts:
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


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


def _save(folder: Path, result: GradingResult, stamp: str | None) -> None:
    """results.json for Gradescope, then grading.json (what counts as finished); each atomic."""
    data = (gradescope.fallback_results(result.grader_failure) if result.grader_failure and not result.outcomes
            else gradescope.to_results_json(result))
    gradescope.write_results(data, folder / "results.json")
    record = {"fingerprint": stamp, "result": result.to_dict()}
    atomic_write(folder / GRADING_FILE, json.dumps(record, allow_nan=False).encode("utf-8"))


def _write_summaries(out: Path, items: list[BatchItem], stamps: dict[str, str | None], wall_time: float,
                     graded: int) -> tuple[gradebook.BatchRow, ...]:
    """grades.csv and report.html from what is on disk for the fingerprints of this run."""
    rows = []
    for item in items:
        result = _load(out / item.submission_id, stamps[item.submission_id])
        if result is not None:
            rows.append(gradebook.BatchRow(item.submission_id, item.students, result))
    gradebook.write_grades_csv(rows, out / "grades.csv")
    timings = {"wall time of this run": wall_time}
    if graded:
        timings["wall time per submission graded in this run"] = wall_time / graded
    html.write_report(rows, out / "report.html", timings=timings)
    return tuple(rows)


# ---------------------------------------------------------------- progress
class _Reporter:
    """A rich progress bar (count, rate, ETA), one line per grading, or nothing."""

    def __init__(self, mode: str | None, total: int, items: int, skipped: int) -> None:
        self.mode, self.total = (mode or None), total
        self.done = 0
        self.started = time.monotonic()
        self._bar = None
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
    batch.add_argument("--rubric", type=Path)
    batch.add_argument("--problems", nargs="+", metavar="KEY", help="only these problems (P1..P7, Q1..Q8)")
    batch.add_argument("--no-zygote", action="store_true",
                       help="start every child fresh, as `hw3grade grade` does (slower; same results)")
    batch.add_argument("--no-progress", action="store_true")
    batch.set_defaults(func=_cmd_batch)


def _cmd_batch(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        print("hw3grade: -j must be at least 1", file=sys.stderr)
        return 2
    progress = None if args.no_progress else ("bar" if sys.stderr.isatty() else "lines")
    executor = None
    try:
        executor = dask_executor(args.scheduler) if args.scheduler else None
        summary = run_batch(args.folder, args.output, jobs=args.jobs, force=args.force, rubric_path=args.rubric,
                            problems=args.problems, executor=executor, progress=progress,
                            zygote=not args.no_zygote)
    except BatchError as exc:
        print(f"hw3grade: {exc}", file=sys.stderr)
        return 2
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    print(f"graded {summary.graded}, unchanged {summary.skipped}, grader failures {summary.failed}"
          + (f", not graded (interrupted) {summary.pending}" if summary.interrupted else "")
          + f" in {summary.wall_time:.1f} s -> {args.output / 'grades.csv'}, {args.output / 'report.html'}")
    if summary.interrupted:
        print(f"hw3grade: interrupted; the finished results are in {args.output}", file=sys.stderr)
        return 130
    return 0
