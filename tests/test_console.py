"""The progress bar's ETA: timed after the first step (Numba compiles its kernels there), and
none shown until a few steps after it have been timed. A fake clock, no sleeping."""
import io
import re
from types import SimpleNamespace

import pytest

from npcae.train.callbacks.console import ProgressBar, StepRate


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_rate_waits_for_three_steps_after_the_first_and_ignores_the_first():
    clock = FakeClock()
    rate = StepRate(clock)
    seen = []
    for seconds in (60, 1, 1, 1, 2, 1):                 # a 60 s first step: the kernels compile
        clock.now += seconds
        rate.step()
        seen.append(rate())
    assert seen[:3] == [None, None, None]
    assert seen[3] == pytest.approx(1.0)               # 3 steps in the 3 s after the first
    assert seen[4:] == [pytest.approx(4 / 5), pytest.approx(5 / 6)]
    clock.now += 100                                    # read between steps: the last step's pace
    assert rate() == pytest.approx(5 / 6)


def test_a_longer_warmup_and_a_clock_that_stands_still():
    clock = FakeClock()
    rate = StepRate(clock, warmup=2, timed=1)
    clock.now += 30
    rate.step()
    clock.now += 20
    rate.step()
    assert rate() is None
    clock.now += 0.5
    rate.step()
    assert rate() == pytest.approx(2.0)
    still = StepRate(FakeClock(), timed=1)
    still.step(), still.step()
    assert still() is None                               # no time has passed: no rate
    with pytest.raises(ValueError, match="at least 1"):
        StepRate(clock, warmup=0)


def trainer(epochs, steps, epoch=0, batch=0):
    return SimpleNamespace(loader=SimpleNamespace(steps_per_epoch=steps), epochs=epochs,
                           epoch=epoch, batch=batch, task=SimpleNamespace(headline=("iou",)))


def eta(bar):
    """The bar's "<remaining" field: "?" or "mm:ss"."""
    return re.search(r"<([^,\]]+)", str(bar)).group(1)


@pytest.mark.parametrize("epoch, batch", [(0, 0), (2, 5)], ids=["fresh", "resumed"])
def test_the_bar_shows_no_eta_until_the_rate_is_known_then_the_runs_own(epoch, batch):
    clock = FakeClock()
    progress = ProgressBar(clock=clock, file=io.StringIO())
    run = trainer(epochs=4, steps=25, epoch=epoch, batch=batch)
    progress.on_train_begin(run)
    start = epoch * 25 + batch
    etas = []
    for seconds in (60, 1, 1, 1, 1):
        clock.now += seconds
        progress.on_batch_end(run, {"loss": 0.5})
        etas.append(eta(progress.bar))
    assert etas[:3] == ["?", "?", "?"]
    # 1 step a second after the first, whatever the first took (timed from the start, 5 steps
    # in 64 s would have promised some 20 minutes for the 95 left).
    left = 100 - start
    assert etas[3:] == [f"{(left - 4) // 60:02d}:{(left - 4) % 60:02d}",
                        f"{(left - 5) // 60:02d}:{(left - 5) % 60:02d}"]
    assert "1.00batch/s" in str(progress.bar)
    progress.on_epoch_end(run, {"train_loss": 0.25, "heldout_iou": 0.5})
    assert "train_loss=0.2500, heldout_iou=0.5000" in str(progress.bar)
    progress.on_train_end(run)


def test_one_step_an_epoch_counts_epochs():
    clock = FakeClock()
    progress = ProgressBar(clock=clock, file=io.StringIO())
    run = trainer(epochs=10, steps=1)
    progress.on_train_begin(run)
    for seconds in (90, 5, 5, 5):
        clock.now += seconds
        progress.on_batch_end(run, {"loss": 0.5})
    assert eta(progress.bar) == "00:30" and "s/epoch" in str(progress.bar)
    progress.on_train_end(run)
