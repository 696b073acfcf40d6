"""Whole submissions, in the shapes students upload them, with the per-problem verdict each must get.

Each case lists the problems that must NOT get full marks (with the score they get);
every other problem must get full marks. The two K = 1000 trainings (P1.fit,
P2.noisy_fit) are left out here for time: tests/test_examples.py grades them in full. The children
are forked from the test process's warm zygote (tests.hw3testing.warm_sandbox); tests/test_examples.py,
tests/corpus/test_startup.py and tests/gradescope/ grade through the unwarmed start.
"""
from __future__ import annotations

import ast
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.outcome import Status
from grader.runner import grade

from tests.hw3testing import MODULES, REFERENCE_DIR, UNFILLED, unfilled_placeholders, write_submission  # noqa: F401
from tests.hw3testing import HW3, warm_sandbox

DATA = Path(__file__).resolve().parent / "data"
TEMPLATE = REFERENCE_DIR.parent / "student_template"
LONG = {"P1.fit", "P2.noisy_fit"}
ALL_ZERO = {k: 0.0 for k in ("P1", "P2", "P3", "P4", "P5", "P6", "P7",
                             "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8")}


def _template(folder: Path) -> Path:
    shutil.copytree(TEMPLATE, folder, ignore=shutil.ignore_patterns("__init__.py", "README.md", "__pycache__"))
    return folder


def _zipped(folder: Path) -> Path:
    source = write_submission(folder / "src")
    archive = folder / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in source.glob("*.py"):
            zf.write(path, f"hw3/{path.name}")
        zf.writestr("__MACOSX/hw3/._losses.py", b"\x00\x05\x16\x07junk")
    return archive


def _nested(folder: Path) -> Path:
    write_submission(folder / "My Homework" / "code")
    (folder / "My Homework" / "notes.txt").write_text("stray file")
    (folder / ".DS_Store").write_bytes(b"\x00")
    return folder


def _notebook_supplies_losses(folder: Path) -> Path:
    write_submission(folder, drop=("losses",))
    source = (REFERENCE_DIR / "losses.py").read_text()
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source.splitlines(keepends=True)},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": ["print(cross_entropy(torch.zeros(3), 0))\n"]}]
    (folder / "hw3.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return folder


def _one_bug(module: str, function: str):
    """The reference with one function replaced by the buggy example's version of it."""
    text = _BUGGY_EXAMPLE[module]
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function)
    return lambda folder: write_submission(folder, patch={module: ast.get_source_segment(text, node)})


def _buggy_example_modules() -> dict[str, str]:
    return {p.stem: p.read_text() for p in (REFERENCE_DIR.parent / "examples" / "buggy").glob("*.py")}


_BUGGY_EXAMPLE = _buggy_example_modules()


def _seed_001(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(DATA / "seed001_notebook.ipynb", folder / "hw3.ipynb")
    return folder


CASES = {
    # name: (builder, {problem: expected score when not full}, a message that must appear)
    "zip_with_macosx": (_zipped, {}, None),
    "nested_folders_and_stray_files": (_nested, {}, None),
    "notebook_supplies_a_missing_module": (_notebook_supplies_losses, {}, None),
    "missing_convolution": (lambda f: write_submission(f, drop=("convolution",)),
                            {"Q6": 0.0, "Q7": 0.0, "Q8": 0.0}, "convolution.py was not found"),
    "untouched_template": (_template, {**ALL_ZERO, "P1": 1.0}, "still raises NotImplementedError"),
    "extra_loop_around_the_batches": (_one_bug("threelayerSGD", "train"), {"P1": 13.0}, "expected 3"),
    "cross_entropy_overflows": (_one_bug("losses", "cross_entropy"), {"P3": 5.0}, "log-sum-exp"),
    "conv1d_is_cross_correlation": (_one_bug("convolution", "conv1d"), {"Q6": 0.0}, "cross-correlation"),
    "missing_losses_and_softmax": (lambda f: write_submission(f, drop=("losses", "softmax")),
                                   {"P3": 0.0, "Q2": 0.0, "Q3": 0.0}, "softmax.py was not found"),
    "seed_001_notebook": (_seed_001, {**ALL_ZERO, "P1": 2.0}, "the contract names the layers l1, l2, l3"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_whole_submission_gets_its_verdict(case, tmp_path, rubric):
    build, not_full, message = CASES[case]
    entries = [e for e in rubric.checks if e.id not in LONG]
    result = grade(build(tmp_path / case), HW3, rubric=rubric, entries=entries, sandbox=warm_sandbox(HW3, rubric))
    scores = result.by_problem()
    expected = {k: (not_full.get(k, v[1]), v[1]) for k, v in scores.items()}
    assert scores == expected, {o.check_id: (o.status.value, o.message) for o in result.outcomes
                                if o.status is not Status.PASSED}
    if message:
        texts = [o.message for o in result.outcomes] + list(result.notes)
        assert any(message in t for t in texts), texts
    assert not unfilled_placeholders(result)


@pytest.mark.parametrize("text, unfilled", [
    ("rubric.yaml lists check {id!r}, but", ["{id!r}"]),
    ("{label} returned {what[0]}: {x:.3g}", ["{label}", "{what[0]}", "{x:.3g}"]),
    ("Q7 should be a dict {'output_dim': int}, and {1, 2} is a set", []),
])
def test_the_placeholder_scan_finds_what_a_template_left_unfilled(text, unfilled):
    assert UNFILLED.findall(text) == unfilled
