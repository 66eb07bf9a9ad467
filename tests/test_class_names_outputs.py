"""Class names that outputs could mangle: trailing NULs (kept in ONNX labels; escaped, never
dropped, in .npy predictions), lone surrogates (export works), newlines (ONNX class_names metadata is
a JSON list), spreadsheet formulas (neutralised in predict --proba's CSV, as OWASP advises)."""

import csv
import importlib.util
import io
import json

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.io import csv_cell

NEEDS_ONNX = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="needs twolayer[onnx]"
)


def _model(tmp_path, names, d=3):
    net = TwoLayerNet(d, 6, len(names), std=1.0, seed=0)
    net.class_names = list(names)
    net.save(tmp_path / "m.npz")
    X = np.random.default_rng(0).standard_normal((60, d))
    np.save(tmp_path / "rows.npy", X)
    return net, X


@pytest.mark.parametrize(
    "cell, safe",
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+cmd", "'+cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-2", "-2"),
        ("+1e5", "+1e5"),
        ("-0.5", "-0.5"),
        ("plain", "plain"),
        ("a=b", "a=b"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell, safe):
    assert csv_cell(cell) == safe


def test_predict_proba_csv_neutralises_formula_class_names(tmp_path, capsys):
    names = ['=HYPERLINK("http://evil","x")', "@SUM(1)", "-2+3+cmd|x", "-2", "ok"]
    _model(tmp_path, names)
    for out in (None, tmp_path / "p.csv"):
        args = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "rows.npy"), "--proba"]
        assert main(args + ([] if out is None else ["--out", str(out)])) == 0
        text = capsys.readouterr().out if out is None else out.read_text()
        rows = list(csv.reader(io.StringIO(text)))
        cells = [c for row in rows for c in row]
        assert not any(c.startswith(("=", "@", "+")) for c in cells), rows[0]
        assert not any(c.startswith("-") and c != "-2" and not c[1:2].isdigit() for c in cells)
        assert rows[0][1:] == ["'" + names[0], "'" + names[1], "'" + names[2], "-2", "ok"]


def test_npy_predictions_never_drop_a_trailing_nul(tmp_path, capsys):
    net, X = _model(tmp_path, ["a\0", "a", "b"])
    out = tmp_path / "p.npy"
    assert (
        main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "rows.npy"), "--out", str(out)])
        == 0
    )
    labels = np.load(out, allow_pickle=False)
    idx = net.predict(X)
    assert set(idx) >= {0, 1}, "the test needs both a\\0 and a predicted"
    assert [str(v) for v in labels] == [["a\\x00", "a", "b"][i] for i in idx]
    assert "escaped" in capsys.readouterr().err


def test_npy_predictions_keep_ordinary_names_as_they_are(tmp_path):
    net, X = _model(tmp_path, ["a\nb", "ç", "x\\y"])
    out = tmp_path / "p.npy"
    assert (
        main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "rows.npy"), "--out", str(out)])
        == 0
    )
    assert [str(v) for v in np.load(out)] == [["a\nb", "ç", "x\\y"][i] for i in net.predict(X)]


@NEEDS_ONNX
@pytest.mark.parametrize(
    "names",
    [
        ["a\0", "a", "b"],
        ["x\ny", "x", "y"],
        ["s\udcff", "t", "u"],
        ["a\nb", "a", "b\nc"],
        ["", " ", "\0"],
    ],
)
def test_onnx_labels_and_metadata_keep_every_name(names, tmp_path):
    import onnx
    import onnxruntime as ort

    net, X = _model(tmp_path, names)
    assert main(["export", str(tmp_path / "m.npz"), "--out", str(tmp_path / "m.onnx")]) == 0
    model = onnx.load(tmp_path / "m.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == names  # a JSON list: newlines stay inside names
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    label, _, index = sess.run(None, {"X": X.astype(np.float32)})
    expected = [names[i].encode("utf-8", "backslashreplace").decode() for i in index]
    assert [str(v) for v in label] == expected
