"""Submissions that reach out of the child (issue 17.3, 17.4): the network, another process, /dev/shm.

Each case patches `cross_entropy` of a correct submission to try one thing first; it returns the
correct value only when the attempt failed, so a grading where every attempt fails keeps Problem
3's cross_entropy points, and the test checks from outside that nothing arrived. Each case runs
with each wall alone (Landlock's network and scope rules; the child's own network and mount
namespaces), so that one wall that stops holding fails its test even while the other holds.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid

import pytest

from grader.outcome import Status
from grader.probes import landlock, namespaces
from grader.runner import grade, sandbox_for
from tests.hw3testing import HW3

CE_CHECKS = ("P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits")

ATTACK = """
import os as _os, signal as _signal, socket as _socket
_reference_cross_entropy = cross_entropy

def _attempt():
    try:
{body}
    except OSError:
        return False
    return True

def cross_entropy(f, y):
    if _attempt():
        return _reference_cross_entropy(f, y) + 1.0   # reached it: the check fails
    return _reference_cross_entropy(f, y)
"""

ATTEMPTS = {
    "tcp_connect": "s = _socket.create_connection(('127.0.0.1', {port}), timeout=2); s.sendall(b'x'); s.close()",
    "tcp_bind": "s = _socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()",
    "abstract_unix": "s = _socket.socket(_socket.AF_UNIX); s.connect({abstract!r}); s.sendall(b'x')",
    "signal_outside": "_os.kill({victim}, _signal.SIGTERM)",
    "signal_probe": "_os.kill({victim}, 0)",
    # the grader's environment holds HW3GRADE_COURSE_SECRET (the hidden checks' inputs); as root,
    # Landlock alone let the child read it (red team)
    "parent_environ": "open('/proc/%d/environ' % _os.getppid(), 'rb').read()",
}

#: (confine, isolate): Landlock's rules alone, the namespaces alone, both (the default)
WALLS = {"landlock": (True, False), "namespaces": (False, True), "both": (True, True)}


def _wall_exists(wall: str, attempt: str) -> str:
    """Why this wall cannot stop this attempt on this kernel ("" when it should)."""
    abi = landlock.abi_version()
    if wall == "landlock":
        if attempt.startswith("tcp") and abi < 4:
            return "Landlock's network rules need ABI 4 (Linux 6.7)"
        if not attempt.startswith("tcp") and abi < 6:
            return "Landlock's scopes need ABI 6 (Linux 6.12)"
    if wall == "namespaces" and attempt.startswith("signal"):
        return "no pid namespace: signals are Landlock's (or the other user's) to stop"
    if wall == "landlock" and attempt == "parent_environ" and os.getuid() == 0:
        return "a root child in the grader's user namespace may read its parent's /proc: the namespaces stop it"
    if wall == "namespaces" and attempt == "tcp_bind":
        return "a port bound in the child's own network namespace is one nobody else can reach"
    return ""


@pytest.fixture(scope="module")
def namespaces_work():
    run = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); from grader.probes import namespaces; "
                          "print(namespaces.isolate())" % str(_repo())], capture_output=True, text=True, timeout=60)
    return run.returncode == 0 and run.stdout.strip() == ""


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


@pytest.fixture
def targets():
    """A listening TCP port, a listening abstract unix socket and a process outside the child; what reached them."""
    tcp = socket.create_server(("127.0.0.1", 0))
    abstract = "\0hw3grade-reach-" + uuid.uuid4().hex
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(abstract)
    unix.listen()
    victim = subprocess.Popen(["sleep", "600"])
    reached: list[str] = []

    def accept(server, name):
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            reached.append(name)
            conn.close()

    stop = threading.Event()
    threads = [threading.Thread(target=accept, args=(s, n), daemon=True) for s, n in ((tcp, "tcp"), (unix, "unix"))]
    for thread in threads:
        thread.start()
    yield {"port": tcp.getsockname()[1], "abstract": abstract, "victim": victim.pid}, reached, victim
    stop.set()
    for thread in threads:
        thread.join()
    tcp.close()
    unix.close()
    victim.kill()
    victim.wait()


@pytest.mark.parametrize("wall", sorted(WALLS))
@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_the_child_reaches_no_network_and_no_other_process(attempt, wall, targets, submission, rubric, namespaces_work):
    why = _wall_exists(wall, attempt)
    if why:
        pytest.skip(why)
    confine, isolate = WALLS[wall]
    if isolate and not namespaces_work:
        pytest.skip("this machine makes no user/network namespace for an unprivileged child")
    names, reached, victim = targets
    body = "        " + ATTEMPTS[attempt].format(**names)
    folder = submission(patch={"losses": ATTACK.format(body=body)})
    entries = [dataclasses.replace(e, timeout=min(e.timeout, 10.0)) for e in rubric.checks if e.id in CE_CHECKS]
    result = grade(folder, HW3, rubric=rubric, entries=entries, sandbox=sandbox_for(HW3, rubric, confine=confine, isolate=isolate))
    outcomes = {o.check_id: o for o in result.outcomes}
    assert [outcomes[c].status for c in CE_CHECKS] == [Status.PASSED] * 3, [outcomes[c].message for c in CE_CHECKS]
    assert result.score == result.max_score > 0
    assert reached == [] and victim.poll() is None


def test_each_shared_memory_file_is_the_childs_own(submission, rubric, namespaces_work):
    """A file in /dev/shm is there for no later child and is gone after the grading (17.4): the
    child's own /dev/shm where namespaces exist, else Landlock refuses the machine's."""
    if not namespaces_work and landlock.abi_version() < 1:
        pytest.skip("neither namespaces nor Landlock on this machine")
    marker = f"/dev/shm/hw3grade-shm-marker-{uuid.uuid4().hex}"
    folder = submission(patch={"losses": f"""
import os as _os
_reference_cross_entropy = cross_entropy

def cross_entropy(f, y):
    try:
        with open({marker!r}) as fh:
            seen = fh.read() != str(_os.getpid())    # a file an earlier child left
    except OSError:
        seen = False
    try:
        with open({marker!r}, "w") as fh:
            fh.write(str(_os.getpid()))
    except OSError:
        pass
    return _reference_cross_entropy(f, y) + (1.0 if seen else 0.0)
"""})
    entries = [e for e in rubric.checks if e.id in CE_CHECKS]
    # each check in a child of its own: the hidden ones, in a later child, look for the first one's file
    checks = [dataclasses.replace(e, visibility="after_due_date") if i else e for i, e in enumerate(entries)]
    result = grade(folder, HW3, rubric=rubric, entries=checks)
    assert result.score == result.max_score > 0, [o.message for o in result.outcomes]
    assert not os.path.exists(marker)


def test_system_v_ipc_is_the_childs_own(submission, rubric, namespaces_work):
    """A System V segment or message queue a child makes is seen by no later child and is gone after
    the grading (red team: 32 MB segments outlived it, pinning memory and carrying data across)."""
    if not namespaces_work:
        pytest.skip("this machine makes no IPC namespace for the child")
    key = 0x5EED0000 + (uuid.uuid4().int & 0xFFF)
    folder = submission(patch={"losses": f"""
import ctypes as _ctypes
_reference_cross_entropy = cross_entropy
_libc = _ctypes.CDLL(None, use_errno=True)
_made = []

def cross_entropy(f, y):
    # left by an earlier child (this one makes them at its first call)
    seen = not _made and (_libc.shmget({key}, 0, 0) >= 0 or _libc.msgget({key} + 1, 0) >= 0)
    _libc.shmget({key}, 1 << 20, 0o1666)     # IPC_CREAT | rw for everyone
    _libc.msgget({key} + 1, 0o1666)
    _made.append(1)
    return _reference_cross_entropy(f, y) + (1.0 if seen else 0.0)
"""})
    entries = [e for e in rubric.checks if e.id in CE_CHECKS]
    checks = [dataclasses.replace(e, visibility="after_due_date") if i else e for i, e in enumerate(entries)]
    result = grade(folder, HW3, rubric=rubric, entries=checks)
    assert result.score == result.max_score > 0, [o.message for o in result.outcomes]
    for table in ("/proc/sysvipc/shm", "/proc/sysvipc/msg"):
        with open(table) as fh:
            keys = {int(line.split()[0]) for line in fh.readlines()[1:] if line.split()}
        assert key not in keys and key + 1 not in keys, table
