"""The grader's temporary folders: made by the parent, never writable by student code but for
the child's own working folder, and removed on every exit path.

- ``hw3grade-scratch-*`` (one per grading): what `locate` extracts or converts (a zip, a
  notebook). Once written it is read-only (folders 0o555, files 0o444): the child may read
  it (it imports the modules there) and nothing more. On Gradescope the parent is root and
  the child the unprivileged ``student``, so the child cannot change it at all; where both
  are the same user (a laptop), a child would have to change the permissions back first.
- the child's working folder (one per child): a fresh folder in the system's temporary
  folder (whose sticky bit lets no other user rename or delete it), writable by the child's
  user only (chowned to it when the parent is root), its ``TMPDIR`` too; removed as soon as
  the child has ended. Whatever the child does to it, the next child gets a new one.
- ``hw3grade-staging-*``: the Gradescope entry's copy of the submission.

Every folder made here is registered until it is removed: `remove_all` (the Gradescope
watchdog calls it before it ends the process with ``os._exit``) removes whatever is left,
and from then on no folder is made: the grading thread, which runs on until ``os._exit``,
could otherwise make one (a child's fallback folder) after the cleanup.
A process killed outright (an out-of-memory kill of the grader itself) cannot clean up: its
folders carry its pid and start time in their names, and the next grading on the machine
removes those of processes that no longer exist (`sweep_stale`).
"""
from __future__ import annotations

import contextlib
import os
import pwd
import re
import stat
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from . import filetree
from .supervision import procfs

PREFIX = "hw3grade-"
_NAME = re.compile(r"^hw3grade-(scratch|staging|child)-(\d+)\.(\d+)-")
_LIVE: set[str] = set()
_HOLDERS: dict[str, str] = {}   # a child folder made outside the grading's scratch -> its holder
_LOCK = threading.Lock()
_SWEPT: list[bool] = []
_ENDED = threading.Event()     # set by remove_all: the process is ending, no folder is made any more


def _refuse_if_ended() -> None:
    """Called with _LOCK held, just before a folder is made."""
    if _ENDED.is_set():
        raise OSError("the grading is ending: no temporary folder is made any more")


def _tag() -> str:
    return f"{os.getpid()}.{procfs.start_time(os.getpid()) or 0}"


def make(kind: str, *, mode: int = 0o700, owner: tuple[int, int] | None = None, base: str | None = None) -> Path:
    """A new registered folder ``hw3grade-<kind>-<pid>.<start>-XXXX`` in `base` (the temporary folder)."""
    if not _SWEPT:
        _SWEPT.append(True)
        sweep_stale(base)
    with _LOCK:   # made and registered at once: `sweep_own` in another thread never sees it unregistered
        _refuse_if_ended()
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{_tag()}-", dir=base)
        _LIVE.add(path)
    try:
        if owner is not None:
            os.chown(path, *owner)
        os.chmod(path, mode)
    except OSError:
        remove(path)
        raise
    return Path(path)


@contextlib.contextmanager
def folder(kind: str, *, mode: int = 0o700) -> Iterator[Path]:
    """A registered folder for the duration of a with-block, removed however the block ends
    (with anything of this process's that a child renamed out of its way)."""
    path = make(kind, mode=mode)
    try:
        yield path
    finally:
        remove(path)
        sweep_own(os.path.dirname(path))


def sweep_own(base: str | None = None) -> None:
    """Remove this process's folders in `base` that are no longer registered (a child renamed them)."""
    tag = f"-{_tag()}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(base or tempfile.gettempdir()):
            if entry.name.startswith(PREFIX) and _NAME.match(entry.name) and tag in entry.name:
                with _LOCK:
                    registered = entry.path in _LIVE
                if not registered:
                    remove(entry.path)


def child_folder(run_as_user: str | None, base: str | Path | None = None) -> Path:
    """A fresh working folder for one child, writable by the child's user only: in `base` (the
    grading's sealed scratch folder), or, if the child has made that impossible (deleted, renamed,
    replaced it), in the temporary folder: the next child always gets one."""
    with _LOCK:
        _refuse_if_ended()
    owner = None
    if run_as_user and os.geteuid() == 0:
        entry = pwd.getpwnam(run_as_user)
        owner = (entry.pw_uid, entry.pw_gid)
    # Not root but another user (which sandbox setups refuse): the folder must still be the child's.
    mode = 0o700 if owner is not None or not run_as_user else 0o777
    if base is not None:
        with contextlib.suppress(OSError):
            return _make_inside(str(base), mode, owner)
    # A holder of its own, so that the child's parent folder is always one of the grader's, never
    # the machine's temporary folder (which a child running as root could otherwise empty).
    for where in (None, "/var/tmp", "/dev/shm"):
        try:
            holder = make("scratch", mode=0o755, base=where)
        except OSError:
            continue
        try:
            path = _make_inside(str(holder), mode, owner, seal_after=True)
        except OSError:
            remove(holder)
            continue
        with _LOCK:
            _HOLDERS[str(path)] = str(holder)
        return path
    raise OSError("no folder could be made for the child (is the disk full?)")


def _make_inside(base: str, mode: int, owner: tuple[int, int] | None, seal_after: bool = False) -> Path:
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise OSError(f"{base} is no longer the grader's folder")
    root = os.geteuid() == 0
    if not root:
        os.chmod(base, 0o755)   # sealed: writable for its owner just while the folder is made
    try:
        with _LOCK:
            _refuse_if_ended()
            path = tempfile.mkdtemp(prefix="child-", dir=base)
            _LIVE.add(path)
    finally:
        if not root or seal_after:
            os.chmod(base, 0o555)
    try:
        if owner is not None:
            os.chown(path, *owner)
        os.chmod(path, mode)
    except OSError:
        remove(path)
        raise
    return Path(path)


def seal(path: Path) -> None:
    """Make a folder tree read-only (folders 0o555, files 0o444), links untouched."""
    for folder_name, dirs, files in filetree.walk(path, topdown=False):
        for name in files:
            with contextlib.suppress(OSError):
                full = os.path.join(folder_name, name)
                if not os.path.islink(full):
                    os.chmod(full, 0o444)
        with contextlib.suppress(OSError):
            os.chmod(folder_name, 0o555)


def remove(path: str | Path) -> None:
    """Remove a folder tree whatever its permissions; never raises."""
    path = str(path)
    parent, sealed = os.path.dirname(path), None
    with contextlib.suppress(Exception):
        if os.path.lexists(path):
            if os.geteuid() != 0:  # root ignores permissions; anyone else must restore them first
                with _LOCK:
                    ours = parent in _LIVE
                if ours and not os.access(parent, os.W_OK):   # a child folder in the sealed scratch
                    sealed = stat.S_IMODE(os.lstat(parent).st_mode)
                    os.chmod(parent, sealed | stat.S_IRWXU)
            filetree.remove(path)   # at any depth (a child's 5000 nested folders), whatever its permissions
    if sealed is not None:
        with contextlib.suppress(OSError):
            os.chmod(parent, sealed)
    with _LOCK:
        _LIVE.discard(path)
        holder = _HOLDERS.pop(path, None)
    if holder is not None:
        remove(holder)


#: The places every user may write (sticky, world-writable), where a child could leave a file
#: for the next child: emptied of the sandbox user's files at each child's close.
SHARED_PLACES = ("/dev/shm", "/tmp", "/var/tmp", "/dev/mqueue", "/run/lock")


def remove_owned(uid: int, places: tuple[str, ...] = SHARED_PLACES) -> list[str]:
    """Remove every entry of `places` that `uid` owns (a sandbox user's files; never call it with
    the grader's own uid): what a child left there meets no later child and outlives no grading.
    Called once the child and all it started are dead, so nothing refills them."""
    removed = []
    for place in places:
        with contextlib.suppress(OSError):
            for entry in os.scandir(place):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        remove(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed.append(entry.path)
    return removed


def remove_all() -> None:
    """Remove every folder made here and not yet removed, and make none from now on: for a process
    about to end with an exit that skips `finally` (os._exit) while other threads still run."""
    with _LOCK:
        _ENDED.set()
        paths = list(_LIVE)
    for path in paths:
        remove(path)


def live() -> list[str]:
    with _LOCK:
        return sorted(_LIVE)


def sweep_stale(base: str | None = None) -> list[str]:
    """Remove the folders left by graders that were killed outright (their process is gone)."""
    removed = []
    base = base or tempfile.gettempdir()
    uid = os.geteuid()
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            match = _NAME.match(entry.name)
            if not match:
                continue
            with contextlib.suppress(OSError):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if uid != 0 and entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                pid, started = int(match.group(2)), int(match.group(3))
                now = procfs.start_time(pid)
                if now is not None and (now == started or not started):
                    continue   # its grader is still running
                remove(entry.path)
                removed.append(entry.path)
    return removed
