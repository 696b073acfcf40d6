"""Every grading works on a private copy of the submission, never in place.

The copy lives in the grading's scratch folder (readable by a child running as another
user, read-only once sealed), so student code can neither change the student's own files,
nor plant files next to them, nor reach the class folder through them. Links are copied
as links (the locator ignores those leading outside the copy), special files are skipped,
and the copy stops at MAX_COPY_BYTES / MAX_COPY_ENTRIES with a note (a folder's own files
are copied before its subfolders, so modules at the top always make it).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from . import filetree

MAX_COPY_BYTES = 200 * 2**20
MAX_COPY_ENTRIES = 50_000
TOO_LARGE = "The submission is very large: only part of it was searched. Upload just your modules."


def private_copy(src: Path, staging: Path) -> tuple[Path, list[str]]:
    """A copy of `src` (a folder or a file) in `staging`/submission; (where it is, notes)."""
    src = Path(src)
    notes: list[str] = []
    if not src.exists():
        return src, notes  # the locator says, in its words, that nothing (or a broken link) was submitted
    dest = staging / "submission"
    dest.mkdir(mode=0o755, parents=True)
    if not src.is_dir():
        target = dest / src.name
        shutil.copyfile(src, target)
        target.chmod(0o644)
        return target, notes
    copied = entries = 0
    for folder, dirs, files in filetree.walk(src):
        dirs.sort()
        out = dest / Path(folder).relative_to(src)
        out.mkdir(mode=0o755, exist_ok=True)
        out.chmod(0o755)
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            entries += 1
            if entries > MAX_COPY_ENTRIES or copied > MAX_COPY_BYTES:
                notes.append(TOO_LARGE)
                return dest, notes
            copied += _copy_entry(Path(folder, name), out / name)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return dest, notes


def _copy_entry(path: Path, target: Path) -> int:
    """Copy one link or regular file; the bytes it adds to the copy."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(OSError):
            os.symlink(os.readlink(path), target)
        return 0
    if stat.S_ISREG(st.st_mode):
        shutil.copyfile(path, target, follow_symlinks=False)
        target.chmod(0o644)
        return st.st_size
    return 0
