"""Progress of a long command (``settle bench``, ``settle stress``) on stderr.

Owns how progress shows: on a terminal, one live rich bar (its step, a bar,
elapsed time, a line of figures); on anything else (a pipe, a CI log) one
plain line per step and nothing in between; nothing at all when the command
prints JSON.  Never writes to stdout: the command's output there stays what
it was, parseable.
"""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

__all__ = ["StepProgress"]


class StepProgress:
    """A context manager: ``step`` starts a named step, ``update`` moves it on.

    Args:
        quiet: show nothing (``--json``).
        transient: on a terminal, remove the bar when done (what follows replaces it).
        console: where to draw (default: stderr; tests pass their own).
    """

    def __init__(self, *, quiet: bool = False, transient: bool = False, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.live = not quiet and self.console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"), console=self.console, transient=transient) if self.live else None
        self.task = None

    def __enter__(self) -> "StepProgress":
        if self.progress is not None:
            self.progress.__enter__()
            self.task = self.progress.add_task("starting", total=None, info="")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def step(self, description: str, total: float | None = None) -> None:
        if self.progress is not None:
            self.progress.reset(self.task, total=total, description=description, info="")
        elif not self.quiet:
            print(f"{description} ...", file=self.console.file, flush=True)

    def update(self, completed: float, total: float | None = None, info: str = "") -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=completed, info=info, **({"total": total} if total is not None else {}))
