"""Shared fixtures: the rubric, submissions built from the reference, the reference graded once."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from grader import rubric as rubric_module
from grader import zygote
from grader.build.student_kit import KitReport, build_kit_report
from grader.outcome import GradingResult
from grader.runner import grade
from tests.hw3testing import HW3, REPO, once_per_run, warm_sandbox, write_submission

EXAMPLES = REPO / "examples"

# Two test workers on a shared machine: an example that is slow to generate or to run is the machine's load,
# not a bug; what the property tests assert is the answer, never the time.
settings.register_profile("hw3grade", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hw3grade")


@pytest.fixture(scope="session")
def rubric() -> rubric_module.Rubric:
    return HW3.load_rubric()


@pytest.fixture
def submission(tmp_path):
    """Factory: submission(patch=..., replace=..., drop=...) -> a folder."""
    counter = iter(range(1000))

    def make(**kwargs) -> Path:
        return write_submission(tmp_path / f"submission{next(counter)}", **kwargs)

    return make


@pytest.fixture(scope="session")
def reference_submission(tmp_path_factory) -> Path:
    return write_submission(tmp_path_factory.mktemp("reference") / "submission")


@pytest.fixture(scope="session")
def reference_result(reference_submission, rubric, tmp_path_factory) -> GradingResult:
    """The reference graded as a submission, every check: computed once per test run, whichever worker asks first."""
    return once_per_run(tmp_path_factory, "reference-result", lambda _: grade(
        reference_submission, HW3, rubric=rubric, sandbox=warm_sandbox(HW3, rubric)))


@pytest.fixture(scope="session")
def buggy_result(rubric, tmp_path_factory) -> GradingResult:
    """examples/buggy graded, every check: computed once per test run. Its visible outcomes are those of a grading of
    the visible checks alone (they run first, in children of their own, and their messages name no hidden check)."""
    return once_per_run(tmp_path_factory, "buggy-result", lambda _: grade(
        EXAMPLES / "buggy", HW3, rubric=rubric, sandbox=warm_sandbox(HW3, rubric)))


@pytest.fixture(scope="session")
def student_kit(tmp_path_factory) -> KitReport:
    """Homework 3's student kit, built once per test run (a build grades the reference's visible checks) and shared
    by tests/kit and the correct styles, whichever workers run them; nothing writes into the zip."""
    return once_per_run(tmp_path_factory, "hw3-student-kit",
                        lambda folder: build_kit_report(folder / "hw3-student-kit.zip", HW3))


@pytest.fixture(scope="session", autouse=True)
def _stop_warm_zygotes():
    """The warm zygote of this test process (tests.hw3testing.warm_sandbox) ends with the session, its children first."""
    yield
    zygote.shutdown()
