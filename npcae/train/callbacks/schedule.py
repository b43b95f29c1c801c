"""The learning rate over a run: constant (the original CAE's Adam 5e-4) or a cosine decay.

    cosine:  lr(e) = lr * (floor + (1 - floor) * (1 + cos(pi * e / epochs)) / 2),  e = 0 .. epochs-1

Epoch e (0-based) trains at lr(e): the first at the full rate, the last close to lr * floor.
A short run on a small set ends where its held-out figures are noisiest under a constant rate
(on human-seg-290 the held-out IoU of neighbouring validations differed by up to 0.05); a rate
that falls to near zero lets the last epochs settle instead (Loshchilov and Hutter, SGDR, 2017).

The rate is a function of the epoch alone, so the schedule has no state of its own: a resumed
run sets the rate at the start of its next epoch, and mid-epoch the optimiser's saved `lr` holds
it. A resume that raises --epochs stretches the rest of the decay over the new length.
"""
from ...optim import SCHEDULES, scheduled_lr  # noqa: F401 (SCHEDULES: re-exported)
from .base import Callback

class LearningRateSchedule(Callback):
    """Sets optimizer.lr before each epoch and writes it into the epoch's logs ("lr")."""

    def __init__(self, kind, lr):
        scheduled_lr(kind, lr, 0, 1)            # an unknown kind fails here, not at epoch 1
        self.kind, self.lr = kind, float(lr)

    def on_epoch_begin(self, trainer):
        trainer.optimizer.lr = scheduled_lr(self.kind, self.lr, trainer.epoch, trainer.epochs)

    def on_epoch_end(self, trainer, logs):
        logs["lr"] = trainer.optimizer.lr
