"""Issue 12, items 8-10: exactly one line (warnings, a closed stderr, names with control characters),
tuning storage that cannot be shared or whose study measures something else, and missing optional
parts named with the extra that installs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from helpers import cli_argv, run_python

from twolayer import TwoLayerNet
from twolayer import tune as tuning
from twolayer.cli import main
from twolayer.errors import InputError
from twolayer.io import printable

# -- one escaping of names ------------------------------------------------------------------------------------
NAMES = [
    "cat\ndog",
    "\x1b[31mred",
    "tab\there",
    "$\\frac{$",
    "back\\slash",
    "ok",
    "cr\rlf",
    "bell\x07",
    "ls\u2028ps",
]


@pytest.mark.parametrize(
    "name, shown",
    [
        ("cat", "cat"),
        ("cat\ndog", "cat\\ndog"),
        ("\x1b[31m", "\\x1b[31m"),
        ("a\tb", "a\\tb"),
        ("a\rb", "a\\rb"),
        ("\x00", "\\x00"),
        ("x\u2028y", "x\\u2028y"),
        ("\u202eevil", "\\u202eevil"),
        ("猫 é", "猫 é"),
        ("a\\nb", "a\\\\nb"),
        ("\U000e0001", "\\U000e0001"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(name, shown):
    assert printable(name) == shown
    assert printable(name).isprintable()


def test_printable_never_prints_two_names_alike():
    names = ["a\nb", "a\\nb", "a\\\nb", "a\\\\nb", "a\tb", "a\\tb"]
    assert len({printable(n) for n in names}) == len(names)


def test_string_labels_differing_by_a_trailing_nul_stay_two_classes(tmp_path):
    """NumPy's fixed-width strings drop trailing NULs: 'a\\0' and 'a' would silently become one class."""
    from twolayer.data import load

    (tmp_path / "n.csv").write_text("a,label\n" + "1,a\x00\n2,a\n3,b\n" * 10, encoding="utf-8")
    d = load(f"csv:{tmp_path / 'n.csv'}")
    assert d.class_names == ["a", "a\x00", "b"]
    ys = np.concatenate([d.y_train, d.y_val])
    assert sorted(np.bincount(ys).tolist()) == [10, 10, 10]


@pytest.fixture(scope="module")
def namedrun_python(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    rng = np.random.default_rng(0)
    with open(root / "d.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "label"])
        for i in range(90):
            w.writerow(
                [
                    f"{rng.standard_normal():.4f}",
                    f"{rng.standard_normal():.4f}",
                    NAMES[i % len(NAMES)],
                ]
            )
    np.save(root / "rows.npy", rng.standard_normal((40, 2)))
    assert (
        main(
            [
                "train",
                "--data",
                f"csv:{root / 'd.csv'}",
                "--epochs",
                "2",
                "--hidden",
                "4",
                "--out",
                str(root / "run"),
                "-q",
            ]
        )
        == 0
    )  # the confusion picture too: '$...$' is not mathematics
    return root


def test_predict_prints_one_line_per_row_whatever_the_names(named_run, capsys):
    capsys.readouterr()
    assert main(["predict", str(named_run / "run" / "model.npz"), str(named_run / "rows.npy")]) == 0
    out = capsys.readouterr().out
    lines = out.split("\n")[:-1]
    assert len(lines) == 40 and set(lines) <= {printable(n) for n in NAMES}
    assert out.isprintable() is False and all(line.isprintable() for line in lines)


def test_predict_proba_csv_header_and_labels_are_escaped(named_run, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(named_run / "run" / "model.npz"),
                str(named_run / "rows.npy"),
                "--proba",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.split("\n")[:-1]
    assert len(lines) == 41 and all(line.isprintable() for line in lines)
    header = next(csv.reader(lines[:1]))
    assert header == [
        "label",
        *(printable(n) for n in TwoLayerNet.load(named_run / "run" / "model.npz").class_names),
    ]
    assert set(header[1:]) == {printable(n) for n in NAMES}


def test_predict_to_a_text_file_escapes_and_npy_keeps_the_names(named_run):
    model, rows = str(named_run / "run" / "model.npz"), str(named_run / "rows.npy")
    assert main(["predict", model, rows, "--out", str(named_run / "p.txt")]) == 0
    assert len((named_run / "p.txt").read_text(encoding="utf-8").splitlines()) == 40
    assert main(["predict", model, rows, "--out", str(named_run / "p.npy")]) == 0
    assert set(np.load(named_run / "p.npy").tolist()) <= set(
        NAMES
    )  # an array is data: names as they are


def test_report_html_and_confusion_json(named_run):
    assert main(["report", str(named_run / "run")]) == 0
    html = (named_run / "run" / "report.html").read_text(encoding="utf-8")
    assert "<td>cat\\ndog</td>" in html and "<td>\\x1b[31mred</td>" in html and "\x1b" not in html
    assert "cat\ndog" not in html and "ls\u2028ps" not in html
    assert set(
        json.loads((named_run / "run" / "confusion.json").read_text())["class_names"]
    ) == set(NAMES)


def test_diagram_draws_names_with_dollars_and_control_characters(named_run):
    out = named_run / "d.svg"
    assert (
        main(["diagram", "--model", str(named_run / "run" / "model.npz"), "--out", str(out)]) == 0
    )
    svg = out.read_text(encoding="utf-8")
    assert "\x1b" not in svg and "cat\\ndog" in svg


def test_a_table_title_with_a_newline_in_the_path_stays_on_its_line(named_run, capsys):
    import shutil

    odd = named_run / "odd\nrun\x1b[2J"
    odd.mkdir(exist_ok=True)
    shutil.copy(named_run / "run" / "model.npz", odd / "model.npz")
    capsys.readouterr()
    assert main(["evaluate", str(odd / "model.npz"), "--data", f"csv:{named_run / 'd.csv'}"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "odd\\nrun\\x1b[2J" in out, out
    assert sum("odd" in line for line in out.splitlines()) == 1


def test_an_error_line_never_carries_a_control_character(tmp_path, capsys):
    bad = tmp_path / "evil\x1b[2J\x07.npz"
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "\x1b" not in err
        and "\x07" not in err
        and "evil\\x1b[2J\\x07.npz" in err
    )


# -- warnings and a closed stderr: real processes -----------------------------------------------------------
WARN_THEN_FAIL = """
    import sys, warnings
    import numpy as np
    from twolayer import cli, runs
    from twolayer.errors import InputError

    def evaluate_model(*a, **k):
        np.float32(3e38) * np.float32(10)                   # RuntimeWarning: overflow
        np.asarray([1 + 1j]).astype(float)                  # ComplexWarning
        warnings.warn("input contained no data", UserWarning)  # loadtxt's words
        raise InputError("the error")
    runs.evaluate_model = evaluate_model
    sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_numpy_and_parser_warnings_never_reach_stderr_beside_the_error():
    r = run_python(WARN_THEN_FAIL, "evaluate", "m.npz")
    assert r.returncode == 2 and r.stderr == "twolayer: error: the error\n", r.stderr
    r = run_python(
        WARN_THEN_FAIL, "evaluate", "m.npz", "--debug"
    )  # --debug shows them (and the traceback)
    assert "RuntimeWarning" in r.stderr and "Traceback" in r.stderr


def test_the_cli_leaves_the_python_apis_warnings_alone(tmp_path):
    before = list(warnings.filters)
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 2
    assert warnings.filters == before
    with pytest.warns(RuntimeWarning):
        np.float32(3e38) * np.float32(10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [["evaluate", "/nonexistent/m.npz"], ["train", "--seed", "-1"], ["no-such-command"]]
)
def test_with_stderr_closed_the_error_never_goes_to_stdout(argv):
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        *argv,
        shell="2>&-",
    )
    assert r.returncode == 2 and r.stdout == "", r.stdout


@pytest.mark.slow
def test_with_stderr_closed_a_run_writes_intact_files(tmp_path):
    """fd 2 held on /dev/null: the first file opened never becomes 'stderr'."""
    out = tmp_path / "run"
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        "train",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--out",
        str(out),
        "--json",
        shell="2>&-",
    )
    assert r.returncode == 0 and json.loads(r.stdout)["epochs"] == 1
    assert TwoLayerNet.load(out / "model.npz").hidden_size == 8


@pytest.mark.slow
def test_no_blank_line_after_an_erased_progress_bar(tmp_path):
    """A real, non-terminal stderr: Rich's Progress.stop() would print a newline above the error."""
    X = np.random.default_rng(0).standard_normal((60, 3)) * 1e307
    np.savez(tmp_path / "big.npz", X_train=X, y_train=np.arange(60) % 2)
    r = run_python(
        "import sys; from twolayer.cli import main; sys.exit(main(sys.argv[1:]))",
        "train",
        "--data",
        f"npz:{tmp_path / 'big.npz'}",
        "--preprocess",
        "none",
        "--epochs",
        "3",
        "--out",
        str(tmp_path / "o"),
    )
    assert (
        r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("twolayer: error: ")
    ), r.stderr
    assert "scale them" in r.stderr


# -- tuning storage -----------------------------------------------------------------------------------------
optuna = pytest.importorskip("optuna")


@pytest.fixture
def small(tmp_path):
    X = np.random.default_rng(0).standard_normal((60, 3))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(60) % 2)
    return f"npz:{tmp_path / 's.npz'}"


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


# -- missing optional parts --------------------------------------------------------------------------------
def test_tune_without_optuna_names_the_extra(monkeypatch, tmp_path, small, capsys):
    monkeypatch.setitem(
        sys.modules, "optuna", None
    )  # `import optuna` now fails as if it were not installed
    assert main(["tune", "--data", small, "--out", str(tmp_path / "t"), "-q"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "twolayer: error: twolayer tune needs Optuna, an optional part: pip install 'twolayer[tune]'\n"
    )
    with pytest.raises(InputError, match=r"pip install 'twolayer\[tune\]'"):
        tuning.tune(small, 1, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_onnx_export_without_onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((30, 3))
    np.savez(tmp_path / "s.npz", X_train=X, y_train=np.arange(30) % 2)
    assert (
        main(
            [
                "train",
                "--data",
                f"npz:{tmp_path / 's.npz'}",
                "--epochs",
                "1",
                "--hidden",
                "4",
                "--out",
                str(tmp_path / "r"),
                "-q",
            ]
        )
        == 0
    )
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert (
        main(["export", str(tmp_path / "r" / "model.npz"), "--out", str(tmp_path / "m.onnx")]) == 2
    )
    assert capsys.readouterr().err == (
        'twolayer: error: exporting to ONNX needs the onnx package: pip install "twolayer[onnx]"\n'
    )
    assert not (tmp_path / "m.onnx").exists()


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
