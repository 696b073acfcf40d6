"""The one way the grader ends processes, and the one reaper of the orphans they leave.

    kill_tree(root)          stop every descendant until no new one appears, then kill them all
                             (with_root: the root too, and the process groups they lead)
    kill_all(pids)           each process with its tree
    killpg(pid)              a process group, by its leader's pid (the process alone if it leads none)
    reap(pids)               wait for processes just killed (our children: reaped, no zombie left)
    adopt_orphans()          make this process a subreaper (what a child leaves comes here)
    end_orphans(...)         what one child left behind: pipe holders init adopted, and (in a
                             subreaper) its orphans among our children, until none is left
    end_strays(keep)         a subreaper's children other than `keep`, until none is left
    end_leftovers(owner)     everything left at the end: our descendants, and a user's processes
    end_listed(listing)      every process `listing()` names (a child's cgroup), until it names none

Everything reads /proc (grader/supervision/procfs.py), not psutil: the student kit ships these
modules and only torch, numpy, matplotlib and yaml.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Callable, Collection

from . import prctl, procfs

_ADOPTS_ORPHANS = False


def adopt_orphans() -> bool:
    """Make this process a subreaper, for a process that grades one submission at a time and starts
    nothing else meanwhile (a batch worker, `hw3grade grade`): what a child leaves behind when it
    ends then comes to this process, where `Child.close` kills it, however it hid (setsid, double
    forks, every descriptor closed). Not for a library caller's process: it would adopt the
    orphans of everything else it runs. Whether it worked (Linux only)."""
    global _ADOPTS_ORPHANS
    _ADOPTS_ORPHANS = prctl.become_subreaper()
    return _ADOPTS_ORPHANS


def adopts_orphans() -> bool:
    """Whether `adopt_orphans` made this process a subreaper."""
    return _ADOPTS_ORPHANS


def kill_tree(root: int, rounds: int = 20, *, with_root: bool = False) -> int:
    """Stop every descendant of `root`, until no new one appears, then kill them all; how many.

    The child is a subreaper (grader/probes/child.py), so a process its code started stays in its
    tree even after setsid and a double fork; stopped processes cannot fork, and SIGSTOP and
    SIGKILL cannot be caught or ignored. `root` itself is left to the caller, unless `with_root`
    (a batch worker: its zygote and child lead process groups of their own, killed as groups too;
    the root is stopped first, so that it starts nothing while its tree is stopped)."""
    stopped: set[int] = set()
    if with_root:
        with contextlib.suppress(OSError):
            os.kill(root, signal.SIGSTOP)
    for _ in range(rounds):
        found = [pid for pid in procfs.descendants(root) if pid not in stopped]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
            stopped.add(pid)
    leaders = [pid for pid in stopped if _leads_group(pid)] if with_root else []
    for pid in [root, *stopped] if with_root else stopped:   # zombies until their subreaper is killed and reaped
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for group in leaders:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    return len(stopped)


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def kill_all(pids: Collection[int]) -> None:
    """Kill each process and everything it started."""
    for pid in pids:
        kill_tree(pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def kill_one(pid: int) -> None:
    """SIGKILL the process `pid` alone, not what it started (a stuck forkserver: its workers stay)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def killpg(pid: int) -> None:
    """SIGKILL the process group `pid` leads (the process alone when the group is gone)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def reap(pids: Collection[int], within: float = 2.0) -> None:
    """Wait for processes just killed: our children are reaped (unreaped, each stays a zombie);
    another's, until they are gone or zombies. At most `within` seconds in all."""
    end = time.monotonic() + within
    for pid in pids:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:   # not ours (or reaped already): until it is no longer running
                done = procfs.state(pid) in (None, "Z", "X")
            if done or time.monotonic() > end:
                break
            time.sleep(0.01)


def end_orphans(started: int, pipes: set[int], known: Callable[[], Collection[int]]) -> None:
    """Processes a child started (at clock tick `started`, with the pipes of inodes `pipes`) that
    outlived it. In a process that adopts orphans (`adopt_orphans`), they came to it: its children
    other than `known()` (the child and its zygotes), killed and reaped until none is left
    (`end_strays`). Elsewhere init adopted them: those that still hold the child's pipes (one that
    closed every descriptor escapes here). Only those started since the child did: never the
    grader, its workers or a zygote. Never this process's own children in the second case: a
    sibling that another thread is starting holds every pipe of this process until its exec."""
    strays = [p for p in procfs.pipe_holders(pipes, started) if procfs.parent(p) != os.getpid()]
    kill_all(strays)
    if _ADOPTS_ORPHANS:
        end_strays(known, started)


def end_strays(keep: Callable[[], Collection[int]], started_since: int | None = None, within: float = 10.0) -> int:
    """In a subreaper: kill and reap its children other than `keep()` (started at or after clock tick
    `started_since`, if given) until none is left, at most `within` seconds; how many. Each one
    reaped has handed its own orphans to us before it could be reaped: the next look sees them."""
    ended = 0
    end = time.monotonic() + within
    while time.monotonic() < end:
        known = set(keep())
        strays = [p for p in procfs.children(os.getpid())
                  if p not in known and (started_since is None or (procfs.start_time(p) or 0) >= started_since)]
        if not strays:
            break
        kill_all(strays)
        reap(strays)
        ended += len(strays)
    return ended


def end_leftovers(owner_uid: int | None = None, rounds: int = 10) -> int:
    """Kill what is left running: every descendant of this process, and every process of the user
    `owner_uid` (None: nobody's); how many were still running."""
    me = os.getpid()
    ended = 0
    for _ in range(rounds):  # a process may fork while its siblings are killed: go again until none is left
        found = set(procfs.descendants(me))
        if owner_uid is not None:
            found |= {p for p in procfs.owned_by(owner_uid) if procfs.state(p) != "Z"}
        found.discard(me)
        if not found:
            break
        for pid in found:
            if procfs.state(pid) not in (None, "Z"):
                ended += 1
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reap(found, within=3)
    return ended


def end_listed(listing: Callable[[], Collection[int]], rounds: int = 50) -> None:
    """Stop every process `listing()` names until no new one appears, then kill them; again until it
    names none (a child's cgroup: grader/supervision/cgroups.py). Stopped processes cannot fork."""
    for _ in range(rounds):
        stopped: set[int] = set()
        for _ in range(rounds):
            found = {p for p in listing() if procfs.state(p) not in (None, "Z", "X")} - stopped
            if not found:
                break
            for pid in found:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
            stopped |= found
        if not stopped:
            return
        for pid in stopped:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reap(stopped, within=2.0)
