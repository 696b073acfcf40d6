"""`run_batch`: a class graded into OUT, from discovery to grades.csv and report.html."""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .. import manual as manual_module
from ..analysis import after_run as batch_analysis
from ..analysis import analysis_html, regrade
from ..assignment import Assignment
from ..assignment import default as default_assignment
from ..outcome import GradingResult
from ..report import feedback, gradebook, html
from ..report._common import atomic_write
from ..supervision import prctl, signals
from .cache import cached_result, records, combined, earlier_rows, item_digest, load_result, save_result, setup_digest
from .discovery import BatchError, BatchItem, discover
from .pool import WATCHDOG_MARGIN, ExecutorPool, LocalPool, default_jobs
from .progress import Reporter
from .schedule import grade_locally, grade_on_executor
from .task import Task


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
            return _dry_run(Path(folder), Path(out), options)
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
    earlier = earlier_rows(out, setup, {i.submission_id for i in items})
    hand = _hand_graded(out, manual, manual_module.parts_for(rubric.manual, problems), items, earlier)
    out.mkdir(parents=True, exist_ok=True)      # nothing in OUT changed before this line
    if manual is not None:
        assert hand is not None   # read from `manual` (ManualError if it could not be)
        manual_module.save(out, hand)
    pruned = _prune(out, earlier) if prune else ()
    kept = () if prune else tuple(r.submission_id for r in earlier)
    tasks: list[Task] = []
    skipped = 0
    contents = {item.submission_id: item_digest(item) for item in items}
    stamps = {sid: None if c is None else combined(setup, c) for sid, c in contents.items()}
    if analysis:   # before anything is replaced: the results graded with another rubric, reference or checks
        regrade.keep_previous(out, setup, records(out, contents))
    for item in items:
        stamp = stamps[item.submission_id]
        if only and item.submission_id not in only:
            continue            # not this run's to grade: its row stays as it is (`_write_summaries`)
        if not force and not only and stamp is not None and cached_result(out / item.submission_id, stamp) is not None:
            skipped += 1
        else:
            tasks.append(Task(item, stamp))
    reporter = Reporter(progress if progress is not True else "bar", len(tasks), len(items), skipped)
    stop = threading.Event()
    graded = failed = 0
    error = ""
    if tasks:
        args = (str(rubric_path) if rubric_path else None, problems, str(assignment.manifest))
        inflight: dict[cf.Future, Task] = {}
        pool: LocalPool | ExecutorPool | None = None
        try:
            with signals.StopOnSignals(stop), reporter:
                if executor is None:
                    pool = LocalPool(min(jobs or default_jobs(), len(tasks)),
                                      watchdog or rubric.limits.budget_seconds + WATCHDOG_MARGIN)
                    gradings = grade_locally(pool, tasks, args, zygote, stop, confine)
                else:
                    pool = ExecutorPool(executor, inflight)
                    gradings = grade_on_executor(pool, tasks, inflight, args, zygote, stop, confine)
                for task, result in gradings:
                    save_result(out / task.item.submission_id, result, task.stamp,
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
                                kept=(() if prune else earlier) + earlier_rows(out, setup, set(), others),
                                hand=hand, left=kept, title=assignment.name, order=rubric.problem_keys)
    return BatchSummary(graded, skipped, failed, len(tasks) - graded, stop.is_set(),
                        time.monotonic() - started, rows, error, report.impact if report else None, kept, pruned)


STAGED = ("grading.json", "results.json")


def _dry_run(folder: Path, out: Path, options: dict) -> BatchSummary:
    """Grade into a staging folder inside OUT (the unchanged results are copied, not regraded),
    compare with OUT's results, and remove the staging folder: nothing in OUT is replaced; the
    changes found go to OUT/regrade-dry-run.csv (regrade.csv's columns)."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dry-run-", dir=out))
    try:
        old = records(out, [p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")])
        for sid in old:
            (staging / sid).mkdir()
            for name in STAGED:
                if (out / sid / name).is_file():
                    shutil.copy2(out / sid / name, staging / sid / name)
        summary = _run_batch(folder, staging, **options, analysis=False, exclude=(out,))
        new = records(staging, old)
        impact = regrade.impact_of(_generation(old), _generation(new), "dry-run")
        atomic_write(out / regrade.DRY_RUN_CSV_NAME, regrade.csv_text(list(impact.changes)).encode())
        return _with_impact(summary, impact)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _generation(recs: dict[str, dict]) -> dict[str, tuple[str | None, GradingResult]]:
    return {sid: (r.get("content"), GradingResult.from_dict(r["result"])) for sid, r in recs.items()}


def _with_impact(summary: BatchSummary, impact: regrade.Impact) -> BatchSummary:
    return dataclasses.replace(summary, impact=impact)


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


def _write_summaries(out: Path, items: list[BatchItem], stamps: dict[str, str | None], wall_time: float,
                     graded: int, analysis: "batch_analysis.Analysis | None" = None,
                     kept: tuple[gradebook.BatchRow, ...] = (), hand=None, left: tuple[str, ...] = (),
                     title: str = "", order: Sequence[str] = ()) -> tuple[gradebook.BatchRow, ...]:
    """grades.csv and report.html from what is on disk for the fingerprints of this run, with the
    `kept` rows of earlier runs (submissions this run did not grade) and the hand-graded scores."""
    rows = list(kept)
    for item in items:
        result = load_result(out / item.submission_id, stamps[item.submission_id])
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
