"""The parent's side of the pipes: it never blocks on the child, and says why a child ended.

These drive `sandbox.Child`'s reading and writing directly, with a stand-in process (a
`sleep`) and pipes the test controls, so each case takes a second or two.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time

import pytest

from grader import sandbox
from grader.probes import wire
from grader.probes.wire import FailureKind
from grader.sandbox import Child, ChildFailure, SandboxConfig

F_SETPIPE_SZ = 1031


class _Stand:
    """A Child around a `sleep` process, with the test holding the far ends of both pipes."""

    def __init__(self) -> None:
        self.child = Child.__new__(Child)
        self.child.config = SandboxConfig()
        self.child._oom_mark = sandbox._oom_kills()
        self.child.process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.request_r, self.child._request_w = os.pipe()
        self.child._answer_r, self.answer_w = os.pipe()
        os.set_blocking(self.child._request_w, False)
        os.set_blocking(self.child._answer_r, False)

    def close(self) -> None:
        self.child.kill()
        for fd in (self.request_r, self.child._request_w, self.child._answer_r, self.answer_w):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def stand():
    made = _Stand()
    yield made
    made.close()


def test_a_write_to_a_child_that_stops_reading_times_out(stand):
    try:
        fcntl.fcntl(stand.request_r, F_SETPIPE_SZ, 4096)   # the child shrank the pipe
    except OSError:
        pass
    started = time.monotonic()
    with pytest.raises(ChildFailure) as info:
        stand.child._write(b"x" * (1 << 20), time.monotonic() + 0.5)
    assert info.value.kind is FailureKind.TIMEOUT
    assert time.monotonic() - started < 3
    assert stand.child.process.poll() is not None   # and the child is gone


def test_half_a_frame_times_out_at_the_deadline(stand):
    os.write(stand.answer_w, wire.MAGIC)
    started = time.monotonic()
    with pytest.raises(ChildFailure) as info:
        stand.child._receive(time.monotonic() + 0.5, wire.DEFAULT_ANSWER_BYTES)
    assert info.value.kind is FailureKind.TIMEOUT and time.monotonic() - started < 3


def test_an_oversized_frame_is_refused_from_its_header_alone(stand):
    os.write(stand.answer_w, wire._FRAME.pack(wire.MAGIC, 10, 100 * 2**20))
    with pytest.raises(ChildFailure) as info:
        stand.child._receive(time.monotonic() + 5, wire.DEFAULT_ANSWER_BYTES)
    assert info.value.kind is FailureKind.PROTOCOL and "100.0 MB exceeds the 4.0 MB" in str(info.value)


def test_a_child_that_closes_its_channel_but_lives_is_ended(stand):
    os.close(stand.answer_w)
    started = time.monotonic()
    with pytest.raises(ChildFailure) as info:
        stand.child._receive(time.monotonic() + 30, wire.DEFAULT_ANSWER_BYTES)
    assert info.value.kind is FailureKind.CRASH and "closed its channel" in str(info.value)
    assert time.monotonic() - started < 10 and stand.child.process.poll() is not None


def test_a_sigkill_with_an_out_of_memory_kill_is_reported_as_memory(stand, monkeypatch):
    os.close(stand.answer_w)
    os.killpg(stand.child.process.pid, signal.SIGKILL)
    stand.child.process.wait()
    counts = iter([(5, 9)])
    monkeypatch.setattr(sandbox, "_oom_kills", lambda: next(counts, (5, 9)))
    stand.child._oom_mark = (4, 9)   # one out-of-memory kill in the grader's cgroup since the request
    failure = stand.child._died()
    assert failure.kind is FailureKind.MEMORY and "ran out of memory" in str(failure)


def test_a_sigkill_without_one_is_a_crash(stand, monkeypatch):
    os.close(stand.answer_w)
    os.killpg(stand.child.process.pid, signal.SIGKILL)
    stand.child.process.wait()
    monkeypatch.setattr(sandbox, "_oom_kills", lambda: (4, 9))
    stand.child._oom_mark = (4, 9)
    failure = stand.child._died()
    assert failure.kind is FailureKind.CRASH and "SIGKILL" in str(failure)


def test_a_timeout_while_memory_is_exhausted_is_reported_as_memory(stand, monkeypatch):
    monkeypatch.setattr(sandbox, "_memory_exhausted", lambda mark, cgroup_only: True)
    with pytest.raises(ChildFailure) as info:
        stand.child._receive(time.monotonic() + 0.3, wire.DEFAULT_ANSWER_BYTES)
    assert info.value.kind is FailureKind.MEMORY


def test_the_graders_memory_cgroup_is_found_where_there_is_one():
    group = sandbox._memory_cgroup()
    if group is None:
        pytest.skip("no memory cgroup visible here")
    assert str(os.getpid()) in (group / "cgroup.procs").read_text().split()
    kills = sandbox._oom_kills()
    assert kills[0] is not None and kills[0] >= 0
