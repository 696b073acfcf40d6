"""`hw3grade batch`: its arguments, and what it prints and returns."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import manual as manual_module
from ..analysis import regrade
from . import run
from .cluster import check_scheduler, dask_executor
from .discovery import BatchError


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
                       help="start every child fresh, as Gradescope does (slower; same results)")
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
        summary = run.run_batch(args.folder, args.output, jobs=args.jobs, force=args.force, rubric_path=args.rubric,
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
