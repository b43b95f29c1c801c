"""The learning-rate schedule: its values, the rate each epoch trains at (in history.csv), an
exact resume across the decay, and a bad name refused in one line."""
import math

import pytest

from npcae.train.callbacks import Callback, scheduled_lr
from npcae.train.checkpoint import read_checkpoint, restore_trainer
from npcae.train.experiment import SettingsError, assemble, settings
from test_training import MINI_BATCH_RUN, StopAfter, assert_same_run

QUIET = dict(progress=False, log=lambda *_: None)


def test_cosine_starts_at_the_rate_and_falls_to_one_percent_of_it():
    rates = [scheduled_lr("cosine", 2e-3, e, 10) for e in range(10)]
    assert rates[0] == 2e-3
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert rates[5] == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5))         # half way: cos(pi/2) = 0
    assert rates[-1] == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5 * (1 + math.cos(0.9 * math.pi))))
    assert scheduled_lr("cosine", 2e-3, 10, 10) == pytest.approx(2e-5)    # past the end: the floor
    assert [scheduled_lr("constant", 5e-4, e, 10) for e in (0, 9)] == [5e-4, 5e-4]


def test_each_epoch_trains_at_its_scheduled_rate_and_history_records_it(tmp_path):
    run = {**MINI_BATCH_RUN, "lr_schedule": "cosine", "lr": 1e-3}
    seen = []

    class Spy(Callback):                      # the rate the optimiser holds during each batch
        def on_batch_end(self, trainer, logs):
            seen.append((trainer.epoch, trainer.optimizer.lr))

    exp = assemble(run, tmp_path, **QUIET)
    exp.trainer.callbacks.append(Spy())
    assert exp.trainer.fit() == "finished"
    expected = [scheduled_lr("cosine", 1e-3, e, run["epochs"]) for e in range(run["epochs"])]
    assert sorted(set(seen)) == list(enumerate(expected))
    history = (tmp_path / "history.csv").read_text().splitlines()
    lrs = [float(line.split(",")[history[0].split(",").index("lr")]) for line in history[1:]]
    assert lrs == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("stop_after", [3, 4])             # mid-epoch 2, at the end of epoch 2
def test_a_cosine_run_stopped_and_resumed_is_bit_for_bit_the_straight_one(tmp_path, stop_after):
    run = {**MINI_BATCH_RUN, "lr_schedule": "cosine", "lr": 1e-3}
    straight = assemble(run, tmp_path / "a", **QUIET)
    assert straight.trainer.fit() == "finished"
    first = assemble(run, tmp_path / "b", **QUIET)
    first.trainer.callbacks.insert(0, StopAfter(stop_after))
    assert first.trainer.fit() == "stopped"
    state = read_checkpoint(tmp_path / "b" / "checkpoint.npz")
    resumed = assemble(state["run"], tmp_path / "b", **QUIET)
    restore_trainer(state, resumed.trainer)
    assert resumed.trainer.fit() == "finished"
    assert_same_run(straight.trainer, resumed.trainer)


def test_an_unknown_schedule_is_one_line(capsys):
    from npcae.cli import main
    with pytest.raises(SettingsError, match="lr_schedule must be one of constant, cosine, warmup-cosine, got 'step'"):
        settings({"lr_schedule": "step"})
    assert settings({"model": "unet"})["lr_schedule"] == "cosine"
    assert settings({})["lr_schedule"] == "constant"                      # the original CAE's
    assert main(["train", "--lr-schedule", "step"]) == 2
    assert "invalid choice: 'step'" in capsys.readouterr().err


def test_warmup_cosine_rises_over_the_first_twentieth_then_is_the_cosine_of_the_rest():
    from npcae.optim import scheduled_lr
    rates = [scheduled_lr("warmup-cosine", 1e-3, epoch, 100) for epoch in range(100)]
    assert rates[:5] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert rates[5:] == pytest.approx([scheduled_lr("cosine", 1e-3, e, 95) for e in range(95)])
    assert scheduled_lr("warmup-cosine", 1e-3, 0, 3) == pytest.approx(1e-3)   # one warm-up epoch
