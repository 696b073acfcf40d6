"""The grader's folders belong to the grader, through the Gradescope flow (issue 10, class 5).

The child runs as the unprivileged test user (like `student` on Gradescope; see
test_autograder.py): it works in a fresh folder of its own, and can neither rename, delete,
fill nor plant anything in the folders the parent needs to start the next child. Every
temporary folder is gone afterwards, also when the watchdog ends the grading.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from test_autograder import (P3_TOTAL, GradescopeRoot, base_dir, by_test_name, gs, hostile,  # noqa: F401  (fixtures)
                             isolation, needs_isolation, zip_path)

ATTEMPTS = """
here = _os.getcwd()
scratch = _os.path.dirname(here)
staged = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))   # the staged copy of the submission
log = {"here": here, "scratch": scratch, "staged": staged, "pid": _os.getpid()}
with open("mine.txt", "w") as out:                    # its own folder: writable
    out.write("x" * 1000)
log["own_folder_writable"] = _os.path.exists(_os.path.join(here, "mine.txt"))
log["tmpdir_is_own_folder"] = __import__("tempfile").gettempdir() == here
attacks = {
    "chmod_scratch": lambda: _os.chmod(scratch, 0o777),
    "plant_in_scratch": lambda: open(_os.path.join(scratch, "planted.py"), "w").write("x = 1"),
    "rename_scratch_entry": lambda: _os.rename(_os.path.join(scratch, "submission"), _os.path.join(scratch, "gone")),
    "remove_scratch_entry": lambda: _os.rmdir(_os.path.join(scratch, "submission")),
    "rename_scratch": lambda: _os.rename(scratch, scratch + "-renamed"),
    "rename_own_folder": lambda: _os.rename(here, here + "-renamed"),
    "chmod_staged": lambda: _os.chmod(staged, 0o777),
    "plant_in_staged": lambda: open(_os.path.join(staged, "submission", "planted.py"), "w").write("x = 1"),
    "rename_staged_module": lambda: _os.rename(_os.path.join(staged, "submission", "softmax.py"),
                                               _os.path.join(staged, "submission", "gone.py")),
}
for name, attack in attacks.items():
    try:
        attack()
        log[name] = "done"
    except OSError as exc:
        log[name] = type(exc).__name__
with open(_os.path.join(SPY, f"attempts-{_os.getpid()}.json"), "w") as out:
    _json.dump(log, out)
"""


def test_the_child_cannot_touch_the_folders_the_parent_needs(gs):
    needs_isolation(gs.isolation)
    hostile(gs, ATTEMPTS)
    run, results = gs.run(problems="P3 Q2")
    logs = [json.loads(p.read_text()) for p in sorted(gs.spy.glob("attempts-*.json"))]
    assert len(logs) >= 2   # one per child that ran cross_entropy (each check of it, at least one child)
    for log in logs:
        assert log["own_folder_writable"] and log["tmpdir_is_own_folder"], log
        assert Path(log["scratch"]).name.startswith("hw3grade-scratch-"), log
        for attack in ("chmod_scratch", "plant_in_scratch", "rename_scratch_entry", "remove_scratch_entry",
                       "rename_scratch", "rename_own_folder", "chmod_staged", "plant_in_staged",
                       "rename_staged_module"):
            assert log[attack] == "PermissionError", (attack, log)
    # its own folder is fresh for every child
    assert len({log["here"] for log in logs}) == len(logs)
    tests = by_test_name(results)
    assert results["score"] == P3_TOTAL + sum(t["max_score"] for name, t in tests.items() if name.startswith("Q2 "))


def test_the_watchdog_leaves_no_temporary_folder(gs, base_dir):
    """The budget runs out while the child hangs: the watchdog writes the results, ends the child
    and removes the grader's folders before os._exit (which skips every `finally`)."""
    tmp = Path(tempfile.mkdtemp(prefix="tmpdir-", dir=base_dir))
    tmp.chmod(0o755)
    gs.submit(patch={"losses": "def cross_entropy(f, y):\n    import time\n    time.sleep(300)\n"})
    run, results = gs.run(HW3GRADE_BUDGET_SECONDS="20", TMPDIR=str(tmp))
    assert "did not finish within its budget of 20 s" in by_test_name(results)["Autograder error: technical details"]["output"]
    assert sorted(os.listdir(tmp)) == [], os.listdir(tmp)


def test_a_normal_run_leaves_no_temporary_folder(gs, base_dir):
    tmp = Path(tempfile.mkdtemp(prefix="tmpdir-", dir=base_dir))
    tmp.chmod(0o755)
    gs.submit(patch={"losses": "def cross_entropy(f, y):\n    import os\n    os._exit(3)\n"})
    run, results = gs.run(TMPDIR=str(tmp))
    assert results["score"] == P3_TOTAL - 4   # the three cross_entropy checks (1 + 2 + 1 points)
    assert sorted(os.listdir(tmp)) == [], os.listdir(tmp)
