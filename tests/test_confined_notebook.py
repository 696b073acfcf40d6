"""The trusted side never parses a notebook without a bound (issue 17).

A notebook is read and converted in a confined child (grader/confined_notebook.py), only when it
can supply something, and linearly in its size. The measured attacks: half a million `a = 1` in
one 3.5 MB cell (the grader was OOM-killed), 30,000 distinct constants (quadratic conversion:
no results in 420 s), 11.5 million empty cells in 33 MB (24 bytes kept per byte read), and a
notebook beside complete modules (converted for nothing).
"""
from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import confined_notebook, notebook, submission
from grader.notebook import reader, slicer
from grader.confined_notebook import ConversionFailed, Converted, Limits, NotebookRefused, convert
from grader.submission import locate
from tests import notebook_shapes
from tests.hw3testing import write_submission
from tests.hw3testing import HW3

ROOT = Path(__file__).resolve().parents[1]
TOO_LARGE = "The notebook could not be read: your notebook hw3.ipynb is too large to read within the grader's limits"


def test_half_a_million_statements_are_refused_in_the_child_and_the_modules_still_count(tmp_path):
    sub = write_submission(tmp_path / "s", drop=("losses",))
    notebook_shapes.statements(sub / "hw3.ipynb", 3_500_000)
    located = locate(sub, tmp_path / "scratch", HW3)
    assert located.notebook is None
    assert set(located.modules) == set(HW3.modules) - {"losses"}
    refusal = next(n for n in located.notes if n.startswith(TOO_LARGE))
    assert "Clear its outputs" in refusal and "autograder" not in refusal


def test_thirty_thousand_constants_convert_in_the_child(tmp_path):
    path = notebook_shapes.constants(tmp_path / "hw3.ipynb", 650_000)
    converted = convert([path], tmp_path / "m.py", HW3)
    assert converted.chosen == 0
    text = (tmp_path / "m.py").read_text()
    assert "c0 = 0" in text and "c29999 = 29999" in text


def _calls(source_lines: int) -> int:
    """Python-level calls made converting one cell of `source_lines` distinct constants."""
    cell = "".join(f"c{i} = {i}\n" for i in range(source_lines))
    path = Path(f"/tmp/hw3grade-calls-{source_lines}.ipynb")
    path.write_text(json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": cell}]}))
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        notebook.module_text(path, HW3.modules, HW3.constants)
    finally:
        sys.setprofile(None)
        path.unlink()
    return count


def test_converting_is_linear_in_the_statements():
    # the deep copy of the scope before every statement made this ratio grow with n (about n/1000)
    small, large = _calls(1000), _calls(4000)
    assert large < 4.4 * small, (small, large)


def test_a_long_chain_of_constants_is_followed_once():
    cell = "x0 = 0\n" + "".join(f"x{i} = x{i - 1} + 1\n" for i in range(1, 3000)) + "def f():\n    return x2999\n"
    needs = slicer._analyse([ast.parse(cell)], frozenset())
    assert {"x0", "x1500", "x2999"} <= needs.names
    assert needs.readers["x0"] == {"x1"}


PEAK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from grader.notebook import NotebookError, read_code_cells

    def hwm():
        return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))

    before = hwm()
    try:
        read_code_cells(Path(sys.argv[1]))
        message = ""
    except NotebookError as exc:
        message = str(exc)
    print(json.dumps({"added_mb": hwm() - before, "message": message}))
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_millions_of_empty_cells_cost_no_memory_and_are_refused(tmp_path):
    path = notebook_shapes.empty_cells(tmp_path / "hw3.ipynb", 33 * 2**20)
    done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    report = json.loads(done.stdout)
    assert report["message"].startswith("hw3.ipynb has more than 20,000 cells")
    assert report["added_mb"] < 16, report      # it kept 24 bytes per byte read: 800 MB


def test_cells_under_the_cap_keep_nothing_but_code(tmp_path):
    path = tmp_path / "hw3.ipynb"
    cells = [{}] * 5000 + [{"cell_type": "markdown", "source": "# x"}] * 5000 + [{"cell_type": "code", "source": "x=1"}]
    path.write_text(json.dumps({"nbformat": 4, "cells": cells}))
    with open(path, "rb") as fh:
        code, worksheets, not_object = reader._scan(fh, path.name)
    assert len(code) == 1 and worksheets is None and not not_object


def test_line_numbers_stay_right_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "_CHUNK", 7)
    path = tmp_path / "hw3.ipynb"
    path.write_text('{"nbformat": 4,\n "cells": [\n{"cell_type": "code",\n "source": "x = 1"},\n'
                    '{"cell_type": "code",\n\n "source": "\\\\\\\\\\\\"\n, "outputs": [}]}')
    with pytest.raises(notebook.NotebookError, match=r"line 8"):
        notebook.read_code_cells(path)


# ---------------------------------------------------------------- only when it can supply something

def _spy(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(submission, "convert", lambda notebooks, out, assignment: calls.append(notebooks) or Converted(0, (), ()))
    return calls


def test_a_notebook_beside_complete_modules_is_not_read(tmp_path, monkeypatch):
    calls = _spy(monkeypatch)
    sub = write_submission(tmp_path / "s")
    notebook_shapes.statements(sub / "hw3.ipynb", 100_000)
    located = locate(sub, tmp_path / "scratch", HW3)
    assert calls == [] and located.notebook is None
    assert "hw3.ipynb was not read: your .py modules define everything the assignment asks for." in located.notes


@pytest.mark.parametrize("change", ["stub", "deleted", "missing"])
def test_a_notebook_is_read_when_a_module_lacks_something(tmp_path, monkeypatch, change):
    calls = _spy(monkeypatch)
    if change == "missing":
        sub = write_submission(tmp_path / "s", drop=("softmax",))
    else:
        body = ("def cross_entropy(f, y):\n    raise NotImplementedError\n" if change == "stub"
                else "def ce_scaled_onehot(*args):\n    return 0\n")
        sub = write_submission(tmp_path / "s", replace={"losses": body})
    (sub / "hw3.ipynb").write_text(json.dumps({"nbformat": 4, "cells": []}))
    locate(sub, tmp_path / "scratch", HW3)
    assert len(calls) == 1


def test_the_word_scan_sees_words_across_its_chunks(tmp_path):
    path = tmp_path / "losses.py"
    path.write_bytes(b"#" * ((1 << 20) - 5) + b" NotImplementedError\n")
    assert not confined_notebook._mentions_all(path, set())
    path.write_bytes(b"#" * ((1 << 20) - 5) + b" cross_entropy = 1\n")
    assert confined_notebook._mentions_all(path, {"cross_entropy"})
    assert not confined_notebook._mentions_all(path, {"cross_entropy", "ce_scaled_onehot"})
    path.write_bytes(b"my_cross_entropy = 1\n")
    assert not confined_notebook._mentions_all(path, {"cross_entropy"})


# ---------------------------------------------------------------- the child's limits and answer

def test_a_notebook_that_takes_too_long_is_refused(tmp_path):
    path = notebook_shapes.constants(tmp_path / "hw3.ipynb", 650_000)
    with pytest.raises(NotebookRefused, match=r"^your notebook hw3.ipynb took too long to read \(more than 40 s\)"):
        convert([path], tmp_path / "m.py", HW3, Limits(wall_seconds=0.5))
    assert not (tmp_path / "m.py").exists()


def test_an_answer_over_its_bound_is_refused_unread(tmp_path):
    path = notebook_shapes.constants(tmp_path / "hw3.ipynb", 100_000)
    with pytest.raises(NotebookRefused, match="too large"):
        convert([path], tmp_path / "m.py", HW3, Limits(answer_bytes=10_000))


def test_the_parents_caps_reach_the_child(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_CELLS", 3)
    path = tmp_path / "hw3.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1"}] * 4}))
    with pytest.raises(NotebookRefused, match="more than 3 cells"):
        convert([path], tmp_path / "m.py", HW3)


def test_among_several_the_child_chooses_the_one_defining_most(tmp_path):
    paths = []
    for name, cells in (("a.ipynb", ["def f():\n    pass\n"]), ("b.ipynb", ["def f():\n    pass\n", "class C:\n    pass\n"]),
                        ("c.ipynb", ["{"])):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": c} for c in cells]}))
    paths.append(tmp_path / "d.ipynb")
    paths[-1].write_text("not json")
    converted = convert(paths, tmp_path / "m.py", HW3)
    assert converted.chosen == 1 and converted.definitions == (1, 2, 0, -1)
    assert "class C" in (tmp_path / "m.py").read_text()


@pytest.mark.parametrize("answer, problem", [
    (b'{"chosen": 0, "definitions": [], "notes": []}', "no header"),
    (b'{"chosen": 3, "definitions": [], "notes": []}\n', "bad choice"),
    (b'{"chosen": 0, "definitions": [1, 2], "notes": []}\n', "bad counts"),
    (b'{"chosen": 0, "definitions": [], "notes": [1]}\n', "bad notes"),
    (b'{"chosen": 0, "definitions": [], "notes": ["' + b"x" * 30_000 + b'"]}\n', "bad notes"),
    (b'{"chosen": 0, "definitions": [], "notes": []}\n\xff\xfe', "utf-8"),
    (b'[' * 100_000 + b'\n', "unreadable"),
    (b'{"bug": 3}\n', "bad message"),
])
def test_a_malformed_answer_is_the_graders_failure(answer, problem):
    with pytest.raises(ConversionFailed, match=problem):
        confined_notebook._validated(answer, 1)


def test_a_child_killed_by_the_system_is_a_notebook_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(confined_notebook, "_run_child", lambda request, limits: (-signal.SIGKILL, b"", b""))
    with pytest.raises(NotebookRefused, match="too large"):
        convert([tmp_path / "hw3.ipynb"], tmp_path / "m.py", HW3)


def test_the_child_cannot_write_files(tmp_path):
    """The child's own limits (no file written) hold: a child told to write one fails, as a bug of ours."""
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from grader import confined_notebook
        def write_instead(notebooks):
            notebooks[0].with_suffix(".planted").write_text("x")
        confined_notebook._choose_and_convert = write_instead
        confined_notebook.main()
    """)
    nb = tmp_path / "hw3.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "cells": []}))
    request = {"notebooks": [str(nb)], "modules": list(HW3.modules), "constants": sorted(HW3.constants), "memory_mb": 64,
               "cpu_seconds": 5, "caps": {}}
    done = subprocess.run([sys.executable, "-I", "-c", script], input=json.dumps(request).encode(),
                          capture_output=True, timeout=120)
    header = json.loads(done.stdout.partition(b"\n")[0])
    assert "bug" in header and not (tmp_path / "hw3.planted").exists()


@pytest.mark.skipif(not confined_notebook.sys.platform.startswith("linux"), reason="Landlock is Linux's")
def test_the_child_reads_nothing_of_the_grader_beyond_the_notebooks(tmp_path):
    from grader.probes import landlock

    if landlock.abi_version() < 1:
        pytest.skip("this kernel has no Landlock")
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from grader import confined_notebook
        def read_the_reference(notebooks, *contract):
            return {{"secret": open({str(ROOT / "reference" / "losses.py")!r}).read()[:10]}}, ""
        confined_notebook._choose_and_convert = read_the_reference
        confined_notebook.main()
    """)
    nb = tmp_path / "hw3.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "cells": []}))
    request = {"notebooks": [str(nb)], "modules": list(HW3.modules), "constants": sorted(HW3.constants), "memory_mb": 64,
               "cpu_seconds": 5, "caps": {}}
    done = subprocess.run([sys.executable, "-I", "-c", script], input=json.dumps(request).encode(),
                          capture_output=True, timeout=120)
    header = json.loads(done.stdout.partition(b"\n")[0])
    assert header.get("bug", "").startswith("PermissionError"), header


def test_a_notebook_is_read_when_a_module_leaves_an_answer_as_the_template_does(tmp_path, monkeypatch):
    """`Q7 = None` is the template's placeholder: the notebook may hold the answer (a `None` elsewhere does not count)."""
    calls = _spy(monkeypatch)
    sub = write_submission(tmp_path / "s", patch={"convolution": "\nQ7 = None\n"})
    (sub / "hw3.ipynb").write_text(json.dumps({"nbformat": 4, "cells": []}))
    locate(sub, tmp_path / "scratch", HW3)
    assert len(calls) == 1
