"""The error contract, case by case: a user's mistake is one line on stderr naming the problem,
exit code 2, no traceback and no output that looks valid; the Python API raises ValueError
(or TypeError) with the same words; an internal failure is one line and exit 1 (a traceback
only with --debug).

Each row of CASES is (command line, words the one stderr line must contain, files that must
not exist afterwards). Paths in braces are filled in from the ``world`` fixture.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from helpers import fill, run_cli

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.errors import InputError

D = 6  # features of the small data set the fixture model is trained on


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small data set, a model trained on it, and every damaged or foreign variant of both."""
    root = tmp_path_factory.mktemp("contract")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, D))
    y = np.arange(90) % 3
    np.savez(root / "data.npz", X_train=X, y_train=y, X_test=X[:12], y_test=y[:12])
    np.savez(root / "data4.npz", X_train=X[:, :4], y_train=y)
    run = root / "run"
    assert (
        main(
            [
                "train",
                "--data",
                f"npz:{root / 'data.npz'}",
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--out",
                str(run),
                "-q",
            ]
        )
        == 0
    )
    model = run / "model.npz"
    good = dict(np.load(model, allow_pickle=False))

    (root / "truncated.npz").write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    (root / "notzip.npz").write_text("this is not a zip archive\n")
    np.save(root / "npyinside.npy", good["W1"])
    (root / "npyinside.npy").rename(root / "npyinside.npz")  # an .npy under an .npz name
    np.savez(root / "missing.npz", W1=good["W1"], b1=good["b1"])
    np.savez(root / "shapes.npz", **{**good, "W2": np.zeros((good["W1"].shape[1] + 1, 3))})
    np.savez(root / "object.npz", **{**good, "W1": np.array([{"a": 1}, None], dtype=object)})
    np.savez(root / "foreign.npz", **{**good, "meta": np.array(json.dumps({"format": "keras"}))})
    np.savez(root / "nanweights.npz", **{**good, "W1": np.full_like(good["W1"], np.nan)})
    np.savez(root / "intweights.npz", **{**good, "W1": good["W1"].astype(np.int64)})
    np.savez(root / "badmeta.npz", **{**good, "meta": np.array("{not json")})
    np.savez(root / "other.npz", weights=np.ones(3))  # a valid npz, nothing like a model
    with zipfile.ZipFile(root / "emptyzip.npz", "w"):
        pass

    np.save(root / "rows.npy", X[:5])
    np.save(root / "rows4.npy", X[:5, :4])
    np.save(root / "rows1d.npy", X[0])
    np.save(root / "rowsobj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    np.save(root / "rowsnan.npy", np.where(np.eye(5, D) > 0, np.nan, 0.0))
    (root / "rowsbad.csv").write_text("1,2,3,4,5,6\n1,2,x,4,5,6\n")
    (root / "afile").write_text("a regular file, so afile/sub can never be created\n")
    (root / "emptydir").mkdir()
    (root / "badrun").mkdir()
    (root / "badrun" / "metrics.json").write_text("{ damaged")
    return {
        **{p.stem: p for p in root.iterdir()},
        "root": root,
        "model": model,
        "data": f"npz:{root / 'data.npz'}",
        "data4": f"npz:{root / 'data4.npz'}",
    }


# (args, words, paths that must not exist afterwards)
CASES = [
    # -- train: bad option values
    (["train", "--hidden", "-3", "--out", "{root}/o1"], "hidden", ["o1/model.npz"]),
    (["train", "--epochs", "0", "--out", "{root}/o2"], "epochs", ["o2/model.npz"]),
    (["train", "--batch-size", "0", "--out", "{root}/o3"], "batch-size", ["o3"]),
    (["train", "--lr", "0", "--out", "{root}/o4"], "--lr must be", ["o4"]),
    (["train", "--lr", "nan", "--out", "{root}/o5"], "--lr must be", ["o5"]),
    (["train", "--momentum", "1.5", "--out", "{root}/o6"], "momentum", ["o6"]),
    (["train", "--weight-decay", "-1", "--out", "{root}/o7"], "weight-decay", ["o7"]),
    (["train", "--lr-decay", "0", "--out", "{root}/o8"], "lr-decay", ["o8"]),
    (["train", "--warmup", "-1", "--out", "{root}/o9"], "warmup", ["o9"]),
    (["train", "--patience", "-2", "--out", "{root}/o10"], "patience", ["o10"]),
    (["train", "--seed", "-1", "--out", "{root}/o11"], "seed", ["o11"]),
    (["train", "--schedule", "exponential", "--out", "{root}/o12"], "schedule", ["o12"]),
    (["train", "--optimizer", "lbfgs", "--out", "{root}/o13"], "optimizer", ["o13"]),
    (["train", "--preprocess", "whiten", "--out", "{root}/o14"], "preprocess", ["o14/model.npz"]),
    (["train", "--augment", "rotate", "--out", "{root}/o15"], "augment", ["o15"]),
    (["train", "--dtype", "float16", "--out", "{root}/o16"], "float32 or float64", ["o16"]),
    (
        ["train", "--val-fraction", "1.5", "--data", "{data4}", "--out", "{root}/o17"],
        "--val-fraction must be",
        ["o17/model.npz"],
    ),
    (
        [
            "train",
            "--augment",
            "shift",
            "--data",
            "{data4}",
            "--epochs",
            "1",
            "--out",
            "{root}/o18",
        ],
        "image data",
        ["o18/model.npz", "o18/metrics.json"],
    ),
    # -- train: conflicting flags, output locations, missing inputs
    (["train", "--resume", "--force", "--out", "{root}/run"], "contradict", []),
    (
        ["train", "--resume", "--out", "{root}/emptydir"],
        "nothing to resume",
        ["emptydir/model.npz"],
    ),
    (["train", "--out", "{root}/afile/sub"], "cannot write", ["afile/sub"]),
    (["train", "--out", "{root}/afile"], "not a directory", []),
    (
        ["train", "--data", "npz:{root}/nowhere.npz", "--out", "{root}/o19"],
        "file not found",
        ["o19/model.npz"],
    ),
    (["train", "--data", "{notzip}", "--out", "{root}/o20"], "notzip.npz", ["o20/model.npz"]),
    (
        ["train", "--data", "digits:extra", "--out", "{root}/o21"],
        "takes no path",
        ["o21/model.npz"],
    ),
    # -- evaluate: damaged or foreign model files, another feature count
    (["evaluate", "{truncated}", "--data", "{data}"], "truncated.npz", []),
    (["evaluate", "{notzip}", "--data", "{data}"], "not a readable .npz", []),
    (["evaluate", "{emptyzip}", "--data", "{data}"], "missing array", []),
    (["evaluate", "{npyinside}", "--data", "{data}"], "not a zip archive", []),
    (["evaluate", "{missing}", "--data", "{data}"], "missing array(s) W2, b2, meta", []),
    (["evaluate", "{shapes}", "--data", "{data}"], "shapes do not fit", []),
    (["evaluate", "{object}", "--data", "{data}"], "object arrays", []),
    (["evaluate", "{foreign}", "--data", "{data}"], "not a twolayer model", []),
    (["evaluate", "{other}", "--data", "{data}"], "missing array", []),
    (["evaluate", "{nanweights}", "--data", "{data}"], "NaN or infinite", []),
    (["evaluate", "{intweights}", "--data", "{data}"], "dtype int64", []),
    (["evaluate", "{badmeta}", "--data", "{data}"], "not valid JSON", []),
    (["evaluate", "{emptydir}", "--data", "{data}"], "is a directory", []),
    (["evaluate", "{model}", "--data", "digits"], "features but the model", []),
    # -- predict
    (["predict", "{model}", "{rows4}"], "expects 6", []),
    (["predict", "{model}", "{rows1d}"], "2-D", []),
    (["predict", "{model}", "{rowsobj}"], "rowsobj.npy", []),
    (["predict", "{model}", "{rowsnan}"], "NaN or infinite", []),
    (["predict", "{model}", "{rowsbad}"], "rowsbad.csv", []),
    (["predict", "{model}", "{root}/nowhere.npy"], "file not found", []),
    (["predict", "{truncated}", "{root}/rows.npy"], "truncated.npz", []),
    (
        ["predict", "{model}", "{root}/rows.npy", "--out", "{root}/afile/sub/labels.txt"],
        "afile",
        ["afile/sub"],
    ),
    # -- gradcheck
    (["gradcheck", "--reg", "-1"], "reg", []),
    (["gradcheck", "--threshold", "-1"], "threshold", []),
    # -- report
    (["report", "{root}/nowhere"], "not a directory", []),
    (["report", "{emptydir}"], "metrics.json", ["emptydir/report.html"]),
    (["report", "{badrun}"], "metrics.json", ["badrun/report.html"]),
    (["report", "{afile}"], "not a directory", []),
    # -- diagram
    (["diagram", "--out", "{root}/d.txt"], ".svg or .png", ["d.txt"]),
    (["diagram", "--out", "{root}/d1.svg", "--batch", "0"], "batch", ["d1.svg"]),
    (["diagram", "--out", "{root}/d2.svg", "--reg", "-1"], "reg", ["d2.svg"]),
    (["diagram", "--out", "{root}/d3.svg", "--hidden", "0"], "hidden", ["d3.svg"]),
    (["diagram", "--out", "{root}/d4.svg", "--model", "{notzip}"], "notzip.npz", ["d4.svg"]),
    (
        ["diagram", "--out", "{root}/d5.svg", "--model", "{model}", "--data", "digits"],
        "features but the model",
        ["d5.svg"],
    ),
    (["diagram", "--out", "{root}/afile/sub/d.svg"], "afile", ["afile/sub"]),
    # -- tune
    (["tune", "--trials", "0", "--out", "{root}/t1"], "trials", ["t1"]),
    (["tune", "--n-jobs", "0", "--out", "{root}/t2"], "n-jobs", ["t2"]),
    (["tune", "--timeout", "-5", "--out", "{root}/t3"], "timeout", ["t3"]),
    (["tune", "--sampler", "grid", "--out", "{root}/t4"], "sampler", ["t4"]),
    (["tune", "--pruner", "sometimes", "--out", "{root}/t5"], "pruner", ["t5"]),
    (["tune", "--study-name", "", "--out", "{root}/t6"], "study-name", ["t6"]),
    (
        ["tune", "--storage", "redis://localhost", "--out", "{root}/t7"],
        "storage",
        ["t7/best_model.npz"],
    ),
    (["tune", "--out", "{root}/afile"], "not a directory", []),
    (["tune", "--epochs", "0", "--out", "{root}/t8"], "epochs", ["t8/best_model.npz"]),
    (["tune", "--data", "{data}", "--out", "{root}/afile/sub"], "afile", ["afile/sub"]),
]


@pytest.mark.parametrize(
    "args, words, absent",
    CASES,
    ids=lambda v: (
        " ".join(v)
        if isinstance(v, list)
        and v
        and v[0] in ("train", "evaluate", "predict", "gradcheck", "report", "diagram", "tune")
        else None
    ),
)
def test_user_mistake_is_one_line_and_exit_2(args, words, absent, world, capsys, monkeypatch):
    if args[0] == "tune":  # `twolayer tune` needs its extra; without it, the line names the extra
        pytest.importorskip("optuna")
    monkeypatch.chdir(world["root"])  # a default output folder (runs/, tune/) would land here
    before = {p for p in world["root"].rglob("*")}
    code = main([fill(a, world) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twolayer: error: "), err
    assert words in lines[0] and "Traceback" not in err
    for rel in absent:
        assert not (world["root"] / rel).exists(), f"{rel} left behind by a failed command"
    # nothing that looks like a result: no new model, metrics, report or figure anywhere
    new = {p for p in world["root"].rglob("*")} - before
    assert not [
        p for p in new if p.suffix in (".npz", ".json", ".html", ".svg", ".png", ".csv", ".txt")
    ], new


def test_table_is_large_enough():
    assert len(CASES) + len(API_CASES) >= 40
    assert {c[0][0] for c in CASES} == {
        "train",
        "evaluate",
        "predict",
        "gradcheck",
        "report",
        "diagram",
        "tune",
    }


# -- the Python API: the same words, as ValueError (InputError) or TypeError -------------------------------
def _net():
    return TwoLayerNet(D, 5, 3, std=0.1, seed=0)


def _clf(**kw):
    from twolayer.estimator import TwoLayerClassifier

    return TwoLayerClassifier(max_epochs=1, random_state=0, **kw)


X6 = np.random.default_rng(1).standard_normal((12, D))
Y3 = np.arange(12) % 3

API_CASES = [
    ("TwoLayerNet(0, 5, 3)", lambda w: TwoLayerNet(0, 5, 3), ValueError, "input_size"),
    ("TwoLayerNet(6, -1, 3)", lambda w: TwoLayerNet(6, -1, 3), ValueError, "hidden_size"),
    (
        "TwoLayerNet(6, 5, 3.5)",
        lambda w: TwoLayerNet(6, 5, 3.5),
        (ValueError, TypeError),
        "output_size",
    ),
    ("TwoLayerNet std<0", lambda w: TwoLayerNet(6, 5, 3, std=-1), ValueError, "std"),
    (
        "TwoLayerNet dtype",
        lambda w: TwoLayerNet(6, 5, 3, dtype="int32"),
        ValueError,
        "float32 or float64",
    ),
    ("loss: other feature count", lambda w: _net().loss(X6[:, :4], Y3), ValueError, "features"),
    ("loss: label beyond classes", lambda w: _net().loss(X6, Y3 + 1), ValueError, "label 3"),
    ("loss: negative reg", lambda w: _net().loss(X6, Y3, reg=-1), ValueError, "reg"),
    ("loss: NaN input", lambda w: _net().loss(np.full((2, D), np.nan), Y3[:2]), ValueError, "NaN"),
    ("loss: strings", lambda w: _net().loss(np.array([["a"] * D]), Y3[:1]), ValueError, "numbers"),
    ("predict: 1-D", lambda w: _net().predict(X6[0]), ValueError, "2-D"),
    ("predict: empty", lambda w: _net().predict(np.empty((0, D))), ValueError, "empty"),
    ("load: truncated", lambda w: TwoLayerNet.load(w["truncated"]), ValueError, "truncated.npz"),
    ("load: object arrays", lambda w: TwoLayerNet.load(w["object"]), ValueError, "object arrays"),
    ("load: foreign", lambda w: TwoLayerNet.load(w["foreign"]), ValueError, "not a twolayer model"),
    (
        "data.load: unknown",
        lambda w: __import__("twolayer.data").data.load("hdf5:x.h5"),
        ValueError,
        "unknown data source",
    ),
    (
        "data.load: missing",
        lambda w: __import__("twolayer.data").data.load("csv:/nowhere.csv"),
        ValueError,
        "file not found",
    ),
    (
        "data.load: bad val_fraction",
        lambda w: __import__("twolayer.data").data.load(w["data4"], val_fraction=0),
        ValueError,
        "val_fraction must be a number in (0, 1), got 0",
    ),
    ("classifier: hidden 0", lambda w: _clf(hidden_size=0).fit(X6, Y3), ValueError, "hidden_size"),
    (
        "classifier: optimizer",
        lambda w: _clf(optimizer="lbfgs").fit(X6, Y3),
        ValueError,
        "optimizer",
    ),
    (
        "classifier: lr < 0",
        lambda w: _clf(learning_rate=-1.0).fit(X6, Y3),
        ValueError,
        "learning_rate must be",
    ),
    (
        "classifier: preprocess",
        lambda w: _clf(preprocess="whiten").fit(X6, Y3),
        ValueError,
        "preprocess",
    ),
    (
        "classifier: predict other features",
        lambda w: _clf().fit(X6, Y3).predict(X6[:, :4]),
        ValueError,
        "features",
    ),
    (
        "classifier: partial_fit no classes",
        lambda w: _clf().partial_fit(X6, Y3),
        ValueError,
        "classes",
    ),
]


@pytest.mark.parametrize(
    "call, error, words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES]
)
def test_python_api_raises_with_the_same_words(call, error, words, world):
    with pytest.raises(error) as info:
        call(world)
    assert words in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_cli_and_api_use_the_same_words(world, capsys):
    with pytest.raises(InputError) as info:
        TwoLayerNet.load(world["shapes"])
    assert main(["evaluate", str(world["shapes"]), "--data", world["data"]]) == 2
    assert capsys.readouterr().err.strip() == f"twolayer: error: {info.value}"


# -- internal failures ---------------------------------------------------------------------------------------
def _boom(*args, **kwargs):
    raise ZeroDivisionError("simulated bug")


def test_internal_failure_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setattr("twolayer.cli.check_net", _boom)
    assert main(["gradcheck"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "twolayer: error: internal error: ZeroDivisionError: simulated bug (run with --debug for a traceback)"
    ]


def test_debug_gives_the_traceback(monkeypatch):
    monkeypatch.setattr("twolayer.cli.check_net", _boom)
    with pytest.raises(ZeroDivisionError, match="simulated bug"):
        main(["gradcheck", "--debug"])


def test_debug_also_raises_user_mistakes(world):
    with pytest.raises(InputError, match="not a twolayer model"):
        main(["evaluate", str(world["foreign"]), "--data", world["data"], "--debug"])


# -- the real console script behaves the same --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "args, code, words",
    [
        (["evaluate", "{object}", "--data", "{data}"], 2, "object arrays"),
        (["train", "--out", "{root}/afile/sub", "--epochs", "1"], 2, "cannot write"),
    ],
)
def test_console_script(args, code, words, world):
    p = run_cli(*[fill(a, world) for a in args])
    assert p.returncode == code
    assert (
        len(p.stderr.strip().splitlines()) == 1
        and words in p.stderr
        and "Traceback" not in p.stderr
    )
    assert p.stdout == ""


def test_debug_traceback_through_the_console_script(world):
    p = run_cli("evaluate", str(world["notzip"]), "--data", world["data"], "--debug")
    assert p.returncode != 0 and "Traceback" in p.stderr and "InputError" in p.stderr
