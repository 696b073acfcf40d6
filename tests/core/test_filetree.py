"""grader/filetree.py: trees of any depth are walked as os.walk walks them and removed whole."""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import filetree, scratch, staging

DEEPER_THAN_RECURSION = sys.getrecursionlimit() + 500
PAST_PATH_MAX = 2500   # "d/" per level: past Linux's 4096-byte PATH_MAX


def _nest(top: Path, depth: int, leaf: str = "left-behind") -> None:
    """`depth` nested folders "d" under `top` (through descriptors: no path grows), a file at the bottom."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
    finally:
        os.close(fd)


# a tree: each folder holds some files and some subfolders (names from a small alphabet)
trees = st.recursive(st.dictionaries(st.sampled_from("abc"), st.none(), max_size=3),
                     lambda sub: st.dictionaries(st.sampled_from("defg"), sub, max_size=3), max_leaves=20)


def _build(root: Path, tree: dict) -> None:
    for name, sub in tree.items():
        if sub is None:
            (root / name).write_text(name)
        else:
            (root / name).mkdir()
            _build(root / name, sub)


@settings(max_examples=40)
@given(tree=trees, link=st.booleans())
def test_walk_gives_what_os_walk_gives(tmp_path_factory, tree, link):
    root = tmp_path_factory.mktemp("tree")
    _build(root, tree if isinstance(tree, dict) else {})
    if link:   # a link to a folder is listed among the folders and never entered
        (root / "loop").symlink_to(root, target_is_directory=True)
    for topdown in (True, False):
        ours = [(f, sorted(d), sorted(n)) for f, d, n in filetree.walk(root, topdown=topdown)]
        theirs = [(f, sorted(d), sorted(n)) for f, d, n in os.walk(root, topdown=topdown)]
        assert sorted(ours) == sorted(theirs)
        if not topdown:   # every folder after all it holds, as seal() needs
            seen = [f for f, _, _ in ours]
            assert all(seen.index(f) > seen.index(g) for f in seen for g in seen if g.startswith(f + os.sep))


def test_walk_prunes_what_the_caller_removes_from_dirs(tmp_path):
    _build(tmp_path, {"d": {"e": {"a": None}}, "f": {"b": None}})
    folders = []
    for folder, dirs, _ in filetree.walk(tmp_path):
        folders.append(os.path.relpath(folder, tmp_path))
        dirs[:] = [d for d in dirs if d != "d"]
    assert folders == [".", "f"]


def test_a_tree_deeper_than_the_recursion_limit_is_walked_without_recursion(tmp_path):
    _nest(tmp_path, DEEPER_THAN_RECURSION)
    with pytest.raises(RecursionError):
        list(os.walk(tmp_path))      # what Python 3.11 does, and why filetree exists
    assert sum(1 for _ in filetree.walk(tmp_path)) == DEEPER_THAN_RECURSION + 1
    filetree.remove(tmp_path / "d")   # pytest's own clean-up recurses too


@pytest.mark.parametrize("depth", [DEEPER_THAN_RECURSION, PAST_PATH_MAX])
def test_remove_takes_a_tree_of_any_depth(tmp_path, depth):
    top = tmp_path / "top"
    top.mkdir()
    _nest(top, depth)
    filetree.remove(top)
    assert not top.exists()


def test_remove_takes_files_links_and_unreadable_folders(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    _build(top, {"d": {"e": {"a": None}, "b": None}})
    (top / "link").symlink_to(tmp_path, target_is_directory=True)   # removed, never followed
    (tmp_path / "keep").write_text("outside")
    os.chmod(top / "d" / "e", 0)
    os.chmod(top / "d", 0o500)
    filetree.remove(top)
    assert not top.exists() and (tmp_path / "keep").read_text() == "outside"
    single = tmp_path / "file"
    single.write_text("x")
    filetree.remove(single)
    assert not single.exists()


def test_a_folder_that_cannot_be_removed_is_tried_once_and_all_beside_it_goes(tmp_path, monkeypatch):
    """What is left (here an rmdir refused) is remembered by inode and device, never entered again."""
    top = tmp_path / "top"
    top.mkdir()
    _build(top, {"a": {"x": {"f": None}}, "b": {"y": {"f": None}}, "c": {"f": None}})
    refused, real_rmdir = [], os.rmdir

    def rmdir(path, *, dir_fd=None):
        if path == "a":
            refused.append(path)
            if len(refused) > 1:
                raise RuntimeError("the refused folder was tried again: remove loops")
            raise PermissionError(errno.EPERM, "refused", path)
        return real_rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", rmdir)
    filetree.remove(top)
    assert refused == ["a"]
    assert [p.relative_to(top).as_posix() for p in top.rglob("*")] == ["a"]


def test_scratch_remove_takes_a_deep_tree_a_child_made(tmp_path):
    folder = tmp_path / "child-work"
    folder.mkdir()
    _nest(folder, PAST_PATH_MAX)
    scratch.remove(folder)
    assert not folder.exists()


def test_a_submission_holding_a_deep_tree_is_copied_without_a_traceback(tmp_path):
    src = tmp_path / "submission"
    src.mkdir()
    (src / "losses.py").write_text("def cross_entropy(f, y):\n    return 0.0\n")
    _nest(src, DEEPER_THAN_RECURSION)
    copy, _notes = staging.private_copy(src, tmp_path / "staged")
    assert (copy / "losses.py").is_file()
    for made in (tmp_path / "staged", src):
        filetree.remove(made)
        assert not made.exists()
