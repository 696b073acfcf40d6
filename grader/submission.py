"""Finding the assignment's modules (and a notebook) in whatever a student uploaded.

A submission is a folder (the modules at any depth), a .zip of one, a single
notebook or a single module file. :func:`locate` never imports or reads the
student's modules; it only decides which file is which and says, in kind words,
what it found, chose and ignored. A zip is extracted safely into the scratch
folder (no absolute paths, no ``..``, no links, bounded size and entry count), and
a notebook is converted there into ``<notebook_module>.py`` (the assignment's) by :mod:`grader.notebook`, in a confined
child process (:mod:`grader.confined_notebook`), and only when it can supply something the .py
modules do not.

Standard library only.
"""
from __future__ import annotations

import importlib.util
import os
import re
import stat
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import filetree, messages
from .assignment import Assignment
from .confined_notebook import ConversionFailed, NotebookRefused, can_supply, convert
from .probes import stubs


def _all_modules(assignment: Assignment) -> str:
    """"the seven modules": how notes name the whole contract."""
    return f"the {_count(assignment)} modules"


def _count(assignment: Assignment) -> str:
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
    count = len(assignment.modules)
    return words[count] if count < len(words) else str(count)

#: Limits of an uploaded zip (module constants so that tests can shrink them).
MAX_ZIP_BYTES = 200 * 2**20
MAX_ZIP_ENTRIES = 5000
#: A folder submission is walked up to this many entries (a stray virtualenv is skipped whole).
MAX_WALK_ENTRIES = 50_000

_IGNORED_DIRS = {"__MACOSX", "__pycache__", "site-packages", "node_modules"}
#: Compiled Python: never run (grader/probes/student.py loads source only), never extracted from a zip.
_COMPILED_SUFFIXES = (".pyc", ".pyo", ".pyd", ".so")
_LIST = 4  # how many file names a note lists before "..."


class SubmissionError(Exception):
    """The submission cannot be read at all (message for the student)."""


@dataclass(frozen=True)
class Located:
    root: Path                  # folder holding the submission (extracted for a zip)
    modules: dict[str, Path]    # contract module name -> its .py file (absolute paths)
    notebook: Path | None       # the notebook converted to a Python module file (in scratch), if one is used
    notes: tuple[str, ...]      # what was found, chosen, skipped or ignored: shown to the student, kindly worded


def locate(path: Path, scratch: Path, assignment: Assignment) -> Located:
    """Find the assignment's modules and a notebook in `path`; scratch holds what we write.

    Raises :class:`SubmissionError` only when the submission cannot be read at all
    (missing path, invalid or oversized zip); everything else becomes a note.
    """
    path, scratch = Path(path), Path(scratch)
    if not path.exists():
        if path.is_symlink():
            raise SubmissionError(f"The submission {path} is a link to a file that does not exist.")
        raise SubmissionError(f"The submission {path} does not exist.")
    scratch.mkdir(parents=True, exist_ok=True)
    _readable_dir(scratch)
    notes: list[str] = []

    suffix = path.suffix.lower()
    zipped = path.is_file() and (suffix == ".zip" or (suffix not in (".py", ".ipynb") and zipfile.is_zipfile(path)))
    compiled: list[str] = []   # bytecode and extension modules: reported, never run
    if path.is_dir():
        root = path.absolute()
        scan = _scan(root)
    elif zipped:
        root = _extract(path, scratch / "extracted", notes, compiled)
        scan = _scan(root)
    elif suffix == ".ipynb":
        root = path.absolute().parent
        scan = _Scan(notebooks=[path.absolute()])
    elif suffix == ".py":
        root = path.absolute().parent
        scan = _Scan(py=[path.absolute()])
        if _module_name_of(path.stem, assignment) is None:
            notes.append(f"{path.name} is not one of the {_count(assignment)} module names "
                         f"({_module_list(assignment)}), so nothing in it can be graded. "
                         "Name each file exactly as the assignment does.")
    elif _is_compiled(path.name):
        raise SubmissionError(f"{path.name} is compiled Python, which is never graded: only source is. "
                              "Upload your .py modules (or a .zip of them).")
    else:
        raise SubmissionError(f"{path.name} is neither a folder, a .zip, a notebook (.ipynb) nor a .py module, "
                              "so it cannot be graded. Upload your .py modules (or a .zip of them).")
    notes += scan.notes

    choices: list[str] = []
    modules = _choose_modules(root, scan.py, choices, assignment)
    notebooks = scan.notebooks
    if notebooks and not can_supply(modules, assignment):   # a bounded scan of the modules: nothing of them is parsed
        choices.append(f"{_names([_rel(root, p) for p in notebooks])} {'was' if len(notebooks) == 1 else 'were'} "
                       f"not read: your .py modules define everything the assignment asks for.")
        notebooks = []
    notebook = _choose_notebook(root, notebooks, scratch, choices, modules, assignment)
    head, tail = _summarize(root, modules, notebook, scan, assignment)
    notes = head + notes + _compiled_note(compiled + scan.compiled, modules, assignment) + choices + tail
    if modules and (path.is_dir() or zipped):
        note = _shadow_note(root, modules, assignment)
        if note:
            notes.append(note)
    return Located(root, modules, notebook, tuple(notes))


# ---------------------------------------------------------------- walking a folder

@dataclass
class _Scan:
    py: list[Path] = field(default_factory=list)
    notebooks: list[Path] = field(default_factory=list)
    zips: list[Path] = field(default_factory=list)
    compiled: list[str] = field(default_factory=list)   # relative names of bytecode and extension modules
    notes: list[str] = field(default_factory=list)


def _scan(root: Path) -> _Scan:
    """Every candidate file under root: no hidden, cache, Mac-metadata or virtualenv folders,
    and no link that leads outside root (links inside root are used as the files they are)."""
    scan = _Scan()
    real_root = os.path.realpath(root)
    macosx = False
    venvs: list[str] = []
    outside: list[str] = []
    seen = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_WALK_ENTRIES:
                scan.notes.append(f"The submission holds more than {MAX_WALK_ENTRIES} files; only the first "
                                  "ones were searched. Upload just your modules.")
                stack.clear()
                break
            name = entry.name
            rel = _rel(root, Path(entry.path))
            if name.startswith("."):
                continue
            if name == "__MACOSX":
                macosx = True
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if os.path.commonpath([real_root, target]) != real_root:
                    outside.append(rel)
                    continue
                if not os.path.isfile(target):
                    continue   # a link to a folder inside root: that folder is searched as itself
            if entry.is_dir(follow_symlinks=False):
                if name in _IGNORED_DIRS or _is_env(entry.path):
                    if name == "__pycache__":
                        scan.compiled.append(rel + "/")
                    else:
                        venvs.append(rel + "/")
                    continue
                stack.append(Path(entry.path))
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix == ".py" and name.endswith(".py"):
                scan.py.append(Path(entry.path))
            elif suffix == ".ipynb":
                scan.notebooks.append(Path(entry.path))
            elif suffix == ".zip":
                scan.zips.append(Path(entry.path))
            elif _is_compiled(name):
                scan.compiled.append(rel)
    if macosx:
        scan.notes.append("Ignored the __MACOSX folder (file information a Mac adds to zips).")
    if venvs:
        scan.notes.append(f"Ignored {_names(venvs)}: installed packages are not part of your answers.")
    if outside:
        scan.notes.append(f"Ignored {_names(outside)}: links that point outside your submission are not followed.")
    return scan


def _is_compiled(name: str) -> bool:
    return name.lower().endswith(_COMPILED_SUFFIXES)


def _compiled_note(compiled: list[str], modules: dict[str, Path], assignment: Assignment) -> list[str]:
    """One note on the compiled files found: they are never run, and never stand in for a module."""
    compiled = list(dict.fromkeys(compiled))
    if not compiled:
        return []
    note = (f"Ignored {_names(compiled)}: compiled Python (.pyc bytecode, __pycache__ folders, .so extension "
            "modules) is never run; only your .py source files are graded.")
    stand_ins = [(name, module) for name in compiled for module in assignment.modules if module not in modules
                 and PurePosixPath(name.rstrip("/")).name.split(".")[0].lower() == module.lower()]
    if stand_ins:
        firsts: dict[str, str] = {}   # {module: the first compiled file that looks like it}
        for name, module in stand_ins:
            firsts.setdefault(module, name)
        note += " " + " ".join(f"{name} does not replace {module}.py: upload {module}.py itself."
                               for module, name in firsts.items())
    return [note]


def _is_env(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg")) or os.path.isdir(os.path.join(folder, "conda-meta"))


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _names(items: list[str], limit: int = _LIST) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _module_list(assignment: Assignment) -> str:
    return ", ".join(f"{m}.py" for m in assignment.modules)


# ---------------------------------------------------------------- choosing

def _module_name_of(stem: str, assignment: Assignment) -> str | None:
    for module in assignment.modules:
        # a mixed-case name (camelCase) is easy to mistype in case; an all-lowercase one gets a hint instead
        if stem == module or (module != module.lower() and stem.lower() == module.lower()):
            return module
    return None


def _order(root: Path, path: Path) -> tuple[int, str]:
    rel = _rel(root, path)
    return rel.count("/"), rel


def _choose_modules(root: Path, candidates: list[Path], notes: list[str], assignment: Assignment) -> dict[str, Path]:
    chosen: dict[str, Path] = {}
    for module in assignment.modules:
        exact = sorted((p for p in candidates if p.name == f"{module}.py"), key=lambda p: _order(root, p))
        variants = sorted((p for p in candidates
                           if p.name != f"{module}.py" and _module_name_of(p.stem, assignment) == module),
                          key=lambda p: _order(root, p))
        pool = exact or variants
        if not pool:
            continue
        use = pool[0]
        chosen[module] = use.absolute()
        if not exact:
            notes.append(f"Used {_rel(root, use)} as {module}.py (the names differ only in upper/lower case); "
                         f"please name it exactly {module}.py.")
        if len(pool) > 1:
            others = [_rel(root, p) for p in pool[1:]]
            notes.append(f"Found {len(pool)} files named {module}.py: used {_rel(root, use)} (the least nested) "
                         f"and ignored {_names(others)}.")
    return chosen


def _choose_notebook(root: Path, notebooks: list[Path], scratch: Path, notes: list[str],
                     modules: dict[str, Path], assignment: Assignment) -> Path | None:
    if not notebooks:
        return None
    # the child counts definitions only when there is a choice to make; ties go to the least nested
    ordered = sorted(notebooks, key=lambda p: _order(root, p))
    out = scratch / f"{assignment.notebook_module}.py"
    try:
        converted = convert(ordered, out, assignment)
    except NotebookRefused as exc:
        notes.append(f"The notebook could not be read: {exc}.".replace("..", "."))
        return None
    except (ConversionFailed, OSError) as exc:  # a bug of ours, or writing the scratch copy failed: never fatal
        notes.append(f"The grader could not convert the notebook {_names([_rel(root, p) for p in ordered])} "
                     f"({exc}); please tell your instructor.")
        return None
    name = _rel(root, ordered[converted.chosen])
    if len(ordered) > 1:
        others = [_rel(root, ordered[i]) for i in sorted(range(len(ordered)), key=lambda i: -converted.definitions[i])
                  if i != converted.chosen]
        notes.append(f"Found {len(ordered)} notebooks: used {name}, which defines the most functions and classes "
                     f"({max(converted.definitions[converted.chosen], 0)}), and ignored {_names(others)}.")
    _readable_file(out)
    notes += [f"{name}: {n}" for n in converted.notes]
    notes += _stubs_note(name, out, modules)
    return out.absolute()


def _stubs_note(name: str, converted: Path, modules: dict[str, Path]) -> list[str]:
    """Which untouched stubs of the modules the notebook's definitions replace (grader.probes.stubs decides,
    from the sources: the child grades alike)."""
    found = stubs.from_notebook_files(modules, converted)
    if not found:
        return []
    graded = [f"{', '.join(names)} ({module}.py)" for module, names in found.items()]
    return [f"Graded from the notebook {name}, since the .py files still hold the template's stubs (which raise "
            f"NotImplementedError, or leave an answer None): {_names(graded, 7)}."]


def _summarize(root: Path, modules: dict[str, Path], notebook: Path | None,
               scan: _Scan, assignment: Assignment) -> tuple[list[str], list[str]]:
    """(the headline: what was found; then what is missing), in as few notes as say it."""
    head: list[str] = []
    notes: list[str] = []
    for z in scan.zips:
        notes.append(f"{_rel(root, z)} was not opened: a zip inside the submission is not unpacked. "
                     "Upload the files themselves (or one zip of them).")
    missing = [m for m in assignment.modules if m not in modules]
    if not modules and notebook is None:
        head.append(f"Nothing gradeable was found in the submission: none of {_all_modules(assignment)} "
                    f"({_module_list(assignment)}) and no notebook, so every check scores 0.")
        _case_hints(root, scan, missing, notes)
        return head, notes
    if modules:
        folders = sorted({_rel(root, p.parent) if p.parent != root else "." for p in modules.values()})
        where = "" if folders == ["."] else f" (in {_names(['the top folder' if f == '.' else f for f in folders])})"
        every = "both modules" if len(assignment.modules) == 2 else f"all {_all_modules(assignment)[4:]}"
        found = every if not missing else f"{len(modules)} of {_all_modules(assignment)}"
        head.append(f"Found {found}{where}.")
    if notebook is not None:
        if missing:
            problems = assignment.describe_problems(k for m in missing for k in assignment.problems_of_module(m))
            notes.append(f"{_names([m + '.py' for m in missing], 7)} "
                         f"{'was' if len(missing) == 1 else 'were'} not found, so the checks of "
                         f"{problems} use what your notebook defines.")
        else:
            notes.append("Your .py modules come first; the notebook supplies only what they do not define.")
        return head, notes
    _case_hints(root, scan, missing, notes)
    notes += [messages.missing_module(m, assignment.problems_needing(m)) for m in missing]
    return head, notes


def _case_hints(root: Path, scan: _Scan, missing: list[str], notes: list[str]) -> None:
    for module in missing:
        near = [_rel(root, p) for p in scan.py if p.stem.lower() == module.lower() and p.stem != module]
        if near:
            notes.append(f"{near[0]} looks like {module}.py, but module names must match exactly "
                         f"(upper/lower case included): rename it to {module}.py.")


def _shadow_note(root: Path, modules: dict[str, Path], assignment: Assignment) -> str | None:
    """One note on .py files next to the modules that are named like an installed package."""
    chosen = {p.absolute() for p in modules.values()}
    folders = sorted({p.parent for p in modules.values()})
    real_root = os.path.realpath(root)
    shadows: list[tuple[str, str]] = []
    for folder in folders:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if not name.endswith(".py") or name.startswith(".") or Path(entry.path).absolute() in chosen:
                continue
            stem = name[:-3]
            if stem in assignment.modules or not stem.isidentifier() or stem == assignment.notebook_module:
                continue
            if _installed_elsewhere(stem, real_root):
                shadows.append((_rel(root, Path(entry.path)), stem))
    if not shadows:
        return None
    files = _names([f for f, _ in shadows])
    imports = " and ".join(f"`import {s}`" for _, s in shadows[:2])
    if len(shadows) == 1:
        return (f"{files} is named like an installed package: your modules may import helper files that sit "
                f"next to them, but {imports} always loads the installed one, never this file. "
                "Rename it if your code needs it.")
    return (f"{files} are named like installed packages: your modules may import helper files that sit "
            f"next to them, but {imports} always load the installed ones, never these files. "
            "Rename them if your code needs them.")


def _installed_elsewhere(name: str, real_root: str) -> bool:
    """Whether `name` is an importable top-level module of the grader (found, never imported),
    other than a file of the submission itself (the grader may run from inside it)."""
    if name in sys.builtin_module_names or name in getattr(sys, "stdlib_module_names", ()):
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return False
    if spec is None:
        return False
    origin = spec.origin or next(iter(spec.submodule_search_locations or []), None)
    if origin and os.path.exists(origin):
        real = os.path.realpath(origin)
        if os.path.commonpath([real_root, real]) == real_root:
            return False
    return True


# ---------------------------------------------------------------- zips

_DRIVE = re.compile(r"^[A-Za-z]:")


# What one central-directory entry may take on average (46 fixed bytes, a name, extra fields): the
# directory of MAX_ZIP_ENTRIES files fits easily, one of a million empty files does not.
_CENTRAL_DIRECTORY_BYTES_PER_ENTRY = 1024
_EOCD, _EOCD64_LOCATOR, _EOCD64 = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"


def central_directory(archive: Path) -> tuple[int, int] | None:
    """(entries, bytes) of a zip's central directory, read from its end records alone (at most
    64 KiB + 76 bytes), so that a zip of a million entries is refused before `ZipFile` parses them
    all; None when no end record is found (then it is no zip)."""
    with open(archive, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        tail_start = max(0, size - (22 + 65535))
        fh.seek(tail_start)
        tail = fh.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            return None
        entries, cd_bytes = struct.unpack("<HI", tail[at + 10:at + 16])
        locator = tail[at - 20:at] if at >= 20 else b""
        if locator[:4] == _EOCD64_LOCATOR:   # Zip64: the real figures are in the Zip64 end record
            (offset,) = struct.unpack("<Q", locator[8:16])
            fh.seek(min(offset, size))
            record = fh.read(56)
            if record[:4] == _EOCD64 and len(record) == 56:
                entries, cd_bytes = struct.unpack("<QQ", record[32:48])
    return entries, cd_bytes


def _refuse_huge_directory(archive: Path) -> None:
    found = central_directory(archive)
    if found is None:
        return   # ZipFile says what is wrong with it
    entries, cd_bytes = found
    if entries > MAX_ZIP_ENTRIES or cd_bytes > MAX_ZIP_ENTRIES * _CENTRAL_DIRECTORY_BYTES_PER_ENTRY:
        shown = (f"holds {entries} files, more than the {MAX_ZIP_ENTRIES} allowed" if entries > MAX_ZIP_ENTRIES else
                 f"lists more files than the {MAX_ZIP_ENTRIES} allowed (its list of files takes {_mb(cd_bytes)})")
        raise SubmissionError(f"{archive.name} {shown}. Zip only your modules (not a virtualenv or a data folder).")


def open_zip(archive: Path) -> zipfile.ZipFile:
    """`ZipFile(archive)`, after its central directory was found small enough to read (SubmissionError)."""
    _refuse_huge_directory(archive)
    return zipfile.ZipFile(archive)


def _extract(archive: Path, dest: Path, notes: list[str], compiled: list[str] | None = None) -> Path:
    """Extract `archive` into `dest` safely; returns dest. Raises SubmissionError when it cannot.
    Compiled Python (bytecode, __pycache__, extension modules) is left in the zip and listed in `compiled`."""
    compiled = compiled if compiled is not None else []
    name = archive.name
    try:
        zf = open_zip(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise SubmissionError(f"{name} is not a valid zip file ({_reason(exc)}). "
                              "Create the zip again (or upload the .py files themselves).") from None
    if dest.exists():
        filetree.remove(dest)
    dest.mkdir(parents=True)
    _readable_dir(dest)
    unsafe: list[str] = []
    links: list[str] = []
    failed: list[str] = []
    encrypted: list[str] = []
    with zf:
        try:
            infos = zf.infolist()
        except Exception as exc:  # pragma: no cover - infolist is read at open time
            raise SubmissionError(f"{name} is not a valid zip file ({_reason(exc)}).") from None
        if len(infos) > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"{name} holds {len(infos)} files, more than the {MAX_ZIP_ENTRIES} allowed. "
                                  "Zip only your modules (not a virtualenv or a data folder).")
        declared = sum(max(i.file_size, 0) for i in infos)
        if declared > MAX_ZIP_BYTES:
            raise SubmissionError(f"{name} unpacks to {_mb(declared)}, more than the {_mb(MAX_ZIP_BYTES)} "
                                  "allowed. Zip only your modules (no data, checkpoints or virtualenv).")
        written = 0
        for info in infos:
            raw = info.filename.replace("\\", "/")
            parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
            if raw.startswith("/") or _DRIVE.match(raw) or ".." in parts or "\x00" in raw:
                unsafe.append(info.filename)
                continue
            if not parts:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                links.append("/".join(parts))
                continue
            if "__pycache__" in parts or (not info.is_dir() and _is_compiled(parts[-1])):
                cache = parts.index("__pycache__") + 1 if "__pycache__" in parts else 0
                skipped = "/".join(parts[:cache]) + "/" if cache else "/".join(parts)
                if skipped not in compiled:
                    compiled.append(skipped)
                continue
            target = dest.joinpath(*parts)
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if info.flag_bits & 0x1:
                    encrypted.append("/".join(parts))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:
                            raise SubmissionError(f"{name} unpacks to more than the {_mb(MAX_ZIP_BYTES)} allowed. "
                                                  "Zip only your modules.")
                        dst.write(chunk)
            except SubmissionError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise SubmissionError(f"{name} is not a valid zip file ({_reason(exc)}). "
                                      "Create the zip again.") from None
            except (OSError, RuntimeError, NotImplementedError, ValueError):
                failed.append("/".join(parts))
    _make_readable(dest)
    if unsafe:
        notes.append(f"Skipped {_names(unsafe)} in the zip: paths that are absolute or climb out with '..' "
                     "are never extracted.")
    if links:
        notes.append(f"Skipped {_names(links)} in the zip: symbolic links are not extracted.")
    if encrypted:
        notes.append(f"Skipped {_names(encrypted)} in the zip: they are password-protected.")
    if failed:
        notes.append(f"Could not extract {_names(failed)} from the zip (an unusual name or an unsupported "
                     "compression); those files were skipped.")
    return dest


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


# ---------------------------------------------------------------- permissions

def _readable_dir(path: Path) -> None:
    try:
        path.chmod(path.stat().st_mode | 0o755)
    except OSError:
        pass


def _readable_file(path: Path) -> None:
    try:
        path.chmod(path.stat().st_mode | 0o644)
    except OSError:
        pass


def _make_readable(root: Path) -> None:
    """o+r on every file and o+rx on every folder: the child may run as another user."""
    _readable_dir(root)
    for folder, dirs, files in filetree.walk(root):
        for d in dirs:
            p = Path(folder, d)
            if not p.is_symlink():
                _readable_dir(p)
        for f in files:
            p = Path(folder, f)
            if not p.is_symlink():
                _readable_file(p)
