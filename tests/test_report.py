"""report.html: self-contained, every image decodes, the numbers are the run's."""

import base64
import io
import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from twolayer import __version__
from twolayer import data as data_mod
from twolayer.cli import main
from twolayer.errors import InputError
from twolayer.net import TwoLayerNet
from twolayer.report import png_size, render, write_report
from twolayer.runs import RunSettings, run_training
from twolayer.train import TrainConfig

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


class Page(HTMLParser):
    """Every tag with its attributes, and the text of every table row."""

    def __init__(self):
        super().__init__()
        self.tags, self.rows, self._row = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, text):
        if self._row is not None and text.strip():
            self._row.append(text.strip())


def parse(path):
    page = Page()
    page.feed(Path(path).read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    metrics = run_training(RunSettings(hidden_size=32, train=TrainConfig(epochs=3, seed=1)), out)
    return out, metrics


def test_report_embeds_every_figure_and_nothing_external(run_dir):
    out, _ = run_dir
    page = parse(write_report(out))
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    assert len(images) == 4
    for src in images:
        assert src.startswith("data:image/png;base64,")
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 100 and pixels[..., :3].var() > 1e-3
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            assert attrs.get(name, "data:").startswith("data:"), f"<{tag}> loads {attrs[name]}"
        assert tag != "link"


def test_report_numbers_are_the_runs(run_dir):
    out, metrics = run_dir
    page = parse(write_report(out))
    rows = {r[0]: r[1:] for r in page.rows if r}
    assert rows["test accuracy"] == [f"{100 * metrics['test_accuracy']:.2f}%"]
    assert (
        rows["learning_rate"] == [f"{TrainConfig().learning_rate:g}"]
        and rows["seed"] == ["1"]
        and rows["hidden_size"] == ["32"]
    )
    # per-class accuracy, recomputed independently from the saved model and the same test split
    net = TwoLayerNet.load(out / "model.npz")
    ds = data_mod.load("digits", seed=1)
    pred = net.predict(ds.X_test)  # raw rows: the model applies its preprocessing
    for c in range(10):
        mask = ds.y_test == c
        assert rows[str(c)] == [
            str(mask.sum()),
            str((pred[mask] == c).sum()),
            f"{100 * np.mean(pred[mask] == c):.2f}%",
        ]


def test_report_redraws_missing_pictures(run_dir, tmp_path):
    out, _ = run_dir
    for name in ("model.npz", "config.json", "history.csv", "metrics.json"):
        shutil.copy(out / name, tmp_path / name)
    page = parse(write_report(tmp_path))
    assert len([1 for tag, _ in page.tags if tag == "img"]) == 4
    assert (tmp_path / "confusion.json").exists()


def test_report_escapes_text():
    confusion = {"split": "test", "class_names": ["<b>x</b>", "y&z"], "matrix": [[1, 0], [1, 1]]}
    html = render("<run>", {"test_accuracy": 0.5}, {"data": "npz:<a>.npz"}, [], confusion)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "y&amp;z" in html
    assert "&lt;run&gt;" in html and "npz:&lt;a&gt;.npz" in html


def test_report_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(InputError, match="metrics.json"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a directory" in err


def test_cli_report(run_dir, capsys):
    out, _ = run_dir
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (see README: manual browser check)"
)
def test_report_loads_in_headless_chromium(run_dir, tmp_path):
    out, _ = run_dir
    path = write_report(out)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        path.resolve().as_uri(),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', result.stdout)
    assert loaded, "the page's load handler did not run"
    assert loaded.group(1) == loaded.group(2) == "4"
    # at chromium's default 800 px window every picture is still at its natural size (it scrolls)
    assert 'data-images-shrunk="0"' in result.stdout


def test_settings_show_the_epochs_run_and_no_internal_keys():
    config = RunSettings(train=TrainConfig(epochs=None)).to_dict()
    page = Page()
    page.feed(
        render("r", {"epochs": 100, "test_accuracy": 0.9, "final_loss": 0.0123}, config, [], None)
    )
    rows = {r[0]: r[1:] for r in page.rows if r}
    assert rows["epochs"] == ["auto (100 run)"]
    assert rows["final loss (last epoch)"] == ["0.0123"]
    for key in ("steps_per_epoch", "max_steps", "sampling"):
        assert key not in rows
    assert rows["optimizer"] == ["adamw"]


def test_per_class_bars_start_near_the_lowest_accuracy():
    """94% and 100% must not look alike: the bars start at 90% here and the table says so."""
    confusion = {
        "split": "test",
        "class_names": ["a", "b", "c"],
        "matrix": [[50, 0, 0], [3, 47, 0], [0, 1, 49]],
    }  # 100%, 94%, 98%
    html = render("r", {}, {}, [], confusion)
    widths = [float(w) for w in re.findall(r'class="bar" style="width:(\d+)px"', html)]
    assert widths == [200, 80, 160]  # (acc - 0.9) / 0.1 of 200 px
    assert "The bars run from 90% (empty) to 100% (full)" in html
    low = {"split": "test", "class_names": ["a", "b"], "matrix": [[5, 5], [0, 10]]}  # 50%, 100%
    assert re.findall(r"width:(\d+)px", render("r", {}, {}, [], low)) == ["0", "200"]


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """A run of the default hidden size, 512: its weights picture shows 64 of them."""
    out = tmp_path_factory.mktemp("wide")
    run_training(RunSettings(hidden_size=512, train=TrainConfig(epochs=1, seed=0)), out)
    return out


def test_report_says_what_the_auto_settings_chose(run_dir):
    out, _ = run_dir
    html = write_report(out).read_text(encoding="utf-8")
    rows = {r[0]: r[1:] for r in parse(out / "report.html").rows if r}
    # digits are images: auto preprocessing scales the pixels and auto augmentation shifts them
    assert rows["preprocess"] == [
        "auto → scale: pixels divided by their largest value, into [0, 1]"
    ]
    assert rows["augment"] == [
        "auto → shift: random 1-pixel shifts of the images in each training batch"
    ]
    assert rows["std"] == ["He initialisation"]
    assert "auto</td>" not in html
    if "patience" in rows:  # an auto value that is None is said in words, as a set None is
        assert "None" not in rows["patience"][0]
    # a column of settings is all left-aligned (words and numbers would zigzag)
    settings = html.split("<h2>Settings</h2>")[1].split("</table>")[0]
    assert "<td>" in settings and "class=num" not in settings


def test_an_auto_setting_that_resolved_to_none_is_said_in_words():
    config = RunSettings(train=TrainConfig(patience=None)).to_dict()  # config.json: resolved
    page = Page()
    page.feed(render("r", {"epochs": 3, "auto": {"patience": None}}, config, [], None))
    rows = {r[0]: r[1:] for r in page.rows if r}
    assert rows["patience"] == ["auto → none (every epoch runs)"]


def test_report_shows_only_the_settings_that_applied():
    config = RunSettings(train=TrainConfig(optimizer="adamw", schedule="cosine")).to_dict()
    page = Page()
    page.feed(html := render("r", {"epochs": 3}, config, [], None))
    rows = {r[0] for r in page.rows if r}
    assert {"weight_decay", "min_lr_ratio", "learning_rate", "patience"} <= rows
    assert not {"momentum", "lr_decay", "tol"} & rows
    assert "Not shown, as they did not apply to this run: momentum (for the momentum and" in html
    config = RunSettings(
        train=TrainConfig(optimizer="momentum", schedule="step", patience=3)
    ).to_dict()
    page = Page()
    page.feed(render("r", {"epochs": 3}, config, [], None))
    rows = {r[0] for r in page.rows if r}
    assert {"momentum", "lr_decay", "tol"} <= rows
    assert not {"weight_decay", "min_lr_ratio"} & rows


def test_report_names_version_dates_and_a_short_fingerprint(run_dir):
    out, metrics = run_dir
    assert metrics["twolayer_version"] == __version__
    config = json.loads((out / "config.json").read_text())
    when = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    html = render(out.name, metrics, config, [], None, now=when)
    finished = datetime.fromisoformat(metrics["finished"]).strftime("%Y-%m-%d %H:%M UTC")
    assert (
        f"Trained by twolayer {__version__}, finished {finished}. "
        f"This page written by twolayer {__version__} on 2026-01-02 03:04 UTC." in html
    )
    fp = config["fingerprint"]
    assert (
        f"Fingerprint: 1,257 training rows × 64 features, 10 classes, first rows&#x27; SHA-256 "
        f"{fp['rows_sha256']}." in html
    )
    assert "{" not in html.split("<body>", 1)[1].split("<script>")[0]  # no dict printed anywhere


def test_report_figures_keep_their_natural_size(run_dir):
    out, _ = run_dir
    page = parse(write_report(out))
    html = (out / "report.html").read_text(encoding="utf-8")
    images = [a for tag, a in page.tags if tag == "img"]
    for attrs in images:
        width, height = png_size(base64.b64decode(attrs["src"].split(",", 1)[1]))
        assert (attrs["width"], attrs["height"]) == (str(width), str(height))
    assert "figure img { max-width: none;" in html and "max-width: 460px" not in html
    assert {a.get("class") for a in images} == {None, "pixels"}  # weights: never smoothed


def test_weights_of_512_units_say_which_are_shown(wide_run):
    page = parse(write_report(wide_run))
    captions = " ".join(a["alt"] for tag, a in page.tags if tag == "img" and "weights" in a["alt"])
    assert (
        "the 64 most active of 512 units (largest mean ReLU output on the training rows)"
        in captions
    )
    src = next(a["src"] for tag, a in page.tags if tag == "img" and "weights" in a["alt"])
    pixels = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
    assert pixels.shape[1] >= 8 * (8 * 9 - 1)  # 8×8 tiles of 8×8 digits, 8 px a weight


def test_weights_of_a_small_net_show_every_unit(run_dir):
    out, _ = run_dir
    html = write_report(out).read_text(encoding="utf-8")
    assert "most active" not in html  # 32 units: all shown, no note
