"""Learning-rate schedules against a reference written out from the formulas, and known values."""

import math

import pytest

from twolayer.schedules import SCHEDULES, learning_rate_at


def reference(epoch, base_lr, schedule, decay, epochs, warmup, floor):
    """The schedules spelled out one case at a time (independent of the implementation's layout)."""
    if epoch < warmup:  # linear warm-up: base/(w+1), 2·base/(w+1), ..., w·base/(w+1)
        return base_lr * (epoch + 1) / (warmup + 1)
    after = epoch - warmup  # epochs since warm-up ended
    if schedule in ("constant", "plateau"):  # plateau: lowered by the loop, not by the epoch
        return base_lr
    if schedule == "step":
        return base_lr * decay**after
    progress = min(
        after / max(epochs - warmup, 1), 1.0
    )  # cosine: 0 → 1 over the epochs after warm-up
    return base_lr * (floor + (1 - floor) * (1 + math.cos(math.pi * progress)) / 2)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("warmup", [0, 1, 3])
@pytest.mark.parametrize("floor", [0.0, 0.1])
def test_every_epoch_matches_the_reference(schedule, warmup, floor):
    epochs = 8
    for epoch in range(epochs + 3):  # a few epochs past the end: cosine stays at its floor
        got = learning_rate_at(
            epoch,
            base_lr=0.3,
            schedule=schedule,
            decay=0.7,
            epochs=epochs,
            warmup_epochs=warmup,
            min_lr_ratio=floor,
        )
        assert got == pytest.approx(
            reference(epoch, 0.3, schedule, 0.7, epochs, warmup, floor), rel=1e-12
        ), epoch


def test_known_values():
    lr = learning_rate_at
    assert lr(1, base_lr=2.0, schedule="cosine", epochs=5, warmup_epochs=3) == pytest.approx(
        1.0
    )  # 2·2/4
    assert lr(5, base_lr=1.0, schedule="step", decay=0.5, warmup_epochs=2) == 0.125  # 0.5³
    assert lr(5, base_lr=1.0, schedule="cosine", epochs=9, warmup_epochs=1) == pytest.approx(
        0.5
    )  # halfway
    assert lr(15, base_lr=1.0, schedule="cosine", epochs=10) == pytest.approx(
        0.0, abs=1e-15
    )  # past the end
    assert lr(15, base_lr=1.0, schedule="cosine", epochs=10, min_lr_ratio=0.2) == pytest.approx(0.2)
    assert lr(
        3, base_lr=1.0, schedule="cosine", epochs=5, warmup_epochs=1, min_lr_ratio=0.5
    ) == pytest.approx(0.75)


def test_defaults_are_constant_decay_0_95_one_epoch():
    assert learning_rate_at(4, base_lr=0.5) == 0.5
    assert learning_rate_at(2, base_lr=1.0, schedule="step") == pytest.approx(0.95**2)
    # one epoch by default: at epoch 1 the cosine has reached its floor
    assert learning_rate_at(1, base_lr=1.0, schedule="cosine") == pytest.approx(0.0, abs=1e-15)


def test_unknown_schedule_names_the_choices():
    with pytest.raises(
        ValueError,
        match=r"^unknown schedule 'linear'; choose one of constant, step, cosine, plateau$",
    ):
        learning_rate_at(0, base_lr=1.0, schedule="linear")
