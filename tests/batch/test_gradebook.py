"""The instructor's gradebook (issue 20): hand-graded scores (--manual), one student regraded
(--only), rows of submissions no longer in the folder (kept, or --prune).

Nothing is graded for real here: `grade_one` is replaced by a function that reads each
submission's points from its score.txt, on an executor that runs in this process, so each
case takes a fraction of a second (tests/batch/test_batch.py grades for real).
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from grader import batch
from grader.cli import main as cli_main
from grader.outcome import GradingResult, Outcome, Status
from tests.hw3testing import HW3

METADATA = """\
{folder}:
  :submitters:
  - :name: {name}
    :email: {email}
    :sid: '{sid}'
  :created_at: 2024-03-20 08:00:00.000000000 +00:00
"""
STUDENTS = (("submission_1", "Ada", "Ada@Example.edu", "101", 2.0),
            ("submission_2", "Ben", "ben@example.edu", "102", 1.0),
            ("submission_3", "Cy", "cy@example.edu", "103", 0.0))


def fake_grade_one(path, rubric_path, problems, submission_id, *rest) -> dict:
    """Two visible checks of P3 and a hidden one; P3.a earns what score.txt says."""
    earned = float((Path(path) / "score.txt").read_text())
    outcomes = (Outcome("P3.a", "P3", "first", Status.PASSED if earned == 2 else Status.FAILED, earned, 2.0,
                        "visible", "" if earned == 2 else f"got {earned}, expected 2"),
                Outcome("P3.b", "P3", "second", Status.PASSED, 1.0, 1.0, "visible", ""),
                Outcome("P3.secret", "P3", "hidden one", Status.FAILED, 0.0, 3.0, "hidden",
                        "This hidden check failed.", detail="on input [7, 7, 7] got 5, expected 21"))
    return GradingResult(outcomes, submission_id=submission_id).to_dict()


class InlineExecutor:
    parallelism = 1

    def submit(self, fn, *args):
        import concurrent.futures as cf

        future = cf.Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


@pytest.fixture(autouse=True)
def _fake_grading(monkeypatch):
    monkeypatch.setattr(batch.worker, "grade_one", fake_grade_one)
    real = batch.run.run_batch

    def run(folder, out, **kw):
        return real(folder, out, **{**kw, "executor": InlineExecutor()})

    monkeypatch.setattr(batch.run, "run_batch", run)   # the command line calls it there


def make_class(root: Path, students=STUDENTS) -> Path:
    root.mkdir(parents=True)
    meta = []
    for folder, name, email, sid, earned in students:
        (root / folder).mkdir()
        (root / folder / "score.txt").write_text(f"{earned}")
        meta.append(METADATA.format(folder=folder, name=name, email=email, sid=sid))
    (root / "submission_metadata.yml").write_text("".join(meta))
    return root


def run_cli(*args) -> int:
    return cli_main(["batch", *map(str, args), "--no-progress"])


def grades(out: Path) -> dict[str, dict]:
    return {r["submission_id"]: r for r in csv.DictReader((out / "grades.csv").open())}


def snapshot(out: Path) -> dict[str, str]:
    """Every file of OUT and its bytes' hash."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------- --manual
@pytest.fixture
def graded_class(tmp_path):
    folder = make_class(tmp_path / "class")
    out = tmp_path / "out"
    assert run_cli(folder, "-o", out) == 0
    return folder, out


def test_hand_graded_scores_join_the_gradebook(graded_class, tmp_path):
    folder, out = graded_class
    scores = write_csv(tmp_path / "scores.csv", "email,P3.proof,P2.discussion\n"
                                                "ada@example.edu,8,5\nBEN@example.edu,2.5,\n")
    before = grades(out)
    assert run_cli(folder, "-o", out, "--manual", scores) == 0
    rows = grades(out)
    assert rows["submission_1"]["P3.proof"] == "8" and rows["submission_1"]["P2.discussion"] == "5"
    assert float(rows["submission_1"]["total"]) == float(before["submission_1"]["total"]) + 13
    every_part = sum(p.points for p in HW3.load_rubric().manual)         # possible, given or not
    assert float(rows["submission_1"]["max_total"]) == float(before["submission_1"]["max_total"]) + every_part
    assert float(rows["submission_1"]["P3"]) == float(before["submission_1"]["P3"]) + 8    # under its problem
    assert rows["submission_1"]["P2"] == "5"
    missing = rows["submission_2"]["manual_missing"].split()
    assert rows["submission_2"]["P2.discussion"] == "" and "P2.discussion" in missing and "P3.proof" not in missing
    assert rows["submission_3"]["P3.proof"] == "" and float(rows["submission_3"]["total"]) == \
        float(before["submission_3"]["total"])                                       # missing, not 0
    report = (out / "report.html").read_text()
    assert "lack hand-graded scores" in report and "submission_3" in report.split("lack hand-graded")[1]
    # kept in OUT: a rerun without --manual still has them
    assert run_cli(folder, "-o", out) == 0
    assert grades(out) == rows


def test_keys_by_submission_id_and_sid(graded_class, tmp_path):
    folder, out = graded_class
    assert run_cli(folder, "-o", out, "--manual", write_csv(tmp_path / "a.csv", "sid,P3.proof\n102,4\n")) == 0
    assert grades(out)["submission_2"]["P3.proof"] == "4"
    assert run_cli(folder, "-o", out, "--manual",
                   write_csv(tmp_path / "b.csv", "submission_id,name,P3.proof\nsubmission_3,Cy,10\n")) == 0
    rows = grades(out)
    assert rows["submission_3"]["P3.proof"] == "10" and rows["submission_2"]["P3.proof"] == ""   # replaced whole


BAD_FILES = {
    "no id column": ("student,P3.proof\nada,3\n", "row 1", "submission_id, email, sid"),
    "unknown part": ("email,P3.prooof\nada@example.edu,3\n", "row 1", "'P3.prooof'"),
    "above the points": ("email,P3.proof\nada@example.edu,3\nben@example.edu,10.5\n", "row 3", "'P3.proof'"),
    "below 0": ("email,P3.proof\nada@example.edu,-1\n", "row 2", "below 0"),
    "not a number": ("email,P3.proof\nada@example.edu,ten\n", "row 2", "not a number"),
    "not finite": ("email,P3.proof\nada@example.edu,nan\n", "row 2", "not a number"),
    "unknown student": ("email,P3.proof\nada@example.edu,3\nzed@example.edu,3\n", "row 3", "no student"),
    "a student twice": ("email,P3.proof\nada@example.edu,3\nADA@example.edu,4\n", "row 3", "already has row 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_stops_with_exit_2_before_out_changes(graded_class, tmp_path, capsys, case):
    folder, out = graded_class
    text, row, detail = BAD_FILES[case]
    (folder / "submission_2" / "score.txt").write_text("2")        # would be regraded
    before = snapshot(out)
    capsys.readouterr()
    assert run_cli(folder, "-o", out, "--manual", write_csv(tmp_path / "bad.csv", text)) == 2
    err = capsys.readouterr().err
    assert row in err and detail in err and "Traceback" not in err
    assert snapshot(out) == before


# ---------------------------------------------------------------- --only, kept rows, --prune
def test_only_regrades_those_and_keeps_every_other_row_byte_for_byte(graded_class):
    folder, out = graded_class
    lines = (out / "grades.csv").read_text().splitlines()
    others = {sid: (out / sid / "grading.json").read_bytes() for sid in ("submission_1", "submission_3")}
    (folder / "submission_1" / "score.txt").write_text("0")       # changed, but not asked for
    (folder / "submission_2" / "score.txt").write_text("2")
    assert run_cli(folder, "-o", out, "--only", "submission_2") == 0
    after = (out / "grades.csv").read_text().splitlines()
    def without_2(rows: list[str]) -> list[str]:
        return [line for line in rows if "submission_2" not in line]

    assert without_2(after) == without_2(lines)
    assert grades(out)["submission_2"]["P3"] == "3"
    assert {sid: (out / sid / "grading.json").read_bytes() for sid in others} == others
    report = (out / "report.html").read_text()
    assert all(sid in report for sid in ("submission_1", "submission_2", "submission_3"))


def test_only_an_unknown_id_exits_2(graded_class, capsys):
    folder, out = graded_class
    before = snapshot(out)
    assert run_cli(folder, "-o", out, "--only", "submission_9") == 2
    assert "submission_9" in capsys.readouterr().err and snapshot(out) == before


def test_rows_of_submissions_no_longer_in_the_folder_are_kept_unless_pruned(graded_class, tmp_path, capsys):
    folder, out = graded_class
    lines = (out / "grades.csv").read_text()
    smaller = make_class(tmp_path / "smaller", STUDENTS[:2])
    capsys.readouterr()
    assert run_cli(smaller, "-o", out) == 0
    assert (out / "grades.csv").read_text() == lines
    assert "kept 1 row(s)" in capsys.readouterr().out
    assert "not in this folder" in (out / "report.html").read_text()
    assert run_cli(smaller, "-o", out, "--prune") == 0
    assert set(grades(out)) == {"submission_1", "submission_2"} and not (out / "submission_3").exists()


# ---------------------------------------------------------------- export to an LMS
CANVAS_EXPORT = """\
Student,ID,SIS User ID,SIS Login ID,Section,Homework 2 (1111),Homework 3 (2222),Current Score,Final Score
    Points Possible,,,,,50.00,100.00,(read only),(read only)
"Lovelace, Ada",11,101,ada@example.edu,Section A,45.00,,80.00,80.00
"Bee, Ben",12,,BEN@example.edu,Section A,40.00,3.00,70.00,70.00
"Sea, Cy",13,103,cy-login,Section B,30.00,,50.00,50.00
"Extra, Dee",14,104,dee@example.edu,Section B,20.00,5.00,40.00,40.00
"Student, Test",15,,,,,,,
"""


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_upload_changes_exactly_the_graded_students_cells(tmp_path, capsys):
    folder = make_class(tmp_path / "class", STUDENTS + (("submission_4", "Eve", "eve@example.edu", "105", 2.0),))
    out = tmp_path / "out"
    assert run_cli(folder, "-o", out) == 0
    export = write_csv(tmp_path / "export.csv", CANVAS_EXPORT)
    capsys.readouterr()
    assert cli_main(["export", "canvas", str(out), "--gradebook", str(export), "-o", str(tmp_path / "up.csv")]) == 0
    printed = capsys.readouterr().out
    before, after = cells(CANVAS_EXPORT), cells((tmp_path / "up.csv").read_text())
    totals = {r["emails"].lower(): r["total"] for r in grades(out).values()}
    changed = {(i, j): after[i][j] for i in range(len(before)) for j in range(len(before[i]))
               if before[i][j] != after[i][j]}
    column = before[0].index("Homework 3 (2222)")
    assert changed == {(2, column): totals["ada@example.edu"], (3, column): totals["ben@example.edu"],
                       (4, column): totals["cy@example.edu"]}                 # by email, email, SIS User ID
    assert [len(r) for r in after] == [len(r) for r in before]
    assert "Extra, Dee" in printed and "Student, Test" in printed            # in Canvas without a grade
    assert "submission_4" in printed.split("not in Canvas")[1]               # graded, not in Canvas
    # another column by name, and a name that is no column
    assert cli_main(["export", "canvas", str(out), "--gradebook", str(export), "-o", str(tmp_path / "h2.csv"),
                     "--column", "homework 2"]) == 0
    assert cells((tmp_path / "h2.csv").read_text())[2][column - 1] == totals["ada@example.edu"]
    assert cli_main(["export", "canvas", str(out), "--gradebook", str(export), "-o", str(tmp_path / "x.csv"),
                     "--column", "Homework 9"]) == 2
    assert "Homework 3 (2222)" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


def test_plain_csv_lists_each_student_and_score(graded_class, tmp_path):
    _, out = graded_class
    target = tmp_path / "lms.csv"
    assert cli_main(["export", "csv", str(out), "-o", str(target)]) == 0
    rows = cells(target.read_text())
    assert rows[0] == ["student", "score"]
    assert sorted(rows[1:]) == sorted([r["emails"], r["total"]] for r in grades(out).values())


# ---------------------------------------------------------------- feedback.html
def test_feedback_shows_what_gradescope_shows_and_the_hand_graded_scores(graded_class, tmp_path):
    folder, out = graded_class
    assert run_cli(folder, "-o", out, "--manual",
                   write_csv(tmp_path / "s.csv", "email,P3.proof\nben@example.edu,7\n")) == 0
    for sid in ("submission_1", "submission_2", "submission_3"):
        page = (out / sid / "feedback.html").read_text()
        assert "This hidden check failed." not in page and "[7, 7, 7]" not in page and "expected 21" not in page
        assert "hidden one" not in page                                   # no title of a hidden check either
        assert "1 hidden check(s), worth 3 points" in page
        assert "src=\"http" not in page and "<script" not in page         # self-contained, nothing runs
    ben = (out / "submission_2" / "feedback.html").read_text()
    assert "got 1.0, expected 2" in ben                                   # a visible failure, explained
    assert "(a) 0 &lt; CE &lt; inf" in ben and "<td class=\"n\">7</td>" in ben
    assert "not graded yet" in ben                                        # the parts not merged
    assert "Total: <b>9 / " in ben                                        # 1 + 1 + 7, hidden 0


def test_feedback_renders_in_a_headless_browser(graded_class, tmp_path):
    from tests.batch.test_batch import _chromium

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium: apt-get install -y chromium (the CI script does it when run as root)")
    _, out = graded_class
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,900", f"--screenshot={shot}",
               (out / "submission_2" / "feedback.html").as_uri()]
    import subprocess

    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-3000:]
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    inked = (pixels.min(axis=2) < 0.6).mean()                             # text and table lines
    red = ((pixels[..., 0] > 0.5) & (pixels[..., 1] < 0.2)).sum()         # the failed check's "failed"
    assert inked > 0.01 and red > 20, (inked, red)


def test_feedback_shows_the_plots_a_visible_check_decoded_and_none_of_a_hidden_one(tmp_path):
    """P1.plot_fit decodes the student's PNG; the page shows it, embedded. A hidden check's figure is never kept."""
    import base64
    import io as _io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from grader.report.feedback import write_feedback
    from grader.report.gradebook import BatchRow

    buffer = _io.BytesIO()
    Figure(figsize=(2, 2)).savefig(buffer, format="png")
    drawn = base64.b64encode(buffer.getvalue()).decode()
    outcomes = (Outcome("P1.plot_fit", "P1", "plot_fit writes a PNG", Status.PASSED, 1.0, 1.0, "visible", figure=drawn),
                Outcome("P1.secret", "P1", "a hidden one", Status.PASSED, 1.0, 1.0, "hidden", figure="c2VjcmV0"))
    row = BatchRow("alice", (), GradingResult(outcomes))
    page = write_feedback(row, tmp_path / "feedback.html", "Homework 3").read_text()
    assert f'src="data:image/png;base64,{drawn}"' in page and "<h2>Your plots</h2>" in page
    assert "c2VjcmV0" not in page and "a hidden one" not in page


def test_the_plot_check_keeps_the_png_it_decoded(tmp_path):
    """Judged on the reference's plot_fit: the outcome carries the very PNG the child wrote (visible check)."""
    from tests.hw3testing import grade_checks, write_submission

    rubric = HW3.load_rubric()
    outcome = grade_checks(write_submission(tmp_path / "ref"), rubric, ["P1.plot_fit"])["P1.plot_fit"]
    assert outcome.status is Status.PASSED
    import base64

    assert base64.b64decode(outcome.figure).startswith(b"\x89PNG\r\n\x1a\n")
