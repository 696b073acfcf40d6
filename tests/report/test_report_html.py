"""The batch HTML report: self-contained, escaped, and carrying each section."""
from __future__ import annotations

import base64
import re

import pytest

from grader.outcome import GradingResult, Status
from grader.report.gradebook import BatchRow
from grader.report.html import write_report

_DATA_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture
def rows(make_outcome, full_result):
    def result(seconds, *statuses):
        return GradingResult(outcomes=tuple(
            make_outcome("P1", f"check {i} costs $5", s, message="expected 3, got 4\nmore")
            for i, s in enumerate(statuses)), execution_time=seconds)

    evil = {"name": "<script>alert('x')</script>", "email": "e@example.edu", "sid": "1"}
    return [
        BatchRow("sub-a", (evil,), result(3.0, Status.PASSED, Status.FAILED)),
        BatchRow("sub-b", ({"name": "Bob"},), result(9.5, Status.FAILED, Status.FAILED)),
        BatchRow("sub-c", ({"name": "Cy"},), result(float("nan"), Status.PASSED, Status.PASSED)),
        BatchRow("<sub-d>", ({"name": "Dee"},), full_result),
    ]


@pytest.fixture
def page(rows, tmp_path):
    path = write_report(rows, tmp_path / "report" / "index.html", timings={"wall time": 61.25})
    return path.read_text("utf-8")


def test_plots_are_inline_pngs(page):
    images = _DATA_PNG.findall(page)
    assert len(images) == 2  # histogram and pass rates
    assert all(base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n") for img in images)


def test_no_external_reference(page):
    text = _DATA_PNG.sub("", page).lower()  # base64 may spell anything by chance
    assert "http" not in text and "//" not in text and "url(" not in text
    assert "<script" not in text and "<link" not in text


def test_student_text_is_escaped(page):
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;sub-d&gt;" in page


def test_summary_numbers(page):
    # totals: sub-a 2, sub-b 0, sub-c 4, <sub-d> 4.5
    for label, value in [("submissions", "4"), ("mean", "2.62"), ("median", "3"), ("max", "4.5"),
                         ("points possible", "15"), ("with grader errors", "1")]:
        assert f'<th>{label}</th><td class="n">{value}</td>' in page


def test_common_failures_are_counted(page):
    assert ('<tr><td class="n">2</td><td>P1 check 1 costs $5</td><td>FAILED</td>'
            "<td>expected 3, got 4</td></tr>") in page
    # the first row of the table is the most common failure
    first = page.split("<th>message (first line)</th></tr>")[1]
    assert first.startswith('<tr><td class="n">2</td>')


def test_slowest_submissions_in_order(page):
    section = page.split("<h2>Slowest submissions</h2>")[1].split("</table>")[0]
    ids = re.findall(r"<tr><td>([^<]*)</td>", section)
    assert ids == ["&lt;sub-d&gt;", "sub-b", "sub-a", "sub-c"]  # NaN seconds count as 0
    assert "nan" not in section.lower()


def test_timings(page):
    assert '<th>wall time</th><td class="n">61.2 s</td>' in page


def test_empty_batch(tmp_path):
    page = write_report([], tmp_path / "r.html").read_text("utf-8")
    assert "No submissions." in page and '<td class="n">0</td>' in page
