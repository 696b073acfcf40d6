"""Shared fixtures of the reporter tests: result builders and Gradescope's validate.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.outcome import GradingResult, Outcome, Status

REPO = Path(__file__).resolve().parents[2]
TOOLS_ENV = "HW3GRADE_GRADESCOPE_TOOLS"


def outcome(problem="P1", title="check", status=Status.PASSED, score=None, max_score=2.0,
            visibility="visible", message="", detail="", check_id=None) -> Outcome:
    if score is None:
        score = max_score if status is Status.PASSED else 0.0
    return Outcome(check_id=check_id or f"{problem.lower()}.{title}", problem=problem,
                   title=title, status=status, score=score, max_score=max_score,
                   visibility=visibility, message=message, detail=detail)


@pytest.fixture
def make_outcome():
    """The `outcome` builder, as a fixture so test modules need not import conftest."""
    return outcome


@pytest.fixture
def full_result() -> GradingResult:
    """Every Status, partial credit, a NaN score, colliding names, CR and non-ASCII text."""
    return GradingResult(
        outcomes=(
            outcome("P1", "epochs are permutations", Status.PASSED, max_score=3),
            outcome("P1", "fit quality", Status.FAILED, 1.5, 3,
                    message="Tensors are not close!\r\nMismatched elements: 3 / 40 (7.5%) — ü"),
            outcome("P2", "init", Status.NOT_ATTEMPTED, message="still raises NotImplementedError"),
            outcome("P2", "init", Status.MISSING, visibility="hidden",
                    message="(hidden check: details after the due date)", detail="secret detail"),
            outcome("P3", "forward", Status.ERROR, float("nan"), 2,
                    message="RuntimeError: shape mismatch [red] :smile:"),
            outcome("P3", "backward", Status.TIMEOUT, visibility="after_due_date",
                    message="ran past 10 s"),
            outcome("Q1", "answer", Status.GRADER_ERROR, 0, 1, message="judge crashed"),
        ),
        execution_time=12.3456,
        notes=("skipped notebook cell <lambda>", "module p4.py not found"),
        submission_id="sub-1",
    )


def _find_validate() -> Path | None:
    env = os.environ.get(TOOLS_ENV)
    if env:
        path = Path(env)
        path = path / "validate.py" if path.is_dir() else path
        if not path.is_file():  # set on purpose but wrong: a failure, never a silent skip
            pytest.fail(f"{TOOLS_ENV}={env!r} does not point to validate.py or its folder")
        return path
    for folder in (REPO, *REPO.parents):  # the shared folder sits beside some ancestor
        candidate = folder / "shared" / "tools" / "gradescope" / "validate.py"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def gradescope_validate():
    """check(*paths, strict=True): run Gradescope's validate.py, fail the test unless exit 0.

    Without validate.py the test is skipped when it reaches the check, so everything it
    asserted before still ran.
    """
    script = _find_validate()

    def check(*paths, strict: bool = True, expect_ok: bool = True) -> str:
        if script is None:
            pytest.skip(f"Gradescope's validate.py not found: no shared/tools/gradescope/ "
                        f"beside {REPO} or any parent folder, and {TOOLS_ENV} is not set")
        cmd = [sys.executable, str(script), *map(str, paths)] + (["--strict"] if strict else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert (proc.returncode == 0) == expect_ok, proc.stdout + proc.stderr
        return proc.stdout

    return check
