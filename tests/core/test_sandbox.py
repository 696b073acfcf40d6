"""sandbox.Child and processes.kill_tree on their own: deadlines, how a child ended, its descendants, its output.

Most cases start a real process through the real `Child` (spawn, pipes, kills), but a
scripted stand-in for the child (tests/core/scripted_child.py: the same wire, no torch), so
each takes a fraction of a second. Two cases use the real child with a tiny student module.
The pipe-level cases (a child that stops reading, half frames, oversized headers, the
out-of-memory bookkeeping of `_died`) are in test_sandbox_io.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import sandbox, scratch
from grader.supervision import interruptions, processes, procfs
from grader.probes import wire
from grader.probes.wire import FailureKind
from grader.sandbox import Child, ChildFailure, SandboxConfig
from tests.core.scripted_child import read_log, wrapper
from tests.hw3testing import REPO


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether `pid` has ended (no longer exists, or is a zombie nobody reaped) within `within` s."""
    end = time.monotonic() + within
    while procfs.state(pid) not in (None, "Z"):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def _end(pid: int) -> None:
    """Kill `pid` if a failed case left it running (it would sleep on for ten minutes)."""
    if procfs.state(pid) not in (None, "Z"):
        os.kill(pid, signal.SIGKILL)


def _probe(child: Child, behaviour: str, *args, timeout: float = 5.0) -> dict:
    params = wire.encode({"target": f"losses.{behaviour}", "args": list(args), "kwargs": {}})
    return child.request({"op": "probe", "kind": "call", "params": params}, timeout)


@pytest.fixture
def scripted(tmp_path):
    """Factory: scripted(start="ready", **config) -> (a started Child, the log of its starts and probes)."""
    made: list[Child] = []

    def start(mode: str = "ready", **config) -> tuple[Child, Path]:
        python, log = wrapper(tmp_path / "bin", mode)
        made.append(Child({}, None, None, SandboxConfig(python=python, **config)))
        return made[-1], log

    yield start
    for child in made:
        child.close()


# ---------------------------------------------------------------- time limits and descendants

def test_a_child_past_its_time_limit_is_killed_with_all_it_started(scripted):
    child, _ = scripted()
    first, grandchild = _probe(child, "spawn").value   # setsid and a double fork: out of its group
    assert procfs.state(grandchild) not in (None, "Z")
    try:
        started = time.monotonic()
        with pytest.raises(ChildFailure) as info:
            _probe(child, "hang", timeout=0.5)
        assert info.value.kind is FailureKind.TIMEOUT
        assert 0.5 <= time.monotonic() - started < 3
        assert child.process.poll() is not None and not child.alive()
        assert _gone(grandchild)
    finally:
        _end(grandchild)


def test_what_a_child_started_ends_even_when_the_child_exits_first(scripted):
    """A child that exits on its own orphans what it started to init before the grader looks:
    those processes are found by the child's pipes they still hold, and killed with the child."""
    child, log = scripted()
    with pytest.raises(ChildFailure):
        _probe(child, "spawn_then_exit", timeout=1)   # the grandchild holds the answer pipe: no EOF
    grandchild = int(next(line for line in read_log(log) if line[0] == "spawned")[2])
    try:
        assert _gone(grandchild, within=2.0), f"{grandchild} outlived its child"
    finally:
        _end(grandchild)


ADOPTING_GRADER = """
import os, sys, time
from pathlib import Path
from grader.supervision import processes, procfs
from grader.probes import wire
from grader.sandbox import Child, ChildFailure, SandboxConfig
from tests.core.scripted_child import read_log, wrapper
from tests.hw3testing import REPO

assert processes.adopt_orphans()
python, log = wrapper(Path(sys.argv[1]))
child = Child({}, None, None, SandboxConfig(python=python))
try:
    child.request({"op": "probe", "kind": "call", "params": wire.encode(
        {"target": f"losses.{sys.argv[2]}", "args": [], "kwargs": {}})}, 2)
except ChildFailure:
    pass
child.close()
hidden = int(next(line for line in read_log(log) if line[0] == "spawned")[2])
print(hidden, procfs.state(hidden), procfs.children(os.getpid()))
if procfs.state(hidden) not in (None, "Z"):
    os.kill(hidden, 9)
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the sibling is made by the x86-64 clone syscall")
@pytest.mark.parametrize("behaviour", ["hide_then_exit", "sibling_then_exit"])
def test_what_a_child_left_behind_dies_with_it_however_it_hid(tmp_path, behaviour):
    """What the child leaves behind when it exits, closed every descriptor (no pipe leads to it): a
    grandchild out of its session, or a sibling made with clone(CLONE_PARENT) (a child of the
    grader, outside the child's tree). A grader that adopts orphans (a batch worker, `hw3grade
    grade`, the Gradescope entry) finds either among its own children once the child is gone,
    kills it and reaps it."""
    proc = subprocess.run([sys.executable, "-c", ADOPTING_GRADER, str(tmp_path), behaviour], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    hidden, state, children = proc.stdout.split(maxsplit=2)
    assert state == "None" and children.strip() == "[]", proc.stdout   # killed and reaped: no zombie


def test_a_sibling_started_by_another_thread_is_no_orphan(scripted, monkeypatch):
    """Another thread of the grader starts the next child while this one ends: between its fork and
    its exec, that sibling holds every pipe of the grader, this child's too. It is the grader's own
    child, not an orphan of this one, and must outlive this child's end (in CI, a test grading
    submissions in threads lost a classmate's child to this race: 'killed by signal 9'). Threads grade
    side by side only in a process that adopts no orphans (a subreaper grades one submission at a time,
    and ends every child it did not start itself); an earlier test in this worker may have made it one."""
    monkeypatch.setattr(processes, "_ADOPTS_ORPHANS", False)
    child, _ = scripted()
    time.sleep(0.05)   # start times count in clock ticks: the sibling starts strictly later
    sibling = subprocess.Popen(["sleep", "60"], pass_fds=(child._answer_r, child._request_w))
    try:
        child.close()
        assert procfs.state(sibling.pid) not in (None, "Z"), "the sibling was killed as an orphan"
    finally:
        sibling.kill()
        sibling.wait()


def test_kill_tree_ends_every_descendant_and_leaves_the_root_to_its_caller():
    root = subprocess.Popen(["sh", "-c", "(setsid sleep 600 & sleep 600 & wait) & sleep 600 & exec sleep 600"],
                            start_new_session=True)
    try:
        end = time.monotonic() + 5
        while len(procfs.descendants(root.pid)) < 4 and time.monotonic() < end:
            time.sleep(0.02)
        found = procfs.descendants(root.pid)
        assert len(found) >= 4, found
        assert processes.kill_tree(root.pid) >= 4
        assert all(_gone(pid) for pid in found)
        assert root.poll() is None   # the root is the caller's to kill
    finally:
        os.killpg(root.pid, signal.SIGKILL)
        root.wait()


# ---------------------------------------------------------------- how a child ended

def _oom_counter(monkeypatch, step: int) -> None:
    """`_oom_kills` as a machine where each look finds `step` more out-of-memory kills than the last."""
    counts = iter(range(100, 10_000, step or 1))
    monkeypatch.setattr(sandbox, "_oom_kills", lambda: (None, next(counts) if step else 100))
    monkeypatch.setattr(sandbox, "_memory_cgroup", lambda: None)


@pytest.mark.parametrize("behaviour, oom_kills, kind, says", [
    ("exit", 0, FailureKind.CRASH, "exited with code 3"),
    ("exit", 1, FailureKind.CRASH, "exited with code 3"),       # an out-of-memory kill elsewhere: an exit is no OOM
    ("sigterm", 1, FailureKind.CRASH, "killed by signal SIGTERM"),
    ("sigkill", 0, FailureKind.CRASH, "killed by signal SIGKILL"),
    ("sigkill", 1, FailureKind.MEMORY, sandbox.OUT_OF_MEMORY),
])
def test_how_a_child_ended_is_reported_as_its_kind(scripted, monkeypatch, behaviour, oom_kills, kind, says):
    child, _ = scripted()
    _oom_counter(monkeypatch, oom_kills)
    with pytest.raises(ChildFailure) as info:
        _probe(child, behaviour, timeout=10)
    assert (info.value.kind, says in str(info.value)) == (kind, True), str(info.value)
    assert not child.alive()


@pytest.mark.parametrize("behaviour, suspect", [("sigkill", True), ("sigterm", True), ("exit", False),
                                                 ("hang", False)])
def test_a_child_ended_by_a_signal_the_grader_did_not_send_is_a_suspect(scripted, monkeypatch, behaviour, suspect):
    """Without a zygote, the batch learns from here that something outside (a classmate's code, say)
    ended the child, and grades that submission again alone; its own exit or the grader's kill at the
    time limit is no suspect."""
    child, _ = scripted()
    _oom_counter(monkeypatch, 0)
    mark = interruptions.interruptions()
    with pytest.raises(ChildFailure):
        _probe(child, behaviour, timeout=1)
    assert [kind for kind, _ in interruptions.interruptions_since(mark)] == (["suspect"] if suspect else [])


SIGNALS = [signal.SIGHUP, signal.SIGINT, signal.SIGKILL, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM,
           signal.SIGALRM, signal.SIGPIPE]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ending=st.one_of(st.integers(0, 255).map(lambda code: ("exit", code)),
                        st.sampled_from(SIGNALS).map(lambda sig: ("signal", sig))),
       through_runuser=st.booleans())
def test_any_exit_code_or_signal_is_named_in_the_crash_message(monkeypatch, ending, through_runuser):
    """runuser (Gradescope) reports its command's death by signal S as exit code 128 + S."""
    monkeypatch.setattr(sandbox, "_memory_exhausted", lambda mark, cgroup_only: False)
    how, number = ending
    if how == "exit":
        script = f"exit {number}"
    elif through_runuser:
        script = f"exit {128 + number}"
    else:
        script = f"kill -{int(number)} $$"
    stand = Child.__new__(Child)
    stand.config = SandboxConfig(run_as_user="nobody" if through_runuser else None)
    stand._oom_mark = (None, None)
    stand.process = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    failure = stand._died()
    assert failure.kind is FailureKind.CRASH
    if how == "signal":
        assert f"was killed by signal {signal.Signals(number).name} " in str(failure)
    elif through_runuser and 128 < number < 160:
        assert "signal" in str(failure) and "exited with code" not in str(failure)
    else:
        assert f"exited with code {number} " in str(failure)


# ---------------------------------------------------------------- answers that are not the answer

def test_an_answer_with_a_forged_token_is_skipped_for_the_real_one(scripted):
    child, _ = scripted()
    assert _probe(child, "forged_then_echo", 5).value == 5
    assert _probe(child, "echo", 6).value == 6   # the channel is still in step


def test_an_answer_with_only_a_forged_token_is_a_timeout(scripted):
    child, _ = scripted()
    with pytest.raises(ChildFailure) as info:
        _probe(child, "forged_only", 5, timeout=0.5)
    assert info.value.kind is FailureKind.TIMEOUT and not child.alive()


@pytest.mark.parametrize("behaviour", ["garbage", "two_kinds"])
def test_a_malformed_answer_is_a_protocol_failure_and_ends_the_child(scripted, behaviour):
    child, _ = scripted()
    started = time.monotonic()
    with pytest.raises(ChildFailure) as info:
        _probe(child, behaviour, timeout=10)
    assert info.value.kind is FailureKind.PROTOCOL and "unreadable" in str(info.value)
    assert time.monotonic() - started < 5 and not child.alive()


# ---------------------------------------------------------------- before "ready"

@pytest.mark.parametrize("mode, why", [
    ("not_ready", "did not start correctly"),
    ("garbage", "not a frame of the grader's protocol"),
])
def test_a_child_that_answers_anything_but_ready_is_a_startup_failure_saying_why(tmp_path, mode, why):
    python, log = wrapper(tmp_path / "bin", mode)
    before = set(scratch.live())
    with pytest.raises(ChildFailure) as info:
        Child({}, None, None, SandboxConfig(python=python, startup_timeout=10))
    assert info.value.kind is FailureKind.STARTUP
    assert why in str(info.value) and "before running any student code" in str(info.value)
    assert "killed by signal" not in str(info.value)   # the grader's own kill is not the cause
    assert set(scratch.live()) == before                # its working folder is gone
    assert all(_gone(int(line[1])) for line in read_log(log) if line[0] == "start")


# ---------------------------------------------------------------- output

def test_a_flood_of_output_is_capped_and_does_not_block_the_child(scripted):
    child, _ = scripted(output_cap=1000)
    flood = 2 * 2**20   # far more than a pipe holds: the child would block if nobody drained it
    assert _probe(child, "flood", flood, timeout=10).value == flood
    end = time.monotonic() + 5
    while child.output.dropped < flood - 1000 and time.monotonic() < end:
        time.sleep(0.02)
    assert bytes(child.output.data) == b"x" * 1000
    assert child.output.dropped == flood - 1000


@given(cap=st.integers(0, 300), chunks=st.lists(st.binary(max_size=200), max_size=8))
def test_output_keeps_the_first_cap_bytes_and_counts_the_rest(cap, chunks):
    output = sandbox._Output(cap)
    for chunk in chunks:
        output.feed(chunk)
    everything = b"".join(chunks)
    assert bytes(output.data) == everything[:cap]
    assert output.dropped == len(everything) - len(output.data)
    text = output.text_since(0)
    assert not any(ord(c) < 32 and c not in "\t\n" for c in text)


# ---------------------------------------------------------------- memory

@pytest.fixture
def fake_cgroup(tmp_path, monkeypatch):
    """A memory cgroup folder of the test's making (v2 layout), with no out-of-memory kills counted."""
    monkeypatch.setattr(sandbox, "_CGROUP_V2", True)
    monkeypatch.setattr(sandbox, "_memory_cgroup", lambda: tmp_path)
    (tmp_path / "memory.events").write_text("oom 0\noom_kill 0\n")
    monkeypatch.setattr(sandbox, "_counter", _counter_except_vmstat(sandbox._counter))
    return tmp_path


def _counter_except_vmstat(real):
    return lambda path, key: 7 if str(path) == "/proc/vmstat" else real(path, key)


@pytest.mark.parametrize("limit, anon, exhausted", [
    ("max\n", 10**12, False),              # no limit: never "about to run out"
    (f"{2**30}\n", int(0.5 * 2**30), False),
    (f"{2**30}\n", int(0.95 * 2**30), True),
])
def test_memory_is_exhausted_near_the_cgroups_limit(fake_cgroup, limit, anon, exhausted):
    (fake_cgroup / "memory.max").write_text(limit)
    (fake_cgroup / "memory.stat").write_text(f"file 5\nanon {anon}\n")
    assert sandbox._memory_exhausted(sandbox._oom_kills(), cgroup_only=True) is exhausted


def test_an_out_of_memory_kill_counts_in_the_cgroup_always_and_machine_wide_only_for_deaths(fake_cgroup):
    (fake_cgroup / "memory.max").write_text("max\n")
    mark = sandbox._oom_kills()
    assert mark == (0, 7)
    assert not sandbox._memory_exhausted((0, 6), cgroup_only=True)    # a kill elsewhere on the machine
    assert sandbox._memory_exhausted((0, 6), cgroup_only=False)
    (fake_cgroup / "memory.events").write_text("oom 1\noom_kill 1\n")
    assert sandbox._memory_exhausted(mark, cgroup_only=True)


# ---------------------------------------------------------------- the real child

STUDENT = '''
import os, time


def environment():
    return dict(os.environ)


def spawn():
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            time.sleep(600)
        os._exit(0)
    return int(os.read(r, 32))
'''


@pytest.fixture(scope="module")
def real_child(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    (folder / "losses.py").write_text(STUDENT)
    secrets = {"HW3GRADE_COURSE_SECRET": "course-secret", "AWS_SECRET_ACCESS_KEY": "aws", "PYTHONPATH": "/evil"}
    saved = {k: os.environ.get(k) for k in secrets}
    os.environ.update(secrets)
    try:
        child = Child({"losses": str(folder / "losses.py")}, None, None, SandboxConfig())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert isinstance(child.request({"op": "import", "module": "losses"}, 30), wire.Returned)
    yield child
    child.close()


def _call(child: Child, function: str) -> object:
    params = wire.encode({"target": f"losses.{function}", "args": [], "kwargs": {}})
    answer = child.request({"op": "probe", "kind": "call", "params": params}, 30)
    assert isinstance(answer, wire.Returned), answer
    return answer.value


@pytest.mark.xdist_group("real_child")
def test_student_code_sees_none_of_the_graders_environment(real_child):
    env = _call(real_child, "environment")
    assert not {"HW3GRADE_COURSE_SECRET", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH"} & set(env)
    assert "course-secret" not in repr(env)
    assert env["TMPDIR"] == real_child.workdir and env["PYTHONHASHSEED"] == "0"


@pytest.mark.xdist_group("real_child")
def test_what_student_code_starts_stays_in_the_childs_tree_for_kill_tree(real_child):
    grandchild = _call(real_child, "spawn")     # setsid + double fork: adopted by the child (a subreaper)
    try:
        assert grandchild in procfs.descendants(real_child.process.pid)
        assert processes.kill_tree(real_child.process.pid) >= 1
        assert _gone(grandchild)
        assert real_child.alive()
    finally:
        _end(grandchild)
