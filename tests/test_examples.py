"""The bundled sample submissions: generated from the reference, graded as documented."""
import importlib.util
import sys
from pathlib import Path

import pytest

from grader.outcome import Status
from tests.hw3testing import unfilled_placeholders, write_submission

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["correct", "buggy"])
def test_committed_examples_match_the_generator(which, tmp_path):
    _make_examples().main(tmp_path)
    for generated in sorted((tmp_path / which).glob("*.py")):
        committed = EXAMPLES / which / generated.name
        assert committed.read_text() == generated.read_text(), \
            f"examples/{which}/{generated.name} is stale: run python examples/make_examples.py"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_correct_example_gets_full_marks(reference_result, tmp_path):
    """examples/correct is the reference as a student uploads it (write_submission), file for file and byte for
    byte, so its grading is the reference's: tests/conftest.py grades that once per run, and a grading depends on
    the files alone."""
    assert _files(EXAMPLES / "correct") == _files(write_submission(tmp_path / "reference"))
    result = reference_result
    failed = [(o.check_id, o.message) for o in result.outcomes if o.status is not Status.PASSED]
    assert not failed
    assert result.score == result.max_score == 100


EXPECTED_BUGGY_FAILURES = {
    "P1.train.epochs": r"each epoch took 12 steps, expected 3",
    "P3.cross_entropy.large_logits": r"",
    "P5.activations.extreme": r"",
    "Q1.relu_derivative": r"",
    "Q6.conv1d.question": r"",
    "Q8.layer3": r"3b",
}


def test_buggy_example_loses_exactly_the_buggy_checks(buggy_result):
    result = buggy_result
    failed = {o.check_id: o for o in result.outcomes if o.status is not Status.PASSED}
    for check_id in EXPECTED_BUGGY_FAILURES:
        assert check_id in failed, f"{check_id} should fail on examples/buggy"
    unexpected = sorted(set(failed) - set(EXPECTED_BUGGY_FAILURES) - _consequences())
    assert not unexpected, [(c, failed[c].message) for c in unexpected]
    assert 0 < result.score < result.max_score
    assert not unfilled_placeholders(result)        # every message the buggy example produces is filled in


def _consequences() -> set[str]:
    """Checks that a bug above fails too, by design (the same function, another input)."""
    return {"P1.train.replay", "P1.fit", "P2.noisy_fit", "P3.cross_entropy.batch", "P3.cross_entropy.single",
            "P5.activations", "P5.softplus_derivative", "Q6.conv1d.modes", "Q6.conv1d.edge", "P1.train.no_reinit"}
