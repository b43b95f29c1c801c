"""Validation every N epochs, and snapshots of the predictions on a few training frames."""
import numpy as np

from ...data.frames import check_same_names
from ..options import DEFAULTS
from ..evaluation import evaluate, outputs
from .base import Callback, every


class Validation(Callback):
    """Every `period` epochs and at the last: the held-out frames' loss and metrics
    ("heldout_loss", "heldout_iou", ...), and with `train` the training frames' metrics in
    inference mode ("train_eval_...") and both pooled ("all_..."), added to the epoch's logs.
    """

    name = "validation"

    def __init__(self, heldout, train=None, *, period=DEFAULTS["val_every"],
                 batch_size=DEFAULTS["eval_batch"]):
        self.heldout, self.train = heldout, train
        self.period, self.batch_size = int(period), int(batch_size)
        self.last_tallies = {}       # {"heldout": (epoch, Tally)}: the last pass's, for figures

    def state_dict(self):
        """The held-out frames' names: a resumed run checks that it validates on the same."""
        return {"heldout": list(self.heldout.names)}

    def load_state_dict(self, state):
        check_same_names(state["heldout"], self.heldout.names, "held-out")

    def on_epoch_end(self, trainer, logs):
        if every(trainer.epoch, self.period, trainer.epochs):
            logs.update(self.evaluate(trainer.eval_model, trainer.task, epoch=trainer.epoch))

    def evaluate(self, model, task, per_image=False, epoch=None):
        """The row of figures; with per_image, also {"heldout_per_image": {name: metrics}, ...}."""
        # Per-image figures only when asked (the final report), not at every validation.
        loss, held, *held_images = evaluate(model, task, self.heldout, self.batch_size, per_image)
        self.last_tallies = {"heldout": (epoch, held)}
        row = {"heldout_loss": loss, **prefixed("heldout", held.result())}
        images = {"heldout_per_image": held_images[0]} if per_image else {}
        if self.train is not None:
            _, train, *train_images = evaluate(model, task, self.train, self.batch_size, per_image)
            row.update(prefixed("train_eval", train.result()))
            row.update(prefixed("all", (train + held).result()))
            images.update({"train_per_image": train_images[0]} if per_image else {})
        return (row, images) if per_image else row


def prefixed(prefix, metrics):
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


class Snapshots(Callback):
    """The task's picture of the outputs on the first `count` training frames, before training
    and every `period` epochs (and at the last): the evolution figure of the original work."""

    name = "snapshots"

    def __init__(self, frames, *, period=DEFAULTS["snapshot_every"], count=6,
                 batch_size=DEFAULTS["eval_batch"]):
        self.frames, self.period, self.count, self.batch_size = frames, int(period), count, batch_size
        self.pictures = {}           # epoch -> uint8 array (count, H, W[, 3])

    def on_train_begin(self, trainer):
        if self.period and trainer.epoch == 0 and trainer.batch == 0 and 0 not in self.pictures:
            self.take(trainer, 0)

    def on_epoch_end(self, trainer, logs):
        if every(trainer.epoch, self.period, trainer.epochs):
            self.take(trainer, trainer.epoch)

    def take(self, trainer, epoch):
        shots = [trainer.task.snapshot(out) for *_, out in
                 outputs(trainer.eval_model, self.frames, self.batch_size, limit=self.count)]
        self.pictures[epoch] = np.concatenate(shots)

    def state_dict(self):
        return {f"epoch_{epoch:05d}": picture for epoch, picture in self.pictures.items()}

    def load_state_dict(self, state):
        self.pictures = {int(key.split("_")[1]): np.asarray(value) for key, value in state.items()}
