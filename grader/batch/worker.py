"""What runs on a worker (a local one or a Dask one): `grade_one`, the imports paid once, and the
local worker's loop and its answer to SIGTERM."""
from __future__ import annotations

import dataclasses
import os
import signal
import traceback
from pathlib import Path

from .. import zygote as _zygote
from ..assignment import Assignment
from ..assignment import default as default_assignment
from ..assignment import load as load_assignment
from ..outcome import GradingResult
from ..supervision import interruptions, prctl, processes, signals
from ..runner import grade, sandbox_for


def grade_one(path: str, rubric_path: str | None, problems: list[str] | None, submission_id: str,
              zygote: bool = True, identity: str = "", confine: bool = True, assignment: str | None = None) -> dict:
    """Grade one submission as `hw3grade grade` would; plain data back (works on any executor).

    `confine` False: the child without its Landlock sandbox (`--no-sandbox`).
    The dict may carry "interference" (a child lost with its zygote: the grader's failure) and
    "suspect" (a child ended by a signal nothing of the grader sent, or found stopped): the batch
    grades it again, alone (`_settle`)."""
    mark = interruptions.interruptions()
    try:
        graded = assignment_for(assignment)
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


def assignment_for(manifest: str | None) -> Assignment:
    """The batch's assignment in a worker, from its manifest (a worker may be a fresh process)."""
    chosen = load_assignment(manifest) if manifest else default_assignment()
    chosen.import_paths()
    return chosen


def warm_imports(manifest: str | None = None) -> None:
    """Pay the imports once per worker, not once per submission."""
    import torch

    torch.set_num_threads(1)
    assignment = assignment_for(manifest)
    assignment.catalog    # noqa: B018  imports every check module
    for name in assignment.modules:
        assignment.reference_module(name)


def prepare_worker() -> None:
    """Any worker (local or Dask): undumpable, then warm."""
    prctl.set_dumpable(False)
    warm_imports()


def _init_local_worker() -> None:
    signals.as_worker(_on_sigterm)   # Ctrl-C is the batch's; SIGTERM only when the batch asked; SIGHUP... ignored
    processes.adopt_orphans()        # one grading at a time: what a child leaves comes here
    prepare_worker()


def worker_main(conn) -> None:
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
