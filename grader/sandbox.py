"""The parent's side of the process boundary: start, talk to, and kill the child.

The child speaks only `wire` messages on its own pipes; its stdout/stderr are
drained by a thread that keeps the first `output_cap` bytes and discards the rest,
so a flood of prints can neither fill memory nor the disk nor block the child.
An answer that is late, truncated, forged or oversized becomes a `ChildFailure`
for the check that asked, never an exception of the grader.
"""
from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .probes import wire

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
    # Batch only: fork the child from a warm process that imported torch once (grader/zygote.py),
    # same containment; ignored with run_as_user, and falls back to a fresh start if unavailable.
    zygote: bool = False


@dataclass
class ChildFailure(Exception):
    """The child did not answer: it timed out, died, or sent something unreadable."""

    kind: str      # "timeout" | "crash" | "protocol" | "startup" (died before running any student code)
    message: str

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
        return bytes(self.data[offset:]).decode("utf-8", "replace")


class Child:
    """One child process holding one submission. Use as a context manager."""

    def __init__(self, modules: dict[str, str], notebook: str | None, workdir: str, config: SandboxConfig) -> None:
        self.config = config
        self.output = _Output(config.output_cap)
        request_r, self._request_w = os.pipe()
        self._answer_r, answer_w = os.pipe()
        self.process = self._forked(request_r, answer_w, workdir) if config.zygote else None
        if self.process is None:
            try:
                self.process = subprocess.Popen(
                    self._command(request_r, answer_w),
                    pass_fds=(request_r, answer_w),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    # not the working folder: with -s, `-m` puts the start folder first on sys.path, and
                    # student code may write there (a grader/ or numpy.py for the next child); the child
                    # changes into workdir itself once its own imports are done
                    cwd="/",
                    env=self._environment(),
                    start_new_session=True,  # one process group: killing it takes any forks along
                )
            except OSError as exc:
                for fd in (request_r, answer_w, self._request_w, self._answer_r):
                    os.close(fd)
                raise ChildFailure("startup", f"the grader could not start {self.config.python} "
                                              f"({type(exc).__name__}: {exc})") from None
        os.close(request_r)
        os.close(answer_w)
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        setup = {"modules": modules, "notebook": notebook, "workdir": workdir,
                 "memory_mb": config.memory_mb, "file_mb": config.file_mb}
        try:
            self._request({"op": "setup", **setup}, config.startup_timeout, expect_ready=True)
        except ChildFailure as failure:
            # Before "ready" the child has run only its own imports (torch, numpy, grader.probes):
            # whatever stopped it is the install's fault, never the student's.
            raise self._start_failed(failure) from None

    def _command(self, request_r: int, answer_w: int) -> list[str]:
        # -B: -I ignores PYTHONDONTWRITEBYTECODE, and no .pyc is ever written next to a student's files
        command = [self.config.python, "-u", "-B", "-I" if not self.config.pythonpath else "-s",
                   "-m", CHILD_MODULE, str(request_r), str(answer_w)]
        if self.config.run_as_user:
            command = [_runuser(), "-u", self.config.run_as_user, "--", *command]
        return command

    def _forked(self, request_r: int, answer_w: int, workdir: str):
        """The child forked by this process's warm zygote (grader/zygote.py), or None."""
        if self.config.run_as_user:
            return None
        from . import zygote

        flag = "-I" if not self.config.pythonpath else "-s"
        return zygote.start_child(self.config.python, flag, self._environment(), self.config.startup_timeout,
                                  request_r, answer_w, workdir)

    def _environment(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
        if self.config.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(self.config.pythonpath)
        return env

    def _start_failed(self, failure: ChildFailure) -> ChildFailure:
        """Why the child never became ready, for the instructor: exit status and the end of its output."""
        self.close()
        code = self.process.returncode
        if failure.kind == "timeout":
            what = f"did not report ready within {self.config.startup_timeout:g} s"
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
        return ChildFailure("startup", text)

    def _drain_output(self) -> None:
        stream = self.process.stdout
        while stream is not None:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            self.output.feed(chunk)

    def request(self, message: dict, timeout: float) -> dict:
        """Send one request and wait at most `timeout` seconds for its answer."""
        return self._request(message, timeout)

    def _request(self, message: dict, timeout: float, expect_ready: bool = False) -> dict:
        token = secrets.token_hex(8)
        try:
            wire.send(self._request_w, {**message, "token": token})
        except (BrokenPipeError, OSError):
            raise self._died() from None
        deadline = time.monotonic() + timeout
        while True:  # answers with a stale or forged token are skipped
            answer = self._receive(deadline)
            if answer.get("token") == token:
                if expect_ready and not answer.get("ready"):
                    raise ChildFailure("protocol", "the child did not start correctly")
                return answer

    def _receive(self, deadline: float) -> dict:
        header = self._read(wire.HEADER_SIZE, deadline)
        try:
            size = wire.parse_header(header)
            return wire.parse_body(self._read(size, deadline))
        except wire.WireError as exc:
            self.kill()
            raise ChildFailure("protocol", f"the answer from the student's code was unreadable ({exc})") from None

    def _read(self, size: int, deadline: float) -> bytes:
        chunks, remaining = [], size
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answer_r], [], [], left)[0]:
                self.kill()
                raise ChildFailure("timeout", "timed out")
            chunk = os.read(self._answer_r, min(remaining, 1 << 20))
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> ChildFailure:
        code = self.process.wait(timeout=5) if self.process.poll() is None else self.process.returncode
        self.kill()
        if code is not None and code < 0:
            reason = f"was killed by signal {signal.Signals(-code).name}" if -code in signal.Signals._value2member_map_ else f"died (signal {-code})"
        else:
            reason = f"exited with code {code}"
        return ChildFailure("crash", f"the process running your code {reason} (os._exit, a crash, or running out of memory)")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            if not isinstance(self.process, subprocess.Popen):
                self.process.kill()  # forked by a zygote: the zygote kills the child's group
            else:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        for fd in (self._request_w, self._answer_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.kill()
        self._drain.join(timeout=2)

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
