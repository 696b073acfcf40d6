"""Blame the right party: a child that dies before running any student code is the grader's failure.

The child reports "ready" after its own imports (torch, numpy, grader.probes) and before
loading anything of the submission. A correct submission graded with a broken install (an
interpreter that does not exist or exits at once, a torch that cannot load, a runtime copy
missing a module, a start that hangs) gets a grader error on every check, with the "not
your fault" message for the student and the cause for the instructor; never "your code
exited with code 1". A submission that kills its own child *after* "ready" is still blamed.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import time
from pathlib import Path

import pytest

import grader
from grader.outcome import Status
from grader.runner import grade, sandbox_for
from tests.hw3testing import HW3

PROBLEMS = ("P3", "Q6")
NOT_YOUR_FAULT = (r"^Not graded: the grader could not start the process that runs your code, so none of your "
                  r"code ran\. This is not your fault: please tell your instructor")
PACKAGE_ROOT = str(Path(grader.__file__).resolve().parent.parent)


def _entries(rubric):
    return [dataclasses.replace(e, timeout=min(e.timeout, 20.0)) for e in rubric.checks if e.problem in PROBLEMS]


def _script(folder: Path, body: str) -> str:
    path = folder / "python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def missing_interpreter(tmp):
    return {"python": str(tmp / "no-such-python")}, r"could not start .*no-such-python \(FileNotFoundError"


def interpreter_exits_at_once(tmp):
    python = _script(tmp, "echo 'error while loading shared libraries: libpython3.11.so.1.0' >&2\nexit 1")
    return {"python": python}, (r"the child \(.*python\) exited with code 1 before running any student code; "
                                r"its output ends with: error while loading shared libraries")


def torch_cannot_load(tmp):
    fake = tmp / "broken-site"
    fake.mkdir()
    (fake / "torch.py").write_text("raise ImportError('libtorch_cpu.so: cannot open shared object file')\n")
    return ({"pythonpath": (str(fake), PACKAGE_ROOT)},
            r"exited with code 1 before running any student code; .*libtorch_cpu\.so: cannot open shared object")


def runtime_missing_a_module(tmp):
    """The child's runtime copy (as setup_sandbox.sh makes it) without grader/probes/wire.py."""
    runtime = tmp / "probe-runtime"
    (runtime / "grader").mkdir(parents=True)
    shutil.copy(Path(PACKAGE_ROOT) / "grader" / "__init__.py", runtime / "grader" / "__init__.py")
    shutil.copytree(Path(PACKAGE_ROOT) / "grader" / "probes", runtime / "grader" / "probes",
                    ignore=shutil.ignore_patterns("__pycache__", "wire.py"))
    return {"pythonpath": (str(runtime),)}, r"exited with code 1 before running any student code; .*wire"


def start_hangs(tmp):
    return ({"python": _script(tmp, "sleep 60"), "startup_timeout": 2.0},
            r"did not report ready within 2 s before running any student code")


CASES = {f.__name__: f for f in (missing_interpreter, interpreter_exits_at_once, torch_cannot_load,
                                 runtime_missing_a_module, start_hangs)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_child_that_cannot_start_is_the_graders_fault(case, submission, rubric, tmp_path):
    overrides, detail = CASES[case](tmp_path)
    started = time.monotonic()
    result = grade(submission(), HW3, rubric=rubric, entries=_entries(rubric), sandbox=sandbox_for(HW3, rubric, **overrides))
    elapsed = time.monotonic() - started
    assert result.outcomes and {o.status for o in result.outcomes} == {Status.GRADER_ERROR}, \
        [(o.check_id, o.status.value, o.message) for o in result.outcomes]
    for outcome in result.outcomes:
        assert re.search(NOT_YOUR_FAULT, outcome.message), outcome.message
        assert not re.search(r"exited with code|your code raised|crash", outcome.message), outcome.message
        assert re.search(detail, outcome.detail, re.S), outcome.detail
        assert outcome.score == 0
    # two failed starts in a row, then no more waiting: every remaining check is decided at once
    assert elapsed < 30, f"{elapsed:.0f} s"


def test_dying_after_ready_is_still_the_students(submission, rubric):
    """The control: a submission that kills its own child while importing is blamed, neighbours untouched."""
    folder = submission(replace={"losses": "import os\nos._exit(1)\n"})
    result = grade(folder, HW3, rubric=rubric, entries=_entries(rubric))
    p3 = [o for o in result.outcomes if o.problem == "P3"]
    assert {o.status for o in p3} == {Status.ERROR}
    assert all(re.search(r"Importing losses\.py failed: .*exited with code 1", o.detail) for o in p3), \
        [o.detail for o in p3]
    assert not any("not your fault" in o.message for o in p3)
    q6 = result.by_problem()["Q6"]
    assert q6[0] == q6[1]


def test_a_child_that_cannot_start_in_the_cli_writes_grader_errors(submission, tmp_path, monkeypatch, capsys):
    """`hw3grade grade` with a broken interpreter: exit 0 (graded), every check a grader error in results.json."""
    import json

    from grader import cli, runner

    real = runner.sandbox_for
    monkeypatch.setattr(runner, "sandbox_for", lambda *args, **kw: real(*args, python=str(tmp_path / "none"), **kw))
    out = tmp_path / "results.json"
    assert cli.main(["grade", str(submission()), "--problems", "P3", "-o", str(out), "--quiet"]) == 0
    tests = json.loads(out.read_text())["tests"]
    assert tests and all("Autograder error (not your fault" in t.get("output", "") or
                         re.search(NOT_YOUR_FAULT, t.get("output", ""), re.M) for t in tests), tests
    assert not any("exited with code" in t.get("output", "") for t in tests)
