"""Folder trees as deep as a student likes: walked and removed without recursion.

Python 3.11's `os.walk` and `shutil.rmtree` recurse once per level, so a tree deeper than the
interpreter's recursion limit (a child makes 5000 nested folders in milliseconds) raises
RecursionError in the grader, or is silently left behind by a remover that swallows errors.
Past PATH_MAX (about 2000 levels of one-letter names) path-based calls fail outright.

- `walk` is `os.walk` (top-down, `dirs` prunable, symlinks to folders listed but not entered)
  on an explicit stack; what cannot be listed (too long a path, no permission) is skipped.
- `remove` removes a tree through directory descriptors, one level open at a time (a path of
  any length, never more than two descriptors), making each folder writable first where the
  caller is not root; what cannot be removed is skipped, never looped on.
"""
from __future__ import annotations

import contextlib
import os
import stat
from typing import Iterator

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk(top: str | os.PathLike, topdown: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """(folder, dirs, files) for every folder under `top`, as `os.walk` gives them, at any depth."""
    if not topdown:
        yield from reversed(list(walk(top)))   # every folder after all it holds
        return
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        dirs: list[str] = []
        files: list[str] = []
        links: set[str] = set()
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry.name)
            if is_dir and entry.is_symlink():
                links.add(entry.name)
        yield folder, dirs, files
        stack.extend(os.path.join(folder, d) for d in reversed(dirs) if d not in links)


def remove(path: str | os.PathLike) -> None:
    """Remove the tree at `path` (a file or a link: that entry), as far as it can be; never raises."""
    path = os.fspath(path)
    with contextlib.suppress(OSError):
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    with contextlib.suppress(OSError):
        _writable(path)
        _empty(os.open(path, _DIRECTORY))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _empty(fd: int) -> None:
    """Empty the folder open as `fd` (and close it), depth first, one level open at a time."""
    names: list[str] = []        # the way down: each folder's name in its parent
    stuck: set[tuple[int, int]] = set()   # folders that could not be entered or removed
    try:
        while True:
            below = _first_folder(fd, stuck)
            if below is not None:
                try:
                    _writable(below, fd)
                    child = os.open(below, _DIRECTORY, dir_fd=fd)
                except OSError:
                    stuck.add(_identity(below, fd))
                    continue
                os.close(fd)
                fd = child
                names.append(below)
                continue
            if not names:
                return
            parent = os.open("..", _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd, name = parent, names.pop()
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                stuck.add(_identity(name, fd))
    finally:
        os.close(fd)


def _first_folder(fd: int, stuck: set[tuple[int, int]]) -> str | None:
    """Unlink every non-folder of the folder `fd`; the name of a folder still in it, if any."""
    # a stuck folder's identity, as `_identity` counts it: its inode, and the device of the folder holding it
    device = os.fstat(fd).st_dev if stuck else None
    with os.scandir(fd) as listing:
        for entry in listing:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if device is None or (entry.inode(), device) not in stuck:
                        return entry.name
                    continue
                os.unlink(entry.name, dir_fd=fd)
            except OSError:
                pass
    return None


def _identity(name: str, fd: int) -> tuple[int, int]:
    try:
        return os.lstat(name, dir_fd=fd).st_ino, os.fstat(fd).st_dev
    except OSError:
        return -1, -1


def _writable(name: str, dir_fd: int | None = None) -> None:
    """u+rwx on a folder (a child's chmod 000) where we are not root (root needs no permission)."""
    if os.geteuid() == 0:
        return
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.lstat(name, dir_fd=dir_fd).st_mode)
        if mode & stat.S_IRWXU != stat.S_IRWXU:
            os.chmod(name, mode | stat.S_IRWXU, dir_fd=dir_fd)
