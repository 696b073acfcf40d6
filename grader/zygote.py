"""A warm start for the child: fork it from a process that has already imported torch.

A child started as ``python -m grader.probes.child`` spends about 2.5 s of CPU importing
torch before it can run anything, and 2 s more importing torch._dynamo when the student's
code makes its first optimizer. A *zygote* is a process started exactly like a child (same
interpreter, flags, environment) that imports what every child imports (numpy, torch,
torch._dynamo, ``grader.probes``), runs nothing else, and forks one fresh child per request.
Each batch worker keeps one for all its gradings (``SandboxConfig(zygote=True)``); `hw3grade
grade`, the kit's check.py and the kit's build start one for a grading that starts two
children or more and stop it before judging (``grading_zygote=True``, ``sandbox.grading_zygote``:
a full grading starts three). A library caller of ``runner.grade`` gets the unwarmed start
unless it asks, and it is the only one when ``run_as_user`` is set (Gradescope).

What a forked child shares with a freshly started one, by construction:

- containment: it calls ``setsid()`` before the zygote reports its pid (a new session
  and process group, killed as a whole with ``killpg``); its memory and file limits
  are applied after the fork by the same ``grader.probes.child.main``, from the same
  setup message; stdin is /dev/null and stdout/stderr go to a pipe the parent drains
  and caps; every other descriptor is closed; ``sys.argv`` holds the two protocol
  descriptors as for a fresh child;
- no shared state between submissions: the zygote itself never runs student code and
  never receives anything of a submission but a working folder, so every child starts
  from the same pristine state. Python's ``random`` reseeds itself after a fork; numpy's
  legacy global generator is reseeded here, as a fresh interpreter would have it;
- the memory budget: its address space and its cgroup count from what it holds when
  ready, as a fresh child's do. The zygote's objects are frozen (``gc.freeze``), so a
  collection in the child copies none of the pages it shares with the zygote (they would
  count in its cgroup); torch._dynamo is already imported, where a fresh child's first
  optimizer imports it (about 70 MB) out of its budget;
- exit status: the zygote is the child's parent, reaps it and reports its return code
  (negative for a signal, as ``subprocess`` does). Killing goes through the zygote too,
  which kills a process group only while its leader is unreaped (no pid-reuse race).

If the zygote cannot be started or dies, the child is started the unwarmed way: a
batch never fails because of this optimisation.

Nothing a child does reaches its zygote: the zygote makes itself undumpable
(``PR_SET_DUMPABLE`` 0) before it imports anything, so that no process of the same
user without ``CAP_SYS_PTRACE`` (its children included) can ptrace it or open its
``/proc/<pid>/mem`` or descriptors; it ignores SIGTERM, SIGINT, SIGHUP, SIGUSR1 and the
other signals that would end it but SIGKILL (it obeys its socket only); a SIGKILL takes
its children along (their parent-death signal). Each forked child is made dumpable
again at once, as a freshly started child is (it writes its own
``/proc/self/oom_score_adj`` and ``clear_refs``, which an undumpable process of an
ordinary user may not; the zygote stays out of its reach). A zygote that
dies or is stopped while one of its children runs is killed, the child's process group
too, and the grading notes an *interference* (grader/supervision/interruptions.py): an infrastructure
failure, which the batch grades again rather than charging it to the student. A child
that a signal nothing of the grader sent ended (SIGKILL, SIGTERM, ... without a kill
request; the out-of-memory killer's SIGKILL included) or that was found stopped is a
*suspect*: the batch grades it again alone, where no classmate's code runs, and keeps
that result.

Protocol: one AF_UNIX SOCK_SEQPACKET socket pair, small JSON messages, descriptors
passed with SCM_RIGHTS. Parent -> zygote: ``{"op": "fork", "workdir": ...}`` with the
child's request-read, answer-write and output-write descriptors; ``{"op": "kill",
"pid": ...}``. Zygote -> parent: ``{"ready": pid}`` once, ``{"forked": pid}`` or
``{"error": text}`` per fork, and ``{"exited": pid, "returncode": code, "requested": bool}``
whenever a child ends (``requested``: the parent had asked to kill it).

This module imports only the standard library at the top: the zygote must hold nothing
of the reference or of the checks, exactly like the child.
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from .supervision import prctl, procfs, signals
from .supervision.interruptions import note_interruption
from .supervision.processes import end_strays, killpg
from .supervision.signals import SUSPECT_SIGNALS, signal_name

MODULE = "grader.zygote"
_MAX_MESSAGE = 1 << 16


# ====================================================================== parent side
class ZygoteUnavailable(Exception):
    """The zygote could not be started or has died: start the child the unwarmed way."""


class Zygote:
    """The parent's handle on one zygote process; thread-safe."""

    def __init__(self, python: str, flag: str, env: dict[str, str], startup_timeout: float) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self._dead = False
        try:
            self.process = subprocess.Popen(
                # -B: under -I the environment's PYTHONDONTWRITEBYTECODE is ignored, and no .pyc
                # should ever be written next to a student's files
                [python, "-u", "-B", flag, "-m", MODULE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd="/", env=env,
                start_new_session=True,  # not in the terminal's process group: Ctrl-C is the batch's business
            )
        finally:
            theirs.close()
        self._started = time.monotonic()
        self._startup_timeout = startup_timeout
        self._ready = False

    # -- messages
    def _send(self, message: dict, fds: tuple[int, ...] = ()) -> None:
        data = json.dumps(message).encode()
        try:
            if fds:
                socket.send_fds(self._sock, [data], list(fds))
            else:
                self._sock.send(data)
        except OSError as exc:
            self._dead = True
            raise ZygoteUnavailable(f"the zygote is gone ({exc})") from None

    def _receive(self, timeout: float) -> dict | None:
        """One message within `timeout` seconds (None when none came); exit notices are filed."""
        if self._dead:
            raise ZygoteUnavailable("the zygote is gone")
        if not select.select([self._sock], [], [], max(timeout, 0.0))[0]:
            self._check_running()
            return None
        try:
            data = self._sock.recv(_MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:
            self._dead = True
            raise ZygoteUnavailable("the zygote exited")
        message = json.loads(data)
        if "exited" in message:
            pid, code = int(message["exited"]), int(message["returncode"])
            self._exits[pid] = code
            if code < 0 and -code in SUSPECT_SIGNALS and not message.get("requested"):
                note_interruption("suspect", f"the child {pid} was ended by {signal_name(-code)}, which nothing "
                                             "of the grader sent")
        return message

    def _check_running(self) -> None:
        """A zygote that something stopped (SIGSTOP: nothing of the grader does) is broken: killed at once."""
        if procfs.state(self.process.pid) in procfs.STOPPED:
            self._dead = True
            self.close()
            raise ZygoteUnavailable("the zygote was stopped (by a signal the grader did not send)")

    def _await(self, key: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._dead = True
                self.close()
                raise ZygoteUnavailable(f"the zygote did not answer within {timeout:.0f} s")
            message = self._receive(min(left, 0.5))
            if message is None or "exited" in message:
                continue
            if key in message:
                return message
            raise ZygoteUnavailable(message.get("error", f"unexpected message from the zygote: {message}"))

    # -- the three operations
    def spawn(self, request_r: int, answer_w: int, workdir: str) -> "ForkedProcess":
        """Fork one child reading requests on request_r and answering on answer_w."""
        output_r, output_w = os.pipe()
        try:
            with self._lock:
                if not self._ready:
                    left = self._startup_timeout - (time.monotonic() - self._started)
                    self._await("ready", left)
                    self._ready = True
                self._send({"op": "fork", "workdir": workdir}, (request_r, answer_w, output_w))
                pid = int(self._await("forked", 30.0)["forked"])
        except BaseException:
            os.close(output_r)
            raise
        finally:
            os.close(output_w)
        return ForkedProcess(self, pid, os.fdopen(output_r, "rb", buffering=0))

    def kill(self, pid: int) -> None:
        with self._lock:
            self._send({"op": "kill", "pid": pid})

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        """The child's return code once the zygote has reaped it; None if still running after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if pid in self._exits:
                    return self._exits.pop(pid)
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    if self._dead:
                        raise ZygoteUnavailable("the zygote is gone")
                    self._check_running()
                    return None
                self._receive(left)

    def alive(self) -> bool:
        return not self._dead and self.process.poll() is None and procfs.state(self.process.pid) not in procfs.STOPPED

    def close(self) -> None:
        """Closing the socket tells the zygote to kill its children and exit (a stopped one is killed)."""
        self._dead = True
        try:
            self._sock.close()
        except OSError:
            pass
        if procfs.state(self.process.pid) in procfs.STOPPED:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ForkedProcess:
    """What `sandbox.Child` needs of a `subprocess.Popen`, for a child forked by a zygote."""

    def __init__(self, zygote: Zygote, pid: int, stdout) -> None:
        self._zygote, self.pid, self.stdout = zygote, pid, stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._status(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(timeout)
        if code is None:
            assert timeout is not None   # without one, _status waits until the child is reaped
            raise subprocess.TimeoutExpired(f"zygote child {self.pid}", timeout)
        return code

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self._zygote.returncode(self.pid, timeout)
            except ZygoteUnavailable as exc:
                # The zygote died or was stopped (and could not reap): its orphans go to init. Kill
                # the group directly and report a kill, the best we can know; the grading notes an
                # interruption: nothing of the student's own limits ended this child.
                killpg(self.pid)
                self.returncode = -signal.SIGKILL
                note_interruption("interference", f"the child {self.pid} was killed because {exc}")
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child's whole process group (the zygote does it: it knows the pid is still its child)."""
        if self.returncode is not None:
            return
        if procfs.state(self.pid) in procfs.STOPPED:
            # Stopped by a signal: it ran out of time without running. Nothing of the grader stops a child.
            note_interruption("suspect", f"the child {self.pid} was found stopped (by a signal nothing of the "
                                         "grader sends)")
        try:
            self._zygote.kill(self.pid)
        except ZygoteUnavailable:
            self._status(0.0)


_ZYGOTES: dict[tuple, Zygote] = {}
_FAILURES: dict[tuple, int] = {}
MAX_FAILURES = 3  # after this many zygotes of one kind died or failed to start, stay unwarmed
_REGISTRY_LOCK = threading.Lock()


def _key(python: str, flag: str, env: dict[str, str]) -> tuple:
    return python, flag, tuple(sorted(env.items()))


def get(python: str, flag: str, env: dict[str, str], startup_timeout: float) -> Zygote | None:
    """This process's zygote for that interpreter and environment (started on first use);
    None once too many of them failed here."""
    key = _key(python, flag, env)
    with _REGISTRY_LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is not None and not zygote.alive():
            del _ZYGOTES[key]
            _FAILURES[key] = _FAILURES.get(key, 0) + 1
            zygote.close()
            zygote = None
        if zygote is None:
            if _FAILURES.get(key, 0) >= MAX_FAILURES:
                return None
            zygote = _ZYGOTES[key] = Zygote(python, flag, env, startup_timeout)
        return zygote


def pids() -> list[int]:
    """The pids of this process's zygotes."""
    with _REGISTRY_LOCK:
        return [z.process.pid for z in _ZYGOTES.values()]


def start_child(python: str, flag: str, env: dict[str, str], startup_timeout: float,
                request_r: int, answer_w: int, workdir: str) -> ForkedProcess | None:
    """A child forked from the warm zygote, or None: then start it the unwarmed way."""
    key = _key(python, flag, env)
    try:
        zygote = get(python, flag, env, startup_timeout)
        return zygote.spawn(request_r, answer_w, workdir) if zygote is not None else None
    except (ZygoteUnavailable, OSError):
        with _REGISTRY_LOCK:
            broken = _ZYGOTES.pop(key, None)
            _FAILURES[key] = _FAILURES.get(key, 0) + 1
        if broken is not None:
            broken.close()
        return None


def prestart(python: str, flag: str, env: dict[str, str], startup_timeout: float) -> bool:
    """Start this process's zygote now (it imports torch while the caller does other work); True when this
    call started it (its caller stops it: `stop`), False when one was running or none could start."""
    with _REGISTRY_LOCK:
        running = _key(python, flag, env) in _ZYGOTES
    try:
        return get(python, flag, env, startup_timeout) is not None and not running
    except OSError:
        return False


def stop(python: str, flag: str, env: dict[str, str]) -> None:
    """Stop this process's zygote for that interpreter and environment, if one runs (its children first)."""
    with _REGISTRY_LOCK:
        zygote = _ZYGOTES.pop(_key(python, flag, env), None)
    if zygote is not None:
        zygote.close()


def shutdown() -> None:
    """Stop every zygote of this process (each kills its children first)."""
    with _REGISTRY_LOCK:
        zygotes = list(_ZYGOTES.values())
        _ZYGOTES.clear()
    for zygote in zygotes:
        zygote.close()


# ====================================================================== zygote side
def main(argv: list[str]) -> int:
    prctl.set_dumpable(False)   # before anything else: no child of ours may ptrace us or write our memory
    signals.as_zygote()         # we obey our socket only
    sock = socket.socket(fileno=int(argv[1]))
    import numpy  # noqa: F401  (what every child imports, once)
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  (a child's first optimizer imports it: ~6 s of CPU in each, 70 MB once here)

    from grader.probes import child

    prctl.become_subreaper()   # what a child leaves behind comes to us, not to init: `_end_strays` kills it
    child._load_probe_kinds()
    home = os.getcwd()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signals.wake_on_child_exit(wake_w)
    watched: list[socket.socket | int] = [sock, wake_r]
    live: set[int] = set()
    requested: set[int] = set()   # children the parent asked to kill
    # Every object made so far is shared with the children: out of the collector's reach, a child's collection
    # does not write to (copy) the pages that hold them, about 65 MB its cgroup would count against its code.
    gc.freeze()
    _send_to(sock, {"ready": os.getpid()})
    try:
        while True:   # until the parent closes the socket (SIGTERM and the like are ignored)
            readable = select.select(watched, [], [], 1.0)[0]
            if wake_r in readable:
                os.read(wake_r, 4096)
            _reap(sock, live, block=False, requested=requested)
            _end_strays(live)
            if sock not in readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 8)
            except OSError:
                break
            if not data:
                break  # the parent is gone
            message = json.loads(data)
            if message.get("op") == "fork":
                _fork(sock, fds, message, live, home, (wake_r, wake_w), child)
            elif message.get("op") == "kill" and int(message["pid"]) in live:
                requested.add(int(message["pid"]))
                killpg(int(message["pid"]))
            else:
                for fd in fds:
                    os.close(fd)
    finally:
        for pid in list(live):
            killpg(pid)
        _reap(None, live, block=True)
        _end_strays(live)
    return 0


def _send_to(sock: socket.socket | None, message: dict) -> None:
    if sock is None:
        return
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass


def _reap(sock: socket.socket | None, live: set[int], block: bool, requested: set[int] | None = None) -> None:
    """Reap every child that ended; the parent hears of its own children only (not of strays)."""
    requested = requested if requested is not None else set()
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block and live else os.WNOHANG)
        except ChildProcessError:
            live.clear()
            return
        if pid == 0:
            return
        if pid not in live:
            continue   # a stray (`_end_strays`): nobody asked for it
        live.discard(pid)
        asked = pid in requested
        requested.discard(pid)
        _send_to(sock, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status), "requested": asked})


def _end_strays(live: set[int]) -> None:
    """Kill what a child left behind when it ended: orphans came to us (a subreaper) whatever they
    did to hide (setsid, double forks, every descriptor closed); killed and reaped until none is
    left. A child we forked is in `live` from its fork's end; nothing forks meanwhile (this loop
    is the only thread that forks)."""
    end_strays(lambda: live)


def _fork(sock, fds: list[int], message: dict, live: set[int], home: str, wake: tuple[int, int], child) -> None:
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _send_to(sock, {"error": "fork needs three descriptors"})
        return
    sync_r, sync_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the new child: never returns into the zygote's loop
        code = 70
        try:
            os.close(sync_r)
            code = _become_child(sock, fds, str(message.get("workdir") or "/"), home, wake, sync_w, child)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(sync_w)
    for fd in fds:
        os.close(fd)
    # the child closes sync_w once it leads its own session: only then is its pid a group to kill
    deadline = time.monotonic() + 30
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (select.select([sync_r], [], [], left)[0] and not os.read(sync_r, 64)):
            break
    os.close(sync_r)
    live.add(pid)
    _send_to(sock, {"forked": pid})


def _become_child(sock, fds: list[int], workdir: str, home: str, wake: tuple[int, int], sync_w: int, child) -> int:
    prctl.set_dumpable(True)   # as a freshly started child is; its parent, the zygote, stays undumpable
    prctl.die_with_parent()    # a zygote killed under it takes it along: its worker learns at once
    os.setsid()
    signals.as_fresh_child()
    sock.close()
    for fd in wake:
        os.close(fd)
    request_r, answer_w, output_w = fds
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_w, 1)
    os.dup2(output_w, 2)
    keep = sorted({0, 1, 2, request_r, answer_w, sync_w})
    for low, high in zip(keep, keep[1:] + [_max_fd()]):
        if high > low + 1:
            os.closerange(low + 1, high)
    os.chdir(workdir)
    if sys.path and sys.path[0] == home:  # `-m` put the zygote's folder first; a fresh child has its own
        sys.path[0] = workdir
    sys.argv = [child.__file__, str(request_r), str(answer_w)]
    import numpy

    numpy.random.seed()  # as fresh as a new interpreter's (Python's `random` reseeds itself after fork)
    os.close(sync_w)
    code = child.main(sys.argv)
    import atexit

    atexit._run_exitfuncs()
    return code


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 20)
    except (ValueError, OSError):
        return 1 << 16


if __name__ == "__main__":
    # Every child is reaped and stdout and stderr are /dev/null: nothing is left to flush or close, so no
    # teardown of the interpreter (freeing torch and torch._dynamo costs about 1.5 s of CPU at each stop).
    os._exit(main(sys.argv))
