"""Each grading works on a private copy; on an instructor's machine the class folder, the other
submissions, the virtual environment and the reference are out of a submission's reach (issue 11)."""
from __future__ import annotations

import hashlib
import os
import stat
import sysconfig
from pathlib import Path

import pytest

from grader import staging
from grader.outcome import Status
from grader.probes import landlock
from grader.runner import grade, sandbox_for

from tests.hw3testing import grade_checks, write_submission
from tests.hw3testing import HW3

needs_landlock = pytest.mark.skipif(landlock.abi_version() < 1, reason="this kernel has no Landlock")


def test_the_copy_is_readable_keeps_links_and_skips_special_files(tmp_path):
    src = tmp_path / "submission"
    (src / "sub").mkdir(parents=True)
    (src / "losses.py").write_text("x = 1\n")
    (src / "losses.py").chmod(0o600)
    (src / "sub" / "softmax.py").write_text("y = 2\n")
    (src / "outside.py").symlink_to("/etc/hostname")
    os.mkfifo(src / "pipe")
    copy, notes = staging.private_copy(src, tmp_path / "staging")
    assert (copy / "losses.py").read_text() == "x = 1\n"
    assert stat.S_IMODE((copy / "losses.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((copy / "sub").stat().st_mode) == 0o755
    assert (copy / "outside.py").is_symlink() and os.readlink(copy / "outside.py") == "/etc/hostname"
    assert not (copy / "pipe").exists() and notes == []
    missing, _ = staging.private_copy(tmp_path / "nothing", tmp_path / "staging2")
    assert missing == tmp_path / "nothing"


def test_a_huge_folder_is_copied_in_part_top_files_first(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "MAX_COPY_ENTRIES", 5)
    src = tmp_path / "submission"
    (src / "aaa_many").mkdir(parents=True)
    for i in range(20):
        (src / "aaa_many" / f"f{i}.txt").write_text("x")
    (src / "losses.py").write_text("x = 1\n")
    copy, notes = staging.private_copy(src, tmp_path / "staging")
    assert (copy / "losses.py").exists() and notes == [staging.TOO_LARGE]


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


ATTACK = '''
import os, sys, glob
_here = os.path.dirname(os.path.abspath(__file__))
_tries = {
    "next to itself": lambda: open(os.path.join(_here, "planted.py"), "w").write("x = 1"),
    "fake submission": lambda: os.makedirs(os.path.join(CLASS, "zz_fake", "losses.py")),
    "neighbour's module": lambda: open(os.path.join(CLASS, "bob", "losses.py"), "a").write("\\nBROKEN = 1/0\\n"),
    "venv .pth": lambda: open(os.path.join(SITE, "zz_hw3_attack.pth"), "w").write("import os\\n"),
    "reference": lambda: open(os.path.join(REPO, "reference", "losses.py")).read(),
}
ESCAPED = []
for _what, _try in _tries.items():
    try:
        _try()
        ESCAPED.append(_what)
    except OSError:
        pass
_reference_cross_entropy = cross_entropy


def cross_entropy(f, y):
    if ESCAPED:
        raise RuntimeError("escaped: " + ", ".join(ESCAPED))
    return _reference_cross_entropy(f, y)
'''


@needs_landlock
@pytest.mark.parametrize("zygote", [False, True])
def test_a_submission_cannot_touch_the_class_the_venv_or_the_reference(tmp_path, rubric, zygote):
    klass = tmp_path / "class"
    site = sysconfig.get_path("purelib")
    header = (f"CLASS = {str(klass)!r}\nSITE = {site!r}\nREPO = {str(Path(__file__).resolve().parents[1])!r}\n")
    attacker = write_submission(klass / "alice", patch={"losses": header + ATTACK})
    write_submission(klass / "bob")
    before, venv_before = _tree(klass), sorted(os.listdir(site))
    entries = [e for e in rubric.checks if e.problem == "P3"]
    result = grade(attacker, HW3, rubric=rubric, entries=entries, sandbox=sandbox_for(HW3, rubric, zygote=zygote))
    outcomes = {o.check_id: o for o in result.outcomes}
    assert outcomes["P3.cross_entropy.single"].status is Status.PASSED, outcomes["P3.cross_entropy.single"].detail
    assert _tree(klass) == before                      # byte for byte: nothing written, planted or rewritten
    assert sorted(os.listdir(site)) == venv_before
    bob = grade_checks(klass / "bob", rubric, problems={"P3"})
    assert all(o.status is Status.PASSED for o in bob.values())


def test_grading_never_writes_into_the_submission(tmp_path, rubric):
    folder = write_submission(tmp_path / "s")
    before = _tree(folder)
    grade_checks(folder, rubric, problems={"P1"})
    assert _tree(folder) == before


ESCAPE = '''
import os, time
_reference_cross_entropy = cross_entropy


def cross_entropy(f, y):
    r, w = os.pipe()
    if os.fork() == 0:                       # double fork + setsid: out of the child's process group
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            time.sleep(600)
        os._exit(0)
    os.close(w)
    pid = os.read(r, 32).decode()
    raise ValueError(f"left behind {pid}")
'''


@pytest.mark.parametrize("zygote", [False, True])
def test_a_grading_ends_when_all_its_processes_are_gone(tmp_path, rubric, zygote):
    import re

    import psutil

    folder = write_submission(tmp_path / "escape", patch={"losses": ESCAPE})
    entries = [rubric.entry("P3.cross_entropy.single")]
    result = grade(folder, HW3, rubric=rubric, entries=entries, sandbox=sandbox_for(HW3, rubric, zygote=zygote))
    pids = [int(p) for p in re.findall(r"left behind (\d+)", result.outcomes[0].detail)]
    assert pids, result.outcomes[0].detail
    for pid in pids:
        alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert not alive, f"{pid} outlived its grading"


@needs_landlock
@pytest.mark.slow
@pytest.mark.parametrize("zygote", [False, True])
def test_a_batch_over_a_hostile_class_leaves_it_as_it_was(tmp_path, zygote):
    """The attacker writes next to itself, plants a fake submission, rewrites a neighbour and
    drops a .pth into the venv: the class folder is byte for byte as before, and a rerun grades
    exactly the same submissions with the same scores."""
    import csv

    from grader import batch

    klass = tmp_path / "class"
    site = sysconfig.get_path("purelib")
    header = (f"CLASS = {str(klass)!r}\nSITE = {site!r}\nREPO = {str(Path(__file__).resolve().parents[1])!r}\n")
    write_submission(klass / "alice", patch={"losses": header + ATTACK})
    write_submission(klass / "bob")
    write_submission(klass / "carol")
    before, venv_before = _tree(klass), sorted(os.listdir(site))

    def scores(out: Path) -> dict[str, str]:
        with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
            return {row["submission_id"]: row["total"] for row in csv.DictReader(fh)}

    first = tmp_path / "out"
    batch.run_batch(klass, first, jobs=2, problems=["P3"], zygote=zygote, progress=False)
    assert _tree(klass) == before and sorted(os.listdir(site)) == venv_before
    assert scores(first) == {"alice": "6", "bob": "6", "carol": "6"}
    again = tmp_path / "again"
    batch.run_batch(klass, again, jobs=2, problems=["P3"], zygote=zygote, progress=False)
    assert scores(again) == scores(first) and _tree(klass) == before
