"""What Linux's /proc says of a process: its state, parent, start time, user and descendants.

Read from /proc/PID/stat, which stays readable for undumpable processes, with the standard
library only (the student kit ships the modules that use this, and no psutil). Every
function answers None or [] where the process is gone or the system has no /proc.
"""
from __future__ import annotations

import os

STOPPED = frozenset("Tt")      # stopped by a signal, or traced


def _fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name: [0] state, [1] parent, [19] start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
        return data[data.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return None


def state(pid: int) -> str | None:
    """The state letter ("R", "S", "T" stopped, "t" traced, "Z", ...)."""
    fields = _fields(pid)
    return fields[0].decode() if fields else None


def _pids() -> list[int]:
    """Every process /proc shows ([] without /proc)."""
    try:
        return [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def parent(pid: int) -> int | None:
    """The parent's pid (1, or a subreaper's, once the parent has died)."""
    fields = _fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def start_time(pid: int) -> int | None:
    """The start time in clock ticks since boot (with the pid, it names one process for good)."""
    fields = _fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (adopted orphans included, for a subreaper)."""
    return [e for e in _pids() if parent(e) == pid]


def descendants(root: int) -> list[int]:
    """Every process whose chain of parents leads to `root`."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        above = parent(pid)
        if above is not None:
            children.setdefault(above, []).append(pid)
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


def real_uid(pid: int) -> int | None:
    """The real user id (the first of the "Uid:" line of /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def owned_by(uid: int) -> list[int]:
    """Every process whose real user is `uid`."""
    return [pid for pid in _pids() if real_uid(pid) == uid]


def pipe_holders(inodes: set[int], started_since: int | None = None) -> list[int]:
    """Processes holding a pipe with one of these inodes open (as /proc/PID/fd shows it), started
    at or after `started_since` (clock ticks since boot); this process excluded. Unreadable fd
    tables (another user's, without the right to read them) are skipped."""
    wanted = {f"pipe:[{inode}]" for inode in inodes}
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        if started_since is not None and (start_time(pid) or 0) < started_since:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    found.append(pid)
                    break
            except OSError:
                continue
    return found
