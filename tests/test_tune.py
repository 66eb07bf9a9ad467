"""twolayer tune: a small study end to end, two workers on one storage, a killed worker restarted."""

import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_argv

optuna = pytest.importorskip("optuna")
pytestmark = pytest.mark.slow  # every test here runs Optuna studies

from twolayer import data as data_mod  # noqa: E402
from twolayer import tune as tuning  # noqa: E402
from twolayer.cli import main  # noqa: E402
from twolayer.errors import InputError  # noqa: E402
from twolayer.net import TwoLayerNet  # noqa: E402

COMPLETE = optuna.trial.TrialState.COMPLETE


def _worker(out, storage, *args):
    """A `twolayer tune` worker in its own process, quick trials unless args say otherwise."""
    cmd = cli_argv(
        "tune",
        "--out",
        str(out),
        "--storage",
        storage,
        "--study-name",
        "s",
        "--quiet",
        "--epochs",
        "2",
        "--heartbeat",
        "1",
        *args,
    )
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _load(storage):
    return optuna.load_study(study_name="s", storage=storage)


def _states(study):
    return [t.state for t in study.get_trials(deepcopy=False)]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune")
    study = tuning.tune("digits", trials=4, out=out, epochs=3, seed=0, pruner="median")
    return out, study


def test_small_study_writes_best_model_csv_and_plots(study_dir):
    out, study = study_dir
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4 and all(t.state.is_finished() for t in trials)
    for name in ("best_model.npz", "trials.csv", "history.png", "search.png", "study.db"):
        assert (out / name).stat().st_size > 0, name

    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [t.number for t in trials]
    assert set(tuning.SPACE) <= set(rows[0])
    done = [r for r in rows if r["state"] == "COMPLETE"]
    best_row = max(done, key=lambda r: float(r["val_accuracy"]))

    # the saved best model, re-scored on the validation split independently of the study
    dataset = data_mod.load("digits", seed=0, val_fraction=0.1)
    net = TwoLayerNet.load(out / "best_model.npz")
    val = np.mean(net.predict(dataset.X_val) == dataset.y_val)
    assert (
        val
        == pytest.approx(study.best_value)
        == pytest.approx(float(best_row["val_accuracy"]), abs=1e-6)
    )
    assert net.hidden_size == study.best_params["hidden_size"] == int(best_row["hidden_size"])
    assert study.best_value > 0.5  # digits has 10 classes: far above chance after 3 epochs


def test_each_trial_reports_validation_accuracy_every_epoch(study_dir):
    _, study = study_dir
    for t in study.get_trials(deepcopy=False, states=(COMPLETE,)):
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, t.user_attrs["epochs"] + 1))
        # the loop keeps the best epoch's weights, so the objective is the best reported accuracy
        assert t.value == pytest.approx(max(t.intermediate_values.values()))


def test_best_model_is_retrained_when_its_file_is_elsewhere(study_dir, tmp_path):
    out, study = study_dir
    best = tuning.finished(study)[0]
    other = tmp_path / "other-machine"
    (other / "trials").mkdir(parents=True)
    tuning.save_best_model(study, best, other)
    a, b = (
        TwoLayerNet.load(out / "trials" / f"{best.number}.npz"),
        TwoLayerNet.load(other / "best_model.npz"),
    )
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_trials_in_threads_train_on_one_blas_thread_and_leave_blas_as_it_was(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_info

    from twolayer.train import Trainer

    def blas():
        return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    seen, step = set(), Trainer.step

    def spy(self, *a, **kw):
        seen.add((self.threads, blas()))
        return step(self, *a, **kw)

    monkeypatch.setattr(Trainer, "step", spy)
    before = blas()
    tuning.tune("digits", trials=2, out=tmp_path / "two", epochs=1, seed=0, n_jobs=2)
    assert seen == {(1, 1)}  # one BLAS thread per trial: the limit is the whole process's
    assert blas() == before
    seen.clear()
    tuning.tune("digits", trials=1, out=tmp_path / "one", epochs=1, seed=0)
    assert {t for t, _ in seen} == {None}  # one trial at a time: the loop's own policy


def test_search_space_stays_inside_the_training_rules():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        params = tuning.suggest(study.ask())
        settings = tuning.settings_for(
            params, tuning.RunSettings()
        )  # TrainConfig checks every value
        low, high = tuning.LEARNING_RATES[params["optimizer"]]
        assert low <= settings.train.learning_rate <= high
        assert 32 <= settings.hidden_size <= 512 and settings.train.batch_size in (32, 64, 128)
        seen.add(settings.train.optimizer)
    assert seen == set(tuning.LEARNING_RATES)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"trials": 0}, "trials"),
        ({"sampler": "grid"}, "sampler"),
        ({"pruner": "sometimes"}, "pruner"),
        ({"storage": "redis://x"}, "storage"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_options_are_input_errors(tmp_path, kwargs, words):
    with pytest.raises(InputError, match=words):
        tuning.tune(**{"out": tmp_path, "trials": 1, "epochs": 1, **kwargs})


def test_cli_bad_option_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["tune", "--out", str(tmp_path), "--pruner", "sometimes"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pruner" in err


def test_cli_json_continues_the_study_in_out(study_dir, capsys):
    out, study = study_dir
    before = len(study.get_trials(deepcopy=False))
    assert main(["tune", "--out", str(out), "--trials", "1", "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sum(result["trials"].values()) == before + 1
    assert result["best"]["val_accuracy"] == pytest.approx(tuning.finished(_reload(out))[0].value)


def _reload(out):
    return optuna.load_study(study_name="twolayer", storage=f"sqlite:///{out / 'study.db'}")


def _two_workers_of_three_trials(tmp_path, storage):
    """Start two workers on one study at once; both must finish, with 6 trials from 2 workers."""
    workers = [
        _worker(tmp_path / name, storage, "--trials", "3", "--pruner", "none")
        for name in ("a", "b")
    ]
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    study = _load(storage)
    assert _states(study) == [COMPLETE] * 6
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2
    return study


def test_two_concurrent_workers_add_up_on_one_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = _two_workers_of_three_trials(tmp_path, storage)
    # each worker writes the best of the whole study as it stood when that worker finished:
    # the last to finish holds the study's best; the other, a trial at least as good as its own
    first, last = sorted(
        ("a", "b"), key=lambda name: (tmp_path / name / "best_model.npz").stat().st_mtime_ns
    )
    assert (
        TwoLayerNet.load(tmp_path / last / "best_model.npz").hidden_size
        == study.best_params["hidden_size"]
    )
    early = TwoLayerNet.load(tmp_path / first / "best_model.npz")
    own = [t for t in study.trials if (tmp_path / first / "trials" / f"{t.number}.npz").exists()]
    assert len(own) == 3
    assert any(
        t.params["hidden_size"] == early.hidden_size and t.value >= max(o.value for o in own)
        for t in study.trials
    )


def test_killed_worker_loses_only_its_running_trial_and_a_restart_continues(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = _worker(tmp_path, storage, "--trials", "2", "--pruner", "none")
    assert first.wait(timeout=120) == 0

    # a worker whose trial runs "forever", killed while it is reporting epochs
    slow = _worker(
        tmp_path,
        storage,
        "--trials",
        "1",
        "--epochs",
        "100000",
        "--patience",
        "0",
        "--pruner",
        "none",
    )
    try:
        running = None
        for _ in range(600):
            running = [
                t
                for t in _load(storage).get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.RUNNING and len(t.intermediate_values) >= 2
            ]
            if running or slow.poll() is not None:
                break
            time.sleep(0.1)
        assert running, "the slow worker never reported"
        os.kill(slow.pid, signal.SIGKILL)
    finally:
        slow.kill()
        slow.wait()
    killed = running[0].number
    time.sleep(3.5)  # let its heartbeat go stale: grace period = 3 heartbeats of 1 s

    again = _worker(tmp_path, storage, "--trials", "2", "--pruner", "none")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err

    trials = _load(storage).get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    assert by_number[killed].state == optuna.trial.TrialState.FAIL  # never counted as finished
    assert [t.state for t in trials].count(COMPLETE) == 4  # 2 before the kill + 2 after the restart
    assert not [t for t in trials if not t.state.is_finished()]
    retried = [t for t in trials if tuning.retried_from(t) == killed]
    assert len(retried) == 1 and retried[0].state == COMPLETE
    assert retried[0].params == by_number[killed].params
    assert (tmp_path / "best_model.npz").exists()


def _postgres_bin():
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return (
        os.path.dirname(found[-1])
        if found
        else (os.path.dirname(shutil.which("initdb") or "") or None)
    )


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL server on a Unix socket (initdb refuses root: run it as 'postgres')."""
    pytest.importorskip("psycopg")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed")
    as_user = []
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        as_user = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    root = Path(
        tempfile.mkdtemp(prefix="twolayer-pg-")
    )  # directly in /tmp: the server user can reach it
    os.chmod(root, 0o777)
    data, port = root / "data", str(50000 + os.getpid() % 10000)

    def run(*cmd):
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120, cwd=root)

    try:
        run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "tl")
        run(
            f"{bindir}/pg_ctl",
            "-D",
            str(data),
            "-o",
            f"-k {root} -p {port} -c listen_addresses=''",
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
    except (subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"cannot start a PostgreSQL server here: {e}")
    try:
        run(f"{bindir}/createdb", "-h", str(root), "-p", port, "-U", "tl", "optuna")
        yield f"postgresql+psycopg://tl@/optuna?host={root}&port={port}"
    finally:
        run(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_a_study_on_a_real_postgresql_server(postgres_url, tmp_path):
    study = _two_workers_of_three_trials(tmp_path, postgres_url)
    assert sorted(t.number for t in study.trials) == list(range(6))
