"""Gradescope's grading of one submission: what `run_autograder` runs.

    PYTHONPATH=/autograder/source python -s -m grader.build.gradescope_entry [--problems KEY ...]

Grades ROOT/submission into ROOT/results/results.json, written once, at the end,
atomically, always: a grader failure gives score 0 and an explanation, never a missing
file. Student code runs only in the child, as the unprivileged sandbox user, which can
read neither ROOT/source (reference, rubric) nor ROOT/results; the parent, which reads
the reference and writes the results, runs as root.

Every path and limit comes from the environment, so the whole flow runs in a temp folder
in tests:

    HW3GRADE_ROOT            /autograder: holds source/, submission/, results/, submission_metadata.json
    HW3GRADE_PROBE_RUNTIME   /opt/hw3grade/probe-runtime: the child's code (grader/probes and the
                             assignment's probe files), world-readable
    HW3GRADE_ASSIGNMENT      the assignment's manifest (run_autograder sets it; default: the one
                             hw3grade_build.json names in the source)
    HW3GRADE_SANDBOX_USER    "student"; empty = run the child as the current user (tests, laptops)
    HW3GRADE_BUDGET_SECONDS  the whole run's wall clock budget (default: the rubric's, 540 s)
    HW3GRADE_PROBLEMS        only these problems: keys of the rubric, space- or comma-separated (default: all)
    HW3GRADE_CHILD_PYTHON    the child's interpreter (default: this one, the venv's)

Exit status 0 means this process wrote results.json; anything else makes run_autograder
write its own fallback.

    ... -m grader.build.gradescope_entry --smoke

is setup.sh's proof of the install: it grades the bundled correct submission
(source/smoke-submission: the reference as a student upload) on the assignment's smoke_checks
through the same flow, the child as the sandbox user, writes no results, and exits 0 only if
every check it runs gets full marks (else 1, with a plain message: the build fails before any
student submits).
"""
from __future__ import annotations

import argparse
import contextlib
import html
import importlib
import json
import os
import pwd
import resource
import stat
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader import filetree
from grader.build.autograder import RUNTIME_PROBES, SMOKE_SUBMISSION
from grader.supervision import processes
from grader.supervision.processes import adopt_orphans

# The rest of the engine (the assignment, the runner, the reporters) is imported inside the functions
# that use it: an engine that fails to import is then a fallback results.json, never a missing one.
if TYPE_CHECKING:
    from grader.outcome import GradingResult

DEFAULT_ROOT = "/autograder"
DEFAULT_PROBE_RUNTIME = "/opt/hw3grade/probe-runtime"
DEFAULT_SANDBOX_USER = "student"
#: Seconds kept, at most, between the end of the probes and the end of the budget: for judging
#: (after the child is gone) and writing the results.
JUDGE_RESERVE = 45.0
#: The watchdog writes a fallback this many seconds before the budget ends, if grading still runs.
WATCHDOG_MARGIN = 5.0
#: Kept free in the results folder until the results are written, so that a submission that
#: fills the disk cannot stop them from being written.
RESERVE_BYTES = 4 * 2**20
#: A submission folder is copied up to these sizes (Gradescope bounds uploads well below).
#: Processes (threads included) the sandbox user may have at once: a fork bomb stops here.
#: Set on the grader (root is exempt) and inherited through runuser by the child.
SANDBOX_NPROC = 256
#: The smoke test (--smoke, run by setup.sh) grades the bundled correct submission (the reference as a
#: student upload, written by the build) on the assignment's `smoke_checks` (check ids or problem keys):
#: it must get full marks. An assignment lists fast checks there that import every module and use
#: what the child needs on Gradescope (torch, numpy, plots, large inputs under the memory limit).
BUILD_INFO = "hw3grade_build.json"


class SetupError(Exception):
    """The autograder is misconfigured (message for the instructor)."""


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    root: Path
    probe_runtime: Path
    sandbox_user: str                 # "" = the current user
    budget: float | None              # None = the rubric's limits.budget_seconds
    problems: frozenset[str] | None   # None = every problem
    child_python: str
    assignment: Path | None = None    # its manifest; None = the default assignment (a source checkout)

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def metadata(self) -> Path:
        return self.root / "submission_metadata.json"

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ = os.environ, problems: list[str] | None = None) -> "Settings":
        budget = None
        raw = env.get("HW3GRADE_BUDGET_SECONDS", "").strip()
        if raw:
            try:
                budget = float(raw)
            except ValueError:
                raise SetupError(f"HW3GRADE_BUDGET_SECONDS={raw!r} is not a number of seconds") from None
            if not 10 <= budget <= 24 * 3600:
                raise SetupError(f"HW3GRADE_BUDGET_SECONDS={raw!r} is outside 10 s .. 24 h")
        root = root_from_env(env)
        manifest = manifest_from_env(root / "source", env)
        return cls(root=root,
                   probe_runtime=Path(env.get("HW3GRADE_PROBE_RUNTIME") or DEFAULT_PROBE_RUNTIME),
                   sandbox_user=env.get("HW3GRADE_SANDBOX_USER", DEFAULT_SANDBOX_USER).strip(),
                   budget=budget,
                   problems=parse_problems(problems if problems is not None else env.get("HW3GRADE_PROBLEMS", ""),
                                           load_assignment(manifest).rubric),
                   child_python=env.get("HW3GRADE_CHILD_PYTHON") or sys.executable,
                   assignment=manifest)


def root_from_env(env: dict[str, str] | os._Environ = os.environ) -> Path:
    return Path(env.get("HW3GRADE_ROOT") or DEFAULT_ROOT)


def manifest_from_env(source: Path, env: dict[str, str] | os._Environ = os.environ) -> Path | None:
    """The assignment's manifest: $HW3GRADE_ASSIGNMENT, else the one the build recorded in the
    source's hw3grade_build.json, else None (the default assignment: a source checkout)."""
    named = (env.get("HW3GRADE_ASSIGNMENT") or "").strip()
    if named:
        return Path(named)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        recorded = json.loads((source / BUILD_INFO).read_text("utf-8")).get("assignment")
        if isinstance(recorded, str) and recorded:
            return source / recorded
    return None


def load_assignment(manifest: Path | None):
    """The Assignment of `manifest` (None: the default), its packages importable; SetupError if it cannot
    be read. Imported here, not at the top: a grader that cannot import still writes its fallback results."""
    from grader.assignment import AssignmentError, default, load

    try:
        chosen = load(manifest) if manifest else default()
    except AssignmentError as exc:
        raise SetupError(f"the assignment cannot be loaded: {exc}") from None
    chosen.import_paths()
    return chosen


def parse_problems(value: str | list[str] | None, rubric=None) -> frozenset[str] | None:
    """Problem keys of the rubric (default: the default assignment's), as "KEY KEY", "key,key" or a
    list -> a set of keys; empty (or every key) -> None (every problem)."""
    from grader import rubric as rubric_module   # here: see load_assignment

    rubric = rubric or load_assignment(None).rubric
    try:
        keys = rubric.parse_problem_keys(value or ())
    except rubric_module.RubricError as exc:
        raise SetupError(f"{exc} (in HW3GRADE_PROBLEMS)") from None
    return frozenset(keys) if keys else None


# ---------------------------------------------------------------- submission metadata

@dataclass(frozen=True)
class Metadata:
    submission_id: str = ""
    names: tuple[str, ...] = ()
    note: str = ""                   # why the file was ignored (for the instructor's log)
    identity: str = ""               # the students' e-mails: seeds the hidden checks' inputs (grader/draws.py)

    @property
    def header(self) -> str:
        """"Submission 123456 (Ada Lovelace, Alan Turing)", or "" without metadata."""
        who = f"({', '.join(self.names)})" if self.names else ""
        if self.submission_id:
            return f"Submission {self.submission_id}" + (f" {who}" if who else "")
        return f"Submission by {', '.join(self.names)}" if self.names else ""


def read_metadata(path: Path) -> Metadata:
    """Gradescope's submission_metadata.json (SPEC.md section 3); absent or malformed is fine."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Metadata()
    except (OSError, UnicodeDecodeError) as exc:
        return Metadata(note=f"{path.name} could not be read ({type(exc).__name__}: {exc}); ignored")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Metadata(note=f"{path.name} is not valid JSON ({exc}); ignored")
    if not isinstance(data, dict):
        return Metadata(note=f"{path.name} is not a JSON object; ignored")
    raw_id = data.get("id")
    submission_id = str(raw_id).strip() if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) else ""
    users = data.get("users")
    names: list[str] = []
    note = ""
    if isinstance(users, list):
        for user in users:
            name = user.get("name") if isinstance(user, dict) else None
            if isinstance(name, str) and name.strip():
                names.append(" ".join(name.split()))
    elif users is not None:
        note = f"{path.name}: 'users' is not a list; names left out"
    if raw_id is not None and not submission_id:
        note = f"{path.name}: 'id' is not a number or a string; id left out"
    from grader.draws import identity_of

    people = [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []
    return Metadata(submission_id[:64], tuple(n[:100] for n in names[:10]), note,
                    identity_of(people, submission_id)[:2000])


# ---------------------------------------------------------------- results, written once

class ResultsWriter:
    """Writes results.json exactly once (the main thread or the watchdog, whichever is first),
    with room kept for it on the disk until then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reserve = path.with_name(".hw3grade-reserve")
        self._lock = threading.Lock()
        self.written = False

    def keep_room(self) -> None:
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            block = os.urandom(1 << 16)
            with open(self.reserve, "wb") as f:
                for _ in range(RESERVE_BYTES // len(block)):
                    f.write(block)

    def write(self, data: dict) -> bool:
        """True if this call wrote the file; False if it was written before (or writing failed)."""
        from grader.report import gradescope

        with self._lock:
            if self.written:
                return False
            with contextlib.suppress(OSError):
                self.reserve.unlink()
            try:
                gradescope.write_results(data, self.path)
            except (ValueError, TypeError):  # NaN or an unserialisable value: a bug of ours
                gradescope.write_results(gradescope.fallback_results(traceback.format_exc()), self.path)
            self.written = True
            return True


# ---------------------------------------------------------------- processes

def end_descendants(sandbox_uid: int | None, subreaper: bool) -> int:
    """Kill what the grading left running; returns how many processes were ended.

    Our descendants always (the child, and with the subreaper its orphans too); without the
    subreaper, every process of the sandbox user as well (never ours, never root's).
    """
    others = not subreaper and sandbox_uid not in (None, 0, os.getuid())
    return processes.end_leftovers(sandbox_uid if others else None)


# ---------------------------------------------------------------- permissions and the submission

def protect(settings: Settings) -> None:
    """No access for others to the source (reference, rubric), the results and the metadata."""
    settings.results.parent.mkdir(parents=True, exist_ok=True)
    _chmod_others_none(settings.results.parent)
    if settings.metadata.exists():
        _chmod_others_none(settings.metadata)
    for folder, dirs, files in filetree.walk(settings.source):
        _chmod_others_none(Path(folder))
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            _chmod_others_none(Path(folder, name))


def _chmod_others_none(path: Path) -> None:
    with contextlib.suppress(OSError):
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o007:
            path.chmod(stat.S_IMODE(st.st_mode) & ~0o007)


@dataclass(frozen=True)
class Sandbox:
    user: str | None           # None = the current user
    uid: int | None
    pythonpath: tuple[str, ...]
    python: str


def sandbox(settings: Settings) -> Sandbox:
    """The child's user, runtime and interpreter; refuses setups that would expose the source."""
    user = settings.sandbox_user or None
    uid = None
    if user:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise SetupError(f"the sandbox user {user!r} does not exist (setup.sh creates it: rebuild the "
                             "autograder, or set HW3GRADE_SANDBOX_USER)") from None
        uid = entry.pw_uid
        if uid == 0:
            raise SetupError(f"the sandbox user {user!r} is root: student code would read the reference")
        if uid == os.geteuid():
            user = None  # already that user: nothing to switch
        elif os.geteuid() != 0:
            raise SetupError(f"running the child as {user!r} needs root (running as uid {os.geteuid()}); "
                             "set HW3GRADE_SANDBOX_USER= to run it as the current user")
        else:
            source = settings.source.stat()
            if source.st_uid == uid:
                raise SetupError(f"{settings.source} belongs to the sandbox user {user!r}")
    runtime = settings.probe_runtime
    if (runtime / "grader" / "probes" / "child.py").is_file():
        pythonpath = (str(runtime),)
    elif user:
        raise SetupError(f"the child's runtime {runtime}/grader/probes is missing (setup_sandbox.sh copies it)")
    else:
        pythonpath = (str(settings.source),)
    return Sandbox(user, uid, pythonpath, settings.child_python)


def foreign_modules(source: Path, assignment=None) -> list[tuple[str, str]]:
    """The engine's and the assignment's modules loaded from anywhere but `source` (an installed
    hw3grade, or another copy of the assignment, shadowing it)."""
    if not (source / "grader").is_dir():
        return []
    import grader.build
    import grader.report.gradescope
    import grader.runner  # noqa: F401  (loaded to see where it comes from)

    packages = {"grader"}
    if assignment is not None:
        for package in (assignment.reference, assignment.checks):
            importlib.import_module(package)
        packages |= {p.split(".")[0] for p in (assignment.reference, assignment.template, assignment.checks)}
    found = []
    base = os.path.realpath(source)
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if name.split(".")[0] in packages and where:
            if os.path.commonpath([base, os.path.realpath(where)]) != base:
                found.append((name, where))
    return found


def limit_processes(count: int) -> None:
    """RLIMIT_NPROC for what we start as the sandbox user (counted per user; root is exempt,
    so only ever call this when the child runs as another user)."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        cap = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))


# ---------------------------------------------------------------- one grading

def runtime_probe_files(settings: Settings, assignment, box: Sandbox) -> dict[str, str] | None:
    """{module name: path} of the assignment's probe files as the child finds them: the copies
    setup_sandbox.sh made in the child's runtime (None: the child reads the source, no runtime)."""
    if box.pythonpath != (str(settings.probe_runtime),):
        return None
    source = Path(os.path.realpath(settings.source))
    found = {}
    for name, path in assignment.probe_files().items():
        try:
            rel = Path(os.path.realpath(path)).relative_to(source)
        except ValueError:
            raise SetupError(f"the probe file {path} is not in the autograder's source {source}") from None
        copy = settings.probe_runtime / RUNTIME_PROBES / rel
        if not copy.is_file():
            raise SetupError(f"the child's runtime lacks the probe file {copy} (setup_sandbox.sh copies it)")
        found[name] = str(copy)
    return found


def grade_submission(settings: Settings, started: float, *, smoke: bool = False) -> tuple[dict, GradingResult]:
    """(results dict, GradingResult); raises SetupError/anything on a grader failure.
    With `smoke`, the bundled correct submission on the assignment's smoke_checks instead."""
    from grader.report import gradescope            # here: see load_assignment
    from grader.runner import grade, sandbox_for

    protect(settings)
    assignment = load_assignment(settings.assignment)
    foreign = foreign_modules(settings.source, assignment)
    if foreign:
        raise SetupError("the grader must run from the autograder's source, but "
                         + "; ".join(f"{name} comes from {where}" for name, where in foreign[:5]))
    metadata = read_metadata(settings.metadata) if not smoke else Metadata()
    if metadata.note:
        say(f"note: {metadata.note}")
    rubric = assignment.load_rubric()
    budget = settings.budget or rubric.limits.budget_seconds
    box = sandbox(settings)
    submission = settings.submission
    if smoke:
        wanted = set(assignment.smoke_checks)
        entries = tuple(e for e in rubric.checks if e.problem in wanted or e.id in wanted)
        if not entries:
            raise SetupError(f"the assignment's smoke_checks ({', '.join(sorted(wanted)) or 'none'}) name no "
                             f"check of its rubric")
        submission = settings.source / SMOKE_SUBMISSION
        if not any((submission / f"{m}.py").is_file() for m in assignment.modules):
            raise SetupError(f"the smoke test's submission {submission} is missing from the autograder zip")
    else:
        entries = rubric.select(set(settings.problems) if settings.problems else None)
    if not entries:
        raise SetupError(f"no rubric check belongs to {sorted(settings.problems or ())}")
    probe_files = runtime_probe_files(settings, assignment, box)
    extra = {"probe_files": tuple(probe_files.items())} if probe_files is not None else {}
    config = sandbox_for(assignment, rubric, run_as_user=box.user, python=box.python, pythonpath=box.pythonpath,
                         **extra)
    if box.user:
        limit_processes(SANDBOX_NPROC)
    say(f"grading {submission} ({len(entries)} checks"
        f"{', problems ' + ' '.join(sorted(settings.problems)) if settings.problems else ''}); the child runs as "
        f"{box.user or 'the current user'} with {box.python}; budget {budget:g} s")
    reserve = min(JUDGE_RESERVE, 0.15 * budget)
    probe_budget = max(budget - (time.monotonic() - started) - reserve, 5.0)
    # the runner grades a private copy the sandbox user can read and not change (grader/staging.py)
    result = grade(submission, assignment, rubric=rubric, entries=entries, sandbox=config,
                   budget_seconds=probe_budget, submission_id=metadata.submission_id, identity=metadata.identity)
    data = gradescope.to_results_json(result)
    if metadata.header:
        data["output"] = html.escape(metadata.header, quote=False) + "\n\n" + data.get("output", "")
    problems = gradescope.validate_results(data)
    for problem in problems:
        say(f"warning: results.json: {problem}")
    return data, result


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(prog="python -m grader.build.gradescope_entry", description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="+", metavar="KEY", help="only these problems (else HW3GRADE_PROBLEMS)")
    parser.add_argument("--smoke", action="store_true",
                        help="setup.sh's proof of the install: grade the bundled correct submission, write no results")
    args = parser.parse_args(argv)
    if args.smoke:
        code = smoke_test(started)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown (torch's can crash)
    subreaper = adopt_orphans()   # each child's close ends what it left; `end_descendants` the rest
    writer = ResultsWriter(root_from_env() / "results" / "results.json")
    writer.keep_room()
    _print_build_info()
    sandbox_uid: list[int | None] = [None]

    def finish(data: dict) -> bool:
        """End every leftover process, then write the results (once)."""
        with contextlib.suppress(Exception):
            ended = end_descendants(sandbox_uid[0], subreaper)
            if ended:
                say(f"ended {ended} leftover process(es) of the submission")
        return writer.write(data)

    from grader.report import gradescope

    result = None
    try:
        settings = Settings.from_env(os.environ, args.problems)
        with contextlib.suppress(KeyError):
            if settings.sandbox_user:
                sandbox_uid[0] = pwd.getpwnam(settings.sandbox_user).pw_uid
        _start_watchdog(settings, started, finish)
        data, result = grade_submission(settings, started)
    except SetupError as exc:
        say(f"autograder setup problem: {exc}")
        data = gradescope.fallback_results(f"Autograder setup problem: {exc}")
    except BaseException as exc:
        detail = f"{failure_cause(exc)}\n{traceback.format_exc()}"
        say(f"the grader failed:\n{detail}")
        data = gradescope.fallback_results(detail)
    wrote = finish(data)
    _print_log(result, data)
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown (torch's can crash): the results are written, and that is the contract.
    os._exit(0 if wrote or writer.written else 1)


def failure_cause(exc: BaseException) -> str:
    """The technical detail's first line: the real cause (memory, time, a crash), not a generic text."""
    if isinstance(exc, MemoryError):
        return "The grader ran out of memory (MemoryError) while grading; the traceback shows where."
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return f"The grader was stopped ({type(exc).__name__}: {exc}) before it wrote the results."
    return f"The grader crashed: {type(exc).__name__}: {exc}"


def smoke_test(started: float) -> int:
    """Grade the bundled correct submission as run_autograder would (the child as the sandbox user);
    0 if it gets full marks, else 1 after saying plainly what is wrong with the install."""
    from grader.outcome import Status
    from grader.report import gradescope

    subreaper = adopt_orphans()   # each child's close ends what it left; `end_descendants` the rest
    header = "hw3grade setup: SMOKE TEST FAILED, the autograder is not usable:"
    settings = None
    try:
        settings = Settings.from_env(os.environ, [])
        if not load_assignment(settings.assignment).smoke_checks:
            say("smoke test skipped: the assignment's manifest lists no smoke_checks")
            return 0
        data, result = grade_submission(settings, started, smoke=True)
    except SetupError as exc:
        print(f"{header} {exc}", flush=True)
        return 1
    except BaseException:
        print(f"{header} the grader failed on the bundled correct submission:\n{traceback.format_exc()}", flush=True)
        return 1
    finally:
        with contextlib.suppress(Exception):
            uid = pwd.getpwnam(settings.sandbox_user).pw_uid if settings and settings.sandbox_user else None
            end_descendants(uid, subreaper)
    who = settings.sandbox_user or "the current user"
    bad = [o for o in result.outcomes if o.status is not Status.PASSED or o.score < o.max_score]
    problems = gradescope.validate_results(data)
    if not bad and not problems and result.score == result.max_score:
        say(f"smoke test passed: the bundled correct submission ({SMOKE_SUBMISSION}) got full marks, "
            f"{result.score:g}/{result.max_score:g} on {len(result.outcomes)} checks, graded as {who} "
            f"with {settings.child_python} in {time.monotonic() - started:.1f} s")
        return 0
    lines = [f"{header} the bundled correct submission ({SMOKE_SUBMISSION}) got {result.score:g} of "
             f"{result.max_score:g} points when graded as {who} with {settings.child_python}, so every "
             "student would be graded wrongly. The install is broken, not the submissions: fix it and "
             "upload the autograder again."]
    grader_errors = [o for o in bad if o.status is Status.GRADER_ERROR]
    if grader_errors:
        lines.append(f"{len(grader_errors)} check(s) could not run at all; the first says: "
                     + (grader_errors[0].detail or grader_errors[0].message).strip()[-2000:])
    for outcome in bad[:5]:
        first = outcome.message.splitlines()[0] if outcome.message else ""
        lines.append(f"  {outcome.check_id}: {outcome.status.value}: {first}")
    lines += [f"  results.json: {problem}" for problem in problems[:5]]
    print("\n".join(lines), flush=True)
    return 1


def _start_watchdog(settings: Settings, started: float, finish) -> None:
    from grader.report import gradescope

    budget = settings.budget
    if budget is None:
        try:
            budget = load_assignment(settings.assignment).load_rubric().limits.budget_seconds
        except Exception:
            budget = 540.0

    def fire() -> None:
        time.sleep(max(started + budget - WATCHDOG_MARGIN - time.monotonic(), 0))
        detail = (f"The grading did not finish within its budget of {budget:g} s "
                  "(HW3GRADE_BUDGET_SECONDS); the grader stopped it.")
        if finish(gradescope.fallback_results(detail)):   # the child is gone now
            say(detail)
            from grader import scratch

            scratch.remove_all()   # os._exit skips every `finally`: the temporary folders go here
            os._exit(0)

    threading.Thread(target=fire, name="hw3grade-watchdog", daemon=True).start()


def say(message: str) -> None:
    """One line of the instructor's log (run_autograder's output: instructors only)."""
    print(f"hw3grade: {message}", flush=True)


def _print_build_info() -> None:
    with contextlib.suppress(Exception):
        build = Path(__file__).resolve().parents[2] / BUILD_INFO
        if build.is_file():
            info = json.loads(build.read_text("utf-8"))
            say(f"{info.get('assignment_name') or 'assignment ?'}: version {info.get('version', '?')}, "
                f"commit {info.get('git_commit') or '?'}, rubric {str(info.get('rubric_sha256', ''))[:12]}")


def _print_log(result, data: dict) -> None:
    """The instructor's view of the grading (Gradescope shows this output to instructors only)."""
    if result is not None:
        try:
            from grader.report import table

            table.print_table(result, show_details=True)
        except Exception:
            traceback.print_exc(file=sys.stdout)
    with contextlib.suppress(Exception):
        total = sum(t.get("max_score", 0) for t in data.get("tests", []))
        say(f"results.json: score {data.get('score')} / {total:g}")


if __name__ == "__main__":
    main()
