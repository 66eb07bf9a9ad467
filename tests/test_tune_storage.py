"""Tuning storage: one that cannot be shared (in memory) or whose study measures something else is
refused by name; heartbeats and a stopped study end in one line; a PostgreSQL URL without its driver."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import cli_argv

from twolayer import tune as tuning
from twolayer.cli import main
from twolayer.errors import InputError

optuna = pytest.importorskip("optuna")


# -- tuning storage -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?cache=shared",
        "sqlite:///x.db?mode=memory&cache=shared",
        "sqlite+pysqlite://",
        "sqlite+pysqlite:///:memory:",
    ],
)
def test_in_memory_storage_is_refused(url, tmp_path, small, capsys):
    with pytest.raises(
        InputError, match="an in-memory database cannot be shared by workers or kept"
    ):
        tuning.tune(small, 1, url, out=tmp_path / "t")
    assert (
        main(["tune", "--data", small, "--storage", url, "--out", str(tmp_path / "t"), "-q"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in-memory database" in err
    assert not (tmp_path / "t" / "study.json").exists()


def test_a_study_of_the_other_direction_is_refused_by_name(tmp_path, small):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    optuna.create_study(storage=url, study_name="loss", direction="minimize")
    with pytest.raises(
        InputError,
        match="study 'loss' exists and its direction is minimize; twolayer tune "
        "maximizes validation accuracy",
    ):
        tuning.tune(small, 1, url, "loss", out=tmp_path / "t")
    optuna.create_study(storage=url, study_name="multi", directions=["maximize", "minimize"])
    with pytest.raises(
        InputError, match="study 'multi' exists and its direction is maximize, minimize"
    ):
        tuning.tune(small, 1, url, "multi", out=tmp_path / "t2")


def test_a_foreign_study_with_trials_is_refused(tmp_path, small):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = optuna.create_study(storage=url, study_name="theirs", direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(
        InputError, match="study 'theirs' exists but was not created by twolayer tune"
    ):
        tuning.tune(small, 1, url, "theirs", out=tmp_path / "t")


@pytest.mark.slow
def test_joining_a_study_of_another_objective_is_refused_by_name(tmp_path, small, capsys):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    assert (
        main(
            [
                "tune",
                "--data",
                small,
                "--trials",
                "1",
                "--epochs",
                "2",
                "--storage",
                url,
                "--study-name",
                "s",
                "--out",
                str(tmp_path / "a"),
                "-q",
            ]
        )
        == 0
    )
    capsys.readouterr()
    other = small.replace("s.npz", "t.npz")
    np.savez(other[4:], X_train=np.ones((40, 3)), y_train=np.arange(40) % 2)
    assert (
        main(
            [
                "tune",
                "--data",
                other,
                "--epochs",
                "2",
                "--trials",
                "1",
                "--storage",
                url,
                "--study-name",
                "s",
                "--out",
                str(tmp_path / "b"),
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err == (
        f"twolayer: error: study 's' tunes another objective: --data {small!r} (this worker: {other!r}); "
        "join it with the same options or use another --study-name\n"
    )
    study = optuna.load_study(study_name="s", storage=url)
    assert (
        study.user_attrs["data"] == small and len(study.trials) == 1
    )  # nothing overwritten, nothing added
    # another budget per trial is the same objective: joined
    assert (
        main(
            [
                "tune",
                "--data",
                small,
                "--epochs",
                "3",
                "--patience",
                "0",
                "--trials",
                "1",
                "--storage",
                url,
                "--study-name",
                "s",
                "--out",
                str(tmp_path / "c"),
                "-q",
            ]
        )
        == 0
    )
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 2


@pytest.mark.filterwarnings(
    "ignore:Heartbeat of storage"
)  # study.ask() with heartbeats: Optuna's own note
def test_the_heartbeat_thread_never_prints_a_traceback(tmp_path, monkeypatch):
    """Optuna beats in a thread of its own; an exception there goes to threading.excepthook (a traceback
    on stderr). The storage is made to fail as a deleted or unreachable database does."""
    import sqlalchemy.exc
    from optuna.storages._heartbeat import get_heartbeat_thread

    storage = tuning.open_storage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat=1)
    study = optuna.create_study(storage=storage, study_name="h", direction="maximize")
    trial = study.ask()
    hooked = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args.exc_type))

    def gone(self, trial_id):
        raise sqlalchemy.exc.OperationalError(
            "UPDATE", {}, Exception("no such table: trial_heartbeats")
        )

    monkeypatch.setattr(optuna.storages.RDBStorage, "record_heartbeat", gone)
    beat = get_heartbeat_thread(trial._trial_id, storage)
    beat.start()
    beat.join()
    assert hooked == []


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs, sig", [(1, "SIGINT"), (2, "SIGINT"), (2, "SIGTERM")])
def test_a_stopped_study_stops_at_once_with_one_line(n_jobs, sig, tmp_path):
    """The loop absorbs Ctrl-C and keeps a run's best weights; in a study that used to mean the trial
    finished as COMPLETE and the next one started: the study never stopped. Now the trial is failed,
    the study ends, the other threads' trials end at their next epoch, and stderr has one line."""
    import signal
    import time

    X = np.random.default_rng(0).standard_normal((3000, 20))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=(X[:, 0] > 0).astype(int))
    out = tmp_path / "t"
    proc = subprocess.Popen(
        cli_argv(
            "tune",
            "--data",
            f"npz:{tmp_path / 's.npz'}",
            "--out",
            str(out),
            "--trials",
            "50",
            "--epochs",
            "1000",
            "--patience",
            "0",
            "--pruner",
            "none",
            "--heartbeat",
            "1",
            "--n-jobs",
            str(n_jobs),
            "-q",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, running = time.time() + 90, []
        while (
            not running and time.time() < deadline and proc.poll() is None
        ):  # wait until a trial runs
            time.sleep(0.3)
            try:
                study = optuna.load_study(
                    study_name="twolayer", storage=f"sqlite:///{out / 'study.db'}"
                )
                running = [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
            except Exception:  # noqa: BLE001 - the database or the study is not there yet
                pass
        assert running, "no trial started"
        time.sleep(0.5)  # inside it
        proc.send_signal(getattr(signal, sig))
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    code = 128 + getattr(signal, sig)
    assert proc.returncode == code and stderr == (
        f"twolayer: error: interrupted ({sig}); every file written so far is complete\n"
    ), stderr
    states = [
        t.state.name
        for t in optuna.load_study(
            study_name="twolayer", storage=f"sqlite:///{out / 'study.db'}"
        ).trials
    ]
    assert "FAIL" in states and "RUNNING" not in states and len(states) < 50, states


@pytest.mark.parametrize(
    "url, words",
    [
        (
            "postgresql://u:secret@localhost/db",
            "the database driver psycopg is not installed: pip install 'twolayer[postgres]'",
        ),
        (
            "postgresql+psycopg://u:secret@localhost/db",
            "driver psycopg is not installed: pip install 'twolayer[postgres]'",
        ),
        (
            "postgresql+psycopg2://u:secret@localhost/db",
            "driver psycopg2 is not installed: pip install psycopg2",
        ),
    ],
)
def test_postgresql_without_its_driver_names_how_to_install_it(
    url, words, monkeypatch, tmp_path, small, capsys
):
    for name in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, name, None)
    assert (
        main(["tune", "--data", small, "--storage", url, "--out", str(tmp_path / "t"), "-q"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "secret" not in err, err
