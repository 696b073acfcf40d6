"""Cell magics (``%%time``, ``%%bash`` ...) as IPython runs them: which ones run their body as the
notebook's Python, in the notebook's namespace (its definitions count), and which do not.

A notebook counts as IPython runs it (HOMEWORK.md, Conventions). IPython reads a cell magic only
on the cell's first line once leading blank lines and the indentation common to all lines are
removed (``IPython/core/inputtransformer2.py``: ``leading_empty_lines``, ``leading_indent``, then
``cell_magic``, which splits the name off at the first space); the rest of the cell is the body.
The cell magics IPython ships are listed in ``IPython/core/magics/_table.py``
(``BUILTIN_LAZY_MAGICS["cell"]``, ``default_script_magics``); :data:`CELL_MAGICS` decides each one
from the code that runs it (paths in the IPython repository, 9.x). A magic outside the table is
taken the safe way: its cell defines nothing, and the notes name it.

Standard library only: nothing of the notebook runs here.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

# Why a cell defines nothing, by what the magic does with its body (for the notes).
_ANOTHER_PROGRAM = "the body is not the notebook's Python (IPython hands it to another program)"
_ANOTHER_PYTHON = "the body runs in a separate Python process, not in the notebook"
_IN_A_FUNCTION = "the body runs inside a function that %%timeit times (what it defines stays local to it)"
_TO_A_FILE = "the body is written to a file, not run"
_DISPLAYED = "the body is displayed (HTML, JavaScript, LaTeX, Markdown, SVG), not run"
_TRANSFORMER = "the body is a template that transforms later cells, not run"

#: Cell magic -> None when IPython runs its body as the notebook's Python in the notebook's
#: namespace (its definitions are kept), else why it does not (its cell defines nothing).
CELL_MAGICS: dict[str, str | None] = {
    # core/magics/execution.py, ExecutionMagics.time: exec(code, self.shell.user_ns, local_ns), with
    # local_ns = user_ns (interactiveshell.py, run_cell_magic: needs_local_scope)
    "time": None,
    # execution.py, ExecutionMagics.capture: self.shell.run_cell(cell) inside capture_output
    # (utils/capture.py only swaps sys.stdout/stderr and the display hooks); `%%capture out` also
    # binds `out` to the captured output
    "capture": None,
    # execution.py, ExecutionMagics.prun -> _run_with_profiler: prof.runctx(code, namespace, namespace)
    # with namespace = self.shell.user_ns
    "prun": None,
    # execution.py, ExecutionMagics.debug -> _debug_exec -> _run_with_debugger: deb.run(code,
    # self.shell.user_ns, local_ns), under pdb (the student continues it to the end)
    "debug": None,
    # execution.py, ExecutionMagics.timeit: the body is spliced into
    # `def inner(_it, _timer): setup; for _i in _it: stmt` and timed; its names are inner's locals
    "timeit": _IN_A_FUNCTION,
    # execution.py, ExecutionMagics.code_wrap: the body becomes an AST transformer of later input
    "code_wrap": _TRANSFORMER,
    # core/magics/script.py, ScriptMagics.shebang (`%%script`) and the `%%<interpreter>` magics it
    # generates from default_script_magics (_table.py): the body is the stdin of a subprocess
    "script": _ANOTHER_PROGRAM,
    "sh": _ANOTHER_PROGRAM,
    "bash": _ANOTHER_PROGRAM,
    "perl": _ANOTHER_PROGRAM,
    "ruby": _ANOTHER_PROGRAM,
    "cmd": _ANOTHER_PROGRAM,
    "python": _ANOTHER_PYTHON,
    "python2": _ANOTHER_PYTHON,
    "python3": _ANOTHER_PYTHON,
    "pypy": _ANOTHER_PYTHON,
    # core/magics/osm.py, OSMagics.sx (also registered as `%%system` and `%%!`): the shell runs the body
    "sx": _ANOTHER_PROGRAM,
    "system": _ANOTHER_PROGRAM,
    "!": _ANOTHER_PROGRAM,
    # Colab's `%%shell` (googlecolab/colabtools, google/colab/_system_commands.py, _shell_cell_magic):
    # _run_command hands the body to /bin/bash
    "shell": _ANOTHER_PROGRAM,
    # osm.py, OSMagics.writefile: open(filename, mode).write(cell); `%%file` is its alias
    # (interactiveshell.py, init_magics: register_alias('file', 'writefile', 'cell'))
    "writefile": _TO_A_FILE,
    "file": _TO_A_FILE,
    # core/magics/display.py, DisplayMagics: display(HTML(cell)) and the like; `%%HTML` and `%%SVG`
    # are aliases (interactiveshell.py, init_magics)
    "html": _DISPLAYED,
    "HTML": _DISPLAYED,
    "javascript": _DISPLAYED,
    "js": _DISPLAYED,
    "latex": _DISPLAYED,
    "markdown": _DISPLAYED,
    "svg": _DISPLAYED,
    "SVG": _DISPLAYED,
}

UNKNOWN = "IPython does not ship this cell magic, and the grader cannot tell what it does with the body"


@dataclass(frozen=True)
class CellMagic:
    """The cell magic a cell starts with, and the body IPython hands it."""

    name: str
    body: str            # with the magic's line blanked: line numbers are the cell's
    indented: bool       # the %% line is indented past the rest: IPython runs no magic, the cell fails

    @property
    def runs_body(self) -> bool:
        """Whether IPython runs the body as the notebook's Python, in the notebook's namespace."""
        return not self.indented and self.name in CELL_MAGICS and CELL_MAGICS[self.name] is None

    @property
    def why_not(self) -> str:
        """Why the cell defines nothing (only when it does not run its body)."""
        if self.indented:
            return ("IPython does not read a %% line indented past the rest of the cell as a cell magic: "
                    "the cell fails there")
        return CELL_MAGICS.get(self.name) or UNKNOWN


def leading_cell_magic(source: str) -> CellMagic | None:
    """The cell magic `source` starts with, as IPython reads it; None for a cell without one."""
    lines = source.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return None
    dedented = textwrap.dedent("".join(lines[first:])).splitlines(keepends=True)
    head = dedented[0]
    name = head.strip()[2:].partition(" ")[0]
    body = "\n" * (first + 1) + "".join(dedented[1:])
    return CellMagic(name=name, body=body, indented=not head.startswith("%%"))
