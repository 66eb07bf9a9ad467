"""Rule variants on bench_breadth's TUNE-ONLY sets: one rule of twolayer.defaults (or the CLI's
best-epoch choice) replaced for one run, everything else as shipped. How the weight decay rule
was chosen (README, "Defaults from the data: the rules"):

    nice -n 10 python benchmarks/tune_breadth_rules.py wd0.3 --tune --methods est,cli --json out.json
    nice -n 10 python benchmarks/tune_breadth_rules.py wd0.3+hlo128 --tune --methods est

The first argument names the variant(s) ('+' joins several; 'default' changes nothing); the rest
goes to bench_breadth.py. The coefficients below are the ones tried; the shipped one is
defaults.WD_PER_WEIGHT (0.3). The README's variants ran when it was 0.1 ('wd0.1' repeats that base).
"""

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_breadth as bb

from twolayer import defaults as D
from twolayer import train as T
from twolayer.layers import log_softmax

variants, rest = sys.argv[1].split("+"), sys.argv[2:]
orig_lr = D.learning_rate


def wd(coef=0.1, cap=1.0):
    """defaults.weight_decay's rule, coef·P/n within 0.001..cap, with another coefficient or cap."""

    def f(s, hidden=None):
        h = D.hidden_units(s) if hidden is None else hidden
        return float(min(max(coef * h * (s.d + s.n_classes) / max(s.n, 1), 1e-3), cap))

    return f


def hid(k, lo=64, hi=256):
    def f(s):
        if s.image:
            return 512
        h = 16 * round(k * math.sqrt(s.n) / 16)
        return int(min(max(h, lo, 4 * s.n_classes), hi))

    return f


def set_steps(patience=None, max_steps=None, epochs=None):
    if patience is not None:
        D.PATIENCE_STEPS = patience
    if max_steps is not None:
        D.MAX_STEPS, D.EPOCH_RANGE = max_steps, epochs


def best_epoch_by(kind):
    """The CLI's best epoch (monitor 'loss' with validation rows) chosen by the validation loss
    ('valloss') or balanced accuracy ('valbal') instead of accuracy: the loop's own rule, handed
    that score in place of the accuracy (which that branch uses only as the score to keep)."""
    last = {}
    orig_call, orig_es = T.Validation.__call__, T.Trainer._early_stopping

    def call(self, net):
        acc = orig_call(self, net)
        if acc is not None:
            X = self.transform(self.X) if self.transform else self.X
            scores = np.asarray(net.scores(X, check=False), dtype=np.float64)
            last["score"] = (
                float(log_softmax(scores)[np.arange(len(self.y)), self.y].mean())
                if kind == "valloss"
                else D.balanced_accuracy(self.y, scores.argmax(1))
            )
        return acc

    def es(self, score, val_acc, epochs):
        if self.config.monitor == "loss" and val_acc is not None:
            val_acc = last["score"]
        return orig_es(self, score, val_acc, epochs)

    T.Validation.__call__, T.Trainer._early_stopping = call, es


def set_hidden(rule):
    D.hidden_units = rule


def set_wd(rule):
    D.weight_decay = rule


VARIANTS = {
    "default": lambda: None,
    **{f"wd{c:g}": (lambda c=c: set_wd(wd(c))) for c in (0.03, 0.1, 0.3, 1.0)},
    "wdcap0.3": lambda: set_wd(wd(cap=0.3)),
    "wdcap3": lambda: set_wd(wd(cap=3.0)),
    "h4": lambda: set_hidden(hid(4)),
    "h1": lambda: set_hidden(hid(1, lo=32)),
    "hlo128": lambda: set_hidden(hid(2, lo=128)),
    "hhi512": lambda: set_hidden(hid(2, hi=512)),
    "pat100": lambda: set_steps(patience=100),
    "pat400": lambda: set_steps(patience=400),
    "steps5k": lambda: set_steps(max_steps=5000, epochs=(50, 2000)),
    "lrhalf": lambda: setattr(D, "learning_rate", lambda s, batch=None: 0.5 * orig_lr(s, batch)),
    "lr2": lambda: setattr(D, "learning_rate", lambda s, batch=None: 2 * orig_lr(s, batch)),
    "norestore": lambda: setattr(T.Trainer, "has_best_weights", property(lambda self: False)),
    "valloss": lambda: best_epoch_by("valloss"),
    "valbal": lambda: best_epoch_by("valbal"),
}

for variant in variants:
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant}; known: {', '.join(VARIANTS)}")
    VARIANTS[variant]()
sys.exit(bb.main(rest))
