"""What the tests share besides fixtures: submissions built from the reference, grading a few checks.

A module of its own (not conftest.py, and named like no student module) so that test files import it by one unambiguous name,
whichever conftest.py pytest loaded last."""
from __future__ import annotations

import fcntl
import os
import pickle
import re
import textwrap
from pathlib import Path
from typing import Callable, TypeVar

import reference
from grader import assignment as assignment_module
from grader import rubric as rubric_module
from grader.outcome import GradingResult, Outcome
from grader.runner import grade, sandbox_for

#: The assignment these tests grade (Homework 3, the default one), loaded once and handed to what needs it.
HW3 = assignment_module.default()
HW3.import_paths()
REFERENCE_DIR = Path(reference.__file__).resolve().parent
MODULES = ("threelayerSGD", "losses", "activations", "gradients", "softmax", "interpolation", "convolution")
REPO = Path(__file__).resolve().parents[1]
#: Visible checks whose judge calls the reference on what the student returned: the kit cannot
#: freeze those calls, so it judges them on Gradescope only (unless the answer equals the reference's).
#: None today: the conversions and reduce_logits are judged with the judges' own numpy math.
KIT_PENDING_DEPENDENT: set[str] = set()


T = TypeVar("T")


def once_per_run(tmp_path_factory, name: str, make: Callable[[Path], T]) -> T:
    """`make(folder)`, computed once per test run and shared by every module and xdist worker that asks: the first
    to ask makes it in a folder the workers share (their base temp's parent), the others wait on a lock and load it.
    For things that are the same wherever they are made (the student kit), never for per-worker state."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, made = shared / name, shared / f"{name}.pickle"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if made.exists():
            return pickle.loads(made.read_bytes())
        folder.mkdir(exist_ok=True)
        value = make(folder)
        made.write_bytes(pickle.dumps(value))
        return value


#: An unfilled placeholder of a message template: "{id}", "{label!r}", "{what[0]}", "{x:.3g}"
#: (a dict or set a message shows, "{'k': 8}" or "{1, 2}", is no placeholder).
UNFILLED = re.compile(r"\{[A-Za-z_]\w*(?:\.\w+|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}]*)?\}")


def unfilled_placeholders(result: GradingResult) -> list[tuple[str, str]]:
    """(check id or "note", placeholder) for every unfilled placeholder in what the student reads."""
    texts = [(o.check_id, o.message) for o in result.outcomes] + [("note", n) for n in result.notes]
    return [(where, found) for where, text in texts for found in UNFILLED.findall(text)]


def write_submission(folder: Path, *, patch: dict[str, str] | None = None, replace: dict[str, str] | None = None,
                     drop: tuple[str, ...] = ()) -> Path:
    """The reference's seven modules as a student would upload them, then:

    - `patch`: module -> source appended at its end (a redefinition there is a one-bug variant);
    - `replace`: module -> the module's whole source;
    - `drop`: modules left out.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        if name in drop:
            continue
        source = (replace or {}).get(name)
        if source is None:
            source = as_student_module((REFERENCE_DIR / f"{name}.py").read_text())
            if patch and name in patch:
                source += "\n\n# --- patched by the test ---\n" + textwrap.dedent(patch[name])
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


def as_student_module(source: str) -> str:
    """Reference modules import each other as a package; a submission imports them top-level."""
    source = re.sub(r"from \.(\w+) import", r"from \1 import", source)
    return re.sub(r"from reference\.(\w+) import", r"from \1 import", source)


def warm_sandbox(assignment: assignment_module.Assignment = HW3, rubric: rubric_module.Rubric | None = None):
    """The child's limits as `grade` sets them, its children forked from this test process's warm zygote (the
    batch's way, grader/zygote.py): a check test pays torch's import once per test worker, not once per child.
    Tests of the unwarmed start (Gradescope's, a library caller's) grade without it."""
    return sandbox_for(assignment, rubric, zygote=True)


def grade_checks(submission: Path, rubric: rubric_module.Rubric, ids: list[str] | None = None,
                 problems: set[str] | None = None, assignment: assignment_module.Assignment = HW3) -> dict[str, Outcome]:
    """Grade only some checks; returns {check id: Outcome}."""
    entries = [e for e in rubric.checks if (ids is None or e.id in ids) and (problems is None or e.problem in problems)]
    assert entries, f"no rubric entry matches {ids or problems}"
    result: GradingResult = grade(submission, assignment, rubric=rubric, entries=entries,
                                  sandbox=warm_sandbox(assignment, rubric))
    return {o.check_id: o for o in result.outcomes}


#: A replacement field left in a note: `{name}`, `{name()}`, `{a.b!r}` (a string that was meant to be an f-string,
#: or a template never formatted). A student's code quoted in a note would hold braces with spaces or quotes.
_UNFILLED = re.compile(r"\{[A-Za-z_][\w.]*(\([\w, ]*\))?(![rsa])?\}")


def unfilled_fields(texts) -> list[str]:
    """The replacement fields left unformatted in these notes or messages."""
    return [m.group() for text in texts for m in _UNFILLED.finditer(str(text))]


def watch_notes(monkeypatch, *namespaces) -> None:
    """Every note and error message that grader.notebook and grader.submission give while a test runs (through
    `notebook_to_module` and `locate`, as the namespaces hold them) is checked for an unfilled field."""
    import grader.notebook
    import grader.runner
    import grader.submission

    def checked(function, notes_of):
        def call(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
            except (grader.notebook.NotebookError, grader.submission.SubmissionError) as exc:
                assert not unfilled_fields([exc]), exc
                raise
            assert not unfilled_fields(notes_of(result)), notes_of(result)
            return result
        return call

    targets = {"notebook_to_module": lambda notes: notes, "locate": lambda located: located.notes}
    for namespace in (grader.submission, grader.runner, *namespaces):
        for name, notes_of in targets.items():
            if hasattr(namespace, name):
                monkeypatch.setattr(namespace, name, checked(getattr(namespace, name), notes_of))
