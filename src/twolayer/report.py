"""RUN_DIR/report.html: one self-contained page about a training run.

Metrics, hyperparameters, every figure (PNG, base64-embedded) and per-class accuracy; the page
loads nothing from anywhere else. A small inline script records, once the page has loaded, how
many images decoded (``data-images-loaded="k/n"`` on <body>), so a headless browser can check it.
"""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

from .errors import InputError
from .io import exists, is_dir, is_file, printable, read_json, write_text
from .locks import run_lock
from .plots import read_confusion
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
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 460px; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.bar { display: inline-block; height: 0.8em; background: #4a90d9; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


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


def render(name, metrics, config, figures, confusion):
    """The page as a string."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>twolayer run {escape(name)}</title>",
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>twolayer run <code>{escape(name)}</code></h1>",
        f"<p>Data <code>{escape(str(metrics.get('data', config.get('data', '?'))))}</code>, "
        f"hidden size {escape(str(metrics.get('hidden_size', config.get('hidden_size', '?'))))}.</p>",
        "<h2>Metrics</h2>",
        _table(
            [
                (label, _fmt(metrics[key], key))
                for key, label in METRICS
                if metrics.get(key) is not None
            ]
        ),
        "<h2>Hyperparameters</h2>",
        _table([(k, _fmt(v, k)) for k, v in _hyperparameters(metrics, config)]),
        "<h2>Figures</h2>",
    ]
    if not figures:
        parts.append("<p>No figures in this run directory.</p>")
    for fig in figures:
        data = base64.b64encode(fig.read_bytes()).decode("ascii")
        caption = CAPTIONS.get(fig.name, fig.stem)
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)} ({escape(fig.name)})</figcaption></figure>"
        )
    parts.append("<h2>Per-class accuracy</h2>")
    if confusion is None:
        parts.append(
            "<p>Not available: the run directory has neither confusion.json nor model.npz.</p>"
        )
    else:
        parts.append(_per_class(confusion))
    parts.append("</body></html>\n")
    return "\n".join(parts)


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
)  # the loop's plumbing, not choices of the run


def _hyperparameters(metrics, config):
    """Settings from config.json (the loop's settings flattened in), else those echoed in metrics.json.

    Auto epochs show how many ran; the loop's internal keys are left out."""
    if config:
        flat = {k: v for k, v in config.items() if k != "train"}
        flat.update(config.get("train") or {})
    else:
        shown = {key for key, _ in METRICS} | {"data", "final_loss"}
        flat = {k: v for k, v in metrics.items() if k not in shown and not k.endswith("_accuracy")}
    if flat.get("epochs") is None and metrics.get("epochs") is not None:
        flat["epochs"] = f"auto ({metrics['epochs']} run)"
    return [(k, v) for k, v in flat.items() if k not in INTERNAL]


def _table(rows):
    body = "".join(
        f"<tr><td>{escape(str(k))}</td><td class=num>{escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _fmt(value, key=""):
    if value is None:
        return "-"
    if "accuracy" in key and isinstance(value, float):
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
