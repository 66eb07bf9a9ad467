"""RUN_DIR/report.html: one self-contained page about a training run.

Metrics, hyperparameters, every figure (PNG, base64-embedded) and per-class accuracy; the page
loads nothing from anywhere else. A small inline script records, once the page has loaded, how
many images decoded (``data-images-loaded="k/n"`` on <body>), so a headless browser can check it.
"""

from __future__ import annotations

import base64
import math
import struct
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from . import __version__
from .errors import InputError
from .io import exists, is_dir, is_file, printable, read_json, write_text
from .locks import run_lock
from .plots import WEIGHTS_UNITS, read_confusion, weights_note
from .runs import read_metrics, redraw
from .settings import check_settings_dict

CAPTIONS = {
    "loss.png": "Loss per step and per epoch",
    "accuracy.png": "Train accuracy (on the training batches as trained, augmented if the run augmented) "
    "and validation accuracy per epoch",
    "weights.png": "First-layer weights, one tile per hidden unit",
    "confusion.png": "Confusion matrix",
}
METRICS = (
    ("train_accuracy", "train accuracy"),
    ("val_accuracy", "validation accuracy"),
    ("test_accuracy", "test accuracy"),
    ("epochs", "epochs"),
    ("best_epoch", "best epoch"),
    ("stop_reason", "stopped because"),
    ("final_loss", "final loss (last epoch)"),
    ("seconds", "training seconds"),
    ("n_train", "training examples"),
    ("error", "error"),
    ("warning", "warning"),
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1280px; margin: 2em auto; padding: 0 1em; color: #222; }
p, figcaption { max-width: 75ch; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 1.5em 0; vertical-align: top; max-width: 100%; }
.scroll { overflow-x: auto; }
figure img { max-width: none; border: 1px solid #eee; display: block; }
img.pixels { image-rendering: pixelated; }
figcaption { font-size: 0.95em; color: #444; margin-top: 0.3em; }
.bar { display: inline-block; height: 0.8em; background: #4a90d9; }
"""
# figures at their natural size: a figure wider than the page scrolls inside its box instead of
# shrinking (a shrunk chart's 11 px labels drop to 7-8 px, a weights tile gets resampled)

SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var shrunk = imgs.filter(function (i) { return i.clientWidth < i.naturalWidth; }).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
  document.body.setAttribute("data-images-shrunk", String(shrunk));
});
"""

# what each preprocessing mode and augmentation does, in the report's words
PREPROCESS_WORDS = {
    "none": "raw values",
    "scale": "pixels divided by their largest value, into [0, 1]",
    "center": "the mean training image subtracted (CS231n)",
    "standardize": "zero mean and unit variance per feature (training-set statistics)",
}
AUGMENT_WORDS = {
    "none": "no augmentation",
    "shift": "random 1-pixel shifts of the images in each training batch",
}

# settings that act only with another one's value (name -> its setting, the test, the words):
# left out of the page when they did not apply, and named under the table
APPLIES = {
    "momentum": (
        "optimizer",
        lambda v: v in ("momentum", "nesterov"),
        "the momentum and nesterov optimizers only",
    ),
    "weight_decay": ("optimizer", lambda v: v == "adamw", "the adamw optimizer only"),
    "lr_decay": ("schedule", lambda v: v == "step", "the step schedule only"),
    "min_lr_ratio": ("schedule", lambda v: v == "cosine", "the cosine schedule only"),
    "tol": ("patience", lambda v: v is not None, "early stopping (a patience) only"),
}
NONE_WORDS = {
    "std": "He initialisation",
    "patience": "none (every epoch runs)",
    "seed": "none (fresh randomness)",
}


def write_report(run_dir):
    """Write RUN_DIR/report.html and return its path; missing pictures are redrawn from model.npz."""
    run_dir = Path(run_dir)
    if not is_dir(run_dir):
        raise InputError(
            f"{run_dir}: not a directory; give the run directory written by twolayer train"
        )
    with run_lock(run_dir, "report"):
        if not exists(run_dir / "metrics.json"):
            raise InputError(
                f"{run_dir / 'metrics.json'}: not found; is {run_dir} a run directory written by "
                "twolayer train?"
            )
        metrics = read_metrics(run_dir / "metrics.json")
        config = {}
        if exists(run_dir / "config.json"):
            config = check_settings_dict(
                read_json(run_dir / "config.json", "run configuration"), run_dir / "config.json"
            )
        missing = [
            n
            for n in ("loss.png", "accuracy.png", "confusion.png", "confusion.json")
            if not _usable(run_dir / n)
        ]
        if missing and exists(run_dir / "model.npz"):
            redraw(run_dir)
        confusion = (
            read_confusion(run_dir / "confusion.json")
            if _usable(run_dir / "confusion.json")
            else None
        )
        figures = [run_dir / n for n in CAPTIONS if _usable(run_dir / n)]
        figures += sorted(p for p in run_dir.glob("*.png") if p.name not in CAPTIONS and _usable(p))
        return write_text(
            run_dir / "report.html", render(run_dir.name, metrics, config, figures, confusion)
        )


def _usable(path):
    """A regular, non-empty file (an empty picture is never embedded)."""
    return is_file(path) and path.stat().st_size > 0


def render(name, metrics, config, figures, confusion, now=None):
    """The page as a string; ``now`` (a datetime) is when it was written, for the header line."""
    settings, left_out = _settings(metrics, config)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>twolayer run {escape(name)}</title>",
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>twolayer run <code>{escape(name)}</code></h1>",
        f"<p class=meta>{escape(_provenance(metrics, now))}</p>",
        f"<p>{_data_line(metrics, config)}</p>",
        "<h2>Metrics</h2>",
        _table(
            [
                (label, _fmt(metrics[key], key))
                for key, label in METRICS
                if metrics.get(key) is not None
            ]
        ),
        "<h2>Settings</h2>",
        _table([(k, _fmt(v, k)) for k, v in settings], numbers_right=False),
    ]
    if left_out:
        parts.append(
            f"<p class=meta>Not shown, as they did not apply to this run: {escape(left_out)}.</p>"
        )
    parts.append("<h2>Figures</h2>")
    if not figures:
        parts.append("<p>No figures in this run directory.</p>")
    parts += [_figure(fig, metrics, config) for fig in figures]
    parts.append("<h2>Per-class accuracy</h2>")
    if confusion is None:
        parts.append(
            "<p>Not available: the run directory has neither confusion.json nor model.npz.</p>"
        )
    else:
        parts.append(_per_class(confusion))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def png_size(data):
    """(width, height) of a PNG from its header; (None, None) for bytes that are no PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None, None
    return struct.unpack(">II", data[16:24])


def _figure(path, metrics, config):
    """One embedded picture at its natural size (its width and height in the tag), captioned."""
    raw = path.read_bytes()
    width, height = png_size(raw)
    size = f' width="{width}" height="{height}"' if width else ""
    # the caption wraps at the picture's width (+ its border), so pictures stand side by side
    box = f' style="width:{width + 2}px"' if width else ""
    caption = CAPTIONS.get(path.name, path.stem)
    if path.name == "weights.png":
        hidden = metrics.get("hidden_size", config.get("hidden_size"))
        note = weights_note(WEIGHTS_UNITS, hidden) if isinstance(hidden, int) else ""
        if note:
            caption += f": {note}; the others are left out so that each tile stays readable"
    pixels = ' class="pixels"' if path.name == "weights.png" else ""
    data = base64.b64encode(raw).decode("ascii")
    return (
        f'<figure{box}><div class="scroll"><img src="data:image/png;base64,{data}"{size}{pixels} '
        f'alt="{escape(caption)}"></div>'
        f"<figcaption>{escape(caption)} ({escape(path.name)})</figcaption></figure>"
    )


def _provenance(metrics, now=None):
    """Who trained the run and when, and when this page was written."""
    now = now or datetime.now(timezone.utc)
    version = metrics.get("twolayer_version")
    trained = f"Trained by twolayer {version}" if version else "Trained by an unrecorded version"
    finished = metrics.get("finished")
    when = f", finished {_when(finished)}" if finished else ""
    return (
        f"{trained}{when}. This page written by twolayer {__version__} on "
        f"{now.strftime('%Y-%m-%d %H:%M UTC')}."
    )


def _when(iso):
    try:
        t = datetime.fromisoformat(iso).astimezone(timezone.utc)
    except ValueError:
        return iso
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _data_line(metrics, config):
    """The data and the model's size in one sentence, with the data's fingerprint in words."""
    spec = metrics.get("data", config.get("data", "?"))
    hidden = metrics.get("hidden_size", config.get("hidden_size", "?"))
    line = f"Data <code>{escape(str(spec))}</code>, hidden size {escape(str(hidden))}."
    fp = config.get("fingerprint")
    if isinstance(fp, dict) and all(
        k in fp for k in ("n_train", "n_features", "n_classes", "rows_sha256")
    ):
        line += escape(
            f" Fingerprint: {_count(fp['n_train'])} training rows × {_count(fp['n_features'])} "
            f"features, {_count(fp['n_classes'])} classes, first rows' SHA-256 "
            f"{str(fp['rows_sha256'])[:16]}."
        )
    return line


def _count(v):
    return f"{v:,}" if isinstance(v, int) else str(v)


BAR_PX = 200


def bar_floor(accuracies):
    """Where the per-class bars start: the lowest accuracy rounded down to a multiple of 10%
    (so 94% and 100% look different), at most 90%."""
    known = [a for a in accuracies if a is not None]
    return min(0.9, math.floor(10 * min(known)) / 10) if known else 0.0


def _per_class(confusion):
    matrix = confusion["matrix"]
    accuracies = [
        matrix[i][i] / sum(matrix[i]) if sum(matrix[i]) else None for i in range(len(matrix))
    ]
    lo = bar_floor(accuracies)
    rows = []
    for i, cls in enumerate(confusion["class_names"]):
        support, correct, acc = sum(matrix[i]), matrix[i][i], accuracies[i]
        width = 0 if acc is None else BAR_PX * (acc - lo) / (1 - lo)
        bar = "" if acc is None else f'<span class="bar" style="width:{width:.0f}px"></span>'
        rows.append(
            f"<tr><td>{escape(printable(cls))}</td><td class=num>{support}</td><td class=num>{correct}</td>"
            f"<td class=num>{_fmt(acc, 'accuracy')}</td><td>{bar}</td></tr>"
        )
    return (
        f"<p>On the {escape(str(confusion['split']))} split. The bars run from {100 * lo:.0f}% "
        f"(empty) to 100% (full).</p>"
        f"<table><tr><th>class</th><th>examples</th><th>correct</th><th>accuracy</th>"
        f"<th>{100 * lo:.0f}% … 100%</th></tr>" + "".join(rows) + "</table>"
    )


INTERNAL = (
    "steps_per_epoch",
    "max_steps",
    "sampling",
    "fingerprint",  # shown as a line under the title
    "preprocess_resolved",
    "augment_resolved",
    "auto",  # shown on the settings it decided
    "twolayer_version",
    "finished",
)  # the loop's plumbing and the run's records, not choices of the run


def _settings(metrics, config):
    """The run's settings as (name, shown value) rows, and the words for those left out.

    From config.json (the loop's settings flattened in), else those echoed in metrics.json. Auto
    settings show what they resolved to (``auto → scale: …``), auto epochs how many ran; a setting
    that did not apply (momentum without a momentum optimizer, ...) is left out and named in the
    second value; the loop's internal keys are left out."""
    flat = _flat_settings(metrics, config)
    unused = [k for k, (by, applies, _) in APPLIES.items() if by in flat and not applies(flat[by])]
    _show_resolved(flat, metrics)
    rows = [(k, v) for k, v in flat.items() if k not in INTERNAL and k not in unused]
    dropped = [f"{k} (for {APPLIES[k][2]})" for k in unused if k in flat]
    return rows, "; ".join(dropped)


def _flat_settings(metrics, config):
    """The settings as one flat dict: config.json with the loop's flattened in, else metrics.json's."""
    if config:
        flat = {k: v for k, v in config.items() if k != "train"}
        flat.update(config.get("train") or {})
    else:
        shown = {key for key, _ in METRICS} | {"data", "final_loss"}
        flat = {k: v for k, v in metrics.items() if k not in shown and not k.endswith("_accuracy")}
    if flat.get("epochs") is None and metrics.get("epochs") is not None:
        flat["epochs"] = f"auto ({metrics['epochs']} run)"
    return flat


def _show_resolved(flat, metrics):
    """Auto settings shown with what they resolved to (``auto → 64``; preprocessing and
    augmentation in words); None in words."""
    auto = metrics.get("auto") or {}
    for key in auto:
        if key in flat and key != "epochs":
            v = NONE_WORDS.get(key, "none") if flat[key] is None else flat[key]
            flat[key] = f"auto → {f'{v:.3g}' if isinstance(v, float) else v}"
    if "epochs" in auto and "epochs" in flat:
        flat["epochs"] = f"auto → at most {auto['epochs']} ({metrics.get('epochs')} run)"
    for key, words in (("preprocess", PREPROCESS_WORDS), ("augment", AUGMENT_WORDS)):
        resolved = metrics.get(f"{key}_resolved")
        if key in flat and resolved in words:
            chosen = f"{resolved}: {words[resolved]}"
            flat[key] = f"auto → {chosen}" if flat[key] == "auto" else chosen
    for key, words in NONE_WORDS.items():
        if key in flat and flat[key] is None:
            flat[key] = words


def _table(rows, numbers_right=True):
    """Name-value rows; numbers right-aligned, words left-aligned (all left-aligned when
    ``numbers_right`` is False: a column of settings mixes the two, which would zigzag)."""
    body = "".join(
        f"<tr><td>{escape(str(k))}</td>"
        f"<td{' class=num' if numbers_right and _numeric(v) else ''}>{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{body}</table>"


def _numeric(text):
    return str(text).rstrip("%").replace(".", "", 1).replace("e-", "", 1).lstrip("-").isdigit()


def _fmt(value, key=""):
    if value is None:
        return "-"
    if "accuracy" in key and isinstance(value, float):
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
