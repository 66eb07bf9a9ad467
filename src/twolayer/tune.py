"""Hyperparameter search on Optuna: one study, any number of workers.

Each trial trains with the library's own loop (``runs.build`` + ``Trainer.fit``) and reports
validation accuracy after every epoch, so a pruner can stop bad trials early. The objective is
validation accuracy; the test split never chooses.

Workers that share ``storage`` and ``study_name`` cooperate on one study. The storage is an
Optuna RDB URL: a SQLite file (the default, in the output folder) or PostgreSQL for many
machines. Every worker sends a heartbeat; a trial whose worker stops beating (SIGKILL, a lost
machine) is marked FAIL by the next worker and re-queued once with the same parameters.

OUT/study.db          the default storage
OUT/trials/N.npz      the model of each finished trial trained by a worker writing to OUT
OUT/best_model.npz    the best trial's model (retrained from its parameters if another machine ran it)
OUT/trials.csv        one row per trial: number, state, value, parameters, epochs, worker
OUT/history.png       validation accuracy per trial and the best so far
OUT/search.png        validation accuracy against learning rate and regularisation
"""

from __future__ import annotations

import functools
import os
import random
import shlex
import signal
import socket
import threading
import time
import warnings
from pathlib import Path

from .errors import DivergedError, InputError, Setting
from .io import atomic_write, exists, is_dir, read_json, read_npz, write_csv, write_json
from .locks import (
    RESULTS_LOCK_FILE,
    STOP_SIGNALS,
    Stopped,
    handling_signals,
    run_lock,
    waiting_lock,
)
from .plots import plot_study
from .runs import evaluate_model, load_run_data, prepare
from .settings import RunSettings, TrainConfig, check_setting, flag
from .threads import limited
from .train import Trainer

# The search space, declared once: name -> (kind, range or choices). The learning rate's range
# depends on the update rule (Adam's useful steps are ~30x smaller than plain SGD's), so the
# optimizer is drawn first.
LEARNING_RATES = {
    "sgd": (3e-2, 5e-1),
    "momentum": (5e-3, 1e-1),
    "nesterov": (5e-3, 1e-1),
    "adam": (1e-3, 3e-2),
    "adamw": (1e-3, 3e-2),
}
SPACE = {
    "optimizer": ("choice", tuple(LEARNING_RATES)),
    "learning_rate": ("log", LEARNING_RATES),
    "reg": ("log", (1e-6, 1e-2)),
    "hidden_size": ("int_log", (32, 512)),
    "batch_size": ("choice", (32, 64, 128)),
    "schedule": ("choice", ("constant", "step", "cosine")),
}
TRIAL_COLUMNS = ("number", "state", "val_accuracy", *SPACE, "epochs", "seconds", "worker")


OBJECTIVE = "validation accuracy"  # what every study of twolayer tune maximises
INSTALL = "pip install 'twolayer[tune]'"
INSTALL_POSTGRES = "pip install 'twolayer[postgres]'"


def require_optuna():
    """Optuna, or one line saying how to install it (it is an optional part of twolayer)."""
    try:
        import optuna
    except ImportError:
        raise InputError(f"twolayer tune needs Optuna, an optional part: {INSTALL}") from None
    return optuna


def suggest(trial):
    """Draw one point of SPACE from an Optuna trial (or a FixedTrial)."""
    params: dict[str, object] = {}
    for name, (kind, arg) in SPACE.items():
        if kind == "log":
            low, high = arg[params["optimizer"]] if isinstance(arg, dict) else arg
            params[name] = trial.suggest_float(name, low, high, log=True)
        elif kind == "int_log":
            params[name] = trial.suggest_int(name, *arg, log=True)
        else:
            params[name] = trial.suggest_categorical(name, arg)
    return params


def settings_for(params, base):
    """RunSettings of one trial: the base settings with the trial's parameters in place."""
    return base.with_changes(**{**params, "hidden_size": int(params["hidden_size"])})


def train_trial(params, base, dataset, on_epoch=None, stop=None, threads=None):
    """Train one configuration with the library's loop; returns (net, trainer, val_accuracy).
    ``stop``: an Event set by a signal (see _stop_trials_on_signals), checked after every epoch;
    ``threads``: BLAS threads (None: the loop's policy, threads.py)."""
    settings = settings_for(params, base)
    run = prepare(settings, dataset)
    trainer = Trainer(run.net, settings.train, threads=threads)

    def epoch_done(t):
        if stop is not None and stop.is_set():
            raise Stopped(stop.signum)
        if on_epoch is not None:
            on_epoch(t)

    try:
        run.fit(trainer, on_epoch=epoch_done)
    except DivergedError:
        if trainer.best is None:  # nothing finite to keep: the worst possible score
            return run.net, trainer, 0.0
    if (
        trainer.interrupt is not None
    ):  # the loop keeps a stopped run's best weights; a study must stop
        raise trainer.interrupt
    return run.net, trainer, run.accuracy("val")


def make_objective(base, dataset, out, stop=None, threads=None):
    """The function Optuna maximises: validation accuracy after training (best epoch kept).
    ``stop`` (a threading.Event) set: the trials running in other threads end at their next epoch.
    ``threads``: each trial's BLAS threads (None: the loop's policy)."""
    import optuna

    worker = f"{socket.gethostname()}:{os.getpid()}"
    (out / "trials").mkdir(parents=True, exist_ok=True)

    def objective(trial):
        try:
            params = suggest(trial)
        except ValueError as e:  # Optuna refuses a parameter whose range differs from the study's
            raise InputError(
                f"study {trial.study.study_name!r} was created with another search space ({e}); "
                "use a new ",
                Setting("study_name"),
            ) from None
        trial.set_user_attr("worker", worker)

        def report(trainer):
            trial.report(trainer.history["val_acc"][-1], trainer.epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs", trainer.epoch)
                raise optuna.TrialPruned()

        net, trainer, val = train_trial(
            params, base, dataset, on_epoch=report, stop=stop, threads=threads
        )
        if stop is not None and stop.is_set():  # Optuna marks the trial FAIL and re-raises the stop
            raise Stopped(stop.signum)
        trial.set_user_attr("epochs", trainer.epoch)
        trial.set_user_attr("seconds", round(sum(trainer.history["seconds"]), 3))
        trial.set_user_attr("stop_reason", trainer.stop_reason)
        net.save(out / "trials" / f"{trial.number}.npz")
        return val

    return objective


def sqlite_path(url):
    """The file of a sqlite URL; '' for an in-memory database (sqlite://, sqlite:///:memory:,
    file::memory:, mode=memory), which every process and every run would see empty."""
    rest = url.split(":", 1)[1]
    path = rest[3:] if rest.startswith("///") else ""
    path, _, query = path.partition("?")
    if path in ("", ":memory:") or path.startswith("file::memory:") or "mode=memory" in query:
        return ""
    return path


def open_storage(url, heartbeat=10):
    """An RDB storage with heartbeats: a trial whose worker is silent for 3 heartbeats is failed
    and retried once with the same parameters."""
    optuna = require_optuna()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    url, engine_kwargs = _engine_url(url, scheme)
    rng = random.Random()
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return _storage_class()(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat,
                    grace_period=3 * heartbeat,
                    **_retry_once(),
                )
        except ImportError as e:
            raise _missing_driver(scheme, url, e) from None
        except Exception as e:  # SQLAlchemy: bad URL, unreachable server, refused password, a race
            if not type(e).__module__.startswith(("sqlalchemy", "optuna")):
                raise
            if attempt == 5 or "could not parse" in str(e).lower():
                raise InputError(
                    f"storage {_redact(url)}: cannot open it ({type(e).__name__})"
                ) from None
            # workers started together race to create the tables: the loser waits and reopens
            time.sleep(rng.uniform(0.2, 1.0) * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _engine_url(url, scheme):
    """(SQLAlchemy URL, engine arguments) of a storage URL, refused in one line when no worker
    could share it."""
    if scheme.startswith("sqlite"):
        path = sqlite_path(url)
        if not path:
            raise InputError(
                f"storage {url}: an in-memory database cannot be shared by workers or kept after "
                "the run; use sqlite:///FILE"
            )
        if not is_dir(Path(path).parent):
            raise InputError(f"storage {url}: the folder {Path(path).parent} does not exist")
        # several processes on one file: wait for the write lock instead of failing at once
        return url, {"connect_args": {"timeout": 60}}
    if scheme == "postgresql":  # the driver the postgres extra installs (SQLAlchemy: psycopg2)
        return "postgresql+psycopg" + url[len(scheme) :], {}
    if not scheme.startswith(("postgresql", "mysql")):
        raise InputError(
            f"storage must be a sqlite:///FILE or postgresql://... URL, got {_redact(url)!r}"
        )
    return url, {}


def _missing_driver(scheme, url, e):
    """The one line for a database driver that is not installed, with how to install it."""
    dialect = url.split(":", 1)[0]
    driver = getattr(e, "name", None) or (dialect.split("+", 1)[1] if "+" in dialect else dialect)
    advice = INSTALL_POSTGRES if driver == "psycopg" else f"pip install {driver}"
    return InputError(f"storage {scheme}: the database driver {driver} is not installed: {advice}")


@functools.cache
def _storage_class():
    """Optuna's RDBStorage whose heartbeat never raises. The heartbeat runs in a thread of its own:
    an exception there (the database gone, a lost connection) would print a traceback beside the
    one line of the command; the main thread meets the same storage and reports it once."""
    import optuna

    class Storage(optuna.storages.RDBStorage):
        def record_heartbeat(self, trial_id):
            try:
                super().record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 - reported by the main thread's next storage call
                pass

    return Storage


def _retry_once():
    """The storage argument that re-queues a stale trial once (its name changed in Optuna 4.9)."""
    from optuna import storages

    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
        return {
            "heartbeat_stale_trial_callback": storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        }
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=1)}


def retried_from(trial):
    """Number of the stale trial that ``trial`` re-runs, or None."""
    import optuna
    from optuna import storages

    retry = (
        getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
        or storages.RetryFailedTrialCallback
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return retry.retried_trial_number(trial)


def _redact(url):
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
        return f"{scheme}{sep}***@{rest}"
    return url


def make_sampler(name, seed=None):
    """The sampler ``name``, one of settings.SAMPLERS (checked by check_options)."""
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    assert name == "tpe", name
    # constant_liar: running trials of other workers count as bad guesses, so parallel workers spread out
    return optuna.samplers.TPESampler(n_startup_trials=5, seed=seed, constant_liar=True)


def make_pruner(name, epochs):
    """The pruner ``name``, one of settings.PRUNERS (checked by check_options)."""
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    assert name == "median", name
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=min(3, epochs - 1))


def tune(
    data="digits",
    trials=20,
    storage=None,
    study_name="twolayer",
    out="tune",
    *,
    n_jobs=1,
    timeout=None,
    sampler="tpe",
    pruner="median",
    epochs=20,
    patience=5,
    seed=None,
    heartbeat=10,
    callbacks=(),
    on_start=None,
):
    """Run ``trials`` trials in this worker, then write the results of the whole study to ``out``.

    Returns the study. ``callbacks`` are Optuna callbacks ``(study, frozen_trial)``; ``on_start()``
    is called once the options are checked (a progress bar starts there).
    """
    check_options(trials, n_jobs, timeout, sampler, pruner, heartbeat, study_name)
    if on_start is not None:
        on_start()
    if seed is not None:
        check_setting("seed", seed)
    require_optuna()  # before loading data: a missing extra is said at once
    base = RunSettings(
        data=data,
        hidden_size=64,
        train=TrainConfig(epochs=epochs, patience=patience or None, seed=0),
    )
    out = Path(out)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    # the data first: a bad --data must leave no study.json or database behind
    dataset = load_run_data(base)
    if dataset.X_val is None:
        raise InputError(f"{data}: no validation split to tune on")
    with run_lock(out, "tune", shared=True):  # the workers of one study share OUT; train waits
        storage = open_storage(url, heartbeat)
        bind = _binding(out, study_name, url)
        study = _open_study(
            storage, study_name, base, make_sampler(sampler, seed), make_pruner(pruner, epochs)
        )
        bind()  # joined: only now does OUT belong to the study (a refusal leaves no study.json)
        optimize = {"n_trials": trials, "timeout": timeout, "n_jobs": n_jobs}
        _optimize(study, base, dataset, out, {**optimize, "callbacks": list(callbacks)})
        write_results(study, out, dataset)
        return study


def _binding(out, study_name, url):
    """OUT belongs to one study: its trial files and best_model.npz are that study's. Another
    study's workers are refused (here, before the study is opened) instead of overwriting them;
    returns the call that binds a fresh OUT once the study has been joined."""
    path = out / "study.json"
    here = {"study_name": study_name, "storage": _redact(url)}
    if exists(path):
        bound = read_json(path, "study binding")
        if (bound.get("study_name"), bound.get("storage")) != (here["study_name"], here["storage"]):
            raise InputError(
                f"{out}: holds the results of study {bound.get('study_name')!r} "
                f"({bound.get('storage')}); use another --out for study {study_name!r}"
            )
        return lambda: None
    return lambda: write_json(path, here)


def _open_study(storage, study_name, base, sampler, pruner):
    """Create the study, or join it when its objective is this worker's (check_joined)."""
    import optuna

    optuna.logging.set_verbosity(
        optuna.logging.ERROR
    )  # a failed trial is reported once, by the CLI
    check_joined(storage, study_name, base)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=sampler,
        pruner=pruner,
    )
    if "base" not in study.user_attrs:  # the study's creator says what it tunes, once
        study.set_user_attr("objective", OBJECTIVE)
        study.set_user_attr("data", base.data)  # so that best_model.npz can be retrained anywhere
        study.set_user_attr("base", base.to_dict())
    return study


def _optimize(study, base, dataset, out, optimize):
    """This worker's trials (``optimize``: Study.optimize's arguments), stopped by a signal at the
    next epoch of every running trial; trials left RUNNING by dead workers are failed after."""
    import optuna

    stop = threading.Event()
    stop.signum = signal.SIGINT  # set by the handler
    # trials in threads of one process: BLAS's limit is the process's, so one thread each, set
    # here once (a trial's own choice would be undone by another's end)
    threads = 1 if optimize.get("n_jobs", 1) > 1 else None
    try:
        with _stop_trials_on_signals(stop), limited(threads):
            objective = make_objective(base, dataset, out, stop, threads)
            study.optimize(objective, gc_after_trial=False, **optimize)
    except optuna.exceptions.StorageInternalError as e:
        raise InputError(
            f"storage of study {study.study_name!r} failed during the study "
            f"({' '.join(str(e).split())[:200]})"
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(
            study
        )  # a trial left RUNNING by a dead worker never counts


def _stop_trials_on_signals(stop):
    """Ctrl-C, SIGTERM and SIGHUP reach only the main thread; with --n-jobs > 1 Optuna would wait for
    the trials of the other threads to finish. The signal only sets ``stop``; every trial checks it
    after each epoch and ends, failed, with the stop (locks.Stopped), which Optuna re-raises."""

    def handler(
        signum, frame
    ):  # raises nothing: an exception raised here could land anywhere (a weakref
        stop.signum = signum  # callback swallows it with a traceback); every trial checks the flag
        stop.set()

    return handling_signals(handler, (signal.SIGINT, *STOP_SIGNALS))


# what the objective measures: validation accuracy on this data set's validation split. (--epochs and
# --patience are each trial's budget, and a worker may give its trials more or less of it.)
JOIN_FIELDS = {"data": Setting("data"), "val_fraction": "the validation fraction"}


def check_joined(storage, study_name, base):
    """Joining an existing study: its direction and objective must be this worker's, else the
    trials of both would be compared as if they measured the same thing. Refused by name."""
    import optuna

    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return  # a new study
    directions = storage.get_study_directions(study_id)
    if list(directions) != [optuna.study.StudyDirection.MAXIMIZE]:
        shown = ", ".join(d.name.lower() for d in directions)
        raise InputError(
            f"study {study_name!r} exists and its direction is {shown}; twolayer tune maximizes "
            f"{OBJECTIVE}: use another ",
            Setting("study_name"),
        )
    attrs = storage.get_study_user_attrs(study_id)
    if "base" not in attrs:  # (studies of earlier versions have 'base' and no 'objective')
        if storage.get_all_trials(study_id, deepcopy=False):
            raise InputError(
                f"study {study_name!r} exists but was not created by twolayer tune (its objective "
                "is unknown); use another ",
                Setting("study_name"),
            )
        return  # created a moment ago by another worker, which is writing its attributes
    _check_same_objective(study_name, attrs, base)


def _check_same_objective(study_name, attrs, base):
    """The study's objective and JOIN_FIELDS (from its user attributes) must be this worker's."""
    theirs = {**(attrs.get("base") or {}), **((attrs.get("base") or {}).get("train") or {})}
    ours = {**base.to_dict(), **base.to_dict()["train"]}
    differ = [k for k in JOIN_FIELDS if theirs.get(k) != ours.get(k)]
    if attrs.get("objective", OBJECTIVE) != OBJECTIVE or differ:
        what = [
            part
            for i, k in enumerate(differ)
            for part in (
                "; " * (i > 0),
                JOIN_FIELDS[k],
                f" {theirs.get(k)!r} (this worker: {ours.get(k)!r})",
            )
        ] or [f"objective {attrs.get('objective')!r}"]
        raise InputError(
            f"study {study_name!r} tunes another objective: ",
            *what,
            "; join it with the same options or use another ",
            Setting("study_name"),
        )


def check_options(
    trials, n_jobs=1, timeout=None, sampler="tpe", pruner="median", heartbeat=10, study_name="x"
):
    """The cheap checks, done before anything starts (a progress bar, a database, data loading)."""
    for name, value in (
        ("trials", trials),
        ("n_jobs", n_jobs),
        ("timeout", timeout),
        ("sampler", sampler),
        ("pruner", pruner),
        ("heartbeat", heartbeat),
        ("study_name", study_name),
    ):
        check_setting(name, value)


def finished(study):
    """Completed trials, best first."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(done, key=lambda t: (-t.value, t.number))


def write_results(study, out, dataset=None):
    """best_model.npz, trials.csv and the plots of the whole study (every worker's trials)."""
    out = Path(out)
    with waiting_lock(out / RESULTS_LOCK_FILE):  # workers finishing together take turns
        write_trials_csv(study.get_trials(deepcopy=False), out / "trials.csv")
        best = finished(study)
        if best:
            save_best_model(study, best[0], out, dataset)
        pruned = [t for t in study.get_trials(deepcopy=False) if t.state.name == "PRUNED"]
        plot_study(sorted(best, key=lambda t: t.number), out, study.study_name, pruned)


def write_trials_csv(trials, path):
    write_csv(
        path,
        TRIAL_COLUMNS,
        [
            [
                t.number,
                t.state.name,
                "" if t.value is None else f"{t.value:.6f}",
                *(t.params.get(k, "") for k in SPACE),
                t.user_attrs.get("epochs", ""),
                t.user_attrs.get("seconds", ""),
                t.user_attrs.get("worker", ""),
            ]
            for t in trials
        ],
    )


def save_best_model(study, trial, out, dataset=None):
    """Copy the best trial's model; retrain it from its parameters when another machine ran it
    (training is seeded, so the retrained net is the same one)."""
    target = out / "best_model.npz"
    saved = out / "trials" / f"{trial.number}.npz"
    if exists(saved):
        read_npz(saved, required=("meta",))  # a damaged trial file is refused, not copied
        data = saved.read_bytes()
        return atomic_write(target, lambda f: f.write(data))
    base = RunSettings.from_dict(study.user_attrs["base"])
    if dataset is None:
        dataset = load_run_data(base)
    net, _, _ = train_trial(trial.params, base, dataset)
    net.save(target)
    return target


# the options of `twolayer train` that reproduce a trial (its parameters and the study's base)
REPRODUCE = (
    "data", "hidden_size", "dtype", "preprocess", "val_fraction", "epochs", "batch_size",
    "learning_rate", "reg", "optimizer", "schedule", "patience", "seed",
)  # fmt: skip


def reproduce_command(study, trial, out="runs/best"):
    """The `twolayer train` command that trains ``trial``'s network again (training is seeded)."""
    settings = settings_for(trial.params, RunSettings.from_dict(study.user_attrs["base"]))
    values = {**settings.to_dict(), **settings.to_dict()["train"]}
    args = ["twolayer", "train"]
    for name in REPRODUCE:
        value = values[name]
        if name == "patience":
            value = value or 0
        if value is None:
            continue
        args += [flag(name), repr(value) if isinstance(value, float) else str(value)]
    # a trial trains without augmentation (train's auto would shift images)
    return shlex.join([*args, "--augment", "none", "--out", str(out)])


def best_summary(study, out):
    """The best finished trial: its number, validation and test accuracy (of OUT/best_model.npz on
    the study's test split, None without one) and the command that reproduces it; None if none."""
    best = finished(study)
    if not best:
        return None
    top = best[0]
    model = Path(out) / "best_model.npz"
    test = evaluate_model(model).get("test_accuracy") if exists(model) else None
    return {
        "number": top.number,
        "val_accuracy": top.value,
        "test_accuracy": test,
        "params": top.params,
        "command": reproduce_command(study, top),
    }


def top_rows(study, k=5):
    """The k best finished trials as rows of strings, for a table."""
    rows = []
    for t in finished(study)[:k]:
        p = t.params
        rows.append(
            [
                str(t.number),
                f"{100 * t.value:.2f}%",
                f"{p['learning_rate']:.1e}",
                f"{p['reg']:.1e}",
                str(p["hidden_size"]),
                str(p["batch_size"]),
                p["optimizer"],
                p["schedule"],
                str(t.user_attrs.get("epochs", "")),
            ]
        )
    return rows


TOP_COLUMNS = ("trial", "val", "lr", "reg", "hidden", "batch", "optimizer", "schedule", "epochs")


def state_counts(study):
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts
