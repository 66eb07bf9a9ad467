"""Pictures of a run: the files exist and show something, and the numbers behind them are right."""

import json

import matplotlib.image as mpimg
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from twolayer import plots, runs
from twolayer.checkpoint import History
from twolayer.data import Dataset
from twolayer.net import TwoLayerNet
from twolayer.runs import RunSettings, run_training
from twolayer.train import TrainConfig


def assert_picture(path):
    assert path.exists() and path.stat().st_size > 1000
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].var() > 1e-3, f"{path.name} is blank"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    metrics = run_training(RunSettings(hidden_size=32, train=TrainConfig(epochs=3)), out)
    return out, metrics


def test_training_run_writes_every_picture(run_dir):
    out, _ = run_dir
    for name in plots.FIGURES:
        assert_picture(out / name)


def test_confusion_json_agrees_with_the_runs_test_accuracy(run_dir):
    out, metrics = run_dir
    d = json.loads((out / "confusion.json").read_text())
    cm = np.array(d["matrix"])
    assert d["split"] == "test"
    assert d["class_names"] == [str(i) for i in range(10)]
    assert cm.sum() == 360  # 20% of digits' 1,797 images
    assert np.trace(cm) / cm.sum() == pytest.approx(metrics["test_accuracy"])
    assert d["per_class_accuracy"] == pytest.approx(list(np.diag(cm) / cm.sum(axis=1)))


def test_confusion_matrix_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    np.testing.assert_array_equal(
        plots.confusion_matrix(y, p, 7), sk_confusion_matrix(y, p, labels=range(7))
    )
    # a class that never occurs still gets its row and column
    np.testing.assert_array_equal(
        plots.confusion_matrix([0, 0, 2], [0, 2, 2], 4),
        [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]],
    )
    assert plots.per_class_accuracy(np.array([[3, 1], [0, 0]])) == [0.75, None]


def test_weight_grid_tiles_are_the_columns_of_w1():
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((4 * 5 * 3, 7))  # 7 hidden units of 4×5 RGB images, rows in HWC order
    grid = plots.weight_grid(W1, (4, 5, 3), padding=1)
    assert grid.shape == (3 * 5 - 1, 3 * 6 - 1, 3)  # 7 tiles on a 3×3 grid
    unit = 5  # row 1, column 2 of the grid
    tile = grid[5:9, 12:17]
    w = W1[:, unit]
    expected = ((w - w.min()) / (w.max() - w.min())).reshape(4, 5, 3)
    np.testing.assert_allclose(tile, expected)
    assert tile[2, 3, 1] == pytest.approx((w[(2 * 5 + 3) * 3 + 1] - w.min()) / (w.max() - w.min()))
    assert np.all(grid[4, :] == 1) and np.all(grid[:, 5] == 1)  # padding
    gray = plots.weight_grid(rng.standard_normal((64, 10)), (8, 8))
    assert gray.shape == (3 * 9 - 1, 4 * 9 - 1)  # 10 tiles on a 4-wide grid of 3 rows


def _net_and_data(image_shape, with_test=True):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 12))
    y = np.arange(60) % 3
    net = TwoLayerNet(12, 9, 3, std=0.5, seed=3)
    net.class_names = ["cat", "dog", "bird"]
    data = Dataset(
        "toy",
        X[:30],
        y[:30],
        X[30:45],
        y[30:45],
        X[45:] if with_test else None,
        y[45:] if with_test else None,
        class_names=net.class_names,
        image_shape=image_shape,
    )
    history = History(
        epoch=[1, 2],
        loss=[1.2, 0.9],
        train_acc=[0.4, 0.6],
        val_acc=[0.3, None],
        lr=[0.1, 0.1],
        seconds=[0.1, 0.1],
        step_loss=[1.5, 1.1, 1.0, 0.8],
    )
    return net, data, history


def test_no_weight_picture_without_images_and_validation_when_no_test_split(tmp_path):
    net, data, history = _net_and_data(None, with_test=False)
    written = plots.plot_run(tmp_path, net=net, history=history, dataset=data)
    assert "weights.png" not in written and not (tmp_path / "weights.png").exists()
    d = json.loads((tmp_path / "confusion.json").read_text())
    assert d["split"] == "validation" and d["class_names"] == ["cat", "dog", "bird"]
    expected = sk_confusion_matrix(data.y_val, net.predict(data.X_val), labels=range(3))
    np.testing.assert_array_equal(d["matrix"], expected)
    for name in ("loss.png", "accuracy.png", "confusion.png"):
        assert_picture(tmp_path / name)


def test_image_shape_that_does_not_fill_the_input_is_ignored(tmp_path):
    net, data, history = _net_and_data((3, 4))
    assert plots.image_shape(net, data) == (3, 4)
    plots.plot_run(tmp_path, net=net, history=history, dataset=data)
    assert_picture(tmp_path / "weights.png")
    data.image_shape = (5, 5)
    assert plots.image_shape(net, data) is None


def test_predict_in_blocks_with_a_transform_equals_the_net():
    net, data, _ = _net_and_data(None)
    double = lambda xb: 2 * np.asarray(xb)  # noqa: E731
    np.testing.assert_array_equal(
        plots.predict(net, data.X_train, double, batch_size=7), net.predict(2 * data.X_train)
    )


def test_plot_saved_run_redraws_from_files(run_dir, tmp_path):
    out, _ = run_dir
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("model.npz", "config.json", "history.csv"):
        (copy / name).write_bytes((out / name).read_bytes())
    written = runs.redraw(copy)
    assert set(written) == set(plots.FIGURES) | {"confusion.json"}
    assert (
        json.loads((copy / "confusion.json").read_text())["matrix"]
        == json.loads((out / "confusion.json").read_text())["matrix"]
    )
    assert_picture(copy / "loss.png")


@pytest.mark.parametrize("shape,n", [((8, 8), 512), ((28, 28), 512), ((4, 5, 3), 7)])
def test_weights_png_draws_every_weight_as_a_whole_pixel_block(tmp_path, shape, n):
    import matplotlib.image as mpimg

    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((int(np.prod(shape)), n))
    activity = rng.random(n)
    plots.plot_weights(W1, shape, tmp_path / "w.png", activity=activity)
    # of 512 units the 64 most active, most active first; of 7, all in their order
    units = np.argsort(-activity)[:64] if n > plots.WEIGHTS_UNITS else np.arange(n)
    grid = plots.weight_grid(W1[:, units], shape)
    k = plots.weights_scale(grid)
    assert k * max(grid.shape[:2]) <= max(plots.WEIGHTS_PX, max(grid.shape[:2]))
    png = mpimg.imread(tmp_path / "w.png")[..., :3]
    h, w = k * grid.shape[0], k * grid.shape[1]
    top = plots.TITLE_PX * (2 if n > plots.WEIGHTS_UNITS else 1)  # the note's line
    assert png.shape[0] == h + top and png.shape[1] >= max(w, plots.MIN_WIDTH_PX)
    x0 = (png.shape[1] - w) // 2
    drawn = png[top:, x0 : x0 + w]
    expected = np.repeat(np.repeat(grid, k, axis=0), k, axis=1)
    if expected.ndim == 2:
        expected = np.stack([expected] * 3, axis=-1)
    # the exact grid, up to the colour map's 256 levels and 8-bit PNG rounding: nothing was resampled
    np.testing.assert_allclose(drawn, expected, atol=3 / 255)


def test_weights_of_512_units_show_the_64_most_active_at_readable_size():
    """512 tiles of 8×8 are noise at 2 px a pixel: the 64 most active are drawn at 8 px a pixel."""
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((64, 512))
    activity = rng.random(512)
    units = plots.shown_units(W1, activity)
    assert list(units) == sorted(range(512), key=lambda u: -activity[u])[:64]
    assert plots.weights_scale(plots.weight_grid(W1[:, units], (8, 8))) >= 8
    assert list(plots.shown_units(W1[:, :64], activity[:64])) == list(range(64))  # all, in order
    by_norm = plots.shown_units(W1)  # no activity: the largest weight norms
    assert set(by_norm) == set(np.argsort(-np.linalg.norm(W1, axis=0))[:64])
    assert plots.weights_note(64, 512) == (
        "the 64 most active of 512 units (largest mean ReLU output on the training rows), "
        "most active first"
    )
    assert plots.weights_note(10, 10) == ""


def test_mean_activation_is_the_mean_relu_output_on_the_training_rows():
    net = TwoLayerNet(64, 20, 3, std=1e-1, seed=0)
    X = np.random.default_rng(2).random((50, 64))
    expected = np.maximum(X @ net.params["W1"] + net.params["b1"], 0).mean(axis=0)
    np.testing.assert_allclose(plots.mean_activation(net, X), expected, rtol=1e-5)
    np.testing.assert_allclose(
        plots.mean_activation(net, X, rows=10),
        np.maximum(X[:10] @ net.params["W1"] + net.params["b1"], 0).mean(axis=0),
        rtol=1e-5,
    )
    assert plots.mean_activation(net, X[:0]) is None


def _recording_charts(monkeypatch):
    """Record the series and options of every line chart plot_run draws (and still draw it)."""
    from twolayer import raster

    charts = []

    def record(series, *args, **kwargs):
        charts.append((series, kwargs))
        return raster.line_chart(series, *args, **kwargs)

    monkeypatch.setattr(plots, "line_chart", record)
    return charts


def test_accuracy_picture_says_train_is_on_augmented_batches(tmp_path, monkeypatch):
    charts = _recording_charts(monkeypatch)
    net, data, history = _net_and_data((2, 6))
    net.meta["settings"] = {"train": {"augment": "auto"}}
    plots.plot_run(tmp_path, net=net, history=history, dataset=data)
    labels = [s["label"] for series, _ in charts for s in series]
    assert "train (on the augmented training batches)" in labels
    charts.clear()
    net.meta["settings"] = {"train": {"augment": "none"}}
    plots.plot_run(tmp_path, net=net, history=history, dataset=data)
    labels = [s["label"] for series, _ in charts for s in series]
    assert "train (on the training batches)" in labels


def test_epoch_ticks_are_whole_numbers(tmp_path, monkeypatch):
    from twolayer.raster import nice_ticks

    charts = _recording_charts(monkeypatch)
    net, data, history = _net_and_data(
        None
    )  # two epochs: plain round ticks would be 1.0, 1.25, … 2.0
    plots.plot_run(tmp_path, net=net, history=history, dataset=data)
    assert len(charts) == 2 and all(kwargs.get("integer_x") for _, kwargs in charts)
    assert nice_ticks(1, 2, 8) != [1, 2]  # without the option the ticks are not whole
    for lo, hi in [(1, 2), (0.9, 3.1), (1, 7), (0.5, 100), (1, 1000)]:
        ticks = nice_ticks(lo, hi, 8, integer=True)
        assert ticks and all(float(t).is_integer() and lo <= t <= hi for t in ticks)


def test_canvas_png_holds_the_drawn_pixels_and_lines_are_antialiased():
    import io

    import matplotlib.image as mpimg

    from twolayer import raster

    c = raster.Canvas(60, 40)
    c.polyline([5, 55], [5, 30], "black", width=2)
    c.fill(0, 35, 10, 40, "orange")
    png = mpimg.imread(io.BytesIO(c.png()))[..., :3]
    drawn = np.asarray(c.im) / 255
    np.testing.assert_allclose(png, drawn, atol=1e-6)  # what was drawn is what the PNG holds
    np.testing.assert_allclose(png[37, 5], np.array(raster.COLORS["orange"]) / 255, atol=1e-6)
    assert png[5 + 25 * 25 // 50, 30].max() < 0.2  # on the line: dark
    assert png[30, 10].min() == 1 and png[0, 59].min() == 1  # away from it: white
    levels = np.unique(np.round(png[:30, :, 0] * 255))
    assert len(levels) > 4, "a plain Pillow line has only two levels: it is not antialiased"


def test_text_is_set_in_the_shipped_dejavu_sans():
    from twolayer import raster

    assert raster.font().getname() == ("DejaVu Sans", "Book")
    assert raster.font(bold=True).getname() == ("DejaVu Sans", "Bold")
    assert (raster.FONTS / "LICENSE-DejaVu.txt").is_file()
    c = raster.Canvas(80, 30)
    c.text(40, 15, "acc 0.9", ha="center")
    ink = np.flatnonzero((np.asarray(c.im)[..., 0] < 128).any(axis=0))
    assert abs(
        (ink.min() + ink.max()) / 2 - 40
    ) <= 2 and ink.max() - ink.min() + 1 <= raster.text_width("acc 0.9")
    c = raster.Canvas(80, 30)
    c.text(40, 15, "acc 0.9", ha="center", rotate=True)
    assert (np.asarray(c.im) < 128).any() and raster.text_width("acc 0.9") > 20


# -- the classic world: TwoLayerNet.train's stats dict and CS231n's show_net_weights ------------
def _classic_stats():
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X, y = 10 * np.random.randn(40, 4), np.arange(40) % 3
    return net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=60, batch_size=10)


def test_loss_and_accuracy_plots_take_the_classic_stats_dict(tmp_path):
    stats = _classic_stats()
    assert {"loss_history", "train_acc_history", "val_acc_history"} <= set(stats)
    assert_picture(plots.plot_loss(stats, tmp_path / "loss.png"))
    assert_picture(plots.plot_accuracy(stats, tmp_path / "accuracy.png"))


def test_classic_plots_draw_what_the_assignment_draws(tmp_path, monkeypatch):
    drawn = []
    real = plots.line_chart
    monkeypatch.setattr(
        plots,
        "line_chart",
        lambda series, *a, **k: drawn.append((series, a)) or real(series, *a, **k),
    )
    stats = {
        "loss_history": [2.0, 1.5, 1.2, 1.1, 0.9],
        "train_acc_history": [0.2, 0.6, 0.8],
        "val_acc_history": [0.25, 0.5, 0.7],
    }
    plots.plot_loss(stats, tmp_path / "loss.png")
    plots.plot_accuracy(stats, tmp_path / "accuracy.png")
    (loss,), loss_labels = drawn[0]
    np.testing.assert_array_equal(loss["x"], range(5))  # one point per iteration, from 0
    np.testing.assert_array_equal(loss["y"], stats["loss_history"])
    assert loss_labels[:2] == ("Loss history", "iteration")
    (train, val), acc_labels = drawn[1]
    np.testing.assert_array_equal(train["x"], range(3))
    np.testing.assert_array_equal(train["y"], stats["train_acc_history"])
    np.testing.assert_array_equal(val["y"], stats["val_acc_history"])
    assert (train["label"], val["label"]) == ("train", "val")
    assert acc_labels[:2] == ("Classification accuracy history", "epoch")


def test_plots_refuse_a_dict_that_is_no_history_in_words(tmp_path):
    with pytest.raises(ValueError, match="expected the stats dict of TwoLayerNet.train"):
        plots.plot_loss({"losses": [1.0]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="'val_acc_history'"):
        plots.plot_accuracy({"train_acc_history": [0.5]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="'loss_history' is empty"):
        plots.plot_loss({"loss_history": []}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("hidden", [1, 2, 3, 5, 7, 10, 17, 50, 64])
@pytest.mark.parametrize("shape", [(8, 8), (3, 5), (4, 4, 3)])
def test_weight_grid_places_every_unit_for_any_hidden_size(hidden, shape):
    rng = np.random.default_rng(hidden)
    W1 = rng.standard_normal((int(np.prod(shape)), hidden))
    grid = plots.weight_grid(W1, shape, padding=1)
    side = int(np.ceil(np.sqrt(hidden)))
    rows = int(np.ceil(hidden / side))
    h, w = shape[:2]
    assert grid.shape[:2] == (rows * (h + 1) - 1, side * (w + 1) - 1)
    for unit in range(hidden):
        r, c = divmod(unit, side)
        tile = grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w]
        col = W1[:, unit]
        np.testing.assert_allclose(tile, ((col - col.min()) / np.ptp(col)).reshape(shape))
    for unit in range(hidden, rows * side):  # the cells left over are white
        r, c = divmod(unit, side)
        assert np.all(grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] == 1)


def test_show_net_weights_draws_the_grid_of_any_net(tmp_path):
    fig = plots.Figure(figsize=(4, 4))
    ax = fig.subplots()
    net = TwoLayerNet(64, 10, 3, std=1e-1, seed=0)  # 10 units of 8×8 (a square input, gray)
    assert plots.show_net_weights(net, ax=ax) is ax
    shown = ax.get_images()[0].get_array()
    np.testing.assert_array_equal(shown, plots.weight_grid(net.params["W1"], (8, 8)))
    assert ax.get_title() == "first-layer weights: 10 units, 8×8 each"
    rgb = TwoLayerNet(4 * 4 * 3, 6, 3, std=1e-1, seed=0)
    assert plots.weights_image_shape(rgb) == (4, 4, 3)
    rgb.meta["image_shape"] = [2, 8, 3]  # a recorded shape wins over the guess
    plots.show_net_weights(rgb, ax=ax)
    assert ax.get_images()[-1].get_array().shape == (2 * 3 - 1, 3 * 9 - 1, 3)  # 2 rows of 3


def test_show_net_weights_refuses_inputs_that_are_not_images():
    toy = TwoLayerNet(4 * 5 + 1, 3, 2, seed=0)
    with pytest.raises(ValueError, match="21 rows, which is not a square image"):
        plots.show_net_weights(toy)
    with pytest.raises(ValueError, match=r"\(8, 8\) holds 64 values, but W1 has 21 rows"):
        plots.show_net_weights(toy, shape=(8, 8))
