"""`hw3grade batch DIR -o OUT`: a whole class, in parallel, into a gradebook and a report.

DIR holds one submission per entry (folder, .zip or notebook), or is Gradescope's
"Export Submissions" folder (with `submission_metadata.yml`: then each student's
latest submission is graded). Each submission is graded exactly as `hw3grade grade`
grades it, by `grade_one`, on a pool of warm workers (processes that imported torch,
the reference and the checks once) or on a Dask cluster (`--scheduler`): the same
function through the same `concurrent.futures` interface.

OUT/<id>/results.json is what Gradescope would show; OUT/<id>/grading.json keeps the
full result and the fingerprint (content hash of the submission and the rubric) that
lets a rerun skip what has not changed. grades.csv and report.html are rewritten from
the finished results whenever the batch ends, Ctrl-C included.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from . import rubric as rubric_module
from .outcome import GradingResult
from .report import gradebook, gradescope, html
from .submission import MODULES

METADATA = "submission_metadata.yml"
SUBMISSION_SUFFIXES = (".zip", ".ipynb", ".py")
GRADING_FILE = "grading.json"


@dataclass(frozen=True)
class BatchItem:
    """One submission to grade: its id (a folder name under OUT), where it is, who submitted it."""

    submission_id: str
    path: Path
    students: tuple[dict, ...] = ()


# ---------------------------------------------------------------- discovering submissions
def discover(folder: Path) -> list[BatchItem]:
    """The submissions in `folder`: a Gradescope export, or one entry per submission."""
    if (folder / METADATA).is_file():
        return _from_gradescope_export(folder)
    items = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "__MACOSX")) or entry.name in (METADATA,):
            continue
        if entry.is_dir() or entry.suffix.lower() in SUBMISSION_SUFFIXES:
            items.append(BatchItem(_safe_id(entry.stem if entry.is_file() else entry.name), entry))
    return items


def _from_gradescope_export(folder: Path) -> list[BatchItem]:
    """Gradescope's metadata keys submissions by folder name; keep each student's latest."""
    metadata = yaml.safe_load((folder / METADATA).read_text(encoding="utf-8")) or {}
    latest: dict[tuple, tuple[str, BatchItem]] = {}
    for name, info in metadata.items():
        info = info or {}
        path = folder / str(name)
        if not path.exists():
            continue
        students = tuple(_student(s) for s in info.get(":submitters", info.get("submitters", [])) or [])
        created = str(info.get(":created_at", info.get("created_at", "")))
        who = tuple(sorted(s["email"] or s["name"] for s in students)) or (str(name),)
        if who not in latest or created > latest[who][0]:
            latest[who] = (created, BatchItem(_safe_id(str(name)), path, students))
    return sorted((item for _, item in latest.values()), key=lambda item: item.submission_id)


def _student(raw: dict) -> dict:
    def field(key: str) -> str:
        return str(raw.get(f":{key}", raw.get(key, "")) or "")

    return {"name": field("name"), "email": field("email"), "sid": field("sid")}


def _safe_id(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "submission"


def fingerprint(path: Path, rubric: rubric_module.Rubric, problems: Iterable[str] | None = None) -> str:
    """Content hash of the submission's files, the rubric and the selection: what a result depends on."""
    digest = hashlib.sha256()
    digest.update(rubric.digest.encode())
    digest.update(repr(sorted(problems or ())).encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- grading one (runs on workers)
def grade_one(path: str, rubric_path: str | None, problems: list[str] | None, submission_id: str) -> dict:
    """Grade one submission as `hw3grade grade` would; plain data back (works on any executor)."""
    from .runner import grade

    rubric = rubric_module.load(rubric_path)
    entries = rubric.select(set(problems) if problems else None)
    try:
        result = grade(Path(path), rubric, entries=entries, submission_id=submission_id)
    except Exception as exc:  # one broken submission (or a grader bug on it) never stops the batch
        import traceback

        result = GradingResult((), submission_id=submission_id,
                               grader_failure=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    return result.to_dict()


def _warm_worker() -> None:
    """Pay the imports once per worker, not once per submission."""
    import torch

    torch.set_num_threads(1)
    from .checks.catalog import load_checks

    load_checks()
    import importlib

    for name in MODULES:
        importlib.import_module(f"reference.{name}")


def local_executor(jobs: int) -> cf.Executor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "numpy", "grader.runner"])
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_warm_worker)


def dask_executor(address: str) -> cf.Executor:
    """Dask's concurrent.futures executor on an existing cluster (pip install 'hw3grade[dask]')."""
    try:
        from distributed import Client
    except ImportError:
        raise SystemExit("hw3grade: --scheduler needs dask.distributed: pip install 'hw3grade[dask]'") from None
    return Client(address).get_executor()


# ---------------------------------------------------------------- the batch
@dataclass(frozen=True)
class BatchSummary:
    graded: int
    skipped: int
    failed: int
    wall_time: float
    rows: tuple[gradebook.BatchRow, ...]


def run_batch(folder: Path, out: Path, *, jobs: int | None = None, force: bool = False,
              rubric_path: Path | None = None, problems: list[str] | None = None,
              executor: cf.Executor | None = None, progress: bool = True) -> BatchSummary:
    """Grade every submission of `folder` into `out`; returns what was done."""
    started = time.monotonic()
    rubric = rubric_module.load(rubric_path)
    items = discover(folder)
    out.mkdir(parents=True, exist_ok=True)
    todo, done = [], {}
    for item in items:
        stamp = fingerprint(item.path, rubric, problems)
        cached = None if force else _cached(out / item.submission_id, stamp)
        if cached is not None:
            done[item.submission_id] = cached
        else:
            todo.append((item, stamp))
    skipped, failed = len(done), 0
    own_executor = executor is None
    executor = executor or local_executor(jobs or os.cpu_count() or 1)
    try:
        futures = {executor.submit(grade_one, str(item.path), str(rubric_path) if rubric_path else None,
                                   problems, item.submission_id): (item, stamp) for item, stamp in todo}
        with _progress(len(futures), progress) as advance:
            for future in cf.as_completed(futures):
                item, stamp = futures[future]
                result = _result_of(future, item)
                failed += bool(result.grader_failure)
                _save(out / item.submission_id, result, stamp)
                done[item.submission_id] = result
                advance()
    except KeyboardInterrupt:
        _cancel(executor, futures if "futures" in locals() else {})
        _write_summaries(out, items, done, time.monotonic() - started)
        raise
    finally:
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
    rows = _write_summaries(out, items, done, time.monotonic() - started)
    return BatchSummary(len(todo), skipped, failed, time.monotonic() - started, rows)


def _result_of(future: cf.Future, item: BatchItem) -> GradingResult:
    try:
        return GradingResult.from_dict(future.result())
    except Exception as exc:  # a worker died: this submission gets the grader's failure, the batch goes on
        return GradingResult((), submission_id=item.submission_id, grader_failure=f"worker failed: {exc!r}")


def _cancel(executor: cf.Executor, futures: dict) -> None:
    for future in futures:
        future.cancel()
    executor.shutdown(wait=False, cancel_futures=True)


def _cached(folder: Path, stamp: str) -> GradingResult | None:
    try:
        data = json.loads((folder / GRADING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != stamp or data["result"].get("grader_failure"):
        return None
    return GradingResult.from_dict(data["result"])


def _save(folder: Path, result: GradingResult, stamp: str) -> None:
    """results.json for Gradescope, grading.json for reruns; each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    data = (gradescope.fallback_results(result.grader_failure) if result.grader_failure and not result.outcomes
            else gradescope.to_results_json(result))
    gradescope.write_results(data, folder / "results.json")
    tmp = folder / f".{GRADING_FILE}.tmp"
    tmp.write_text(json.dumps({"fingerprint": stamp, "result": result.to_dict()}, allow_nan=False), encoding="utf-8")
    os.replace(tmp, folder / GRADING_FILE)


def _write_summaries(out: Path, items: list[BatchItem], done: dict[str, GradingResult],
                     wall_time: float) -> tuple[gradebook.BatchRow, ...]:
    rows = tuple(gradebook.BatchRow(item.submission_id, item.students, done[item.submission_id])
                 for item in items if item.submission_id in done)
    gradebook.write_grades_csv(list(rows), out / "grades.csv")
    html.write_report(list(rows), out / "report.html", timings={"wall time of this run": wall_time})
    return rows


class _progress:
    """A rich progress bar (count, rate, ETA), or nothing when not wanted."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled and total > 0

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                             TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
        self._bar.__enter__()
        self._task = self._bar.add_task("grading", total=self.total, rate="")
        self._started = time.monotonic()
        return self._advance

    def _advance(self) -> None:
        self._bar.advance(self._task)
        done = self._bar.tasks[0].completed
        rate = done / max(time.monotonic() - self._started, 1e-9) * 60
        self._bar.update(self._task, rate=f"{rate:.1f}/min")

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)


# ---------------------------------------------------------------- command line
def add_arguments(commands) -> None:
    batch = commands.add_parser("batch", help="grade a folder of submissions (or a Gradescope export)")
    batch.add_argument("folder", type=Path)
    batch.add_argument("-o", "--output", type=Path, required=True, help="folder for results, grades.csv, report.html")
    batch.add_argument("-j", "--jobs", type=int, default=None, help="parallel workers (default: number of cores)")
    batch.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster instead of locally")
    batch.add_argument("--rubric", type=Path)
    batch.add_argument("--problems", nargs="+", metavar="KEY")
    batch.add_argument("--no-progress", action="store_true")
    batch.set_defaults(func=_cmd_batch)


def _cmd_batch(args) -> int:
    import sys

    if not args.folder.is_dir():
        print(f"hw3grade: {args.folder} is not a folder of submissions", file=sys.stderr)
        return 2
    executor = dask_executor(args.scheduler) if args.scheduler else None
    try:
        summary = run_batch(args.folder, args.output, jobs=args.jobs, force=args.force, rubric_path=args.rubric,
                            problems=[p.upper() for p in args.problems] if args.problems else None,
                            executor=executor, progress=not args.no_progress and sys.stderr.isatty())
    except KeyboardInterrupt:
        print(f"hw3grade: interrupted; finished results are in {args.output}", file=sys.stderr)
        return 130
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
    print(f"graded {summary.graded}, unchanged {summary.skipped}, grader failures {summary.failed} "
          f"in {summary.wall_time:.1f} s -> {args.output / 'grades.csv'}, {args.output / 'report.html'}")
    return 0
