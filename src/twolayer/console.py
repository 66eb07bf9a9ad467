"""What the command line shows, and the care its streams need.

Rich tables and JSON on stdout; progress bars, warnings and the one error line on stderr; a closed
or full stdout reported as one line; stdin, stdout and stderr held open when the process started
without them; the advice a failed run repeats. Rich is imported on first use (it is slow to import).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time

import typer

from .errors import InputError
from .io import ESCAPE, printable, stdout_write
from .settings import flag


# -- help: Typer's presentation ----------------------------------------------------------
def _hide_flag_metavars(params):
    # Recent Typer shows `<bool>` after every flag in rich help; a flag takes no value, so show none.
    # Its usage line writes an argument as {model}: show MODEL, as Unix usage lines do.
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if getattr(param, "param_type_name", "") == "argument":
            name = (param.metavar or param.name or "").upper()
            param._usage_display_name = (
                (lambda n=name: n) if param.required else (lambda n=name: f"[{n}]")
            )
    return params


class HelpGroup(typer.core.TyperGroup):
    """Typer's command group, its help showing no metavar after a flag."""

    def get_params(self, ctx):
        return _hide_flag_metavars(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_metavars(command.get_params(ctx))
        return command


# -- encodings: any stream can show any text ---------------------------------------------
def readable_streams():
    """Make stdout and stderr write what their encoding cannot hold as escapes (io.ESCAPE), instead of
    failing after the work is done; returns the call that restores them."""
    before = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            before.append((reconfigure, stream.errors))
            reconfigure(errors=ESCAPE)
        except (ValueError, OSError, AttributeError):  # a closed or unusual stream
            before.pop()

    def restore():
        for reconfigure, errors in before:
            try:
                reconfigure(errors=errors)
            except (ValueError, OSError):
                pass

    return restore


def rich_console(stderr=False):
    """A Rich console on stdout or stderr, never narrower than 40 columns (COLUMNS=1 would leave
    Rich's tables no room at all, an internal error inside Rich)."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if console.width < 40:
        console = Console(stderr=stderr, width=40)
    return console


# -- stdout: tables and JSON -------------------------------------------------------------
def print_renderable(renderable):
    """A Rich renderable on stdout; a closed or full stdout is one line (exit 2)."""
    if sys.stdout is None:
        stdout_write("")  # raises the one-line error
    console = rich_console()
    with console.capture() as captured:
        console.print(renderable)
    stdout_write(captured.get())


def print_table(title, rows):
    """A two-column table (name, value) under ``title``."""
    from rich.table import Table

    title = printable(title, backslash=False)  # a path or a name with a newline stays on its line
    table = Table(title=title, min_width=len(title) + 4)  # as wide as its title: a path never wraps
    table.add_column("")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(printable(k, backslash=False), printable(v, backslash=False))
    print_renderable(table)


def print_json(obj):
    stdout_write(json.dumps(obj) + "\n")


def print_json_lines(objs):
    stdout_write("".join(json.dumps(obj) + "\n" for obj in objs))


def pct(v):
    return "-" if v is None else f"{100 * v:.2f}%"


def print_train_metrics(out, metrics):
    """The table at the end of twolayer train."""
    m = metrics
    epochs = f"{m['epochs']} ({m['stop_reason'].replace('_', ' ')}" + (
        f", best {m['best_epoch']})" if m["best_epoch"] else ")"
    )
    print_table(
        f"twolayer train — {out}",
        [
            ("train accuracy", pct(m["train_accuracy"])),
            ("validation accuracy", pct(m["val_accuracy"])),
            ("test accuracy", pct(m["test_accuracy"])),
            ("final loss", "-" if m["final_loss"] is None else f"{m['final_loss']:.4f}"),
            ("epochs", epochs),
            ("seconds", f"{m['seconds']:.2f}"),
            *([("auto settings", auto_words(m["auto"]))] if m.get("auto") else []),
        ],
    )


def auto_words(auto):
    """What the 'auto' settings became, in the command line's words: '--hidden 64, --lr 0.02'."""

    def shown(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{flag(k)} {shown(v)}" for k, v in auto.items())


def print_study_table(title, columns, rows):
    """The best trials of a study, one row each (text columns left, numbers right)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("optimizer", "schedule") else "right")
    for row in rows:
        table.add_row(*row)
    print_renderable(table)


# -- stderr: the one line ----------------------------------------------------------------
def err(line):
    """A line on stderr, control characters escaped; nothing at all when stderr is closed (never on
    stdout, where print would put it)."""
    if sys.stderr is not None:
        try:
            print(printable(line, backslash=False), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def fail(message, code):
    """The one error line, its message on a single line; returns the exit status ``code``."""
    err(f"twolayer: error: {' '.join(str(message).split())}")
    return code


def retry_command(argv, lr):
    """The command ``argv`` again, with a tenth of the learning rate and --force (the failed run is
    in the way)."""
    args, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--lr", "--force", "--resume"):
            skip = a == "--lr"
            continue
        if a.startswith("--lr="):
            continue
        args.append(a)
    return shlex.join(["twolayer", *args, "--lr", f"{lr / 10:g}", "--force"])


# -- file descriptors --------------------------------------------------------------------
def reserve_std_fds():
    """Started with stdin, stdout or stderr closed (``2>&-``), the next file opened would get that
    descriptor, and anything written to fd 2 would land in it: hold them on /dev/null instead."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_RDWR)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)


def flush_stdout():
    """Flush stdout now, so that a full or closed stdout is reported as one line; then point fd 1
    at /dev/null so that Python's own flush at exit has nothing left to fail on."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as e:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
        errno = getattr(e, "errno", None)
        raise InputError(f"stdout: cannot write ({os.strerror(errno) if errno else e})") from None


# -- progress bars (stderr) --------------------------------------------------------------
class _Task:
    def __init__(self, id, description, total, completed, status):
        self.id, self.description, self.total = id, description, total
        self.completed, self.status = completed, status


class LineProgress:
    """Progress for a stderr that is no terminal (a log file, a pipe, FORCE_COLOR in CI): a plain
    line every ``every`` seconds, never a bar redrawn with cursor moves that a log would keep.
    The part of Rich's Progress the commands use."""

    def __init__(self, every=5.0, clock=time.monotonic):
        self.tasks, self.every, self.clock = [], every, clock
        self.last = None
        self.live = self  # stop_progress stops "the live display"
        self.transient = False

    @property
    def task_ids(self):
        return [t.id for t in self.tasks]

    def start(self):
        self.last = self.clock()

    def add_task(self, description, total=None, completed=0, status="", **_):
        self.tasks.append(_Task(len(self.tasks), description, total, completed, status))
        if self.last is None:
            self.start()
        return self.tasks[-1].id

    def update(self, task_id, advance=0, status=None, **_):
        task = self.tasks[task_id]
        task.completed += advance
        if status is not None:
            task.status = status
        now = self.clock()
        if self.last is not None and now - self.last >= self.every:
            self.last = now
            self._say(task)

    def _say(self, task):
        share = f" ({100 * task.completed / task.total:.0f}%)" if task.total else ""
        status = f" · {task.status}" if task.status else ""
        err(f"{task.description}: {task.completed:,}/{task.total:,}{share}{status}")

    def stop(self):
        """A finished command's last line per task; a failed one (transient) stops silently."""
        if not self.transient:
            for task in self.tasks:
                self._say(task)
        self.transient = True  # said once


def progress_bar():
    """A Rich bar on a terminal; elsewhere (stderr redirected) a LineProgress."""
    if sys.stderr is None or not sys.stderr.isatty():
        return LineProgress()
    return _rich_bar()


def _rich_bar():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=rich_console(stderr=True),
        transient=False,
    )


def stop_progress(progress, ok):
    """Stop the bar; after a failure erase it, so that the error stays the only line on stderr."""
    if progress is not None:
        progress.live.transient = not ok
        if ok:
            progress.stop()
        else:  # Progress.stop() would print a blank line on a non-terminal stderr, above the error
            progress.live.stop()


def on_train_start(progress):
    """The loop's on_start: the bar starts with training, after any download has shown its own."""

    def start(trainer, dataset):
        progress.start()
        n, c = len(dataset.y_train), trainer.config
        progress.add_task(
            "training",
            total=c.resolve_epochs(n) * c.steps_for(n),
            completed=trainer.epoch * c.steps_for(n),
            status="",
        )

    return start


def on_train_batch(progress, every=0.05):
    """Advance the bar by the steps done, at most every ``every`` seconds (a redraw is 10 per second
    anyway; updating on each of thousands of steps cost ~5% of a digits run) and on the last step."""
    pending, last = 0, 0.0

    def batch(trainer):
        nonlocal pending, last
        pending += 1
        now = time.monotonic()
        task = progress.tasks[0]
        if now - last < every and task.completed + pending < task.total:
            return
        h = trainer.history
        status = f"epoch {trainer.epoch + 1}"
        if h["val_acc"] and h["val_acc"][-1] is not None:  # the last finished epoch's
            status += f" · val (epoch {trainer.epoch}) {100 * h['val_acc'][-1]:.1f}%"
        progress.update(task.id, advance=pending, status=status)
        pending, last = 0, now

    return batch


def on_trial(progress, trials, finished):
    """An Optuna callback advancing the tuning bar; ``finished(study)``: completed trials, best first."""
    task = progress.add_task("tuning", total=trials, status="")

    def advance(study, trial):
        best = finished(study)
        status = f"trial {trial.number} {trial.state.name.lower()}"
        if best:
            status += f" · best {100 * best[0].value:.1f}% (#{best[0].number})"
        progress.update(task, advance=1, status=status)

    return advance
