"""The parent's side of the process boundary: start, talk to, and kill the child.

The child speaks only `wire` messages on its own pipes; its stdout/stderr are
drained by a thread that keeps the first `output_cap` bytes and discards the rest,
so a flood of prints can neither fill memory nor the disk nor block the child.
An answer that is late, truncated, forged or oversized becomes a `ChildFailure`
for the check that asked, never an exception of the grader.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from . import messages, scratch, zygote
from .probes import wire
from .probes.wire import FailureKind
from .supervision import cgroups, interruptions, processes, procfs, signals

CHILD_MODULE = "grader.probes.child"


@dataclass(frozen=True)
class SandboxConfig:
    memory_mb: int = 448           # what student code may allocate on top of torch itself
    file_mb: int = 64              # largest file the child may write
    output_cap: int = 64 * 1024    # bytes of student output kept for messages
    startup_timeout: float = 60.0  # importing torch on a loaded half-CPU machine is slow
    run_as_user: str | None = None  # on Gradescope: the unprivileged user (see grader/build)
    python: str = sys.executable
    pythonpath: tuple[str, ...] = ()  # where the child finds grader.probes (a readable copy on Gradescope)
    probe_files: tuple[tuple[str, str], ...] = ()  # the assignment's probe kinds: (module name, file path)
    # Batch only: fork the child from a warm process that imported torch once (grader/zygote.py), kept for
    # all the process's gradings; same containment; ignored with run_as_user, and falls back to a fresh
    # start if unavailable.
    zygote: bool = False
    # `hw3grade grade`, the kit and its build: a grading that starts two children or more forks them from a
    # zygote of its own, started with the grading and stopped before judging (`grading_zygote`).
    grading_zygote: bool = False
    # Landlock the child where the kernel has it (grader/probes/landlock.py): it reads the system,
    # Python and the libraries, and writes only its own folder; it cannot signal or trace the grader.
    # For `grade`, `batch` and the kit; on Gradescope (run_as_user) another user keeps it from the
    # grader's files, and only Landlock's network rules and scopes apply (False: neither).
    confine: bool = True
    # New network and mount namespaces where they can be made (grader/probes/namespaces.py): no
    # network at all, and a /dev/shm of the child's own; everywhere, Gradescope included.
    isolate: bool = True
    # A memory and pids cgroup per child where one can be made (grader/supervision/cgroups.py): its
    # processes together within memory_mb and 256 processes. Ignored with run_as_user (Gradescope:
    # the container's cgroup and the sandbox user's process limit hold there).
    cgroup: bool = True


@dataclass
class ChildFailure(Exception):
    """The child did not answer: it timed out, died, or sent something unreadable."""

    kind: FailureKind
    message: str
    at_process_limit: bool = False   # a timeout while its cgroup refused it processes (a fork bomb)

    def __str__(self) -> str:
        return self.message


@dataclass
class _Output:
    """The capped stream of everything the child printed."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def feed(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.dropped += max(len(chunk) - max(room, 0), 0)

    def text_since(self, offset: int) -> str:
        return wire.printable(bytes(self.data[offset:]).decode("utf-8", "replace"))


class Child:
    """One child process holding one submission. Use as a context manager."""

    def __init__(self, modules: dict[str, str], notebook: str | None, workdir: str | None,
                 config: SandboxConfig) -> None:
        """`workdir`: the grading's (sealed) scratch folder, where the child gets a fresh working folder
        of its own (`scratch.child_folder`; None: in the temporary folder), removed when it is closed."""
        self.config = config
        self.answer_bytes: dict[str, int] = {}    # {probe kind: its largest answer}, from the child's "ready"
        self.output = _Output(config.output_cap)
        self._oom_mark = _oom_kills()
        try:
            self.workdir = str(scratch.child_folder(config.run_as_user, workdir))
        except OSError as exc:
            raise ChildFailure(FailureKind.CRASH,
                               f"the grader could not make a working folder for your code ({exc})") from None
        request_r, self._request_w = os.pipe()
        self._answer_r, answer_w = os.pipe()
        # The parent never blocks on the child: both of its ends wait with poll() and a deadline.
        os.set_blocking(self._request_w, False)
        os.set_blocking(self._answer_r, False)
        self._group = cgroups.ChildGroup.make() if config.cgroup and not config.run_as_user else None
        process: subprocess.Popen[bytes] | zygote.ForkedProcess | None = (
            self._forked(request_r, answer_w, self.workdir) if config.zygote else None)
        if process is None:
            try:
                process = subprocess.Popen(
                    self._command(request_r, answer_w),
                    pass_fds=(request_r, answer_w),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    # not the working folder: with -s, `-m` puts the start folder first on sys.path, and
                    # student code may write there (a grader/ or numpy.py for the next child); the child
                    # changes into workdir itself once its own imports are done
                    cwd="/",
                    env=_child_environment(self.config),
                    start_new_session=True,  # one process group: killing it takes any forks along
                )
            except OSError as exc:
                for fd in (request_r, answer_w, self._request_w, self._answer_r):
                    os.close(fd)
                scratch.remove(self.workdir)
                self._remove_group()
                raise ChildFailure(FailureKind.STARTUP, f"the grader could not start {self.config.python} "
                                              f"({type(exc).__name__}: {exc})") from None
        self.process = process
        # what names this child's channel for good: a process it started that outlives it (its orphans
        # go to init once it is gone) is found by the pipes it inherited (`kill`)
        self._pipes = {os.fstat(fd).st_ino for fd in (self._request_w, self._answer_r)}
        self._started = procfs.start_time(self.process.pid)
        os.close(request_r)
        os.close(answer_w)
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        setup: dict[str, object] = {"modules": modules, "notebook": notebook, "workdir": self.workdir,
                 "probe_files": dict(config.probe_files),
                 "memory_mb": config.memory_mb, "file_mb": config.file_mb,
                 "confine": config.confine and not config.run_as_user, "isolate": config.isolate,
                 # another user keeps the child from the grader's files: Landlock's network and scopes only
                 "reach": config.confine and bool(config.run_as_user)}
        if self._group is not None:
            setup["cgroup"] = self._group.procs   # the child joins it first thing
        try:
            ready = self._request({"op": "setup", **setup}, config.startup_timeout)
            if not isinstance(ready, wire.Ready):
                raise ChildFailure(FailureKind.PROTOCOL, "the child did not start correctly")
            # why the sandbox asked for did not apply ("" when it did, or was not asked for)
            self.unconfined = ready.confined if setup["confine"] else ""
            # why it has the machine's network and /dev/shm ("" when it has its own)
            self.unisolated = ready.isolated if setup["isolate"] else ""
            # the sizes its probe kinds declare: reported before any student code ran
            self.answer_bytes = ready.answer_bytes
            self._limit_group(config.memory_mb)
        except ChildFailure as failure:
            # Before "ready" the child has run only its own imports (torch, numpy, grader.probes):
            # whatever stopped it is the install's fault, never the student's.
            raise self._start_failed(failure) from None

    def _limit_group(self, memory_mb: int) -> None:
        """Once the child is ready: its group's memory is what it holds now plus `memory_mb`, as its
        RLIMIT_AS. A child that could not join goes on with its rlimits alone."""
        if self._group is None:
            return
        try:
            if not self._group.holds(self.process.pid):
                raise OSError("the child is not in its cgroup")
            self._group.limit_memory(memory_mb)
        except OSError:
            self._remove_group()

    def _remove_group(self) -> None:
        group, self._group = getattr(self, "_group", None), None
        if group is not None:
            group.remove()

    def _command(self, request_r: int, answer_w: int) -> list[str]:
        # -B: -I ignores PYTHONDONTWRITEBYTECODE, and no .pyc is ever written next to a student's files
        command = [self.config.python, "-u", "-B", _isolation_flag(self.config),
                   "-m", CHILD_MODULE, str(request_r), str(answer_w)]
        if self.config.run_as_user:
            command = [_runuser(), "-u", self.config.run_as_user, "--", *command]
        return command

    def _forked(self, request_r: int, answer_w: int, workdir: str) -> zygote.ForkedProcess | None:
        """The child forked by this process's warm zygote (grader/zygote.py), or None."""
        if self.config.run_as_user:
            return None
        return zygote.start_child(*_zygote_key(self.config), self.config.startup_timeout, request_r, answer_w, workdir)

    def _start_failed(self, failure: ChildFailure) -> ChildFailure:
        """Why the child never became ready, for the instructor: exit status and the end of its output."""
        self.close()
        code = self.process.returncode
        if failure.kind is FailureKind.TIMEOUT:
            what = f"did not report ready within {self.config.startup_timeout:g} s"
        elif failure.kind is FailureKind.PROTOCOL:   # it answered, not "ready": the kill that followed was the grader's
            what = f"did not report ready ({failure.message})"
        elif code is not None and code < 0:
            what = f"was killed by signal {-code}"
        elif code is not None:
            what = f"exited with code {code}"
        else:
            what = f"failed ({failure.message})"
        who = f" as {self.config.run_as_user}" if self.config.run_as_user else ""
        text = f"the child ({self.config.python}{who}) {what} before running any student code"
        output = self.output.text_since(0).strip()
        if output:
            text += f"; its output ends with: {output[-1500:]}"
        return ChildFailure(FailureKind.STARTUP, text)

    def _drain_output(self) -> None:
        stream = self.process.stdout
        while stream is not None:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            self.output.feed(chunk)

    def request(self, message: dict, timeout: float) -> wire.Answer:
        """Send one request and wait at most `timeout` seconds for its answer."""
        return self._request(message, timeout)

    def _request(self, message: dict, timeout: float) -> wire.Answer:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + timeout
        # what the parent will read of the answer: the child refuses anything larger itself
        limit = (wire.answer_limit(message.get("kind"), self.answer_bytes) if message.get("op") == "probe"
                 else wire.DEFAULT_ANSWER_BYTES)
        self._oom_mark = _oom_kills()
        if self._group is not None:
            self._group.mark()
        data = b"".join(wire.frame({**message, "token": token, "max_answer": limit}))
        self._write(data, deadline)
        while True:  # answers with a stale or forged token are skipped
            answer = self._receive(deadline, limit)
            if answer.token == token:
                if self._group_ran_out():   # one of its processes was killed for it, whatever it answered
                    self.kill()
                    raise ChildFailure(FailureKind.MEMORY, OUT_OF_MEMORY)
                return answer

    def _write(self, data: bytes, deadline: float) -> None:
        """Write a request, but never wait past `deadline` (a child that stops reading, or fills or
        shrinks the pipe, times out like one that never answers)."""
        view = memoryview(data)
        poller = select.poll()
        poller.register(self._request_w, select.POLLOUT)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timed_out()
            if not poller.poll(max(int(left * 1000), 1)):
                continue
            try:
                written = os.write(self._request_w, view)
            except BlockingIOError:
                continue
            except OSError:   # its end is closed: it died, or closed it
                raise self._died() from None
            view = view[written:]

    def _receive(self, deadline: float, limit: int) -> wire.Answer:
        """One answer, validated by `wire` (the one place that reads the child's bytes); anything
        malformed, forged or over `limit` ends the child and becomes a "protocol" failure."""
        try:
            text_size, blob_size = wire.parse_header(bytes(self._read(wire.HEADER_SIZE, deadline)), limit)
            text = self._read(text_size, deadline)
            blob = self._read(blob_size, deadline) if blob_size else bytearray()
            return wire.answer_of(wire.read_answer(text, blob))
        except wire.WireError as exc:
            self.kill()
            raise ChildFailure(FailureKind.PROTOCOL,
                               f"the answer from the student's code was unreadable ({exc})") from None

    def _read(self, size: int, deadline: float) -> bytearray:
        """Exactly `size` bytes (already bounded by the answer's limit), read in place."""
        buffer = bytearray(size)
        view = memoryview(buffer)
        poller = select.poll()
        poller.register(self._answer_r, select.POLLIN)
        done = 0
        while done < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timed_out()
            if not poller.poll(max(int(left * 1000), 1)):
                continue
            try:
                count = os.readv(self._answer_r, [view[done:]])
            except BlockingIOError:
                continue
            except OSError:   # whatever the channel's trouble, nothing more can be read from it
                count = 0
            if not count:
                raise self._died()
            done += count
        return buffer

    def _timed_out(self) -> ChildFailure:
        """The deadline passed: a death, an out-of-memory state, or really a timeout."""
        if self.process.poll() is not None:
            return self._died()
        memory = self._group_ran_out() or _memory_exhausted(self._oom_mark, cgroup_only=True)
        self.kill()
        if memory:
            return ChildFailure(FailureKind.MEMORY, OUT_OF_MEMORY)
        at_limit = self._at_process_limit()
        return ChildFailure(FailureKind.TIMEOUT, PROCESS_LIMIT if at_limit else "timed out", at_process_limit=at_limit)

    def _died(self) -> ChildFailure:
        """Its end of a pipe is closed: why (an exit, a signal, the system's out-of-memory killer)."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:   # alive, but it closed its channel: nothing more will come
            self.kill()
            return ChildFailure(FailureKind.CRASH,
                                "the process running your code closed its channel to the grader")
        requested = getattr(self, "_kill_requested", False)
        self.kill()
        killed_by = -code if code is not None and code < 0 else None
        if killed_by is None and self.config.run_as_user and code is not None and 128 < code < 160:
            killed_by = code - 128   # runuser reports its command's signal as 128 + signal
        if self._group_ran_out() or (killed_by == signal.SIGKILL
                                     and _memory_exhausted(self._oom_mark, cgroup_only=False)):
            return ChildFailure(FailureKind.MEMORY, OUT_OF_MEMORY)
        if killed_by is not None and not requested:
            self._note_if_suspect(killed_by)
        if killed_by is not None:
            name = signals.name_of(killed_by)
            reason = f"was killed by signal {name}" if name else f"died (signal {killed_by})"
        else:
            reason = f"exited with code {code}"
        return ChildFailure(FailureKind.CRASH, f"the process running your code {reason} "
                                     "(os._exit, a crash, or running out of memory)"
                            + ("; " + messages.PROCESS_LIMIT if self._at_process_limit() else ""))

    def _group_ran_out(self) -> bool:
        """An out-of-memory kill in the child's cgroup during this request (its processes together
        went past its memory limit)."""
        group = getattr(self, "_group", None)
        return group is not None and group.ran_out_of_memory()

    def _at_process_limit(self) -> bool:
        """The child's code was refused a process during this request (a fork bomb)."""
        group = getattr(self, "_group", None)
        return group is not None and group.hit_process_limit()

    def _note_if_suspect(self, signum: int) -> None:
        """A signal from outside ended a child this process started (a zygote's children are its
        zygote's to judge): the batch grades that submission again, alone, as it does for the zygote's."""
        if isinstance(self.process, subprocess.Popen) and signum in signals.SUSPECT_SIGNALS:
            name = signals.signal_name(signum)
            interruptions.note_interruption("suspect", f"the child {self.process.pid} was ended by {name}, which "
                                                       "nothing of the grader sent")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self._kill_requested = True
        processes.kill_tree(self.process.pid)      # what it started first: setsid and double forks included
        self._kill_orphans()
        if self.process.poll() is None:
            if not isinstance(self.process, subprocess.Popen):
                self.process.kill()  # forked by a zygote: the zygote kills the child's group
            else:
                processes.killpg(self.process.pid)   # unreaped, so its pid is still its group's
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Again, now that the child is gone: a process of its tree that was still dying (a fork under
        # way when it was stopped, a parent killed but not yet dead) hands its orphans to us only
        # when it dies; on a slow machine that is after the first look (issue 17: a leftover met the
        # next child).
        self._kill_orphans()
        group = getattr(self, "_group", None)
        if group is not None:   # anything else in its cgroup (what left its tree and hid from the above)
            group.kill()

    def _kill_orphans(self) -> None:
        """Processes this child started that outlived it (`processes.end_orphans`)."""
        started = getattr(self, "_started", None)
        pipes: set[int] = getattr(self, "_pipes", set())
        if started is None or not pipes:    # a child that never started (or a test's stand-in)
            return
        processes.end_orphans(started, pipes, lambda: {self.process.pid, *zygote.pids()})

    def close(self) -> None:
        for fd in (self._request_w, self._answer_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.kill()
        self._remove_group()
        self._drain.join(timeout=2)
        scratch.remove(self.workdir)   # whatever it left there, or did to it
        if self.config.run_as_user:    # another user's files in /dev/shm, /tmp...: the child's alone
            uid = _uid_of(self.config.run_as_user)
            if uid not in (None, 0, os.geteuid()):
                scratch.remove_owned(uid)

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _child_environment(config: SandboxConfig) -> dict[str, str]:
    """The child's environment (a fresh child's and its zygote's): nothing of the grader's but these."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
    if config.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(config.pythonpath)
    return env


def _isolation_flag(config: SandboxConfig) -> str:
    """-I (no user site, no environment), or -s where the child finds grader.probes on PYTHONPATH."""
    return "-I" if not config.pythonpath else "-s"


def _zygote_key(config: SandboxConfig) -> tuple[str, str, dict[str, str]]:
    """What names the zygote that forks this config's children: interpreter, flag, environment."""
    return config.python, _isolation_flag(config), _child_environment(config)


#: A zygote imports torch and torch._dynamo (4.5 s of CPU), a fresh child torch (2.5 s) and, at the student's
#: first optimizer, torch._dynamo (2 s more): a grading's own zygote pays off from its second child.
GRADING_ZYGOTE_FROM = 2


@contextlib.contextmanager
def grading_zygote(config: SandboxConfig, children: int) -> Iterator[SandboxConfig]:
    """One grading's probing with `config`, which will start `children` children: with `grading_zygote`
    and two children or more, they are forked from a zygote (grader/zygote.py) started now, while the
    grader copies and reads the submission, and stopped when the block ends, so that judging holds no
    second torch. The forked children are the batch's: the same limits and walls, and a fresh child
    (and folder) wherever the grading starts one. Gradescope's config (run_as_user) and the batch's
    (`zygote`, kept for the process) are left as they are."""
    if not config.grading_zygote or config.zygote or config.run_as_user or children < GRADING_ZYGOTE_FROM:
        yield config
        return
    warm = dataclasses.replace(config, zygote=True)
    started = zygote.prestart(*_zygote_key(warm), warm.startup_timeout)
    try:
        yield warm
    finally:
        if started:
            zygote.stop(*_zygote_key(warm))


OUT_OF_MEMORY = "the process running your code ran out of memory, and the system stopped it"
PROCESS_LIMIT = "timed out at its cgroup's process limit"


def _oom_kills() -> tuple[int | None, int | None]:
    """(out-of-memory kills in the grader's memory cgroup, on the whole machine); None where unknown."""
    group = _memory_cgroup()
    counted = None
    if group is not None:
        counted = _counter(group / ("memory.events" if _CGROUP_V2 else "memory.oom_control"), "oom_kill")
    return counted, _counter(Path("/proc/vmstat"), "oom_kill")


def _memory_exhausted(mark: tuple[int | None, int | None], *, cgroup_only: bool) -> bool:
    """Whether memory ran out since `mark` (an out-of-memory kill), or is about to (the cgroup's
    anonymous memory at 90% of its limit: the kernel is evicting code pages and everything crawls)."""
    now = _oom_kills()
    if mark[0] is not None and now[0] is not None and now[0] > mark[0]:
        return True
    if not cgroup_only and mark[1] is not None and now[1] is not None and now[1] > mark[1]:
        return True
    group = _memory_cgroup()
    if group is None:
        return False
    if _CGROUP_V2:
        limit_text = _read_text(group / "memory.max")
        anon = _counter(group / "memory.stat", "anon")
    else:
        limit_text = _read_text(group / "memory.limit_in_bytes")
        anon = _counter(group / "memory.stat", "total_rss")
    if limit_text is None:   # unreadable: no limit known
        return False
    try:
        limit = int(limit_text)
    except ValueError:   # "max": no limit
        return False
    return anon is not None and 0 < limit < 2**60 and anon >= 0.9 * limit


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _counter(path: Path, key: str) -> int | None:
    text = _read_text(path)
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


_CGROUP_V2 = Path("/sys/fs/cgroup/cgroup.controllers").is_file()


@lru_cache(maxsize=None)
def _memory_cgroup_of(pid: int) -> Path | None:
    base = Path("/sys/fs/cgroup") if _CGROUP_V2 else Path("/sys/fs/cgroup/memory")
    for line in (_read_text(Path(f"/proc/{pid}/cgroup")) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        if (controllers == "") != _CGROUP_V2 or (not _CGROUP_V2 and "memory" not in controllers.split(",")):
            continue
        parts = [p for p in path.split("/") if p]
        # in a cgroup namespace (a container), the mount's root is some suffix of that path
        for i in range(len(parts) + 1):
            group = base.joinpath(*parts[i:])
            procs = _read_text(group / "cgroup.procs")
            if procs is not None and str(pid) in procs.split():
                return group
    return None


def _memory_cgroup() -> Path | None:
    """The memory cgroup of this process (the child is started in it too), or None."""
    return _memory_cgroup_of(os.getpid())


def _uid_of(user: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _runuser() -> str:
    """runuser by absolute path: it lives in /usr/sbin, which a PATH may lack (the child's
    environment keeps the parent's PATH)."""
    import shutil

    for candidate in (shutil.which("runuser"), "/usr/sbin/runuser", "/sbin/runuser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return "runuser"


def child_pythonpath_for(package_root: Path) -> tuple[str, ...]:
    """The folder holding the ``grader`` package, for children started outside the install."""
    return (str(package_root),)
