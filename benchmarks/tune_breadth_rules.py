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

sys.path.insert(0, str(Path(__file__).parent))
import bench_breadth as bb

from twolayer import defaults as D
from twolayer import train as T

variants, rest = sys.argv[1].split("+"), sys.argv[2:]
orig_wd, orig_h, orig_lr = D.weight_decay, D.hidden_units, D.learning_rate


def wd_coef(c):
    def f(s, hidden=None):
        h = D.hidden_units(s) if hidden is None else hidden
        return float(min(max(c * h * (s.d + s.n_classes) / max(s.n, 1), 1e-3), 1.0))

    return f


def wd_cap(cap):
    def f(s, hidden=None):
        h = D.hidden_units(s) if hidden is None else hidden
        return float(min(max(0.1 * h * (s.d + s.n_classes) / max(s.n, 1), 1e-3), cap))

    return f


def hid(k, lo=64, hi=256):
    def f(s):
        if s.image:
            return 512
        h = 16 * round(k * math.sqrt(s.n) / 16)
        return int(min(max(h, lo, 4 * s.n_classes), hi))

    return f


P = {}
for variant in variants:
    if variant == "wd0.1":
        D.weight_decay = wd_coef(0.1)
    elif variant == "wd0.3":
        D.weight_decay = wd_coef(0.3)
    elif variant == "wd1":
        D.weight_decay = wd_coef(1.0)
    elif variant == "wd0.03":
        D.weight_decay = wd_coef(0.03)
    elif variant == "wdcap0.3":
        D.weight_decay = wd_cap(0.3)
    elif variant == "wdcap3":
        D.weight_decay = wd_cap(3.0)
    elif variant == "h4":
        D.hidden_units = hid(4)
    elif variant == "h1":
        D.hidden_units = hid(1, lo=32)
    elif variant == "hlo128":
        D.hidden_units = hid(2, lo=128)
    elif variant == "hhi512":
        D.hidden_units = hid(2, hi=512)
    elif variant == "pat100":
        D.PATIENCE_STEPS = 100
    elif variant == "pat400":
        D.PATIENCE_STEPS = 400
    elif variant == "steps5k":
        D.MAX_STEPS = 5000
        D.EPOCH_RANGE = (50, 2000)
    elif variant == "lrhalf":
        D.learning_rate = lambda s, batch=None: 0.5 * orig_lr(s, batch)
    elif variant == "lr2":
        D.learning_rate = lambda s, batch=None: 2 * orig_lr(s, batch)
    elif variant == "norestore":
        T.Trainer.has_best_weights = property(lambda self: False)
    elif variant in ("valloss", "valbal"):
        import numpy as np

        LAST = {}
        orig_call = T.Validation.__call__

        def call(self, net):
            acc = orig_call(self, net)
            if acc is None:
                return None
            X = self.transform(self.X) if self.transform else self.X
            sc = np.asarray(net.scores(X, check=False), dtype=np.float64)
            sc -= sc.max(axis=1, keepdims=True)
            logp = sc - np.log(np.exp(sc).sum(axis=1, keepdims=True))
            if variant == "valloss":
                LAST["score"] = float(logp[np.arange(len(self.y)), self.y].mean())
            else:
                p = sc.argmax(1)
                LAST["score"] = float(
                    np.mean([np.mean(p[self.y == c] == c) for c in np.unique(self.y)])
                )
            return acc

        T.Validation.__call__ = call
        orig_es = T.Trainer._early_stopping

        def es(self, score, val_acc, epochs):
            c = self.config
            if c.monitor == "loss" and val_acc is not None:
                losses = self.history["loss"]
                improved = len(losses) == 1 or losses[-1] < min(losses[:-1]) - max(c.tol, 1e-4)
                score = LAST["score"]
                if self.best is None or score >= self.best.score:
                    self.best = T.Best(
                        score, self.epoch, {k: v.copy() for k, v in self.net.params.items()}
                    )
                if improved:
                    self.bad_epochs = 0
                else:
                    self.bad_epochs += 1
                    if self.bad_epochs >= c.patience and self.epoch < epochs:
                        self.stop_reason = "early_stopping"
                return
            return orig_es(self, score, val_acc, epochs)

        T.Trainer._early_stopping = es
    elif variant != "default":
        raise SystemExit(f"unknown variant {variant}")
sys.exit(bb.main(rest))
