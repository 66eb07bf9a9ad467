"""The command line: parse, call the library, print. Heavy modules are imported inside commands."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import typer

from . import __version__, runs
from . import tune as tuning
from .diagram import draw, minibatch
from .errors import DivergedError, InputError
from .export import export as export_onnx
from .gradcheck import check_net, random_problem
from .io import check_output_file, printable, stdout_write
from .report import write_report
from .settings import RunSettings, TrainConfig, check_setting, flag


def _hide_flag_metavars(params):
    # Recent Typer shows `<bool>` after every flag in rich help; a flag takes no value, so show none.
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx):
        return _hide_flag_metavars(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_metavars(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=_Group,
    add_completion=True,
    pretty_exceptions_enable=False,
    help="twolayer: train, check, explain and tune a two-layer neural network classifier.",
)


def _print_version(value: bool) -> None:
    if value:
        stdout_write(f"twolayer {__version__}\n")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Show the full traceback of a failure (also accepted after the command).",
    ),
):
    # --debug is read by main() wherever it stands; it is declared here so that --help lists it.
    if ctx.invoked_subcommand is None:  # plain `twolayer`: the help, and success
        text = ctx.get_help()  # Rich help prints itself and returns ""
        if text:
            stdout_write(text + "\n")


_T = TrainConfig()
_R = RunSettings()


_ARGV: list = []  # this invocation's arguments, for advice that repeats the command


class Interrupted(Exception):
    """A KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP via runs.stop_signals) leaving a command;
    carried past Typer, which would turn it into a bare exit 130."""

    def __init__(self, interrupt):
        super().__init__(interrupt.args[0] if interrupt.args else "SIGINT")
        self.status = runs.exit_status(interrupt)


def command(f):
    """app.command(), with interruptions carried out as Interrupted."""

    @functools.wraps(f)
    def run(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except KeyboardInterrupt as e:
            raise Interrupted(e) from None

    return app.command()(run)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _print(renderable):
    """A Rich renderable on stdout; a closed or full stdout is one line (exit 2)."""
    if sys.stdout is None:
        stdout_write("")  # raises the one-line error
    from rich.console import Console

    console = Console()
    with console.capture() as captured:
        console.print(renderable)
    stdout_write(captured.get())


def _print_table(title, rows):
    from rich.table import Table

    title = printable(title, backslash=False)  # a path or a name with a newline stays on its line
    table = Table(title=title, min_width=len(title) + 4)  # as wide as its title: a path never wraps
    table.add_column("")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(printable(k, backslash=False), printable(v, backslash=False))
    _print(table)


def _print_json(obj):
    stdout_write(json.dumps(obj) + "\n")


def _given(ctx, values):
    """{setting: (flag, value)} of the options typed on the command line (not defaults); each
    option's parameter is named after its setting."""
    given = {}
    for setting, value in values.items():
        source = ctx.get_parameter_source(setting)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given[setting] = (flag(setting), value)
    return given


def _pct(v):
    return "-" if v is None else f"{100 * v:.2f}%"


@command
def train(
    ctx: typer.Context,
    data: str = typer.Option(
        _R.data, help="Data SPEC: digits, mnist:DIR, cifar10:DIR, npz:FILE, npy:DIR, csv:FILE."
    ),
    hidden_size: int = typer.Option(_R.hidden_size, "--hidden", help="Hidden layer size H."),
    epochs: int | None = typer.Option(
        None,
        help="Epochs to train (default: auto, about 2,000 steps within "
        "10..100 epochs; with --resume: the total to reach).",
    ),
    batch_size: int = typer.Option(_T.batch_size, help="Minibatch size."),
    learning_rate: float = typer.Option(_T.learning_rate, "--lr", help="Base learning rate."),
    reg: float = typer.Option(_T.reg, help="L2 strength: loss += reg·(ΣW1² + ΣW2²)."),
    optimizer: str = typer.Option(_T.optimizer, help="sgd, momentum, nesterov, adam or adamw."),
    schedule: str = typer.Option(
        _T.schedule, help="Learning-rate schedule: constant, step or cosine."
    ),
    lr_decay: float = typer.Option(_T.lr_decay, help="Per-epoch factor of the step schedule."),
    min_lr_ratio: float = typer.Option(
        _T.min_lr_ratio, help="Floor of the cosine schedule, as a fraction of --lr."
    ),
    momentum: float = typer.Option(
        _T.momentum, help="Momentum of the momentum and nesterov optimizers."
    ),
    weight_decay: float = typer.Option(_T.weight_decay, help="AdamW's decoupled weight decay."),
    warmup_epochs: int = typer.Option(
        _T.warmup_epochs, "--warmup", help="Epochs of linear learning-rate warm-up."
    ),
    patience: int = typer.Option(
        0,
        help="Stop after this many epochs without a better validation "
        "accuracy and keep the best weights; 0 turns it off.",
    ),
    val_fraction: float = typer.Option(
        _R.val_fraction,
        help="Validation share carved from training data when "
        "the data set has no validation split.",
    ),
    preprocess: str = typer.Option(
        _R.preprocess,
        help="auto (scale for images, else standardize), none, scale, center or standardize.",
    ),
    augment: str = typer.Option(
        _T.augment,
        help="auto (shift for images), none, or shift: random 1-pixel "
        "shifts of each training batch.",
    ),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same run, bit for bit."),
    dtype: str = typer.Option(_R.dtype, help="float64 or float32."),
    out: Path | None = typer.Option(
        None, help="Run directory (default: a new folder under runs/)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a run already in --out."),
    plots: bool = typer.Option(
        True,
        "--plots/--no-plots",
        help="Draw the run's pictures (loss, accuracy, weights, confusion); "
        "twolayer report draws them later.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print metrics as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train a network and write model.npz, metrics.json, history.csv and pictures to the run directory."""
    if resume and out is None:
        raise InputError("--resume needs --out DIR: the run to continue")
    # the options are named after the settings: settings.flag is the only spelling table
    values = {
        "data": data,
        "hidden_size": hidden_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "reg": reg,
        "optimizer": optimizer,
        "schedule": schedule,
        "lr_decay": lr_decay,
        "min_lr_ratio": min_lr_ratio,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "warmup_epochs": warmup_epochs,
        "patience": patience or None,
        "val_fraction": val_fraction,
        "preprocess": preprocess,
        "augment": augment,
        "seed": seed,
        "dtype": dtype,
    }
    settings = RunSettings().with_changes(**values)  # checks every value, by its rule
    out = out or runs.default_run_dir()
    progress = None if quiet or as_json else _progress()
    ok = False
    try:  # the bar starts with training (_on_start), after any download has shown its own
        metrics = runs.run_training(
            settings,
            out,
            resume=resume,
            force=force,
            given=_given(ctx, values),
            plots=plots,
            on_start=progress and _on_start(progress),
            on_batch=progress and _on_batch(progress),
        )
        ok = True
        if progress is not None and progress.task_ids:  # the bar ends on the table's figure
            progress.update(
                progress.task_ids[0], status=f"done · val {_pct(metrics['val_accuracy'])}"
            )
    except DivergedError as e:
        raise DivergedError(
            *e.parts, f" Start again with: {_retry_command(learning_rate)}"
        ) from None
    finally:
        _stop(progress, ok)
    if as_json:
        _print_json({**metrics, "run_dir": str(out)})
    else:
        _print_table(
            f"twolayer train — {out}",
            [
                ("train accuracy", _pct(metrics["train_accuracy"])),
                ("validation accuracy", _pct(metrics["val_accuracy"])),
                ("test accuracy", _pct(metrics["test_accuracy"])),
                (
                    "final loss",
                    "-" if metrics["final_loss"] is None else f"{metrics['final_loss']:.4f}",
                ),
                (
                    "epochs",
                    f"{metrics['epochs']} ({metrics['stop_reason'].replace('_', ' ')}"
                    + (f", best {metrics['best_epoch']})" if metrics["best_epoch"] else ")"),
                ),
                ("seconds", f"{metrics['seconds']:.2f}"),
            ],
        )
        stdout_write(f"next: twolayer report {out}\n")
    if metrics.get("warning"):
        _err(f"twolayer: warning: {metrics['warning']}")
    if metrics["stop_reason"] == "interrupted":
        name = metrics.get("signal", "SIGINT")
        _err(
            f"interrupted ({name}): the best weights so far were saved; continue with "
            f"twolayer train --out {out} --resume"
        )
        raise typer.Exit(128 + signal.Signals[name].value)


def _retry_command(lr):
    """This command again, with a tenth of the learning rate and --force (the failed run is in the way)."""
    args, skip = [], False
    for a in _ARGV:
        if skip:
            skip = False
            continue
        if a in ("--lr", "--force", "--resume"):
            skip = a == "--lr"
            continue
        if a.startswith("--lr="):
            continue
        args.append(a)
    import shlex

    return shlex.join(["twolayer", *args, "--lr", f"{lr / 10:g}", "--force"])


def _progress():
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
        console=_stderr_console(),
        transient=False,
    )


def _stop(progress, ok):
    """Stop the bar; after a failure erase it, so that the error stays the only line on stderr."""
    if progress is not None:
        progress.live.transient = not ok
        if ok:
            progress.stop()
        else:  # Progress.stop() would print a blank line on a non-terminal stderr, above the error
            progress.live.stop()


def _on_start(progress):
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


def _on_batch(progress, every=0.05):
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


@command
def evaluate(
    model: Path = typer.Argument(..., help="A model.npz written by twolayer train."),
    data: str | None = typer.Option(
        None, help="Data SPEC to evaluate on (default: the model's own)."
    ),
    seed: int | None = typer.Option(
        None, help="Seed of the data split (default: the training run's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Accuracy of a saved model on each split of a data set."""
    result = runs.evaluate_model(model, data, seed=seed)
    if as_json:
        _print_json(result)
    else:
        _print_table(
            f"twolayer evaluate — {model}",
            [
                (f"{s} accuracy", _pct(result[f"{s}_accuracy"]))
                for s in ("train", "val", "test")
                if f"{s}_accuracy" in result
            ],
        )


@command
def predict(
    model: Path = typer.Argument(..., help="A model.npz written by twolayer train."),
    input: Path = typer.Argument(
        ..., help="Rows to classify: an .npy (2-D) or a .csv file (a 'label' column is dropped)."
    ),
    out: Path | None = typer.Option(
        None,
        help="Write here instead of stdout: .npy (a string array of class "
        "names, or with --proba an N×C float array), else text/CSV.",
    ),
    proba: bool = typer.Option(
        False,
        "--proba",
        help="Write class probabilities: CSV with a header "
        "label,<class names…>, or an N×C array in class order.",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print JSON lines, one {row, label, index} per row (with "
        "--proba also {probabilities: {class: p}}); with --out, "
        "one {out, rows} line.",
    ),
):
    """Predict the class name of every row of INPUT, with the model's preprocessing applied."""
    if out is not None:
        check_output_file(out)  # before any work: writing into a FIFO would block
    net, idx, probabilities = runs.predict_file(model, input, note=_err)
    if as_json and out is None:
        names = runs.class_names(net)
        rows = ({"row": r, "label": names[i], "index": int(i)} for r, i in enumerate(idx))
        if proba:
            rows = (
                {**row, "probabilities": dict(zip(names, map(float, p)))}
                for row, p in zip(rows, probabilities)
            )
        stdout_write("".join(json.dumps(row) + "\n" for row in rows))
        return
    runs.write_predictions(net, idx, probabilities if proba else None, out)
    if as_json:
        _print_json({"out": str(out), "rows": len(idx)})


@command
def export(
    model: Path = typer.Argument(..., help="A model.npz written by twolayer train."),
    out: Path = typer.Option(..., help="The ONNX file to write, e.g. model.onnx."),
    as_json: bool = typer.Option(False, "--json", help="Print {out, bytes} as JSON."),
):
    """Write MODEL as an ONNX graph: raw rows in, 'probabilities' and 'label' out (needs twolayer[onnx])."""
    path = export_onnx(model, out)
    if as_json:
        _print_json({"out": str(path), "bytes": Path(path).stat().st_size})
    else:
        stdout_write(f"{path}\n")


@command
def gradcheck(
    seed: int = typer.Option(0, help="Seed of the random problem."),
    reg: float = typer.Option(0.05, help="Regularisation strength of the checked loss."),
    threshold: float = typer.Option(1e-7, help="Largest acceptable relative error."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {errors, threshold, passed} as JSON."
    ),
):
    """Compare analytic and numerical gradients on a random float64 problem."""
    check_setting("threshold", threshold)
    check_setting("reg", reg)
    check_setting("seed", seed)
    net, X, y = random_problem(seed=seed)
    errors = check_net(net, X, y, reg=reg)
    if as_json:
        passed = max(errors.values()) <= threshold
        _print_json(
            {
                "errors": {k: float(v) for k, v in errors.items()},
                "threshold": threshold,
                "passed": passed,
            }
        )
        if not passed:
            raise typer.Exit(1)
        return
    _print_table(
        "max relative error (numerical vs analytic)",
        [(k, f"{v:.2e} {'ok' if v <= threshold else 'FAIL'}") for k, v in errors.items()],
    )
    if not all(
        v <= threshold for v in errors.values()
    ):  # NaN (an overflowing reg) is a failure too
        _err(f"gradient check failed: relative error above {threshold:g}")
        raise typer.Exit(1)


@command
def tune(
    data: str = typer.Option(
        "digits", help="Data SPEC to tune on (the validation split chooses, never test)."
    ),
    trials: int = typer.Option(20, help="Trials this worker runs; workers on one study add up."),
    storage: str | None = typer.Option(
        None,
        help="Optuna storage URL shared by the workers: sqlite:///FILE "
        "or postgresql://USER:PASS@HOST/DB (default: OUT/study.db).",
    ),
    study_name: str = typer.Option("twolayer", help="Study to create or join."),
    out: Path = typer.Option(
        Path("tune"), help="Folder for best_model.npz, trials.csv, plots, trials/."
    ),
    n_jobs: int = typer.Option(1, help="Trials run at once in this worker (threads)."),
    timeout: float | None = typer.Option(
        None, help="Stop starting trials after this many seconds."
    ),
    sampler: str = typer.Option("tpe", help="tpe or random."),
    pruner: str = typer.Option("median", help="median, hyperband or none."),
    epochs: int = typer.Option(
        20, help="Epochs per trial (at most; pruning and early stopping cut it)."
    ),
    patience: int = typer.Option(5, help="Early-stopping patience within a trial; 0 turns it off."),
    seed: int | None = typer.Option(
        None, help="Sampler seed (default: random, so workers explore apart)."
    ),
    heartbeat: int = typer.Option(
        10, help="Seconds between heartbeats; a trial silent for 3 is failed and retried."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the best trial as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Search learning rate, reg, hidden size, batch size, optimizer and schedule with Optuna."""
    progress = None if quiet or as_json else _progress()
    callbacks = []
    if progress is not None:
        task = progress.add_task("tuning", total=trials, status="")

        def advance(study, trial):
            best = tuning.finished(study)
            status = f"trial {trial.number} {trial.state.name.lower()}"
            if best:
                status += f" · best {100 * best[0].value:.1f}% (#{best[0].number})"
            progress.update(task, advance=1, status=status)

        callbacks.append(advance)
    ok = False
    try:
        study = tuning.tune(
            data,
            trials,
            storage,
            study_name,
            out,
            n_jobs=n_jobs,
            timeout=timeout,
            sampler=sampler,
            pruner=pruner,
            epochs=epochs,
            patience=patience,
            seed=seed,
            heartbeat=heartbeat,
            callbacks=callbacks,
            on_start=progress and progress.start,
        )
        ok = True
    finally:
        _stop(progress, ok)
    best = tuning.finished(study)
    counts = tuning.state_counts(study)
    if as_json:
        _print_json(
            {
                "study": study_name,
                "out": str(out),
                "trials": counts,
                "best": None
                if not best
                else {
                    "number": best[0].number,
                    "val_accuracy": best[0].value,
                    "params": best[0].params,
                },
            }
        )
        return
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"twolayer tune — {printable(study_name)}: "
        + ", ".join(f"{n} {s.lower()}" for s, n in counts.items()),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    for col in tuning.TOP_COLUMNS:
        table.add_column(col, justify="left" if col in ("optimizer", "schedule") else "right")
    for row in tuning.top_rows(study):
        table.add_row(*row)
    _print(table)
    if best:
        stdout_write(
            f"best model: {Path(out) / 'best_model.npz'}  (trials.csv, history.png, search.png beside it)\n"
        )
    else:
        _err("no trial has finished yet: nothing to save")


@command
def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by twolayer train."),
    as_json: bool = typer.Option(False, "--json", help="Print {report, bytes} as JSON."),
):
    """Write RUN_DIR/report.html: metrics, hyperparameters, every figure and per-class accuracy, in one page."""
    path = write_report(run_dir)
    if as_json:
        _print_json({"report": str(path), "bytes": Path(path).stat().st_size})
    else:
        stdout_write(f"{path}\n")


@command
def diagram(
    out: Path = typer.Option(..., help="Output file: .svg or .png."),
    model: Path | None = typer.Option(
        None, help="A model.npz; default: a freshly initialised network."
    ),
    data: str | None = typer.Option(
        None, help="Data SPEC of the minibatch; default: the model's, else digits."
    ),
    diagram_rows: int = typer.Option(
        2, "--batch", help="Rows in the minibatch pushed through the circuit."
    ),
    reg: float | None = typer.Option(
        None,
        help="L2 strength in the circuit; default: the model's, else 0 (the training default).",
    ),
    hidden_size: int = typer.Option(
        _R.hidden_size, "--hidden", help="Hidden size of the fresh network (without --model)."
    ),
    seed: int = typer.Option(0, help="Seed of the data split and of the fresh network."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {out, data, batch, reg, loss} as JSON."
    ),
):
    """Draw the network (layers of nodes) and its loss circuit with forward values and gradients."""
    net, X, y, model_reg, spec, shape = minibatch(
        model, data, rows=diagram_rows, hidden=hidden_size, seed=seed
    )
    reg = model_reg if reg is None else check_setting("reg", reg)
    draw(net, X, y, reg, out, data_name=spec, image_shape=shape)
    if as_json:
        loss, _ = net.loss(X, y, reg=reg)
        _print_json(
            {"out": str(out), "data": spec, "batch": len(y), "reg": reg, "loss": float(loss)}
        )
    else:
        stdout_write(f"{out}\n")


def _err(line):
    """A line on stderr, control characters escaped; nothing at all when stderr is closed (never on
    stdout, where print would put it)."""
    if sys.stderr is not None:
        try:
            print(printable(line, backslash=False), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def _fail(message, code):
    _err(f"twolayer: error: {' '.join(str(message).split())}")
    return code


def _reserve_std_fds():
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


def main(argv=None):  # noqa: C901  (split by the wiring rebuild, issue 17)
    """Entry point: user mistakes → one line and exit 2; internal failures → one line and exit 1;
    a stop by Ctrl-C, SIGTERM or SIGHUP → one line and 128 + the signal number."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    _ARGV[:] = argv
    _reserve_std_fds()
    try:
        with runs.stop_signals(), warnings.catch_warnings():
            if not (
                debug or sys.warnoptions
            ):  # the error is the only line: no NumPy or parser warnings
                warnings.simplefilter(
                    "ignore"
                )  # beside it (-W or --debug shows them; the API never hides them)
            rv = app(args=argv, prog_name="twolayer", standalone_mode=False)
            _flush_stdout()
        return rv if isinstance(rv, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return _fail("interrupted", 130)
    except Interrupted as e:
        return _fail(f"interrupted ({e}); every file written so far is complete", e.status)
    except (
        KeyboardInterrupt
    ) as e:  # between commands: before Typer has started or after it finished
        return _fail("interrupted", runs.exit_status(e))
    except InputError as e:  # the library names settings; only here do they become flags
        if debug:
            raise
        return _fail(e.spelled(flag), 2)
    except DivergedError as e:
        if debug:
            raise
        return _fail(e.spelled(flag), 1)
    except Exception as e:
        if _is_usage_error(e):  # Click's own: a bad option, a missing argument
            return _fail(e.format_message(), getattr(e, "exit_code", 2))
        if debug:  # an internal failure: still one line unless --debug
            raise
        return _fail(
            f"internal error: {type(e).__name__}: {e} (run with --debug for a traceback)", 1
        )


def _is_usage_error(e):
    """Click's exceptions (vendored inside recent Typer, so matched by their public shape)."""
    return callable(getattr(e, "format_message", None)) and isinstance(
        getattr(e, "exit_code", None), int
    )


def _flush_stdout():
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


if __name__ == "__main__":
    sys.exit(main())
