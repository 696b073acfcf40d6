"""grader.submission.locate: which file is which module, in whatever a student uploaded."""
from __future__ import annotations

import io
import json
import os
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import submission
from grader.submission import Located, SubmissionError, locate
from tests.hw3testing import MODULES, unfilled_fields, watch_notes
from tests.hw3testing import HW3


@pytest.fixture(autouse=True)
def _no_unfilled_field_in_any_note(monkeypatch):
    watch_notes(monkeypatch, sys.modules[__name__])


def touch(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def notebook_json(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                  "execution_count": None} for c in cells]})


def all_modules(root: Path, folder: str = "") -> None:
    for m in MODULES:
        touch(root, f"{folder}{m}.py", f"# {m}\n")


def rel(located: Located, name: str) -> str:
    return located.modules[name].relative_to(located.root).as_posix()


def joined(located: Located) -> str:
    return "\n".join(located.notes)


# ---------------------------------------------------------------- folders

def test_flat_folder_with_all_modules(tmp_path):
    sub = tmp_path / "sub"
    all_modules(sub)
    located = locate(sub, tmp_path / "scratch", HW3)
    assert set(located.modules) == set(MODULES)
    assert all(p.is_absolute() and p.is_file() for p in located.modules.values())
    assert located.notebook is None
    assert located.notes == ("Found all seven modules.",)
    assert (tmp_path / "scratch").is_dir()


def test_nested_layout_and_macosx_are_handled(tmp_path):
    sub = tmp_path / "upload"
    all_modules(sub, "My HW3/code/")
    # Mac metadata: shallower copies that must never be used
    touch(sub, "__MACOSX/losses.py", "\x00\x05\x16\x07 binary")
    touch(sub, "__MACOSX/My HW3/code/._losses.py", "\x00")
    touch(sub, "My HW3/code/._softmax.py", "\x00")
    touch(sub, "My HW3/.ipynb_checkpoints/softmax-checkpoint.py")
    touch(sub, ".hidden/convolution.py")
    touch(sub, "My HW3/code/__pycache__/gradients.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert {m: rel(located, m) for m in MODULES} == {m: f"My HW3/code/{m}.py" for m in MODULES}
    assert any("__MACOSX" in n for n in located.notes)
    assert "Found all seven modules (in My HW3/code)." in located.notes


def test_virtualenv_and_site_packages_are_ignored(tmp_path):
    sub = tmp_path / "s"
    all_modules(sub, "hw/")
    touch(sub, "env/pyvenv.cfg", "home = /usr\n")
    touch(sub, "env/losses.py")            # shallower than hw/losses.py, but inside a virtualenv
    touch(sub, "lib/site-packages/softmax.py")
    touch(sub, "conda/conda-meta/history")
    touch(sub, "conda/activations.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert rel(located, "losses") == "hw/losses.py"
    assert rel(located, "softmax") == "hw/softmax.py"
    assert rel(located, "activations") == "hw/activations.py"
    note = next(n for n in located.notes if n.startswith("Ignored") and "installed packages" in n)
    assert "env/" in note and "lib/site-packages/" in note and "conda/" in note


def test_several_candidates_prefer_shallowest_then_alphabetical(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "old/deeper/losses.py")
    touch(sub, "b/losses.py")
    touch(sub, "a/losses.py")
    touch(sub, "z/softmax.py")
    touch(sub, "a/b/softmax.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert rel(located, "losses") == "a/losses.py"
    assert rel(located, "softmax") == "z/softmax.py"
    note = next(n for n in located.notes if n.startswith("Found 3 files named losses.py"))
    assert "used a/losses.py" in note and "ignored b/losses.py, old/deeper/losses.py" in note
    assert any(n.startswith("Found 2 files named softmax.py: used z/softmax.py") for n in located.notes)


def test_case_variant_only_for_threelayerSGD(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "ThreeLayerSGD.py")
    touch(sub, "Losses.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert rel(located, "threelayerSGD") == "ThreeLayerSGD.py"
    assert "losses" not in located.modules
    text = joined(located)
    assert "Used ThreeLayerSGD.py as threelayerSGD.py" in text
    assert "Losses.py looks like losses.py" in text
    assert "losses.py was not found" in text and "Problem 3" in text


def test_exact_name_beats_a_shallower_case_variant(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "threelayersgd.py")
    touch(sub, "hw/threelayerSGD.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert rel(located, "threelayerSGD") == "hw/threelayerSGD.py"


def test_missing_modules_get_one_note_each_naming_their_problems(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "losses.py")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert list(located.modules) == ["losses"]
    text = joined(located)
    assert "Found 1 of the seven modules." in located.notes
    for m in MODULES:
        if m != "losses":
            assert f"{m}.py was not found" in text
    assert "score 0" in text and "Questions 6-8" in text
    assert "Problems 5, 7 and Questions 1, 4" in text   # activations.py: from the checks that call into it


def test_symlink_outside_root_is_ignored_and_inside_is_used(tmp_path):
    outside = touch(tmp_path, "secret/losses.py", "SECRET = 1\n")
    sub = tmp_path / "s"
    touch(sub, "real/softmax.py")
    (sub / "losses.py").symlink_to(outside)
    (sub / "gradients.py").symlink_to(sub / "real" / "softmax.py")
    (sub / "escape").symlink_to(tmp_path / "secret", target_is_directory=True)
    (sub / "loop").symlink_to(sub, target_is_directory=True)
    located = locate(sub, tmp_path / "scratch", HW3)
    assert "losses" not in located.modules
    assert rel(located, "gradients") == "gradients.py"
    assert rel(located, "softmax") == "real/softmax.py"
    note = next(n for n in located.notes if "outside your submission" in n)
    assert "losses.py" in note and "escape" in note


def test_empty_folder_is_not_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    located = locate(tmp_path / "empty", tmp_path / "scratch", HW3)
    assert located.modules == {} and located.notebook is None
    assert located.notes == ("Nothing gradeable was found in the submission: none of the seven modules "
                             "(threelayerSGD.py, losses.py, activations.py, gradients.py, softmax.py, interpolation.py, "
                             "convolution.py) and no notebook, so every check scores 0.",)


def test_unfilled_fields_are_found_and_code_in_a_note_is_not_one():
    assert unfilled_fields(["none of {_all_modules()} (a.py)", "cell {cell}", "{name!r}", "{a.b}"]) == [
        "{_all_modules()}", "{cell}", "{name!r}", "{a.b}"]
    assert unfilled_fields(["(d = {'k': 1}, s = {x, y}, {k: v for k in d}, f'{x + 1}')"]) == []


def test_missing_path_raises_naming_it(tmp_path):
    with pytest.raises(SubmissionError, match="nope.zip"):
        locate(tmp_path / "nope.zip", tmp_path / "scratch", HW3)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(SubmissionError, match="dangling"):
        locate(tmp_path / "dangling", tmp_path / "scratch", HW3)


def test_shadowing_packages_get_one_note(tmp_path):
    sub = tmp_path / "s"
    all_modules(sub, "hw/")
    for name in ("numpy", "torch", "matplotlib", "helpers", "random"):
        touch(sub, f"hw/{name}.py")
    touch(sub, "elsewhere/math.py")  # not next to a module: not listed
    located = locate(sub, tmp_path / "scratch", HW3)
    notes = [n for n in located.notes if "named like installed" in n]
    assert len(notes) == 1
    note = notes[0]
    for name in ("hw/numpy.py", "hw/torch.py", "hw/matplotlib.py", "hw/random.py"):
        assert name in note
    assert "helpers.py" not in note and "math.py" not in note
    assert "never these files" in note
    assert rel(located, "losses") == "hw/losses.py"


def test_a_file_of_the_submission_is_not_an_installed_package(tmp_path, monkeypatch):
    sub = tmp_path / "s"
    all_modules(sub)
    touch(sub, "my_helpers_7f3a.py")
    monkeypatch.syspath_prepend(str(sub))   # as if the grader ran from inside the submission
    located = locate(sub, tmp_path / "scratch", HW3)
    assert not any("named like installed" in n for n in located.notes)


# ---------------------------------------------------------------- notebooks in folders

def test_notebook_with_modules_both_located(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "losses.py")
    touch(sub, "hw3.ipynb", notebook_json("def cross_entropy(f, y):\n    return 0\n", "for i in range(3):\n    pass\n"))
    touch(sub, "scratch.ipynb", notebook_json("x = 1\n"))
    touch(sub, ".ipynb_checkpoints/hw3-checkpoint.ipynb", notebook_json("def a():\n    pass\n" * 5))
    located = locate(sub, tmp_path / "scratch", HW3)
    assert list(located.modules) == ["losses"]
    assert located.notebook == (tmp_path / "scratch" / "hw3_notebook.py").absolute()
    assert "def cross_entropy" in located.notebook.read_text()
    text = joined(located)
    assert "Found 2 notebooks: used hw3.ipynb" in text and "ignored scratch.ipynb" in text
    assert "hw3.ipynb: Skipped top-level code that runs experiments (not graded): a for-loop in cell 2" in text
    assert "threelayerSGD.py, activations.py" in text and "use what your notebook defines" in text
    assert "the checks of Problems 1, 2, 4-7 and Questions 1-8 use" in text
    assert "was not found in your submission, so" not in text  # the notebook may supply them


def test_notebook_with_most_definitions_wins(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "a_short.ipynb", notebook_json("def f():\n    pass\n"))
    touch(sub, "deep/z_long.ipynb", notebook_json("def f():\n    pass\n", "class C:\n    pass\n\ndef g():\n    pass\n"))
    touch(sub, "broken.ipynb", "{ not json")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert "class C" in located.notebook.read_text()
    assert any(n.startswith("Found 3 notebooks: used deep/z_long.ipynb") for n in located.notes)


def test_malformed_notebook_is_a_note_not_an_error(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "hw3.ipynb", "{ this is not json")
    located = locate(sub, tmp_path / "scratch", HW3)
    assert located.notebook is None
    assert any(n.startswith("The notebook could not be read: hw3.ipynb is not valid notebook JSON")
               for n in located.notes)


# ---------------------------------------------------------------- single files

def test_single_py_named_like_a_module(tmp_path):
    path = touch(tmp_path, "up/ThreeLayerSGD.py")
    located = locate(path, tmp_path / "scratch", HW3)
    assert located.modules == {"threelayerSGD": path.absolute()}
    assert located.root == path.parent.absolute()
    assert any("Used ThreeLayerSGD.py as threelayerSGD.py" in n for n in located.notes)


def test_single_py_with_another_name(tmp_path):
    path = touch(tmp_path, "hw3_solutions.py")
    located = locate(path, tmp_path / "scratch", HW3)
    assert located.modules == {}
    assert located.notes[0].startswith("Nothing gradeable was found")
    assert located.notes[1].startswith("hw3_solutions.py is not one of the seven module names")


def test_single_notebook(tmp_path):
    path = touch(tmp_path, "hw.ipynb", notebook_json("import torch\n", "def relu(z):\n    return z.clamp(min=0)\n"))
    located = locate(path, tmp_path / "scratch", HW3)
    assert located.modules == {}
    assert located.notebook is not None and located.notebook.parent == (tmp_path / "scratch").absolute()
    assert "def relu" in located.notebook.read_text()
    assert ("threelayerSGD.py, losses.py, activations.py, gradients.py, softmax.py, interpolation.py, "
            "convolution.py were not found, so the checks of Problems 1-7 and Questions 1-8 use what your "
            "notebook defines.") in located.notes
    assert located.notebook.stat().st_mode & 0o004


def test_unknown_file_type_raises(tmp_path):
    path = touch(tmp_path, "answers.pdf", "%PDF-1.4")
    with pytest.raises(SubmissionError, match="answers.pdf"):
        locate(path, tmp_path / "scratch", HW3)


# ---------------------------------------------------------------- zips

def make_zip(path: Path, entries: dict[str, str | bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o600) << 16   # unreadable to others, as some zips are
            zf.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_zip_is_extracted_and_readable_by_others(tmp_path):
    entries = {f"hw3/{m}.py": f"# {m}\n" for m in MODULES}
    entries["__MACOSX/hw3/._losses.py"] = b"\x00\x01"
    entries["hw3/hw3.ipynb"] = notebook_json("def extra():\n    return 1\n")
    archive = make_zip(tmp_path / "sub.zip", entries)
    scratch = tmp_path / "scratch"
    located = locate(archive, scratch, HW3)
    assert located.root == (scratch / "extracted").absolute()
    assert {m: rel(located, m) for m in MODULES} == {m: f"hw3/{m}.py" for m in MODULES}
    assert located.modules["losses"].read_text() == "# losses\n"
    assert located.notebook is not None
    for folder, dirs, files in os.walk(scratch):
        assert os.stat(folder).st_mode & 0o005 == 0o005, folder
        for f in files:
            assert os.stat(os.path.join(folder, f)).st_mode & 0o004, f
    assert "Your .py modules come first; the notebook supplies only what they do not define." in located.notes


def test_zip_traversal_entries_are_skipped(tmp_path):
    archive = make_zip(tmp_path / "evil.zip", {
        "losses.py": "x = 1\n",
        "../escaped.py": "bad\n",
        "hw/../../escaped2.py": "bad\n",
        "/abs_escape.py": "bad\n",
        "C:/windows.py": "bad\n",
        "..\\backslash.py": "bad\n",
    }, symlinks={"softmax.py": "/etc/passwd"})
    scratch = tmp_path / "work" / "scratch"
    located = locate(archive, scratch, HW3)
    assert list(located.modules) == ["losses"]
    extracted = sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*"))
    assert extracted == ["extracted", "extracted/losses.py"]
    assert not list(tmp_path.rglob("escaped*")) and not Path("/abs_escape.py").exists()
    text = joined(located)
    assert "../escaped.py" in text and "climb out" in text
    assert "Skipped softmax.py in the zip: symbolic links are not extracted." in text


def test_oversized_zip_raises(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "big.zip", {"losses.py": "x = 1\n" * 100, "softmax.py": "y = 2\n"})
    monkeypatch.setattr(submission, "MAX_ZIP_BYTES", 300)
    with pytest.raises(SubmissionError, match=r"big.zip unpacks to .* more than the 300 bytes allowed"):
        locate(archive, tmp_path / "scratch", HW3)


def test_zip_lying_about_its_size_is_rejected(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "liar.zip", {"losses.py": "x = 1\n" * 100})
    data = bytearray(archive.read_bytes())
    # shrink the declared uncompressed size in the central directory (offset 24 of the entry)
    cd = data.rindex(b"PK\x01\x02")
    data[cd + 24: cd + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    monkeypatch.setattr(submission, "MAX_ZIP_BYTES", 300)
    with pytest.raises(SubmissionError, match="liar.zip is not a valid zip file"):
        locate(archive, tmp_path / "scratch", HW3)   # the read stops at the declared size: the CRC tells


def test_too_many_entries_raises(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.txt": "" for i in range(5)})
    monkeypatch.setattr(submission, "MAX_ZIP_ENTRIES", 4)
    with pytest.raises(SubmissionError, match="many.zip holds 5 files, more than the 4 allowed"):
        locate(archive, tmp_path / "scratch", HW3)


@pytest.mark.parametrize("content", [b"this is not a zip", b"PK\x03\x04" + b"\x00" * 40, b""])
def test_corrupt_zip_raises(tmp_path, content):
    path = tmp_path / "broken.zip"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match="broken.zip is not a valid zip file"):
        locate(path, tmp_path / "scratch", HW3)


def test_truncated_zip_raises(tmp_path):
    archive = make_zip(tmp_path / "cut.zip", {"losses.py": "x = 1\n" * 1000})
    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(SubmissionError, match="cut.zip is not a valid zip file"):
        locate(archive, tmp_path / "scratch", HW3)


def test_nested_zip_is_not_opened(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("losses.py", "x = 1\n")
    archive = make_zip(tmp_path / "outer.zip", {"hw/inner.zip": inner.getvalue(), "softmax.py": "y = 1\n"})
    located = locate(archive, tmp_path / "scratch", HW3)
    assert list(located.modules) == ["softmax"]
    assert any(n.startswith("hw/inner.zip was not opened") for n in located.notes)


def test_zip_without_zip_suffix_is_recognized(tmp_path):
    archive = make_zip(tmp_path / "submission", {"losses.py": "x = 1\n"})
    located = locate(archive, tmp_path / "scratch", HW3)
    assert list(located.modules) == ["losses"]


def test_locating_twice_in_the_same_scratch(tmp_path):
    a = make_zip(tmp_path / "a.zip", {"losses.py": "x = 1\n"})
    b = make_zip(tmp_path / "b.zip", {"softmax.py": "x = 1\n"})
    locate(a, tmp_path / "scratch", HW3)
    located = locate(b, tmp_path / "scratch", HW3)
    assert list(located.modules) == ["softmax"]


# ---------------------------------------------------------------- property: nesting and names

SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_- ", min_size=1, max_size=8).map(str.strip).filter(
    lambda s: s and s not in ("site-packages", "node_modules"))


@st.composite
def layouts(draw):
    """Copies of some modules at random paths, plus decoys in folders that must be ignored."""
    files: list[str] = []
    for module in MODULES:
        for _ in range(draw(st.integers(0, 3))):
            folders = draw(st.lists(SEGMENT, min_size=0, max_size=4))
            files.append("/".join([*folders, f"{module}.py"]))
    decoys = []
    for module in draw(st.lists(st.sampled_from(MODULES), max_size=4)):
        ignored = draw(st.sampled_from(["__MACOSX", ".git", "__pycache__", "lib/site-packages", ".ipynb_checkpoints"]))
        decoys.append(f"{ignored}/{module}.py")
    return sorted(set(files)), decoys


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layouts())
def test_locate_picks_the_shallowest_then_alphabetical(tmp_path, layout):
    files, decoys = layout
    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        root = Path(tmp) / "sub"
        root.mkdir()
        for f in files:
            touch(root, f)
        for d in decoys:
            touch(root, d, "decoy\n")
        located = locate(root, Path(tmp) / "scratch", HW3)
        expected = {}
        for module in MODULES:
            copies = [f for f in files if f.rsplit("/", 1)[-1] == f"{module}.py"]
            if copies:
                expected[module] = min(copies, key=lambda f: (f.count("/"), f))
        assert {m: rel(located, m) for m in located.modules} == expected
        for module, chosen in expected.items():
            copies = [f for f in files if f.rsplit("/", 1)[-1] == f"{module}.py"]
            if len(copies) > 1:
                assert any(n.startswith(f"Found {len(copies)} files named {module}.py: used {chosen} ")
                           for n in located.notes)
        assert all(located.modules[m].read_text() != "decoy\n" for m in located.modules)
        if not files:
            assert any(n.startswith("Nothing gradeable") for n in located.notes)


def test_the_assignment_derives_the_seven_modules_and_their_problems():
    """One source of truth: the template's modules, in its __all__ order; each module's problem keys
    come from the checks that call into it."""
    assert HW3.modules == MODULES
    assert HW3.problems_of_module("losses") == ("P3",)
    assert HW3.problems_of_module("threelayerSGD") == ("P1", "P2")
    assert HW3.describe_problems(["Q4", "P7", "P1", "P7"]) == "Problems 1, 7 and Question 4"


# ---------------------------------------------------------------- notebooks read within bounds (issue 11, item 5)

def test_a_notebook_with_a_latin1_byte_is_used_and_the_note_says_where(tmp_path):
    sub = tmp_path / "s"
    sub.mkdir()
    source = b"import math\\n# \xe9t\xe9: r\xe9sum\xe9\\ndef relu(z):\\n    return z.clamp(min=0)\\n"
    (sub / "hw3.ipynb").write_bytes(b'{"nbformat": 4, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], '
                                    b'"source": "' + source + b'"}]}')
    located = locate(sub, tmp_path / "scratch", HW3)
    assert located.notebook is not None and "def relu" in located.notebook.read_text(encoding="utf-8")
    assert ("hw3.ipynb: Code cell 1 (line 2) holds bytes that are not UTF-8 text; they were read as the replacement "
            "character \ufffd, which changes nothing in a comment but does change a string. Jupyter saves notebooks "
            "as UTF-8: save it from Jupyter again if you edited it elsewhere.") in located.notes
    assert not any("could not be read" in n or "was not found in your submission" in n for n in located.notes)


def test_a_notebook_above_the_cap_is_a_note_with_what_to_do(tmp_path, monkeypatch):
    from grader.notebook import reader

    monkeypatch.setattr(reader, "MAX_NOTEBOOK_BYTES", 2**20)
    path = touch(tmp_path, "hw.ipynb", notebook_json("def relu(z):\n    return z\n" + "# " + "x" * 2**21 + "\n"))
    located = locate(path, tmp_path / "scratch", HW3)
    assert located.notebook is None
    assert ("The notebook could not be read: hw.ipynb is 2 MB, more than the 1 MB a notebook may be: its outputs "
            "(plots, printed logs) make it that large. Clear them (Kernel > Restart & Clear Output), save, and "
            "resubmit.") in located.notes


def test_a_single_notebook_is_read_once(tmp_path, monkeypatch):
    from grader import confined_notebook

    answers = []

    def spy(notebooks, out, assignment):
        answers.append(confined_notebook.convert(notebooks, out, assignment))
        return answers[-1]

    monkeypatch.setattr(submission, "convert", spy)
    sub = tmp_path / "s"
    touch(sub, "hw3.ipynb", notebook_json("def relu(z):\n    return z\n"))
    assert locate(sub, tmp_path / "scratch", HW3).notebook is not None
    assert answers[0].definitions == ()   # not counted: there is nothing to choose between


def test_among_several_notebooks_definitions_in_blocks_count(tmp_path):
    sub = tmp_path / "s"
    touch(sub, "a_flat.ipynb", notebook_json("def f():\n    pass\n"))
    touch(sub, "b_blocks.ipynb", notebook_json("if True:\n    def f():\n        pass\n    def g():\n        pass\n"))
    located = locate(sub, tmp_path / "scratch", HW3)
    assert "def g" in located.notebook.read_text()
    assert any(n.startswith("Found 2 notebooks: used b_blocks.ipynb, which defines the most functions and classes (2)")
               for n in located.notes)


# ---------------------------------------------------------------- a notebook beside the template's stubs

TEMPLATE = Path(__file__).resolve().parents[1] / "student_template"


def test_the_notes_name_the_stubs_a_notebook_replaces_and_real_code_stays(tmp_path):
    sub = tmp_path / "sub"
    for module in MODULES:
        touch(sub, f"{module}.py", (TEMPLATE / f"{module}.py").read_text(encoding="utf-8"))
    touch(sub, "losses.py", "def cross_entropy(f, y):\n    return 0.0\n\ndef ce_scaled_onehot(k, lam):\n"
                            "    raise NotImplementedError\n")
    touch(sub, "hw3.ipynb", notebook_json("def cross_entropy(f, y):\n    return 1.0\n",
                                          "%%time\ndef ce_scaled_onehot(k, lam):\n    return 2.0\n",
                                          "def make_data(n, noise=0.0, generator=None):\n    return n\n",
                                          "Q7 = {'output_dim': 1, 'last_layer_params': 2}\n",
                                          "def train(model, X, Y):\n    raise NotImplementedError\n"))
    located = locate(sub, tmp_path / "scratch", HW3)
    assert set(located.modules) == set(MODULES) and located.notebook is not None
    assert ("Graded from the notebook hw3.ipynb, since the .py files still hold the template's stubs "
            "(which raise NotImplementedError, or leave an answer None): make_data (threelayerSGD.py), "
            "ce_scaled_onehot (losses.py), Q7 (convolution.py).") in located.notes


def test_no_such_note_without_a_stub_the_notebook_defines(tmp_path):
    sub = tmp_path / "sub"
    all_modules(sub)
    touch(sub, "hw3.ipynb", notebook_json("def cross_entropy(f, y):\n    return 1.0\n"))
    assert not [n for n in locate(sub, tmp_path / "scratch", HW3).notes if "Graded from the notebook" in n]
