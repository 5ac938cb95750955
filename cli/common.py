"""What every `leadscore` command shares: the consoles, user errors as one line, progress
lines, the options `score`, `explain`, `evaluate` and `monitor` take alike."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from features.errors import LeadscoreError
from features.spec import builtin_specs
from models.i18n import LANG_ENV
from models.mlflow_store import DEFAULT_MODEL_URI

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MODEL = DEFAULT_MODEL_URI
BUILT_IN_SPECS = ", ".join(builtin_specs())
# The moment of scoring and the event log, as `score` and `explain` take them.
EventsOption = Annotated[
    Path | None,
    typer.Option(help="event log, .csv or .parquet: features from the events before --as-of"),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="the moment of scoring, ISO 8601 or epoch ms (default: now); timestamps "
        "and events after it are an error",
    ),
]
MODEL_HELP = "MLflow model URI, or a bundle folder (bundle.json: read without MLflow)"
# The language of what people read (reasons, decision details, the card, the sheet).
LangOption = Annotated[
    str,
    typer.Option(
        envvar=LANG_ENV,
        help=f"language of reasons, details and cards: en (default) or de; also from ${LANG_ENV}",
    ),
]


def language_of(lang: str) -> str:
    """`--lang` (or $LEADSCORE_LANG) checked: a language with a message catalogue."""
    from models.i18n import check_language

    return check_language(lang, "--lang")


def user_errors(command: F) -> F:
    """Turn a LeadscoreError into one clear line on stderr and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeadscoreError as error:
            err_console.print(
                f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def on_terminal(stream: Console) -> bool:
    """Whether `stream` is an interactive terminal: not a file, a pipe or a CI log (where
    a live display, even one FORCE_COLOR asks for, is only noise)."""
    isatty = getattr(stream.file, "isatty", None)
    try:
        interactive = bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        interactive = False
    return interactive and not stream.is_dumb_terminal


class Stages:
    """Progress through a command's named stages, on stderr.

    On a terminal: a rich display, a line per stage with a spinner and its time, ticked
    off when the next stage begins. Elsewhere (CI, cron, a pipe): one plain line per stage,
    `leadscore train [3.2 s] training fit, interest and full models…`, with the seconds
    since the command began, and a last `done` line. Call `end()` before printing to
    stdout: a live display and another stream's output would garble each other.
    """

    def __init__(self, command: str, stream: Console | None = None) -> None:
        self.command = command
        self.stream = stream or err_console
        self.live = on_terminal(self.stream)
        self.began = time.perf_counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.end(failed=kind is not None)
        if kind is None:
            self.line("done")

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def line(self, text: str) -> None:
        """One plain progress line (off a terminal only)."""
        if not self.live:
            self.stream.print(
                f"{self.command} [{self.elapsed():.1f} s] {text}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    def stage(self, name: str) -> None:
        """End the current stage (if any) and begin `name`."""
        if not self.live:
            self.line(f"{name}…")
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓[/]"),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.stream,
            )
            self._progress.start()
        elif self._task is not None:
            self._progress.update(self._task, total=1, completed=1)
        self._task = self._progress.add_task(escape(name), total=None)

    def end(self, failed: bool = False) -> None:
        """Stop the display after the current stage (ticked off, or dropped if it failed)."""
        progress, task, self._progress, self._task = self._progress, self._task, None, None
        if progress is None:
            return
        if task is not None:
            if failed:
                progress.remove_task(task)
            else:
                progress.update(task, total=1, completed=1)
        progress.stop()


class RowProgress:
    """Rows done of a total (None: unknown): a rich progress bar on a terminal; elsewhere a
    plain line on stderr after the first chunk and then at most every `every` seconds."""

    def __init__(self, command: str, what: str, total: int | None, every: float = 1.0) -> None:
        self.stages = Stages(command)
        self.what = what
        self.total = total
        self.every = every
        self.done = 0
        self._last: float | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RowProgress:
        if self.stages.live:
            from rich.progress import Progress

            self._progress = Progress(console=self.stages.stream, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(escape(self.what), total=self.total)
        return self

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=rows)
            return
        now = self.stages.elapsed()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self.stages.line(self.text())

    def text(self) -> str:
        if not self.total:
            return f"{self.what}: {self.done:,} rows"
        return f"{self.what}: {self.done:,} of {self.total:,} rows ({self.done / self.total:.0%})"

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif kind is None:
            self.stages.line(self.text() + ", done")


def console_script(name: str) -> str:
    """How to run `name`, a command installed beside this Python (the project's virtual
    environment), as a shell word: the bare name when the shell finds that same file on
    PATH, else its full path (a venv not activated), else `python -m name`."""
    folder = Path(sys.executable).parent  # not resolved: a venv's python is a symlink
    beside = next((folder / n for n in (name, f"{name}.exe") if (folder / n).is_file()), None)
    found = shutil.which(name)
    if beside is None:
        return f"{shlex.quote(sys.executable)} -m {name}"
    if found is not None:
        try:
            if os.path.samefile(found, beside):
                return name
        except OSError:
            pass
    return shlex.quote(str(beside))


def moment_of(as_of: str | None) -> Any:
    """`--as-of` as an `AsOf` (None: now); an unreadable one is a user error."""
    from features.coerce import CoercionError
    from features.timestamps import AsOf

    try:
        return AsOf.of(as_of, "--as-of")
    except CoercionError as error:
        raise LeadscoreError(f"--as-of: cannot read {as_of!r} as {error.expected}") from None


def scored_line(written: int, model: str, version: str, moment: Any, out: Any) -> str:
    """The one line `leadscore score` ends with (either engine)."""
    return (
        f"scored {written:,} leads with {model}"
        + (f" (version {version})" if version else "")
        + f" as of {moment.text} → {out}"
    )
