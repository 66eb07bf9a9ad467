"""Fault injection: kill -9 training and tuning at random moments, resume, and check nothing was lost.

Training: `twolayer train` on digits is killed with SIGKILL at random times and restarted with
--resume until it finishes. After every kill each file of the run directory must still load (the
checkpoint, the model, the JSON files); the finished run must equal, bit for bit, an uninterrupted
run with the same settings.

Tuning: a `twolayer tune` worker is killed at random times and a new worker restarted on the same
study. Every trial that was complete at a kill must still be complete at the end, and no trial may
be left RUNNING.

    python benchmarks/bench_faults.py            # 12 training faults (600 epochs), 4 tuning faults
    python benchmarks/bench_faults.py --quick    # 4 training faults (300 epochs), 2 tuning faults
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from twolayer.io import read_npz
from twolayer.modelfile import PARAM_NAMES
from twolayer.net import TwoLayerNet
from twolayer.train import TrainConfig, Trainer

TRAIN = ["--data", "digits", "--hidden", "1024", "--seed", "3", "--quiet"]
STARTUP = 3.0  # seconds of imports, data loading and plots around the epochs of a run


def cli(*args):
    return [sys.executable, "-m", "twolayer.cli", *args]


def start(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_at(proc, delay):
    """SIGKILL proc after delay seconds; False when it finished first."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def damaged_files(out):
    """Files of a run directory that exist but do not load: the list must stay empty."""
    bad = []
    for name in ("config.json", "metrics.json"):
        if (out / name).exists():
            try:
                json.loads((out / name).read_text())
            except ValueError as e:
                bad.append(f"{name}: {e}")
    if (out / "model.npz").exists():
        try:
            TwoLayerNet.load(out / "model.npz")
        except ValueError as e:
            bad.append(f"model.npz: {e}")
    if (out / "checkpoint.npz").exists():
        try:
            arrays = read_npz(out / "checkpoint.npz", required=("state",))
            config = TrainConfig.from_dict(json.loads(str(arrays["state"][()]))["config"])
            d, h = arrays["param_W1"].shape
            net = TwoLayerNet(d, h, arrays["param_W2"].shape[1], dtype=arrays["param_W1"].dtype)
            Trainer(net, config).load_checkpoint(out / "checkpoint.npz")
            if not all(np.isfinite(v).all() for v in net.params.values()):
                bad.append("checkpoint.npz: non-finite weights")
        except (ValueError, KeyError) as e:
            bad.append(f"checkpoint.npz: {e}")
    return bad


def same_run(out, ref):
    """Differences between two finished runs: weights bit for bit, accuracies, per-epoch history."""
    a, b = TwoLayerNet.load(out / "model.npz"), TwoLayerNet.load(ref / "model.npz")
    diffs = [k for k in PARAM_NAMES if not np.array_equal(a.params[k], b.params[k])]
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (out, ref))
    diffs += [
        k for k in ("train_accuracy", "val_accuracy", "test_accuracy", "epochs") if ma[k] != mb[k]
    ]
    ha, hb = ((d / "history.csv").read_text().splitlines() for d in (out, ref))
    cols = ha[0].split(",")
    keep = [i for i, c in enumerate(cols) if c != "seconds"]
    strip = lambda rows: [[r.split(",")[i] for i in keep] for r in rows]  # noqa: E731
    if strip(ha) != strip(hb):
        diffs.append("history.csv")
    return diffs


def train_with_faults(out, epochs, faults, rng, ref, ref_seconds, log):
    """One run, killed at random moments (at most `faults` times) and resumed after each kill until
    it finishes; returns (faults injected, damaged files, differences from ref, stray temp files)."""
    injected, damaged, epoch = 0, [], 0
    while True:
        resume = (out / "config.json").exists()
        proc = start(
            cli(
                "train",
                *TRAIN,
                "--epochs",
                str(epochs),
                "--out",
                str(out),
                *(["--resume"] if resume else ["--force"]),
            )
        )
        # a kill time anywhere in what is left of the run: start-up, the remaining epochs, saving
        left = STARTUP + (ref_seconds - STARTUP) * (epochs - epoch) / epochs
        if injected < faults and kill_at(proc, rng.uniform(0.3, left)):
            injected += 1
            bad = damaged_files(out)
            damaged += bad
            ckpt = out / "checkpoint.npz"
            if ckpt.exists() and not bad:
                epoch = json.loads(str(read_npz(ckpt)["state"][()]))["epoch"]
            log(f"  kill {injected}: checkpoint at epoch {epoch}, damaged files: {len(bad)}")
            continue
        if proc.wait() != 0:
            raise SystemExit(f"the resumed run failed: {proc.stderr.read().strip()}")
        break
    stray = len(
        [f for f in out.iterdir() if f.name.startswith(".")]
    )  # temp files a kill left behind
    return injected, damaged, same_run(out, ref), stray


def tune_with_faults(root, faults, epochs, rng, log):
    """A study whose worker is killed `faults` times; returns a dict of counts and problems."""
    import optuna

    from twolayer import tune as tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{root / 'study.db'}"
    base = [
        "tune",
        "--data",
        "digits",
        "--out",
        str(root / "tune"),
        "--storage",
        storage,
        "--study-name",
        "s",
        "--epochs",
        str(epochs),
        "--heartbeat",
        "1",
        "--pruner",
        "none",
        "--patience",
        "0",
        "--quiet",
    ]
    complete_at_kills, injected = set(), 0
    for attempt in range(faults * 4):
        if injected == faults:
            break
        proc = start(cli(*base, "--trials", "20", "--seed", str(attempt)))
        if not kill_at(proc, rng.uniform(2.0, 10.0)):
            continue
        injected += 1
        trials = optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)
        complete = {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
        complete_at_kills |= complete
        running = [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        log(f"  kill {injected}: {len(complete)} complete, running at the kill: {running}")
        time.sleep(3.5)  # a heartbeat of 1 s: the killed trial is stale after 3 s
    proc = start(cli(*base, "--trials", "2", "--seed", "999"))
    if proc.wait() != 0:
        raise SystemExit(f"the restarted tune worker failed: {proc.stderr.read().strip()}")
    trials = optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)
    state = {t.number: t.state for t in trials}
    return {
        "faults": injected,
        "trials": len(trials),
        "complete": sum(s == optuna.trial.TrialState.COMPLETE for s in state.values()),
        "failed (killed)": sum(s == optuna.trial.TrialState.FAIL for s in state.values()),
        "retried": sum(tuning.retried_from(t) is not None for t in trials),
        "left running": sum(not s.is_finished() for s in state.values()),
        "complete trials lost": len(
            [n for n in complete_at_kills if state[n] != optuna.trial.TrialState.COMPLETE]
        ),
        "best model loads": not damaged_model(root / "tune" / "best_model.npz"),
    }


def damaged_model(path):
    try:
        TwoLayerNet.load(path)
        return False
    except ValueError:
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs and faults (about a minute)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    args = parser.parse_args()
    train_faults, epochs = (4, 300) if args.quick else (12, 600)
    tune_faults, tune_epochs = (2, 200) if args.quick else (4, 200)
    rng = random.Random(args.seed)
    log = lambda s: print(s, flush=True)  # noqa: E731

    with tempfile.TemporaryDirectory(prefix="bench_faults.") as tmp:
        root = Path(tmp)
        ref = root / "reference"
        t0 = time.perf_counter()
        subprocess.run(
            cli("train", *TRAIN, "--epochs", str(epochs), "--out", str(ref)),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        ref_seconds = time.perf_counter() - t0
        log(f"uninterrupted run: {epochs} epochs, {ref_seconds:.1f} s including start-up and plots")

        totals = {
            "runs": 0,
            "faults": 0,
            "damaged files": 0,
            "mismatches": 0,
            "stray temp files": 0,
        }
        while (
            totals["faults"] < train_faults
        ):  # a run that finishes early leaves the rest to a new run
            log(f"run {totals['runs'] + 1}")
            faults, damaged, diffs, stray = train_with_faults(
                root / f"r{totals['runs']}",
                epochs,
                train_faults - totals["faults"],
                rng,
                ref,
                ref_seconds,
                log,
            )
            for d in damaged:
                log(f"  DAMAGED {d}")
            log(f"  finished; differences from the uninterrupted run: {diffs or 'none'}")
            totals["runs"] += 1
            totals["faults"] += faults
            totals["damaged files"] += len(damaged)
            totals["mismatches"] += bool(diffs)
            totals["stray temp files"] += stray

        log("tune")
        tune = tune_with_faults(root / "t", tune_faults, tune_epochs, rng, log)

    print("\ntraining: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    print("tuning:   " + ", ".join(f"{k} {v}" for k, v in tune.items()))
    ok = (
        totals["damaged files"] == totals["mismatches"] == 0
        and tune["left running"] == 0
        and tune["complete trials lost"] == 0
        and tune["best model loads"]
    )
    print("OK" if ok else "PROBLEMS FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
