"""Where gradings run: the caller's executor (Dask, say), or our own pool of warm worker processes with a
watchdog, which replaces a worker that dies, is stopped or overruns (killing what it started)."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import signal
import threading
import time

from ..supervision import processes, procfs, signals
from .task import Task
from .worker import worker_main


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


class ExecutorPool:
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
PRELOAD = ["grader._undumpable", "torch", "numpy", "grader.runner", "grader.batch.worker"]


class _Worker:
    """One local worker process, its pipe, and the grading it runs (if any)."""

    def __init__(self, context, events: queue.Queue) -> None:
        self.conn, theirs = context.Pipe(duplex=True)
        try:
            self.process = context.Process(target=worker_main, args=(theirs,), name="hw3grade-worker", daemon=True)
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            theirs.close()
        self.pid: int = self.process.pid
        self.server = _forkserver_pid()   # the forkserver that forked it (and reports how it ended)
        self.ready = False
        self.task: Task | None = None
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


class LocalPool:
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

    def running(self) -> list[Task]:
        return [w.task for w in self.workers if w.task is not None]

    def assign(self, worker: _Worker, task: Task, call: tuple) -> bool:
        try:
            worker.conn.send(("grade", *call))
        except Exception:
            self._lose(worker, "its worker could not be reached", [])
            self._fill()
            return False
        worker.task, worker.since, worker.stopped = task, time.monotonic(), 0.0
        return True

    def poll(self, timeout: float) -> list[tuple[Task, str, object]]:
        """Wait up to `timeout` for news. Returns (task, "done" | "error" | "lost", result or why) for
        each grading that ended; replaces the workers that were lost."""
        settled: list[tuple[Task, str, object]] = []
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
