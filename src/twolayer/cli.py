"""The command line: the commands and ``main``. Each command parses its options, calls the library
and prints (console.py); ``main`` turns what leaves a command into one line and an exit status.

The options that are settings are named after them (``learning_rate``, spelled ``--lr`` by
``settings.flag``): the settings' table is the one place that spells a setting.
"""

from __future__ import annotations

import errno
import functools
import signal
import sys
import warnings
from pathlib import Path

import typer

from . import __version__, console, runs
from . import tune as tuning
from .checks import check_limits
from .configfile import option_defaults
from .data import DOWNLOADS
from .diagram import draw, minibatch
from .errors import DivergedError, InputError
from .export import export as export_onnx
from .gradcheck import check_net, random_problem
from .io import (
    STDOUT,
    as_path,
    check_output_file,
    is_file,
    os_error,
    path_stat,
    printable,
    shown,
    stdin_file,
    stdout_write,
)
from .locks import exit_status, stop_signals
from .optim import OPTIMIZERS
from .plots import class_names
from .predictions import predict_file, write_predictions
from .report import write_report
from .schedules import SCHEDULES
from .settings import (
    PREPROCESS,
    PRUNERS,
    RUN_FIELDS,
    SAMPLERS,
    TRAIN_FIELDS,
    RunSettings,
    SettingError,
    check_setting,
    flag,
    rule,
)

app = typer.Typer(
    cls=console.HelpGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",  # the default of newer Typer; older ones printed \[onnx] as typed
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


_R = RunSettings()
_T = _R.train  # a run's loop: 'auto' where a rule decides (twolayer.defaults)


class _Refused(Exception):
    """An InputError raised in a parser, carried past Typer's validation (which would reword it)."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


_DATA_HELP = (
    "Data SPEC: digits (built in), "
    + ", ".join(sorted(DOWNLOADS))
    + " (downloaded once), mnist:DIR, cifar10:DIR, npz:FILE, npy:DIR or csv:FILE."
)


def _choices(values):
    """Typer options for a setting with a few values: the help shows [a|b|c] and the shell
    completes them; the settings' table still checks the value (and words the refusal)."""
    values = tuple(values)
    return {
        "metavar": "[" + "|".join(values) + "]",
        "autocompletion": lambda incomplete: [v for v in values if v.startswith(incomplete)],
    }


def _auto(name, kind):
    """Typer options for a setting that may be 'auto' (decided from the data): a parser that
    reads 'auto' or a number of ``kind``; the settings' table still checks the number."""

    def parse(text):
        if isinstance(text, str) and text.strip().lower() == "auto":
            return "auto"
        try:
            return kind(text)
        except (TypeError, ValueError):
            ok, words = rule(name)
            raise _Refused(SettingError(name, text, words)) from None

    return {"parser": parse, "metavar": ("INTEGER" if kind is int else "FLOAT") + "|auto"}


def _path(text):
    """A path option's parser: it sees the text as typed, so that an empty --out is refused rather
    than read as the current folder (Path("") is "."), and so is a name longer than the system's."""
    try:
        return as_path(text)
    except InputError as e:
        raise _Refused(e) from None


def _output(text):
    """An output file's parser: ``-`` is standard output (``./-`` is a file named -)."""
    return STDOUT if text == "-" else _path(text)


_ARGV: list = []  # this invocation's arguments, for advice that repeats the command


class Interrupted(Exception):
    """A KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP via locks.stop_signals) leaving a command;
    carried past Typer, which would turn it into a bare exit 130."""

    def __init__(self, interrupt):
        super().__init__(interrupt.args[0] if interrupt.args else "SIGINT")
        self.status = exit_status(interrupt)


def command(f):
    """app.command(): the environment's limits checked first (every command, whether or not it reads
    them), interruptions carried out as Interrupted."""

    @functools.wraps(f)
    def run(*args, **kwargs):
        try:
            check_limits()
            return f(*args, **kwargs)
        except KeyboardInterrupt as e:
            raise Interrupted(e) from None

    return app.command()(run)


def _load_config(ctx: typer.Context, param: typer.CallbackParam, value):
    """--config FILE (eager): the file's values become the command's defaults, so that options
    typed on the command line still win."""
    if value is None:
        return None
    try:
        flags = {
            p.name: (p.opts[0] if p.opts else p.name)
            for p in ctx.command.params
            if p.name not in ("config", "print_config") and getattr(p, "opts", None)
        }
        ctx.default_map = {**(ctx.default_map or {}), **option_defaults(value, flags)}
    except InputError as e:
        raise _Refused(e) from None
    return value


def _config_option():
    return typer.Option(
        None,
        "--config",
        parser=_path,
        metavar="FILE",
        is_eager=True,
        callback=_load_config,
        help="Options from a TOML or JSON file (a run's config.json reproduces that run); "
        "options typed here win.",
    )


def _threads_option():
    return typer.Option(
        None,
        help="BLAS threads for training (default: chosen by the problem's size and the cores "
        "other processes leave free; --debug says which and why).",
    )


def _debug(ctx):
    """Whether --debug was given (main() passes it to the commands in the context's obj)."""
    return bool((ctx.find_root().obj or {}).get("debug"))


def _print_config(settings_dict):
    """--print-config: the options in effect, as JSON a later --config reads back."""
    console.print_json(settings_dict)


def _settings_of(ctx):
    """(settings, given) of a command whose option parameters are named after settings: every
    setting's value, and {setting: (flag, value)} of those typed on the command line."""
    values = {k: v for k, v in ctx.params.items() if k in RUN_FIELDS or k in TRAIN_FIELDS}
    if "patience" in values:  # the command line's 0 is the setting's None: off
        values["patience"] = values["patience"] or None
    given = {}
    for name, value in values.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given[name] = (flag(name), value)
    return RunSettings().with_changes(**values), given  # checks every value, by its rule


@command
def train(
    ctx: typer.Context,
    data: str = typer.Option(_R.data, help=_DATA_HELP),
    hidden_size: str = typer.Option(
        _R.hidden_size,
        flag("hidden_size"),
        **_auto("hidden_size", int),
        help="Hidden layer size H (auto: from the data, see the README's Defaults).",
    ),
    epochs: int | None = typer.Option(
        None,
        help="Epochs to train (default: auto, about 2,000 steps within "
        "10..100 epochs; with --resume: the total to reach).",
    ),
    batch_size: str = typer.Option(
        _T.batch_size, **_auto("batch_size", int), help="Minibatch size (auto: from the data)."
    ),
    learning_rate: str = typer.Option(
        _T.learning_rate,
        flag("learning_rate"),
        **_auto("learning_rate", float),
        help="Base learning rate (auto: from the data).",
    ),
    reg: float = typer.Option(_T.reg, help="L2 strength: loss += reg·(ΣW1² + ΣW2²)."),
    optimizer: str = typer.Option(_T.optimizer, **_choices(OPTIMIZERS), help="The update rule."),
    schedule: str = typer.Option(
        _T.schedule,
        **_choices(("auto", *SCHEDULES)),
        help="Learning-rate schedule: constant, step, cosine or plateau (halve the rate after 3 "
        "epochs without improvement, or a quarter of --patience); auto: cosine for images, "
        "plateau otherwise.",
    ),
    lr_decay: float = typer.Option(_T.lr_decay, help="Per-epoch factor of the step schedule."),
    min_lr_ratio: float = typer.Option(
        _T.min_lr_ratio, help="Floor of the cosine schedule, as a fraction of --lr."
    ),
    momentum: float = typer.Option(
        _T.momentum, help="Momentum of the momentum and nesterov optimizers."
    ),
    weight_decay: str = typer.Option(
        _T.weight_decay,
        **_auto("weight_decay", float),
        help="AdamW's decoupled weight decay (auto: from the data).",
    ),
    warmup_epochs: int = typer.Option(
        _T.warmup_epochs, flag("warmup_epochs"), help="Epochs of linear learning-rate warm-up."
    ),
    clip_grad_norm: float | None = typer.Option(
        None,
        help="Scale each step's gradients down to this global L2 norm (default: no clipping).",
    ),
    patience: str = typer.Option(
        "auto",
        **_auto("patience", int),
        help="Stop after this many epochs without a better validation "
        "accuracy and keep the best weights; 0 turns it off; auto: on for tabular data.",
    ),
    monitor: str = typer.Option(
        "auto",
        **_choices(("auto", "val", "loss")),
        help="What --patience and the plateau schedule watch: val (validation accuracy) or loss "
        "(training loss; the best validation epoch's weights are still kept); auto: loss for "
        "tabular data, val for images.",
    ),
    val_fraction: float = typer.Option(
        _R.val_fraction,
        help="Validation share carved from training data when "
        "the data set has no validation split.",
    ),
    test_fraction: float = typer.Option(
        _R.test_fraction,
        help="Test share carved from the training rows of data without a test split "
        "(csv:, npz:, npy:); 0: none.",
    ),
    preprocess: str = typer.Option(
        _R.preprocess,
        **_choices(PREPROCESS),
        help="auto (scale for images, else standardize), none, scale, center or standardize.",
    ),
    augment: str = typer.Option(
        _T.augment,
        **_choices(("auto", "none", "shift")),
        help="auto (shift for images), none, or shift: random 1-pixel "
        "shifts of each training batch.",
    ),
    class_weight: str = typer.Option(
        _T.class_weight,
        **_choices(("none", "balanced")),
        help="balanced: each class's rows weigh n / (classes · its rows) in the loss, so that "
        "rare classes count as much as common ones.",
    ),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same run, bit for bit."),
    dtype: str = typer.Option(_R.dtype, **_choices(("float64", "float32")), help="Number type."),
    out: Path | None = typer.Option(
        None, parser=_path, metavar="DIR", help="Run directory (default: a new folder under runs/)."
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
    threads: int | None = _threads_option(),
    config: Path | None = _config_option(),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the settings in effect as JSON and stop."
    ),
):
    """Train a network and write model.npz, metrics.json, history.csv and pictures to the run directory."""
    settings, given = _settings_of(ctx)
    check_setting("threads", threads)
    if print_config:
        return _print_config(settings.to_dict())
    if resume and out is None:
        raise InputError("--resume needs --out DIR: the run to continue")
    out = out or runs.default_run_dir()
    metrics = _train_run(
        settings,
        out,
        given,
        quiet or as_json,
        resume=resume,
        force=force,
        plots=plots,
        threads=threads,
        note=console.err if _debug(ctx) else None,
    )
    if as_json:
        console.print_json({**metrics, "run_dir": str(out)})
    else:
        console.print_train_metrics(out, metrics)
        stdout_write(f"next: twolayer report {out}\n")
    if metrics.get("warning"):
        console.err(f"twolayer: warning: {metrics['warning']}")
    if metrics["stop_reason"] == "interrupted":
        name = metrics.get("signal", "SIGINT")
        console.err(
            f"interrupted ({name}): the best weights so far were saved; continue with "
            f"twolayer train --out {out} --resume"
        )
        raise typer.Exit(128 + signal.Signals[name].value)


def _train_run(settings, out, given, quiet, **options):
    """runs.run_training under a progress bar (none when ``quiet``); a diverged run's error says how
    to start again."""
    progress = None if quiet else console.progress_bar()
    ok = False
    try:  # the bar starts with training (on_start), after any download has shown its own
        metrics = runs.run_training(
            settings,
            out,
            given=given,
            on_start=progress and console.on_train_start(progress),
            on_batch=progress and console.on_train_batch(progress),
            **options,
        )
        ok = True
        if progress is not None and progress.task_ids:  # the bar ends on the table's figure
            status = f"done · val {console.pct(metrics['val_accuracy'])}"
            progress.update(progress.task_ids[0], status=status)
    except DivergedError as e:
        # the rate the loop ran with: settings may still say 'auto'
        lr = getattr(e, "learning_rate", settings.train.learning_rate)
        retry = console.retry_command(_ARGV, lr)
        raise DivergedError(*e.parts, f" Start again with: {retry}") from None
    finally:
        console.stop_progress(progress, ok)
    return metrics


@command
def evaluate(
    model: Path = typer.Argument(
        ..., parser=_path, metavar="MODEL", help="A model.npz written by twolayer train."
    ),
    data: str | None = typer.Option(
        None, help=_DATA_HELP + " Default: the model's own; a FILE is scored whole."
    ),
    seed: int | None = typer.Option(
        None, help="Seed of the data split (default: the training run's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Accuracy of a saved model on each split of its data set, or on a whole file given as --data
    (csv:- or npy rows with labels from standard input as csv:-)."""
    if data in ("-", "csv:-"):
        with stdin_file("csv") as rows:
            result = runs.evaluate_model(model, f"csv:{rows}", seed=seed)
            result["data"] = data
    else:
        result = runs.evaluate_model(model, data, seed=seed)
    if as_json:
        console.print_json(result)
    else:
        console.print_table(
            f"twolayer evaluate — {model}",
            [
                (f"{s} accuracy", console.pct(result[f"{s}_accuracy"]))
                for s in ("train", "val", "test")
                if f"{s}_accuracy" in result
            ],
        )


@command
def predict(
    model: Path = typer.Argument(
        ..., parser=_path, metavar="MODEL", help="A model.npz written by twolayer train."
    ),
    input: Path = typer.Argument(
        ...,
        parser=_path,
        metavar="INPUT",
        help="Rows to classify: an .npy (2-D) or a .csv file (a 'label' column is dropped).",
    ),
    out: str | None = typer.Option(  # str: an older Typer turns what a Path option's parser returns
        None,  # into a Path, and Path("-") could not tell - from ./-
        parser=_output,
        metavar="FILE",
        help="Write here instead of stdout (- is stdout): .npy (a string array of class "
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
    """Predict the class name of every row of INPUT (- reads standard input), with the model's
    preprocessing applied."""
    if out == STDOUT:  # --out - is what no --out does
        out = None
    if out is not None:
        out = check_output_file(out)  # before any work: writing into a FIFO would block
    if str(input) == "-":  # Path("./-") is "-" too: a file named - is given as ./- or a full path
        with stdin_file() as rows:
            net, idx, probabilities = predict_file(model, rows, note=console.err)
    else:
        net, idx, probabilities = predict_file(model, input, note=console.err)
    if as_json and out is None:
        names = class_names(net)
        rows = ({"row": r, "label": names[i], "index": int(i)} for r, i in enumerate(idx))
        if proba:
            rows = (
                {**row, "probabilities": dict(zip(names, map(float, p)))}
                for row, p in zip(rows, probabilities)
            )
        console.print_json_lines(rows)
        return
    write_predictions(net, idx, probabilities if proba else None, out, note=console.err)
    if as_json:
        console.print_json({"out": str(out), "rows": len(idx)})


@command
def export(
    model: Path = typer.Argument(
        ..., parser=_path, metavar="MODEL", help="A model.npz written by twolayer train."
    ),
    out: str = typer.Option(  # str, not Path: as predict's --out
        ...,
        parser=_output,
        metavar="FILE",
        help="The ONNX file to write, e.g. model.onnx (- is stdout).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing FILE."),
    as_json: bool = typer.Option(False, "--json", help="Print {out, bytes} as JSON."),
):
    """Write MODEL as an ONNX graph: raw rows in, 'probabilities' and 'label' out (needs twolayer\\[onnx])."""
    target = check_output_file(out)
    if not force and getattr(target, "fd", None) != 1 and is_file(target):
        raise InputError(f"{shown(out)}: already exists; use --force to overwrite it")
    path = export_onnx(model, target)
    if getattr(target, "fd", None) == 1:  # the graph went to stdout: nothing else may
        return
    if as_json:
        console.print_json({"out": str(path), "bytes": path_stat(path).st_size})
    else:
        stdout_write(f"{path}\n")


@command
def info(
    model: Path = typer.Argument(
        ..., parser=_path, metavar="MODEL", help="A model.npz written by twolayer train."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
):
    """What MODEL is: shapes, classes, preprocessing, data SPEC, training settings, format version."""
    result = runs.model_info(model)
    if as_json:
        console.print_json(result)
        return
    classes = result["classes"] or []
    shown = ", ".join(printable(c) for c in classes[:10]) + (" …" if len(classes) > 10 else "")
    train = result["settings"]["train"]
    console.print_table(
        f"twolayer info — {model}",
        [
            (
                "network",
                f"{result['input_size']} in, {result['hidden_size']} hidden, "
                f"{result['output_size']} out",
            ),
            ("parameters", f"{result['parameters']:,} {result['dtype']}"),
            ("classes", f"{len(classes)}: {shown}" if classes else "-"),
            ("preprocess", result["preprocess"] or "none"),
            ("data", result["data"]),
            (
                "optimizer",
                f"{train['optimizer']}, lr {train['learning_rate']:g}, {train['schedule']}",
            ),
            ("epochs · batch", f"{train['epochs']} · {train['batch_size']}"),
            ("seed", str(train["seed"])),
            ("format version", str(result["format_version"])),
        ],
    )


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
        console.print_json(
            {
                "errors": {k: float(v) for k, v in errors.items()},
                "threshold": threshold,
                "passed": passed,
            }
        )
        if not passed:
            raise typer.Exit(1)
        return
    console.print_table(
        "max relative error (numerical vs analytic)",
        [(k, f"{v:.2e} {'ok' if v <= threshold else 'FAIL'}") for k, v in errors.items()],
    )
    if not all(
        v <= threshold for v in errors.values()
    ):  # NaN (an overflowing reg) is a failure too
        console.err(f"gradient check failed: relative error above {threshold:g}")
        raise typer.Exit(1)


@command
def tune(
    data: str = typer.Option(
        "digits", help=_DATA_HELP + " The validation split chooses, never test."
    ),
    trials: int = typer.Option(20, help="Trials this worker runs; workers on one study add up."),
    storage: str | None = typer.Option(
        None,
        help="Optuna storage URL shared by the workers: sqlite:///FILE "
        "or postgresql://USER:PASS@HOST/DB (default: OUT/study.db).",
    ),
    study_name: str = typer.Option("twolayer", help="Study to create or join."),
    out: Path = typer.Option(
        Path("tune"),
        parser=_path,
        metavar="DIR",
        help="Folder for best_model.npz, trials.csv, plots, trials/.",
    ),
    n_jobs: int = typer.Option(1, help="Trials run at once in this worker (threads)."),
    timeout: float | None = typer.Option(
        None, help="Stop starting trials after this many seconds."
    ),
    sampler: str = typer.Option("tpe", **_choices(SAMPLERS), help="Optuna sampler."),
    pruner: str = typer.Option("median", **_choices(PRUNERS), help="Optuna pruner."),
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
    config: Path | None = _config_option(),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the options in effect as JSON and stop."
    ),
):
    """Search learning rate, reg, hidden size, batch size, optimizer and schedule with Optuna."""
    if print_config:
        options = {k: v for k, v in locals().items() if k not in ("config", "print_config")}
        return _print_config({k: str(v) if isinstance(v, Path) else v for k, v in options.items()})
    progress = None if quiet or as_json else console.progress_bar()
    callbacks = [] if progress is None else [console.on_trial(progress, trials, tuning.finished)]
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
            on_start=progress and progress.start,  # once the options are checked
        )
        ok = True
    finally:
        console.stop_progress(progress, ok)
    _show_study(study, study_name, out, as_json)


def _show_study(study, study_name, out, as_json):
    """The end of twolayer tune: the best trials (a table, or JSON), the best trial's test accuracy,
    where its model is and the command that trains it again."""
    counts = tuning.state_counts(study)
    best = tuning.best_summary(study, out)
    if as_json:
        console.print_json({"study": study_name, "out": str(out), "trials": counts, "best": best})
        return
    title = f"twolayer tune — study {printable(study_name)!r}: " + ", ".join(
        f"{n} {s.lower()}" for s, n in counts.items()
    )
    console.print_study_table(title, tuning.TOP_COLUMNS, tuning.top_rows(study))
    if best is None:
        console.err("no trial has finished yet: nothing to save")
        return
    test = best["test_accuracy"]
    stdout_write(
        f"best trial {best['number']}: val {console.pct(best['val_accuracy'])}, test "
        f"{console.pct(test) if test is not None else '- (the data has no test split)'}\n"
        f"best model: {Path(out) / 'best_model.npz'}  (trials.csv, history.png, search.png beside it)\n"
        f"train it again: {best['command']}\n"
    )


@command
def report(
    run_dir: Path = typer.Argument(
        ..., parser=_path, metavar="RUN_DIR", help="A run directory written by twolayer train."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {report, bytes} as JSON."),
):
    """Write RUN_DIR/report.html: metrics, hyperparameters, every figure and per-class accuracy, in one page."""
    path = write_report(run_dir)
    if as_json:
        console.print_json({"report": str(path), "bytes": path_stat(path).st_size})
    else:
        stdout_write(f"{path}\n")


@command
def diagram(
    out: Path = typer.Option(..., parser=_path, metavar="FILE", help="Output file: .svg or .png."),
    model: Path | None = typer.Option(
        None,
        parser=_path,
        metavar="MODEL",
        help="A model.npz; default: a freshly initialised network.",
    ),
    data: str | None = typer.Option(None, help=_DATA_HELP + " Default: the model's, else digits."),
    diagram_rows: int = typer.Option(
        2, flag("diagram_rows"), help="Rows in the minibatch pushed through the circuit."
    ),
    reg: float | None = typer.Option(
        None,
        help="L2 strength in the circuit; default: the model's, else 0 (the training default).",
    ),
    hidden_size: int | None = typer.Option(
        None,
        flag("hidden_size"),
        help="Hidden size of a fresh network on --data (default: the run's rule).",
    ),
    seed: int = typer.Option(0, help="Seed of the data split and of the fresh network."),
    toy: bool = typer.Option(
        False,
        "--toy",
        help="CS231n's untrained toy net (4 inputs, 10 hidden, 3 classes, 5 examples, reg 0.05): "
        "the default without a run, --model, --data or --hidden.",
    ),
    run: Path | None = typer.Argument(None, help="A run directory (or its model.npz) to draw."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {out, data, batch, reg, loss} as JSON."
    ),
):
    """Draw the network (layers of nodes) and its loss circuit with forward values and gradients."""
    if run is not None and model is not None:
        raise InputError("give the run either as RUN or as --model, not both")
    model = run if run is not None else model
    toy = toy or (model is None and data is None and hidden_size is None)
    net, X, y, model_reg, spec, shape = minibatch(
        model,
        data,
        rows=diagram_rows,
        hidden="auto" if hidden_size is None else hidden_size,
        seed=seed,
        toy=toy,
    )
    reg = model_reg if reg is None else check_setting("reg", reg)
    draw(net, X, y, reg, out, data_name=spec, image_shape=shape)
    if as_json:
        loss, _ = net.loss(X, y, reg=reg)
        console.print_json(
            {"out": str(out), "data": spec, "batch": len(y), "reg": reg, "loss": float(loss)}
        )
    else:
        stdout_write(f"{out}\n")


@command
def explore(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(0, help="Port to listen on; 0 picks a free one."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL only."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {url, host, port} as JSON once listening."
    ),
):
    """Watch the net learn and the gradients flow through its circuit, live in the browser.

    Serves one page on HOST:PORT, its URL carrying a random token; stops on Ctrl-C, or when the page has been closed for a few seconds."""
    try:
        import tornado  # noqa: F401  (the [explore] extra)
    except ImportError:
        raise InputError(
            'twolayer explore needs its web server: pip install "twolayer[explore]"'
        ) from None
    from .explore import serve

    if not 0 <= port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {port}")

    def announce(server):
        if as_json:
            console.print_json({"url": server.url, "host": server.host, "port": server.port})
        else:
            stdout_write(f"twolayer explore: {server.url}\n(Ctrl-C or closing the page stops it)\n")
        console.flush_stdout()

    why = serve(host, port, open_browser=not no_browser, announce=announce, log=console.err)
    if not as_json:
        stdout_write(f"twolayer explore: {why}\n")


def main(argv=None):
    """Entry point: user mistakes → one line and exit 2; internal failures → one line and exit 1;
    a stop by Ctrl-C, SIGTERM or SIGHUP → one line and 128 + the signal number."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    _ARGV[:] = argv
    console.reserve_std_fds()
    restore = console.readable_streams()
    try:
        return _run(argv, debug)
    except BaseException as e:
        status = _exit_status(e, debug)
        if status is None:  # --debug, or not ours to handle (SystemExit): as it is
            raise
        return status
    finally:
        restore()


def _run(argv, debug):
    """The command, signals stopping it like Ctrl-C; its stdout flushed while errors can be said."""
    with stop_signals(), warnings.catch_warnings():
        if not (debug or sys.warnoptions):  # the error is the only line: no NumPy or parser
            warnings.simplefilter("ignore")  # warnings beside it (-W or --debug shows them)
        rv = app(args=argv, prog_name="twolayer", standalone_mode=False, obj={"debug": debug})
        console.flush_stdout()
    return rv if isinstance(rv, int) else 0


def _exit_status(e, debug):
    """The exit status of an exception leaving a command, its one line said; None to re-raise it."""
    if isinstance(e, _Refused):
        e = e.error
    if not isinstance(e, Exception) or isinstance(e, (typer.Exit, typer.Abort, Interrupted)):
        return _stop_status(e)
    if isinstance(e, (InputError, DivergedError)):
        if debug:
            return None
        # the library names settings; only here do they become flags
        return console.fail(e.spelled(flag), 2 if isinstance(e, InputError) else 1)
    if isinstance(e, OSError) and e.errno in _ENVIRONMENT and not debug:  # a backstop: io.py
        where = e.filename if e.filename is not None else "twolayer"  # maps these where it can
        return console.fail(os_error(where, e, "cannot use"), 2)
    if _is_usage_error(e):  # Click's own: a bad option, a missing argument
        return console.fail(e.format_message(), getattr(e, "exit_code", 2))
    if debug:  # an internal failure: still one line unless --debug
        return None
    return console.fail(
        f"internal error: {type(e).__name__}: {e} (run with --debug for a traceback)", 1
    )


def _stop_status(e):
    """The exit status of a command that stopped (exit, Ctrl-C, a stop signal); None to re-raise
    any other BaseException (SystemExit, GeneratorExit)."""
    if isinstance(e, typer.Exit):
        return e.exit_code
    if isinstance(e, typer.Abort):
        return console.fail("interrupted", 130)
    if isinstance(e, Interrupted):
        return console.fail(f"interrupted ({e}); every file written so far is complete", e.status)
    if isinstance(e, KeyboardInterrupt):  # between commands: before Typer started or after it ended
        return console.fail("interrupted", exit_status(e))
    return None


# the system's refusals that no bug causes: one line and exit 2 wherever they surface
_ENVIRONMENT = {
    getattr(errno, n)
    for n in (
        "ENAMETOOLONG", "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "ELOOP", "ENOTDIR",
        "EISDIR", "EMFILE", "ENFILE", "EFBIG",
    )
    if hasattr(errno, n)
}  # fmt: skip


def _is_usage_error(e):
    """Click's exceptions (vendored inside recent Typer, so matched by their public shape)."""
    return callable(getattr(e, "format_message", None)) and isinstance(
        getattr(e, "exit_code", None), int
    )


if __name__ == "__main__":
    sys.exit(main())
