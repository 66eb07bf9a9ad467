"""One escaping of names: ``io.printable``, and class names or paths with control characters
wherever they are shown (predict lines and CSV, report, pictures, diagram, tables, error lines)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main
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
def named_run(tmp_path_factory):
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
