"""The run layer: how often a training run writes its checkpoint."""
from types import SimpleNamespace

from twolayer.runs import throttled


def _epochs(checkpoint, n, stop_at=None):
    t = SimpleNamespace(epoch=0, stop_reason=None)
    for e in range(1, n + 1):
        t.epoch = e
        if e == stop_at:
            t.stop_reason = "early_stopping"
        checkpoint(t)
        if t.stop_reason:
            break


def test_checkpoint_after_the_first_and_the_last_epoch_and_every_few_seconds():
    saved = []
    _epochs(throttled(lambda t: saved.append(t.epoch), last_epoch=10, seconds=3600), 10)
    assert saved == [1, 10]
    saved.clear()
    _epochs(throttled(lambda t: saved.append(t.epoch), last_epoch=10, seconds=3600), 10, stop_at=6)
    assert saved == [1, 6]  # an early stop is the last epoch
    saved.clear()
    _epochs(throttled(lambda t: saved.append(t.epoch), last_epoch=5, seconds=0), 5)
    assert saved == [1, 2, 3, 4, 5]
