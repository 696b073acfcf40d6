"""Only the source a reader sees is graded: compiled Python in a submission never runs.

Each case ships bytecode (an unchecked hash-based .pyc in __pycache__, a timestamp .pyc
stamped to match its source, a sourceless losses.pyc, a .pyc or .so of a helper module, a
package's cached submodule, a zip holding all that) whose answers are right while the
visible .py is wrong, or the other way round. Problem 3's checks get the status the *source*
earns; the neighbours (Q2, Q6, graded in the same child) keep full marks; the output says the
bytecode was ignored; and grading leaves the student's folder exactly as it was (no
__pycache__ written, nothing touched). The children are forked from the test process's warm
zygote (tests.hw3testing.warm_sandbox): it imports the submission exactly as a fresh child does.
"""
from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import os
import py_compile
import re
import struct
import zipfile
from pathlib import Path

import pytest

from grader.outcome import Status
from grader.runner import grade
from grader.submission import locate
from tests.hw3testing import HW3, warm_sandbox

NEIGHBOURS = ("Q2", "Q6")
CE_CHECKS = ("P3.cross_entropy.single", "P3.cross_entropy.batch", "P3.cross_entropy.large_logits")
ONEHOT_CHECKS = ("P3.ce_scaled_onehot", "P3.ce_scaled_onehot.large_lam")
P3_CHECKS = CE_CHECKS + ONEHOT_CHECKS
WRONG_CE = "\ndef cross_entropy(f, y):\n    return f.sum(-1) * 0\n"
IGNORED = r"Ignored .*compiled Python \(\.pyc bytecode, __pycache__ folders, \.so extension modules\) is never run"
WRONG = r"is -?0\b|values are not close|expected"


def _entries(rubric):
    return [dataclasses.replace(e, timeout=min(e.timeout, 20.0))
            for e in rubric.checks if e.problem in ("P3",) + NEIGHBOURS]


def _grade(path, rubric):
    result = grade(path, HW3, rubric=rubric, entries=_entries(rubric), sandbox=warm_sandbox(HW3, rubric))
    return result, {o.check_id: o for o in result.outcomes}


def _neighbours_intact(result):
    scores = result.by_problem()
    for key in NEIGHBOURS:
        assert scores[key][0] == scores[key][1], f"{key} lost points: {scores[key]}"


def _snapshot(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in folder.rglob("*"))


def _compile(source: str, module_file: Path, *, cfile: Path | None = None, unchecked: bool = True) -> Path:
    """Bytecode of `source` where Python looks for `module_file`'s (its __pycache__), or at `cfile`."""
    scratch = module_file.parent.parent / f"_src_{module_file.parent.name}_{module_file.name}"
    scratch.write_text(source)
    target = cfile or Path(importlib.util.cache_from_source(str(module_file)))
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = (py_compile.PycInvalidationMode.UNCHECKED_HASH if unchecked
            else py_compile.PycInvalidationMode.TIMESTAMP)
    py_compile.compile(str(scratch), cfile=str(target), doraise=True, invalidation_mode=mode)
    scratch.unlink()
    return target


def _good(folder: Path, module: str) -> str:
    return (folder / f"{module}.py").read_text()


# ---------------------------------------------------------------- the cases

def forged_unchecked_cache(folder):
    """losses.py is wrong; its unchecked hash-based .pyc (never compared with the source) is right."""
    good = _good(folder, "losses")
    _compile(good, folder / "losses.py")
    (folder / "losses.py").write_text(good + WRONG_CE)


def forged_timestamp_cache(folder):
    """A timestamp .pyc of the right code, stamped with the wrong losses.py's mtime and size."""
    good = _good(folder, "losses")
    (folder / "losses.py").write_text(good + WRONG_CE)
    pyc = _compile(good, folder / "losses.py", unchecked=False)
    st = (folder / "losses.py").stat()
    data = bytearray(pyc.read_bytes())
    data[8:16] = struct.pack("<II", int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)
    pyc.write_bytes(bytes(data))
    os.utime(folder / "losses.py", ns=(st.st_atime_ns, st.st_mtime_ns))


def sourceless_module(folder):
    """losses.pyc (right answers) and no losses.py at all."""
    _compile(_good(folder, "losses"), folder / "losses.py", cfile=folder / "losses.pyc")
    (folder / "losses.py").unlink()


def sourceless_helper(folder):
    """losses.py imports a helper whose only form is ce_helper.pyc."""
    good = _good(folder, "losses")
    _compile(good, folder / "ce_helper.py", cfile=folder / "ce_helper.pyc")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    from ce_helper import cross_entropy as ce\n    return ce(f, y)\n")


def extension_helper(folder):
    """A helper shipped as an extension module (.so) only: never loaded."""
    good = _good(folder, "losses")
    (folder / f"ce_helper{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF not really")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    from ce_helper import cross_entropy as ce\n    return ce(f, y)\n")


def forged_helper_cache(folder):
    """ce_helper.py (visible, wrong) with an unchecked .pyc of the right code, imported by losses.py."""
    good = _good(folder, "losses")
    (folder / "ce_helper.py").write_text(good + WRONG_CE)
    _compile(good, folder / "ce_helper.py")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    from ce_helper import cross_entropy as ce\n    return ce(f, y)\n")


def forged_package_cache(folder):
    """A package of the submission: cepkg/impl.py is wrong, cepkg/__pycache__/impl.*.pyc is right."""
    good = _good(folder, "losses")
    (folder / "cepkg").mkdir()
    (folder / "cepkg" / "__init__.py").write_text("")
    (folder / "cepkg" / "impl.py").write_text(good + WRONG_CE)
    _compile(good, folder / "cepkg" / "impl.py")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    from cepkg.impl import cross_entropy as ce\n    return ce(f, y)\n")


def forged_sibling_contract_cache(folder):
    """losses.py calls softmax.ce_impl (wrong in softmax.py); softmax's unchecked .pyc has it right.
    Q2 grades softmax.py itself, whose functions are right in both: it keeps full marks."""
    good, softmax = _good(folder, "losses"), _good(folder, "softmax")
    right_impl = "\n\n" + good.replace("def cross_entropy(", "def ce_impl(") + "\n"
    _compile(softmax + right_impl, folder / "softmax.py")
    (folder / "softmax.py").write_text(softmax + "\n\ndef ce_impl(f, y):\n    return f.sum(-1) * 0\n")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    import softmax\n    return softmax.ce_impl(f, y)\n")


def stray_extension_next_to_contract_module(folder):
    """A junk softmax.so next to softmax.py: `import softmax` from losses.py is still softmax.py."""
    good, softmax = _good(folder, "losses"), _good(folder, "softmax")
    (folder / f"softmax{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF junk")
    (folder / "softmax.py").write_text(softmax + "\n\n" + good.replace("def cross_entropy(", "def ce_impl(") + "\n")
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    import softmax\n    return softmax.ce_impl(f, y)\n")


CASES = {
    # name: (build, expected statuses, message regex on the failing checks, note regex)
    "forged_unchecked_cache": (forged_unchecked_cache, {**dict.fromkeys(CE_CHECKS, Status.FAILED),
                                                        **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                               WRONG, r"Ignored __pycache__/"),
    "forged_timestamp_cache": (forged_timestamp_cache, {**dict.fromkeys(CE_CHECKS, Status.FAILED),
                                                        **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                               WRONG, r"Ignored __pycache__/"),
    "sourceless_module": (sourceless_module, dict.fromkeys(P3_CHECKS, Status.MISSING),
                          r"losses\.py was not found in your submission",
                          r"losses\.pyc does not replace losses\.py: upload losses\.py itself"),
    "sourceless_helper": (sourceless_helper, {**dict.fromkeys(CE_CHECKS, Status.ERROR),
                                              **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                          r"ModuleNotFoundError: No module named 'ce_helper'", r"Ignored ce_helper\.pyc"),
    "extension_helper": (extension_helper, {**dict.fromkeys(CE_CHECKS, Status.ERROR),
                                            **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                         r"ModuleNotFoundError: No module named 'ce_helper'", r"Ignored ce_helper\.cpython.*\.so"),
    "forged_helper_cache": (forged_helper_cache, {**dict.fromkeys(CE_CHECKS, Status.FAILED),
                                                  **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                            WRONG, r"Ignored __pycache__/"),
    "forged_package_cache": (forged_package_cache, {**dict.fromkeys(CE_CHECKS, Status.FAILED),
                                                    **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                             WRONG, r"Ignored cepkg/__pycache__/"),
    "forged_sibling_contract_cache": (forged_sibling_contract_cache,
                                      {**dict.fromkeys(CE_CHECKS, Status.FAILED),
                                       **dict.fromkeys(ONEHOT_CHECKS, Status.PASSED)},
                                      WRONG, r"Ignored __pycache__/"),
    "stray_extension_next_to_contract_module": (stray_extension_next_to_contract_module,
                                                dict.fromkeys(P3_CHECKS, Status.PASSED), None,
                                                r"Ignored softmax\.cpython.*\.so"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bytecode_never_runs(case, submission, rubric):
    build, expected, message, note = CASES[case]
    folder = submission()
    build(folder)
    before = _snapshot(folder)
    result, outcomes = _grade(folder, rubric)
    assert {c: outcomes[c].status for c in expected} == expected, \
        {c: (outcomes[c].status.value, outcomes[c].detail) for c in expected}
    if message:
        failing = [outcomes[c] for c, s in expected.items() if s is not Status.PASSED]
        assert all(re.search(message, o.message) or re.search(message, o.detail) for o in failing), \
            [o.message for o in failing]
    notes = "\n".join(result.notes)
    assert re.search(IGNORED, notes) and re.search(note, notes), notes
    _neighbours_intact(result)
    assert _snapshot(folder) == before, "grading changed the student's folder (bytecode written?)"


def test_a_zip_with_bytecode_is_graded_as_its_source(submission, rubric, tmp_path):
    folder = submission()
    forged_unchecked_cache(folder)
    _compile(_good(folder, "softmax"), folder / "losses.py", cfile=folder / "stray.pyc")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, Path("hw3") / path.relative_to(folder))
    assert any("__pycache__/losses" in n for n in zipfile.ZipFile(archive).namelist())
    result, outcomes = _grade(archive, rubric)
    assert all(outcomes[c].status is Status.FAILED for c in CE_CHECKS), [outcomes[c].detail for c in CE_CHECKS]
    assert all(outcomes[c].status is Status.PASSED for c in ONEHOT_CHECKS)
    assert re.search(r"Ignored hw3/__pycache__/, hw3/stray\.pyc: compiled Python", "\n".join(result.notes)), \
        result.notes
    _neighbours_intact(result)
    # the compiled files are never even extracted
    located = locate(archive, tmp_path / "scratch", HW3)
    assert not [p for p in (tmp_path / "scratch").rglob("*") if p.suffix == ".pyc" or p.name == "__pycache__"]
    assert set(located.modules) == {"threelayerSGD", "losses", "activations", "gradients", "softmax",
                                    "interpolation", "convolution"}


def test_a_plain_submission_gets_no_bytecode_written(submission, rubric):
    """A correct submission with a helper module and a package: full marks, folder untouched."""
    folder = submission()
    good = _good(folder, "losses")
    (folder / "cepkg").mkdir()
    (folder / "cepkg" / "__init__.py").write_text("")
    (folder / "cepkg" / "impl.py").write_text(good)
    (folder / "losses.py").write_text(good + "\ndef cross_entropy(f, y):\n"
                                             "    from cepkg.impl import cross_entropy as ce\n    return ce(f, y)\n")
    before = _snapshot(folder)
    result, outcomes = _grade(folder, rubric)
    assert result.score == result.max_score, {c: o.detail for c, o in outcomes.items() if o.status is not Status.PASSED}
    assert not any("compiled Python" in n for n in result.notes)
    assert _snapshot(folder) == before
    assert not list(folder.rglob("__pycache__"))


def test_a_compiled_file_alone_is_not_a_submission(tmp_path):
    from grader.submission import SubmissionError

    pyc = tmp_path / "losses.pyc"
    pyc.write_bytes(b"\x00" * 16)
    with pytest.raises(SubmissionError, match=r"losses\.pyc is compiled Python, which is never graded"):
        locate(pyc, tmp_path / "scratch", HW3)
