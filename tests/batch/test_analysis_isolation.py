"""Every class analysis fails alone (issue 17.2): an exception in one analysis of one submission
costs that analysis of that submission, named in the report, never the batch, the report, or the
same analysis of the others; and no analysis parses a submission's bytes without a bound.

Two corpus cases grade for real (P3 only): a notebook holding one JSON key nested 100,000 deep
(graded with full marks; `json.loads` in the answers-alike code ended the batch with RecursionError)
and a notebook whose code cell's source is `[1, 2]` (every analysis became "Not available: TypeError").
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader import batch
from grader.analysis import alike
from grader.analysis import classreport
from grader.outcome import GradingResult, Outcome, Status
from tests.hw3testing import MODULES, REFERENCE_DIR, as_student_module

DEPTH = 100_000


def notebook_json(extra_cells: list[dict] = ()) -> dict:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": as_student_module((REFERENCE_DIR / f"{name}.py").read_text()).splitlines(keepends=True)}
             for name in MODULES]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [*cells, *extra_cells]}


def write_deep(path: Path) -> Path:
    """A correct notebook whose metadata holds one key nested DEPTH deep."""
    text = json.dumps(notebook_json()).replace('"metadata": {}', '"metadata": {"deep": "PLACE"}', 1)
    path.write_text(text.replace('"PLACE"', '{"a": ' * DEPTH + "1" + "}" * DEPTH), encoding="utf-8")
    return path


def write_list_source(path: Path) -> Path:
    """A notebook one of whose code cells has the source [1, 2]: a list, not text."""
    nb = notebook_json([{"cell_type": "code", "metadata": {}, "outputs": [], "source": [1, 2]}])
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


ATTACKS = {"deep": write_deep, "listsource": write_list_source}


@pytest.fixture(scope="module", params=sorted(ATTACKS))
def attacked(request, tmp_path_factory):
    """A class of the attack and a plain notebook with the same code, graded (P3)."""
    folder = tmp_path_factory.mktemp(request.param) / "submissions"
    folder.mkdir()
    ATTACKS[request.param](folder / f"{request.param}.ipynb")
    (folder / "plain.ipynb").write_text(json.dumps(notebook_json()), encoding="utf-8")
    out = folder.parent / "out"
    summary = batch.run_batch(folder, out, jobs=2, problems=["P3"], progress=None)
    yield request.param, out, summary
    from grader import zygote

    zygote.shutdown()


def test_the_attack_ends_neither_the_batch_nor_the_report(attacked):
    attack, out, summary = attacked
    assert summary.error == "" and summary.graded == 2
    report = (out / "report.html").read_text()
    assert "Not available" not in report
    checks = list(csv.DictReader((out / "checks.csv").open()))
    assert checks and all(int(c["graded"]) == 2 for c in checks)   # the item analysis counts both
    if attack == "deep":
        rows = {r["submission_id"]: r for r in csv.DictReader((out / "grades.csv").open())}
        assert rows["deep"]["total"] == rows["deep"]["max_total"] == rows["plain"]["total"]   # full marks
        assert "<tr><td>deep, plain</td></tr>" in report       # analysed: its code is the plain notebook's
    else:
        assert "answers alike: submission listsource could not be analysed (NotebookError)" in report


def test_a_notebook_is_read_with_the_bounded_reader(tmp_path):
    deep = write_deep(tmp_path / "deep.ipynb")
    plain = tmp_path / "plain.ipynb"
    plain.write_text(json.dumps(notebook_json()), encoding="utf-8")
    assert alike.code_digest(deep) == alike.code_digest(plain) is not None


# ---------------------------------------------------------------- isolation, on constructed results
def result(score: float, answers: dict | None = None) -> GradingResult:
    status = Status.PASSED if score else Status.FAILED
    return GradingResult((Outcome("A.one", "A", "one", status, score, 2.0, "visible", ""),), answers=answers or {})


def test_one_submission_failing_an_analysis_costs_only_its_own(tmp_path, monkeypatch):
    paths = {}
    for sid in ("s1", "s2", "s3"):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "m.py").write_text("x = 1\n")
        paths[sid] = tmp_path / sid
    real = alike.code_digest

    def digest(path):
        if path.name == "s2":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path)

    monkeypatch.setattr(alike, "code_digest", digest)
    results = {"s1": result(2.0), "s2": result(0.0), "s3": result(2.0, {"A.one": 7})}   # s3: a fingerprint not text
    built = classreport.build(tmp_path, results, paths, "the earlier results could not be read")
    page = "".join(built.top + built.bottom)
    assert "answers alike: submission s2 could not be analysed (RecursionError)" in page
    assert "answers alike: submission s3 could not be analysed (TypeError)" in page
    assert "<tr><td>s1, s3</td></tr>" in page                  # identical code, s2 left out alone
    assert page.count("Not available") == 1 and "the earlier results could not be read" in page
    assert (tmp_path / classreport.CHECKS_CSV).read_text().splitlines()[1].startswith("A.one,A,2,3,")


def test_a_submission_over_the_parse_bound_is_not_compared_and_the_report_says_why(tmp_path):
    paths = {}
    for sid, text in (("s1", "x = 1\n"), ("s2", "x = 1\n"), ("big", "x\n" * alike.MAX_TOKENS)):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "m.py").write_text(text)
        paths[sid] = tmp_path / sid
    results = {sid: result(2.0) for sid in paths}
    built = classreport.build(tmp_path, results, paths, "n/a")
    page = "".join(built.top + built.bottom)
    assert f"answers alike: submission big not compared (more than {alike.MAX_TOKENS:,} tokens of Python)" in page
    assert "<tr><td>s1, s2</td></tr>" in page and "could not be analysed" not in page


def test_a_broken_result_costs_the_item_analysis_of_that_submission_only(tmp_path):
    broken = result(2.0)
    object.__setattr__(broken, "outcomes", (None,))   # what no analysis expects
    built = classreport.build(tmp_path, {"s1": result(2.0), "s2": broken}, {}, "n/a")
    page = "".join(built.top + built.bottom)
    assert "item analysis: submission s2 could not be analysed (AttributeError)" in page
    assert (tmp_path / classreport.CHECKS_CSV).read_text().splitlines()[1].startswith("A.one,A,2,1,")


def test_an_analysis_failing_as_a_whole_costs_its_own_section_only(tmp_path, monkeypatch):
    def broken(_):
        raise RecursionError("deep")

    monkeypatch.setattr(alike, "clusters", broken)
    built = classreport.build(tmp_path, {"s1": result(2.0), "s2": result(0.0)}, {}, "n/a")
    alike_part = built.bottom[-1]
    assert alike_part.startswith("<h2>Answers alike (to review)</h2>") and "Not available: RecursionError" in alike_part
    assert all("Not available" not in part for part in (built.top[0], *built.bottom[:-1]))
    assert (tmp_path / classreport.CHECKS_CSV).is_file()
