"""Pictures of a training run: loss, accuracy, first-layer weights, confusion matrix.

``plot_run`` is called at the end of every training run and writes into the run directory:

RUN_DIR/loss.png        per-step loss and per-epoch mean loss
RUN_DIR/accuracy.png    train vs validation accuracy per epoch
RUN_DIR/weights.png     first-layer weights as an image grid (image data sets only; of more than
                        64 hidden units the 64 most active, with a line that says so)
RUN_DIR/confusion.png   confusion matrix on the test split (else validation), with class names
RUN_DIR/confusion.json  the same matrix and per-class accuracy, for the report

The run's PNGs are drawn with Pillow (``raster.py``), not matplotlib: importing matplotlib and laying
out four figures took longer than training on digits. The tuning study's plots use matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import atomic_write, printable, read_json, save_figure, write_json
from .raster import Canvas, blues, line_chart, text_width

FIGURES = ("loss.png", "accuracy.png", "weights.png", "confusion.png")
DPI = 100


def plot_run(out, net, history, dataset, transform=None):
    """Write every picture of a finished run into ``out``; returns {name: path} of what was written."""
    out = Path(out)
    written = {}
    if history.get("epoch"):
        written["loss.png"] = plot_loss(history, out / "loss.png")
        written["accuracy.png"] = plot_accuracy(
            history, out / "accuracy.png", augmented=augmented(net, dataset)
        )
    shape = image_shape(net, dataset)
    if shape is not None:
        activity = mean_activation(net, dataset.X_train, transform)
        written["weights.png"] = plot_weights(
            net.params["W1"], shape, out / "weights.png", activity=activity
        )
    split, X, y = evaluation_split(dataset)
    if X is not None and len(y):
        names = class_names(net)
        cm = confusion_matrix(y, predict(net, X, transform), net.output_size)
        written["confusion.png"] = plot_confusion(cm, names, out / "confusion.png", split)
        written["confusion.json"] = write_confusion(out / "confusion.json", cm, names, split)
    return written


# -- numbers ----------------------------------------------------------------------------
def augmented(net, dataset=None):
    """Whether the run trained on augmented batches (shift, or auto on image data)."""
    mode = ((net.meta.get("settings") or {}).get("train") or {}).get("augment", "none")
    return mode == "shift" or (mode == "auto" and image_shape(net, dataset) is not None)


def image_shape(net, dataset=None):
    """(H, W) or (H, W, 3) when the inputs are images whose pixels fill the input layer, else None."""
    shape = net.meta.get("image_shape") or (
        getattr(dataset, "image_shape", None) if dataset is not None else None
    )
    if not shape or math.prod(shape) != net.input_size:
        return None
    return tuple(int(s) for s in shape)


def class_names(net):
    """The model's class names, or the indices as strings for a model without names (the one
    spelling of this rule: the pictures, predictions, the diagram and the ONNX export use it)."""
    return (
        [str(c) for c in net.class_names]
        if net.class_names
        else [str(i) for i in range(net.output_size)]
    )


def figure_text(name):
    """A name as a matplotlib label (the diagram, the study's scatter): escaped like every shown
    name, and a '$' kept literal (matplotlib would read '$...$' as mathematics and fail on a name it
    cannot parse)."""
    return printable(name).replace("$", r"\$")


def evaluation_split(dataset):
    """('test', X, y) when there is a test split, else ('validation', X, y), else (None, None, None)."""
    if dataset.X_test is not None and len(dataset.X_test):
        return "test", dataset.X_test, dataset.y_test
    if dataset.X_val is not None and len(dataset.X_val):
        return "validation", dataset.X_val, dataset.y_val
    return None, None, None


def predict(net, X, transform=None, batch_size=4096):
    """Predicted labels for raw rows X, in row blocks (memory maps stay on disk)."""
    transform = transform or net.transform
    out = np.empty(len(X), np.intp)
    for start in range(0, len(X), batch_size):
        # a picture of the run as trained: non-finite scores (a diverged run) are drawn, not refused
        out[start : start + batch_size] = net.scores(
            transform(X[start : start + batch_size]), check=False
        ).argmax(axis=1)
    return out


def confusion_matrix(y_true, y_pred, n_classes):
    """cm[i, j] = number of examples of class i predicted as class j."""
    y_true, y_pred = np.asarray(y_true, np.intp), np.asarray(y_pred, np.intp)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def per_class_accuracy(cm):
    """Recall of each class (diagonal / row sum); None for a class with no examples."""
    support = cm.sum(axis=1)
    return [None if n == 0 else float(cm[i, i] / n) for i, n in enumerate(support)]


def write_confusion(path, cm, names, split):
    write_json(
        path,
        {
            "split": split,
            "class_names": names,
            "matrix": cm.tolist(),
            "support": cm.sum(axis=1).tolist(),
            "per_class_accuracy": per_class_accuracy(cm),
            "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        },
    )
    return path


def read_confusion(path):
    d = read_json(path, "confusion data")
    try:
        cm = np.asarray(d["matrix"], dtype=np.int64)
        if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or len(d["class_names"]) != cm.shape[0]:
            raise ValueError("matrix and class names do not fit together")
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: damaged confusion data ({e})") from None
    return d


def weight_grid(W1, shape, padding=1):
    """CS231n's visualize_grid: one tile per hidden unit (a column of W1 reshaped to the image),
    each scaled to [0, 1] by its own min and max, laid out on a near-square grid (ceil(√H) tiles
    wide, as many rows as H needs; the cells left over stay white)."""
    W1 = np.asarray(W1)
    if W1.ndim != 2 or W1.shape[1] == 0:
        raise InputError(f"W1 must be a (D, H) array with H >= 1, got shape {W1.shape}")
    if math.prod(shape) != W1.shape[0]:
        raise InputError(
            f"an image of shape {tuple(shape)} holds {math.prod(shape)} values, "
            f"but W1 has {W1.shape[0]} rows (one per input)"
        )
    n = W1.shape[1]
    tiles = np.asarray(W1, dtype=np.float64).T.reshape((n,) + tuple(shape))
    lo = tiles.reshape(n, -1).min(axis=1)
    hi = tiles.reshape(n, -1).max(axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    tiles = (tiles - lo.reshape((n,) + (1,) * len(shape))) / scale.reshape((n,) + (1,) * len(shape))
    side = math.ceil(math.sqrt(n))
    rows = math.ceil(n / side)
    h, w = shape[0], shape[1]
    grid = np.ones(
        (rows * (h + padding) - padding, side * (w + padding) - padding) + tuple(shape[2:])
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, side)
        grid[
            r * (h + padding) : r * (h + padding) + h, c * (w + padding) : c * (w + padding) + w
        ] = tile
    return grid


def weights_image_shape(net_or_W1):
    """The image shape of W1's rows: the net's recorded one, else a square (D = s²) gray or
    (D = 3·s²) RGB image; an InputError when D is neither."""
    shape = image_shape(net_or_W1) if hasattr(net_or_W1, "meta") else None
    if shape is not None:
        return shape
    W1 = net_or_W1.params["W1"] if hasattr(net_or_W1, "params") else np.asarray(net_or_W1)
    d = W1.shape[0]
    for channels in (1, 3):
        side = math.isqrt(d // channels)
        if d % channels == 0 and side * side * channels == d:
            return (side, side) if channels == 1 else (side, side, 3)
    raise InputError(
        f"W1 has {d} rows, which is not a square image: pass shape=(height, width) "
        "or (height, width, 3)"
    )


def show_net_weights(net, shape=None, ax=None, padding=1):
    """CS231n's show_net_weights: the first-layer weights as a grid of image tiles, one per hidden
    unit, for any hidden size H. ``net``: a TwoLayerNet or a (D, H) array; ``shape``: the image
    shape of a row (default: the net's, else a square gray or RGB image); ``ax``: a matplotlib
    Axes (default: pyplot's current one). Returns the Axes."""
    W1 = net.params["W1"] if hasattr(net, "params") else np.asarray(net)
    shape = tuple(shape) if shape is not None else weights_image_shape(net)
    grid = weight_grid(W1, shape, padding)
    if ax is None:
        import matplotlib.pyplot as plt  # the caller's pyplot, as the assignment draws it

        ax = plt.gca()
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"first-layer weights: {W1.shape[1]} units, {'×'.join(map(str, shape))} each")
    ax.axis("off")
    return ax


# -- figures (drawn with Pillow: twolayer.raster) -----------------------------------------------
def _save(canvas, path):
    png = canvas.png()
    return atomic_write(Path(path), lambda f: f.write(png))


CLASSIC_KEYS = ("loss_history", "train_acc_history", "val_acc_history")


def _is_classic(history):
    """True for the stats dict of TwoLayerNet.train, False for a History (keyed by 'epoch');
    an InputError naming both when it is neither."""
    if "epoch" in history:
        return False
    if any(k in history for k in CLASSIC_KEYS):
        return True
    raise InputError(
        "not a training history: expected the stats dict of TwoLayerNet.train "
        f"({', '.join(CLASSIC_KEYS)}) or a History (epoch, loss, ...); got keys "
        f"{', '.join(map(str, history)) or 'none'}"
    )


def _classic_series(history, key):
    if key not in history:
        raise InputError(f"the stats dict has no {key!r} (keys: {', '.join(map(str, history))})")
    values = np.asarray(history[key], dtype=np.float64).ravel()
    if len(values) == 0:
        raise InputError(f"the stats dict's {key!r} is empty: nothing to plot")
    return values


def plot_loss(history, path):
    """Loss per step (light) and mean loss per epoch (dark), against epochs. The classic stats
    dict of ``TwoLayerNet.train`` is drawn as the assignment draws it: loss_history per iteration."""
    if _is_classic(history):
        loss = _classic_series(history, "loss_history")
        series = [{"x": np.arange(len(loss)), "y": loss, "color": "blue", "width": 1.5}]
        return _save(line_chart(series, "Loss history", "iteration", "loss", integer_x=True), path)
    epochs, step_loss = history["epoch"], history.get("step_loss") or []
    series = []
    if step_loss:
        per_epoch = len(step_loss) / max(len(epochs), 1)
        series.append(
            {
                "x": (np.arange(len(step_loss)) + 1) / per_epoch,
                "y": step_loss,
                "color": "blue",
                "alpha": 0.35,
                "width": 1,
                "label": "per step",
            }
        )
    series.append(
        {"x": epochs, "y": history["loss"], "color": "blue", "markers": True, "label": "epoch mean"}
    )
    return _save(line_chart(series, "Loss history", "epoch", "loss", integer_x=True), path)


def plot_accuracy(history, path, augmented=False):
    """Train and validation accuracy per epoch (CS231n's classification accuracy history).

    The train accuracy is counted on the batches as they were trained, so on augmented images
    when the run augmented them; the legend says so. The classic stats dict of
    ``TwoLayerNet.train`` is drawn as the assignment draws it: train_acc_history and
    val_acc_history against their index, the epoch."""
    if _is_classic(history):
        chart = _accuracy_chart(_classic_accuracy_series(history), "classification accuracy")
    else:
        chart = _accuracy_chart(_run_accuracy_series(history, augmented), "accuracy")
    return _save(chart, path)


def _accuracy_chart(series, ylabel):
    return line_chart(
        series,
        "Classification accuracy history",
        "epoch",
        ylabel,
        legend_at="bottom",
        integer_x=True,
    )


def _classic_accuracy_series(history):
    """The classic stats dict's train_acc_history and val_acc_history against their index."""
    return [
        {"x": np.arange(len(v)), "y": v, "color": color, "markers": True, "label": label}
        for key, color, label in (
            ("train_acc_history", "blue", "train"),
            ("val_acc_history", "orange", "val"),
        )
        for v in [_classic_series(history, key)]
    ]


def _run_accuracy_series(history, augmented):
    """A run's train accuracy per epoch and its validation accuracy where there was one."""
    train_label = (
        "train (on the augmented training batches)"
        if augmented
        else "train (on the training batches)"
    )
    series = [
        {
            "x": history["epoch"],
            "y": history["train_acc"],
            "color": "blue",
            "markers": True,
            "label": train_label,
        }
    ]
    val = [(e, v) for e, v in zip(history["epoch"], history["val_acc"]) if v is not None]
    if val:
        x, y = zip(*val)
        series.append({"x": x, "y": y, "color": "orange", "markers": True, "label": "validation"})
    return series


WEIGHTS_PX = (
    600  # the grid is drawn at most about this wide, each weight as a whole k×k block of pixels
)
TITLE_PX = 30  # per line of the title
MIN_WIDTH_PX = 420
WEIGHTS_UNITS = 64  # at most this many tiles: 512 tiles of 8×8 pixels read as noise
ACTIVITY_ROWS = 2000  # the training rows the units' activity is measured on


def mean_activation(net, X, transform=None, rows=ACTIVITY_ROWS):
    """Each hidden unit's mean ReLU output on the first ``rows`` raw rows of X (None without rows)."""
    if X is None or len(X) == 0:
        return None
    x = (transform or net.transform)(X[:rows])
    h = np.maximum(np.asarray(x, np.float64) @ net.params["W1"] + net.params["b1"], 0.0)
    return h.mean(axis=0)


def shown_units(W1, activity=None, limit=WEIGHTS_UNITS):
    """The hidden units a weights picture shows: all of them up to ``limit``, else the ``limit``
    most active (largest ``activity``; without it, largest weight norm), most active first."""
    n = W1.shape[1]
    if n <= limit:
        return np.arange(n)
    strength = np.linalg.norm(W1, axis=0) if activity is None else np.asarray(activity)
    return np.argsort(-strength, kind="stable")[:limit]


def weights_note(n_shown, n_units, by_activity=True):
    """The line that says which units a weights picture left out ('' when it shows them all)."""
    if n_shown >= n_units:
        return ""
    how = "largest mean ReLU output on the training rows" if by_activity else "largest weight norm"
    return f"the {n_shown} most active of {n_units} units ({how}), most active first"


def weights_scale(grid):
    """k: the whole number of pixels per weight (at least 1, so a large grid is never squeezed)."""
    return max(1, WEIGHTS_PX // max(grid.shape[:2]))


def plot_weights(W1, shape, path, activity=None):
    """First-layer weights, one tile per hidden unit (CS231n's show_net_weights), pixel-exact:
    each weight is a k×k block of the PNG, so no tile is resampled; gray for one channel. Of more
    than WEIGHTS_UNITS units only the most active are drawn (``shown_units``), and a second title
    line says so."""
    W1 = np.asarray(W1)
    units = shown_units(W1, activity)
    grid = weight_grid(W1[:, units], shape)
    k = weights_scale(grid)
    h, w = k * grid.shape[0], k * grid.shape[1]
    lines = [f"First-layer weights: {W1.shape[1]} hidden units, {'×'.join(map(str, shape))} each"]
    note = weights_note(len(units), W1.shape[1], activity is not None)
    if note:
        lines.append(note)
    top = TITLE_PX * len(lines)
    width = max(w, MIN_WIDTH_PX, *(text_width(t) + 20 for t in lines))
    c = Canvas(width, h + top)
    for i, line in enumerate(lines):
        c.text(width / 2, TITLE_PX * (i + 0.5), line, ha="center")
    c.image(grid, (width - w) // 2, top, k)
    return _save(c, path)


def plot_confusion(cm, names, path, split="test"):
    """Rows: true class, columns: predicted class; counts written in the cells for up to 20 classes."""
    names = [printable(n) for n in names]  # one line each, whatever the names hold
    c = len(names)
    cell = int(min(max(440 // c, 4), 44))
    label_w = max(text_width(n) for n in names)
    rotate = max(map(len, names)) > 2
    left, top = label_w + 40, 40
    bottom_labels = label_w if rotate else 16
    acc = np.trace(cm) / max(cm.sum(), 1)
    title = f"Confusion matrix, {split} split ({cm.sum()} examples, accuracy {100 * acc:.2f}%)"
    width = max(left + c * cell + 90, text_width(title) + 20)
    canvas = Canvas(width, top + c * cell + bottom_labels + 40)
    scaled = cm / max(cm.max(), 1)
    canvas.image(blues(scaled) / 255, left, top, scale=cell)
    _confusion_cells(canvas, cm, scaled, names, (left, top, cell), rotate)
    canvas.box(left - 1, top - 1, left + c * cell + 1, top + c * cell + 1, "gray")
    _colour_bar(canvas, cm.max(), left + c * cell + 16, top, c * cell)
    canvas.text(width / 2, 16, title, ha="center")
    canvas.text(left + c * cell / 2, canvas.height - 12, "predicted class", ha="center")
    canvas.text(12, top + c * cell / 2, "true class", ha="center", rotate=True)
    return _save(canvas, path)


def _confusion_cells(canvas, cm, scaled, names, grid, rotate):
    """The class names along both axes (every one, or every k-th when cells are small) and the
    counts in the cells for up to 20 classes. ``grid``: the matrix's left, top and cell size."""
    left, top, cell = grid
    c = len(names)
    for i in range(c):
        y = top + i * cell + cell / 2
        if cell >= 12 or i % max(1, 12 // cell) == 0:
            canvas.text(left - 5, y, names[i], ha="right")
            canvas.text(
                left + i * cell + cell / 2,
                top + c * cell + 5,
                names[i],
                ha="center",
                va="top",
                rotate=rotate,
            )
        if c <= 20:
            for j in range(c):
                canvas.text(
                    left + j * cell + cell / 2,
                    y,
                    str(cm[i, j]),
                    color="white" if scaled[i, j] > 0.5 else "black",
                    ha="center",
                )


def _colour_bar(canvas, most, x, top, height):
    """The colour scale beside the matrix, from ``most`` at the top to 0."""
    ramp = blues(np.linspace(1, 0, height))[:, None, :] / 255
    canvas.image(np.repeat(ramp, 12, axis=1), x, top)
    canvas.box(x - 1, top - 1, x + 13, top + height + 1, "gray")
    canvas.text(x + 16, top + 4, str(most))
    canvas.text(x + 16, top + height - 4, "0")


# -- matplotlib, for the tuning study's log-scale scatter with a colour bar -------------------------
def Figure(**kw):  # noqa: N802 - stands for matplotlib's class
    """A matplotlib Figure, imported on the first picture (matplotlib is slow to import). Figures
    are drawn without pyplot, so a notebook's or an application's pyplot backend is left alone."""
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(**kw)


def _save_figure(fig, path):
    return save_figure(fig, path, dpi=DPI)


# -- a tuning study --------------------------------------------------------------------------
def _last_value(trial):
    """A pruned trial's last reported validation accuracy, or None."""
    steps = getattr(trial, "intermediate_values", None) or {}
    return steps[max(steps)] if steps else None


def plot_study(trials, out, title, pruned=()):
    """history.png (value per trial, best so far, pruned trials at their last reported value) and
    search.png (CS231n's scatter of the search: validation accuracy coloured over learning rate ×
    regularisation, pruned trials as grey crosses). ``trials``: finished Optuna trials in order;
    ``pruned``: the pruned ones. Trial numbers are integer ticks; the legend stands outside the
    axes, clear of every marker."""
    if not trials:
        return {}
    out = Path(out)
    values = [100 * t.value for t in trials]
    cut = [(t, _last_value(t)) for t in pruned]
    cut = [(t, v) for t, v in cut if v is not None]
    return {
        "history.png": _save_figure(
            _history_figure(trials, values, cut, title), out / "history.png"
        ),
        "search.png": _save_figure(_search_figure(trials, values, cut), out / "search.png"),
    }


def _history_figure(trials, values, cut, title):
    """Value per trial (%), the best so far, pruned trials at their last reported value."""
    from matplotlib.ticker import MaxNLocator

    numbers = [t.number for t in trials]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(numbers, values, "o", alpha=0.6, label="trial")
    ax.plot(numbers, np.maximum.accumulate(values), "-", color="C3", label="best so far")
    if cut:
        ax.plot(
            [t.number for t, _ in cut],
            [100 * v for _, v in cut],
            "x",
            color="0.5",
            label="pruned (last value)",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="trial",
        ylabel="validation accuracy (%)",
        title=f"optimisation history — study {printable(title)!r}",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return fig


def _search_figure(trials, values, cut):
    """Validation accuracy (%) coloured over learning rate × regularisation, pruned as crosses."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    points = ax.scatter(
        [t.params["learning_rate"] for t in trials],
        [t.params["reg"] for t in trials],
        c=values,
        cmap="viridis",
        s=60,
        edgecolors="k",
    )
    if cut:
        ax.scatter(
            [t.params["learning_rate"] for t, _ in cut],
            [t.params["reg"] for t, _ in cut],
            marker="x",
            color="0.5",
            label="pruned",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.15), borderaxespad=0)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate",
        ylabel="regularisation",
        title="validation accuracy over the search",
    )
    fig.colorbar(points, ax=ax, label="validation accuracy (%)")
    return fig
