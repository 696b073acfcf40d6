"""`hw3grade batch`: the gradebook, the results and the report match `hw3grade grade`, one by one.

Most cases grade only P3, Q6 and Q7 (a few seconds per submission); one runs the whole
rubric on two submissions. Also: discovering submissions and Gradescope exports, the
cache by content hash, --force, Ctrl-C, the report in a real browser, and Dask.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from grader import batch
from grader.draws import identity_of
from grader.outcome import GradingResult, Status
from grader.report import gradebook, gradescope
from grader.runner import grade
from tests.hw3testing import HW3, MODULES, REFERENCE_DIR, as_student_module, warm_sandbox, write_submission

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PROBLEMS = ["P3", "Q6", "Q7"]
TOOLS_ENV = "HW3GRADE_GRADESCOPE_TOOLS"


# ---------------------------------------------------------------- helpers
def _validate_script() -> Path | None:
    env = os.environ.get(TOOLS_ENV)
    if env:
        path = Path(env)
        path = path / "validate.py" if path.is_dir() else path
        if not path.is_file():
            pytest.fail(f"{TOOLS_ENV}={env!r} does not point to validate.py or its folder")
        return path
    for folder in (REPO, *REPO.parents):
        candidate = folder / "shared" / "tools" / "gradescope" / "validate.py"
        if candidate.is_file():
            return candidate
    return None


def validate_with_gradescope(paths: list[Path]) -> None:
    script = _validate_script()
    if script is None:
        pytest.skip(f"Gradescope's validate.py not found beside {REPO} or a parent, and {TOOLS_ENV} is not set")
    proc = subprocess.run([sys.executable, str(script), "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["submission_id"]: row for row in csv.DictReader(fh)}


def grade_alone(path: Path, rubric, problems, submission_id: str, students=()) -> GradingResult:
    """As `hw3grade grade` would, with the identity the batch gives it (its hidden checks' draws). Its children
    are forked from this test process's warm zygote, as the batch's are: what is compared is the batch's
    grading of each submission, not the child's start (a forked child grades as a fresh one: test_zygote.py)."""
    return grade(path, HW3, rubric=rubric, entries=rubric.select(set(problems) if problems else None),
                 submission_id=submission_id, identity=identity_of(students, submission_id),
                 fingerprint_answers=True, sandbox=warm_sandbox(HW3, rubric))   # as the batch does


MEASURED = re.compile(r"\b\d+(\.\d+)? (s|MB)\b")   # "Training took 12.0 s", "peak memory 311 MB"


def unmeasured(text: str) -> str:
    """Messages with the times and memory they report blanked: those vary from run to run."""
    return MEASURED.sub("<measured>", text)


def comparable(result: GradingResult) -> dict:
    """A result without its timings."""
    data = result.to_dict()
    data.pop("execution_time")
    for outcome in data["outcomes"]:
        outcome.pop("duration")
        outcome["message"], outcome["detail"] = unmeasured(outcome["message"]), unmeasured(outcome["detail"])
    return data


def comparable_results(results: dict) -> dict:
    """A results.json without what varies between two gradings of the same files."""
    results = dict(results, tests=[dict(t, output=unmeasured(t.get("output", ""))) for t in results["tests"]])
    results.pop("execution_time")
    return results


def assert_matches_alone(out: Path, items: list[batch.BatchItem], rubric, problems,
                         partly: dict[str, list[str]] | None = None) -> None:
    """Every row of grades.csv, every grading.json and results.json is what grading alone gives.
    `partly`: {submission id: problems}, a submission graded alone and compared on those problems only
    (their checks' outcomes and their scores in the row; the caller checks the rest of it)."""
    rows = read_csv(out / "grades.csv")
    assert set(rows) == {item.submission_id for item in items}
    for item in items:
        some = (partly or {}).get(item.submission_id)
        alone = grade_alone(item.path, rubric, some or problems, item.submission_id, item.students)
        graded = GradingResult.from_dict(json.loads((out / item.submission_id / "grading.json").read_text())["result"])
        row = rows[item.submission_id]
        rounded = 10.0 ** -gradebook.PLACES   # grades.csv rounds to PLACES decimals
        if some:
            outcomes = [o for o in comparable(graded)["outcomes"] if o["problem"] in some]
            assert outcomes == comparable(alone)["outcomes"], item.submission_id
        else:
            assert comparable(graded) == comparable(alone), item.submission_id
            results = json.loads((out / item.submission_id / "results.json").read_text())
            expected = gradescope.to_results_json(alone)
            assert comparable_results(results) == comparable_results(expected), item.submission_id
            assert float(row["total"]) == pytest.approx(alone.score, abs=rounded)
        for key, (score, _) in alone.by_problem().items():
            assert float(row[key]) == pytest.approx(score, abs=rounded), (item.submission_id, key)
        names = "; ".join(s["name"] for s in item.students)
        assert row["names"].removeprefix("'") == names   # a leading = is quoted against spreadsheet formulas


def notebook(path: Path, modules: tuple[str, ...]) -> Path:
    """A notebook holding the reference's modules as cells (what a Colab student uploads)."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Homework 3"]}]
    for name in modules:
        source = as_student_module((REFERENCE_DIR / f"{name}.py").read_text())
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": len(cells),
                      "source": source.splitlines(keepends=True)})
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}}, "cells": cells}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for file in sorted(folder.glob("*.py")):
            zf.write(file, f"hw3/{file.name}")
    return target


def copy_example(which: str, target: Path) -> Path:
    target.mkdir(parents=True)
    for file in (EXAMPLES / which).glob("*.py"):
        shutil.copy(file, target / file.name)
    return target


@pytest.fixture(scope="module")
def rubric():
    return HW3.load_rubric()


@pytest.fixture(autouse=True, scope="module")
def _stop_zygotes():
    yield
    from grader import zygote

    zygote.shutdown()  # the ones tests that grade in this process started


# ---------------------------------------------------------------- a folder of mixed submissions
@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Correct, buggy, a notebook, a zip, code that kills its process at import, an unreadable zip."""
    folder = tmp_path_factory.mktemp("mixed") / "submissions"
    copy_example("correct", folder / "correct")
    copy_example("buggy", folder / "buggy")
    notebook(folder / "colab.ipynb", ("losses", "convolution"))
    zip_folder(EXAMPLES / "correct", folder / "zipped.zip")
    write_submission(folder / "exits_at_import", replace={"losses": "import os\nos._exit(0)\n"})
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip file")
    (folder / "notes.txt").write_text("not a submission")
    (folder / ".DS_Store").write_bytes(b"\0")
    return folder


@pytest.fixture(scope="module")
def mixed_run(mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed-out") / "out"
    summary = batch.run_batch(mixed, out, jobs=2, problems=PROBLEMS)
    return out, summary


def test_discovers_one_entry_per_submission(mixed):
    ids = [item.submission_id for item in batch.discover(mixed)]
    assert ids == ["broken", "buggy", "colab", "correct", "exits_at_import", "zipped"]


def test_mixed_folder_matches_grading_each_alone(mixed, mixed_run, rubric):
    out, summary = mixed_run
    assert (summary.graded, summary.skipped, summary.failed, summary.interrupted) == (6, 0, 0, False)
    items = batch.discover(mixed)
    assert_matches_alone(out, items, rubric, PROBLEMS)
    rows = read_csv(out / "grades.csv")
    assert list(rows["correct"])[:6] == ["submission_id", "names", "emails", "sids", "total", "max_total"]
    assert [k for k in rows["correct"] if k in rubric.problem_keys] == PROBLEMS
    assert float(rows["correct"]["total"]) == float(rows["zipped"]["total"]) == float(rows["correct"]["max_total"])
    assert float(rows["buggy"]["total"]) < float(rows["correct"]["total"])
    # the notebook holds only losses and convolution: P3 and Q6/Q7 from it
    assert float(rows["colab"]["P3"]) == 6
    exits = json.loads((out / "exits_at_import" / "grading.json").read_text())["result"]
    assert {o["status"] for o in exits["outcomes"] if o["problem"] == "P3"} == {"error"}
    assert float(rows["exits_at_import"]["Q6"]) == 5  # the other modules still graded
    broken = json.loads((out / "broken" / "grading.json").read_text())["result"]
    assert {o["status"] for o in broken["outcomes"]} == {"missing"}
    assert not broken["grader_failure"]


def test_every_results_json_passes_gradescopes_validator(mixed_run):
    out, _ = mixed_run
    files = sorted(out.glob("*/results.json"))
    assert len(files) == 6
    for file in files:
        assert gradescope.validate_results(json.loads(file.read_text())) == []
    validate_with_gradescope(files)


def test_report_lists_every_submission(mixed_run):
    out, _ = mixed_run
    page = (out / "report.html").read_text("utf-8")
    assert page.count('src="data:image/png;base64,') >= 2
    assert "<td>exits_at_import</td>" in page or "exits_at_import" in page
    assert "wall time of this run" in page


# ---------------------------------------------------------------- feedback.html
def test_no_feedback_page_shows_a_hidden_checks_message(mixed_run):
    """OUT/<id>/feedback.html shows what Gradescope shows a student: no hidden check's message
    (what the student sees of it, nor the instructor's full text), no full text of any check."""
    out, _ = mixed_run
    from html import escape

    hidden_failures = 0
    for record in out.glob("*/grading.json"):
        page = (record.parent / "feedback.html").read_text("utf-8")
        outcomes = json.loads(record.read_text())["result"]["outcomes"]
        shown = {o[k].strip() for o in outcomes if o["visibility"] == "visible" for k in ("message", "title")}
        for o in outcomes:
            secret = [o["detail"]] if o["visibility"] != "visible" else []
            if o["visibility"] == "hidden":
                secret += [o["message"], o["title"]]
                hidden_failures += o["status"] != "passed"
            for text in {t.strip() for t in secret} - {""}:
                if any(text in said for said in shown):   # a visible check says the same (an import error, say)
                    continue
                assert text not in page and escape(text) not in page, (record.parent.name, o["check_id"])
    assert hidden_failures > 0     # the class fails some hidden checks: the test can fail


# ---------------------------------------------------------------- the report in a real browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


IMAGE_CHECK = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var bad = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0); });
  var verdict = document.createElement("div");
  verdict.id = "hw3-verdict";
  verdict.textContent = (bad.length === 0 && images.length > 0 ? "IMAGES-OK " : "IMAGES-BAD ") + images.length + " " + bad.length;
  document.body.appendChild(verdict);
});
</script>
"""


def test_report_renders_its_plots_in_a_headless_browser(mixed_run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium: apt-get install -y chromium (the CI script does it when run as root)")
    out, _ = mixed_run
    page = (out / "report.html").read_text("utf-8")
    assert "</body>" in page
    probe = tmp_path / "report-check.html"
    probe.write_text(page.replace("</body>", IMAGE_CHECK + "</body>"), encoding="utf-8")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'id="hw3-verdict"' in proc.stdout, proc.stderr[-3000:]
    verdict = proc.stdout.split('id="hw3-verdict">', 1)[1].split("<", 1)[0]
    assert verdict.startswith("IMAGES-OK"), verdict
    assert int(verdict.split()[1]) >= 2
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    errors = [line for line in console if "error" in line.lower() or "Uncaught" in line]
    assert not errors, errors


# ---------------------------------------------------------------- a Gradescope export
METADATA = """\
submission_1001:
  :submitters:
  - :name: Alice Example
    :sid: '1001'
    :email: alice@example.edu
  :created_at: 2024-03-21 10:00:00.000000000 -07:00
  :score: !ruby/object:BigDecimal 18:0.1e2
  :history: []
submission_1002:
  :submitters:
  - :name: Alice Example
    :sid: '1001'
    :email: Alice@Example.edu
  :created_at: 2024-03-21 09:30:00.000000000 -09:00
  :score: 16.0
  :history:
  - :id: 1001
    :created_at: 2024-03-21 10:00:00.000000000 -07:00
    :score: 10.0
submission_1003:
  :submitters:
  - :name: "=Bob, the first"
    :sid: '2001'
    :email: bob@example.edu
  - :name: Carol
    :sid: '2002'
    :email: carol@example.edu
  :created_at: 2024-03-20 08:00:00.000000000 +00:00
  :score: 16.0
  :history: []
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """An unzipped "Export Submissions": Alice twice (the later one, by the clock, is 1002), a pair."""
    root = tmp_path_factory.mktemp("export") / "assignment_4242_export"
    copy_example("buggy", root / "submission_1001")
    copy_example("correct", root / "submission_1002")
    write_submission(root / "submission_1003" / "hw3", patch={"losses": "def cross_entropy(f, y):\n    return 0 * f.sum(-1)\n"})
    (root / "submission_metadata.yml").write_text(METADATA, encoding="utf-8")
    return root


def test_gradescope_export_grades_each_students_latest(export, tmp_path, rubric):
    out = tmp_path / "out"
    summary = batch.run_batch(export.parent, out, jobs=2, problems=["P3"])  # the folder holding the export
    items = batch.discover(export)
    assert [i.submission_id for i in items] == ["submission_1002", "submission_1003"]
    assert summary.graded == 2 and summary.failed == 0
    rows = read_csv(out / "grades.csv")
    assert rows["submission_1002"]["names"] == "Alice Example"
    assert rows["submission_1002"]["emails"] == "Alice@Example.edu"
    assert rows["submission_1002"]["sids"] == "1001"
    assert rows["submission_1003"]["names"] == "'=Bob, the first; Carol"  # never a spreadsheet formula
    assert rows["submission_1003"]["sids"] == "2001; 2002"
    assert not (out / "submission_1001").exists()
    assert_matches_alone(out, items, rubric, ["P3"])
    validate_with_gradescope(sorted(out.glob("*/results.json")))


def test_gradescope_metadata_oddities(tmp_path):
    root = tmp_path / "export"
    for name in ("submission_1", "submission_2", "submission_3"):
        (root / name).mkdir(parents=True)
    (root / "submission_metadata.yml").write_text("""\
submission_1:
  :submitters:
  - {":name": Dee, ":sid": 7, ":email": null}
  :created_at: 2024-01-01T10:00:00Z
submission_2:
  :submitters:
  - {":name": Dee, ":sid": 7}
  :created_at: '2024-01-01T11:00:00+00:00'
submission_3:
  :created_at: not a date
../outside:
  :submitters: [{":name": Eve}]
submission_missing:
  :submitters: [{":name": Fay}]
""")
    items = batch.discover(root)
    assert [i.submission_id for i in items] == ["submission_2", "submission_3"]
    assert items[0].students == ({"name": "Dee", "email": "", "sid": "7"},)
    (root / "submission_metadata.yml").write_text("- just a list\n")
    with pytest.raises(batch.BatchError, match="expected a mapping"):
        batch.discover(root)


def test_ids_are_safe_and_unique(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("alice", "Alice.zip", "report.html.zip", "a b.ipynb", "..hidden_not.py"):
        path = folder / name
        path.mkdir() if "." not in name else path.write_bytes(b"")
    (folder / ".git").mkdir()
    (folder / "out").mkdir()
    ids = {i.path.name: i.submission_id for i in batch.discover(folder, exclude=[folder / "out"])}
    assert ids == {"Alice.zip": "Alice", "a b.ipynb": "a_b", "alice": "alice-2", "report.html.zip": "report.html-2"}


def test_fingerprint_follows_content_not_caches(tmp_path, rubric):
    folder = write_submission(tmp_path / "s")
    first = batch.fingerprint(folder, rubric)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "losses.cpython-311.pyc").write_bytes(b"junk")
    (folder / ".DS_Store").write_bytes(b"junk")
    assert batch.fingerprint(folder, rubric) == first
    assert batch.fingerprint(folder, rubric, ["P3"]) != first
    with open(folder / "losses.py", "a") as fh:
        fh.write("\n# changed\n")
    assert batch.fingerprint(folder, rubric) != first


# ---------------------------------------------------------------- cache, --force, failures
@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small") / "submissions"
    copy_example("correct", folder / "correct")
    copy_example("buggy", folder / "buggy")
    write_submission(folder / "nan", patch={"losses": "def cross_entropy(f, y):\n    return f.sum(-1) * float('nan')\n"})
    return folder


@pytest.fixture(scope="module")
def small_run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("small-out") / "out"
    summary = batch.run_batch(small, out, jobs=2, problems=["P3"])
    return out, summary


def test_rerun_grades_only_what_changed(small, small_run, tmp_path):
    first_out, first = small_run
    assert first.graded == 3
    folder = shutil.copytree(small, tmp_path / "submissions")
    out = shutil.copytree(first_out, tmp_path / "out")
    # copies keep the content: nothing to grade
    again = batch.run_batch(folder, out, jobs=2, problems=["P3"])
    assert (again.graded, again.skipped) == (0, 3)
    assert (out / "grades.csv").read_text() == (first_out / "grades.csv").read_text()
    # one file changed: that submission only
    with open(folder / "buggy" / "losses.py", "a") as fh:
        fh.write("\n# a comment changes the content\n")
    before = (out / "correct" / "grading.json").read_bytes()
    again = batch.run_batch(folder, out, jobs=2, problems=["P3"])
    assert (again.graded, again.skipped) == (1, 2)
    assert (out / "correct" / "grading.json").read_bytes() == before
    # another selection of problems: everything
    again = batch.run_batch(folder, out, jobs=2, problems=["P3", "Q7"])
    assert (again.graded, again.skipped) == (3, 0)
    assert "Q7" in next(iter(read_csv(out / "grades.csv").values()))
    # --force: everything again
    again = batch.run_batch(folder, out, jobs=2, problems=["P3", "Q7"], force=True)
    assert (again.graded, again.skipped) == (3, 0)


def test_a_changed_rubric_regrades_everything(small, small_run, tmp_path):
    first_out, _ = small_run
    out = shutil.copytree(first_out, tmp_path / "out")
    changed = tmp_path / "rubric.yaml"
    changed.write_text(HW3.rubric_path.read_text() + "\n# an edit\n")
    again = batch.run_batch(small, out, jobs=2, problems=["P3"], rubric_path=changed)
    assert (again.graded, again.skipped) == (3, 0)
    assert (out / "grades.csv").read_text() == (first_out / "grades.csv").read_text()


def test_grader_failures_are_reported_and_regraded(small, tmp_path, monkeypatch):
    """A grading that fails on our side gives a fallback results.json and is graded again next time."""
    out = tmp_path / "out"
    monkeypatch.setattr(batch.worker, "grade_one", _failing_grade_one)
    summary = batch.run_batch(small, out, jobs=1, problems=["P3"], executor=_InlineExecutor())
    assert (summary.graded, summary.failed) == (3, 3)
    rows = read_csv(out / "grades.csv")
    assert {r["status"] for r in rows.values()} == {"grader_error"}
    data = json.loads((out / "nan" / "results.json").read_text())
    assert data["score"] == 0 and "autograder" in data["output"].lower()
    monkeypatch.undo()
    again = batch.run_batch(small, out, jobs=1, problems=["P3"], executor=_InlineExecutor())
    assert (again.graded, again.failed, again.skipped) == (3, 0, 0)


def test_a_grader_error_in_one_check_is_graded_again(small, tmp_path, monkeypatch):
    """Not only whole failures: a result where one check hit a bug of ours is not kept either."""
    out = tmp_path / "out"
    real = batch.grade_one

    def one_check_broken(*args, **kwargs):
        data = real(*args, **kwargs)
        data["outcomes"][0]["status"] = Status.GRADER_ERROR.value
        return data

    monkeypatch.setattr(batch.worker, "grade_one", one_check_broken)
    batch.run_batch(small, out, jobs=1, problems=["P3"], executor=_InlineExecutor())
    assert {r["status"] for r in read_csv(out / "grades.csv").values()} == {"grader_error"}
    monkeypatch.undo()
    again = batch.run_batch(small, out, jobs=1, problems=["P3"], executor=_InlineExecutor())
    assert (again.graded, again.skipped) == (3, 0)
    assert {r["status"] for r in read_csv(out / "grades.csv").values()} == {"graded"}


def test_naming_every_problem_is_the_same_run_as_naming_none(small, tmp_path):
    rubric = HW3.load_rubric()
    everything = list(rubric.problem_keys)
    assert rubric.parse_problem_keys(everything) is None and rubric.parse_problem_keys([]) is None
    assert batch.fingerprint(small / "correct", rubric, rubric.parse_problem_keys(everything)) == \
        batch.fingerprint(small / "correct", rubric, None)


def _failing_grade_one(path, rubric_path, problems, submission_id, zygote=True):
    raise RuntimeError("a bug in the grader")


class _InlineExecutor:
    """A concurrent.futures executor that runs each call at once, in this process."""

    parallelism = 1

    def submit(self, fn, *args):
        import concurrent.futures as cf

        future = cf.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


KILL_THE_WORKER = """
import os

def _worker():
    pid = os.getppid()  # the worker, or the zygote the worker started
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        if b"grader.zygote" in fh.read():
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
    return pid

os.kill(_worker(), 9)
"""


def test_a_killed_worker_costs_only_its_own_submission(small, tmp_path):
    """Student code that kills the grading worker: that worker is replaced, the grading is done
    again alone, and only the killer gets a grader failure. Without the children's sandbox, which
    would refuse the kill (tests/batch/test_hostile_batch.py has more)."""
    folder = shutil.copytree(small, tmp_path / "submissions")
    write_submission(folder / "killer", replace={"losses": KILL_THE_WORKER})
    out = tmp_path / "out"
    summary = batch.run_batch(folder, out, jobs=2, problems=["P3"], confine=False)
    assert (summary.graded, summary.failed) == (4, 1)
    rows = read_csv(out / "grades.csv")
    assert rows["killer"]["status"] == "grader_error"
    assert "killed by SIGKILL" in json.loads((out / "killer" / "grading.json").read_text())["result"]["grader_failure"]
    assert {rows[s]["status"] for s in ("correct", "buggy", "nan")} == {"graded"}
    assert float(rows["correct"]["total"]) == 6


# ---------------------------------------------------------------- Ctrl-C
def test_ctrl_c_keeps_finished_results_and_a_consistent_csv(tmp_path):
    """Ctrl-C as soon as the first of four submissions is graded (-j 1: one at a time); the next run grades the rest."""
    folder = tmp_path / "submissions"
    total = 4
    for i in range(total):
        copy_example("correct" if i % 2 else "buggy", folder / f"s{i}")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", "batch", str(folder), "-o", str(out), "-j", "1",
               "--problems", "P3", "Q7"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: Ctrl-C goes to all of it
    import psutil

    deadline = time.monotonic() + 300
    while not list(out.glob("*/grading.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no result within 300 s"
        time.sleep(0.2)
    descendants = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted" in stderr
    finished = {p.parent.name for p in out.glob("*/grading.json")}
    rows = read_csv(out / "grades.csv")
    assert set(rows) == finished
    assert 1 <= len(finished) < total
    for row in rows.values():
        assert row["status"] == "graded" and float(row["total"]) > 0
    assert (out / "report.html").is_file()
    assert not list(out.glob("*/.*.tmp")) and not list(out.glob(".*.tmp"))
    time.sleep(1)
    left = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [(p.pid, p.cmdline()) for p in left]
    # and the next run grades the rest only
    rest = batch.run_batch(folder, out, jobs=2, problems=["P3", "Q7"])
    assert (rest.graded, rest.skipped) == (total - len(finished), len(finished))
    assert len(read_csv(out / "grades.csv")) == total


# ---------------------------------------------------------------- the whole rubric
#: The problems whose training (P1, P2) or n = 10^6 (Q2) probes take most of a whole grading's time.
SLOW_PROBLEMS = ("P1", "P2", "Q2")


@pytest.mark.slow
def test_full_rubric_matches_grading_alone(tmp_path, rubric):
    """A batch of the whole rubric (no --problems). examples/buggy is compared whole with grading it alone;
    examples/correct passes every check in the batch, and is compared with grading alone on every problem but
    SLOW_PROBLEMS: buggy's comparison covers their probes and judges (it passes P2 and Q2, and P1 but for one
    check), and grading them alone again would add a third whole grading to the test's time."""
    folder = tmp_path / "submissions"
    copy_example("correct", folder / "correct")
    copy_example("buggy", folder / "buggy")
    out = tmp_path / "out"
    summary = batch.run_batch(folder, out, jobs=2)
    assert (summary.graded, summary.failed) == (2, 0)
    quick = [key for key in rubric.problem_keys if key not in SLOW_PROBLEMS]
    assert_matches_alone(out, batch.discover(folder), rubric, None, partly={"correct": quick})
    correct = json.loads((out / "correct" / "grading.json").read_text())["result"]["outcomes"]
    assert len(correct) == len(rubric.checks) and {o["status"] for o in correct} == {"passed"}
    rows = read_csv(out / "grades.csv")
    assert float(rows["correct"]["total"]) == float(rows["correct"]["max_total"]) == 100
    assert [k for k in rows["correct"] if k in HW3.load_rubric().problem_keys] == \
        sorted({e.problem for e in rubric.checks}, key=HW3.load_rubric().problem_keys.index)
    validate_with_gradescope(sorted(out.glob("*/results.json")))


# ---------------------------------------------------------------- Dask
def test_dask_cluster_gives_the_same_gradebook(small, small_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    local_out, _ = small_run
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        executor = batch.dask_executor(cluster.scheduler_address)
        try:
            summary = batch.run_batch(small, out, problems=["P3"], executor=executor)
        finally:
            executor.shutdown()
    assert (summary.graded, summary.failed) == (3, 0)
    assert (out / "grades.csv").read_text() == (local_out / "grades.csv").read_text()
    for sub in ("correct", "buggy", "nan"):
        ours = json.loads((out / sub / "results.json").read_text())
        theirs = json.loads((local_out / sub / "results.json").read_text())
        assert comparable_results(ours) == comparable_results(theirs)


def test_a_notebook_beside_the_templates_stubs_is_graded_in_a_batch(tmp_path, rubric):
    folder = tmp_path / "submissions" / "beside_stubs"
    folder.mkdir(parents=True)
    for path in (REPO / "student_template").glob("*.py"):
        if path.name != "__init__.py":
            shutil.copy(path, folder / path.name)
    notebook(folder / "hw3.ipynb", ("losses", "convolution"))
    out = tmp_path / "out"
    summary = batch.run_batch(folder.parent, out, jobs=1, problems=["P3", "Q7"])
    assert summary.graded == 1
    row = read_csv(out / "grades.csv")["beside_stubs"]
    for problem in ("P3", "Q7"):
        full = sum(e.points for e in rubric.select({problem}))
        assert float(row[problem]) == pytest.approx(full), (problem, row)
    notes = json.loads((out / "beside_stubs" / "grading.json").read_text())["result"]["notes"]
    assert any(n.startswith("Graded from the notebook hw3.ipynb") for n in notes), notes
