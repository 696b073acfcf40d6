"""grader/probes/landlock.py on its own: each case runs in a fresh process, sandboxed as a child is."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.probes import landlock

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(landlock.abi_version() < 1, reason="this kernel has no Landlock")

ATTEMPTS = '''
import json, os, sys, tempfile
sys.path.insert(0, REPO)
from grader.probes import landlock
os.environ["MPLCONFIGDIR"] = os.path.join(WORK, ".matplotlib")
readable, writable = landlock.child_policy([os.path.join(SUBMISSION, "losses.py")], WORK)
why = landlock.restrict(readable, writable)


def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as exc:
        return "denied" if landlock.denied(exc) else f"error {exc.errno}"


def write(path):
    with open(path, "w") as f:
        f.write("x")


results = {
    "why": why,
    "write own folder": attempt(lambda: write(os.path.join(WORK, "plot.png"))),
    "read own submission": attempt(lambda: open(os.path.join(SUBMISSION, "losses.py")).read()),
    "read a classmate": attempt(lambda: open(CLASSMATE).read()),
    "write a classmate": attempt(lambda: write(CLASSMATE)),
    "write next to itself": attempt(lambda: write(os.path.join(SUBMISSION, "planted.py"))),
    "make a folder in the class": attempt(lambda: os.mkdir(os.path.join(CLASS, "fake_submission"))),
    "read the reference": attempt(lambda: open(os.path.join(REPO, "reference", "losses.py")).read()),
    "write the virtual environment": attempt(lambda: write(os.path.join(os.path.dirname(os.__file__), "evil.pth"))),
    "signal the parent": attempt(lambda: os.kill(os.getppid(), 0)),
    "read the parent's memory": attempt(lambda: open(f"/proc/{os.getppid()}/mem", "rb").read(1)),
    "write /tmp": attempt(lambda: write(os.path.join("/tmp", "hw3grade-landlock-test"))),
    "plot with matplotlib": attempt(lambda: __import__("matplotlib.pyplot").pyplot.savefig(os.path.join(WORK, "f.png"))),
    "import the reference": attempt(lambda: __import__("reference.losses")),
}
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("landlock")
    klass = base / "class"
    (klass / "alice").mkdir(parents=True)
    (klass / "bob").mkdir()
    (klass / "alice" / "losses.py").write_text("x = 1\n")
    (klass / "bob" / "losses.py").write_text("secret = 2\n")
    work = base / "work"
    work.mkdir()
    header = "".join(f"{k} = {str(v)!r}\n" for k, v in {
        "REPO": REPO, "WORK": work, "SUBMISSION": klass / "alice", "CLASS": klass,
        "CLASSMATE": klass / "bob" / "losses.py"}.items())
    run = subprocess.run([sys.executable, "-c", header + textwrap.dedent(ATTEMPTS)], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_child_sandbox_applies(outcome):
    assert outcome["why"] == ""


@pytest.mark.parametrize("action", ["write own folder", "read own submission", "plot with matplotlib"])
def test_what_correct_work_needs_is_allowed(outcome, action):
    assert outcome[action] == "allowed"


@pytest.mark.parametrize("action", [
    "read a classmate", "write a classmate", "write next to itself", "make a folder in the class",
    "read the reference", "write the virtual environment", "read the parent's memory", "write /tmp",
])
def test_the_rest_of_the_machine_is_out_of_reach(outcome, action):
    assert outcome[action] == "denied"


def test_the_reference_cannot_be_imported(outcome):
    assert outcome["import the reference"] in ("denied", "error 2")    # PermissionError, or not found


@pytest.mark.skipif(landlock.abi_version() < 6, reason="signal scoping needs Landlock ABI 6 (Linux 6.12)")
def test_no_signal_leaves_the_sandbox(outcome):
    assert outcome["signal the parent"] == "denied"


def test_without_landlock_restrict_says_why(monkeypatch):
    monkeypatch.setattr(landlock, "abi_version", lambda: 0)
    assert "no Landlock" in landlock.restrict(["/usr"], ["/tmp"])
