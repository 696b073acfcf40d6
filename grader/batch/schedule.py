"""Which grading goes to which worker, and what a disturbed one gets: graded again alone, then a grader
failure (never charged to the student)."""
from __future__ import annotations

import collections
import concurrent.futures as cf
import threading

from ..draws import identity_of
from ..outcome import GradingResult
from ..report import gradebook
from . import worker
from .pool import ExecutorPool, LocalPool
from .task import Task


MAX_ATTEMPTS = 2          # a grading disturbed (its worker died, ...) is graded again, alone, once
POLL_SECONDS = 0.25       # how often the batch looks at Ctrl-C and at its workers while it waits


def grade_on_executor(pool: ExecutorPool, tasks: list[Task], inflight: dict, args: tuple, zygote: bool,
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
                inflight[pool.submit(worker.grade_one, *_grade_args(task, args, zygote, confine))] = task
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


def _grade_args(task: Task, args: tuple, zygote: bool, confine: bool) -> tuple:
    """grade_one's arguments for a task; `args`: (rubric path, problems, the assignment's manifest)."""
    rubric_path, problems, manifest = args
    return (str(task.item.path), rubric_path, problems, task.item.submission_id, zygote,
            identity_of(task.item.students, task.item.submission_id), confine, manifest)


def grade_locally(pool: LocalPool, tasks: list[Task], args: tuple, zygote: bool, stop: threading.Event,
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
        for idle in pool.idle():
            running = pool.running()
            if not waiting or stop.is_set() or any(t.alone for t in running) or (waiting[0].alone and running):
                break
            task = waiting.popleft()
            task.attempts += 1
            if not pool.assign(idle, task, (worker.grade_one, _grade_args(task, args, zygote, confine))):
                task.attempts -= 1
                waiting.appendleft(task)
        for task, kind, payload in pool.poll(POLL_SECONDS):
            result = _settle(task, kind, payload)
            if result is None:
                waiting.appendleft(task)
            else:
                yield task, result


def _settle(task: Task, kind: str, payload) -> GradingResult | None:
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


def _failure(task: Task, text: str) -> GradingResult:
    return GradingResult((), submission_id=task.item.submission_id, grader_failure=text)
