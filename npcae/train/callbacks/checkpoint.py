"""The callback that saves a run: checkpoint.npz as it goes, weights.npz when it finishes."""
import os

from ...system.reserve import DiskReserve
from ..checkpoint import CHECKPOINT, read_checkpoint, save_checkpoint
from ..options import DEFAULTS
from .base import Callback


class Checkpoint(Callback):
    """checkpoint.npz every `period` epochs (0: only at the end) and whenever fit() ends, unless
    it failed inside a training step (a diverged loss keeps the last good checkpoint): a stop
    request, a full disk or a broken data file saves the position, mid-epoch if need be.
    weights.npz when the run is finished.
    `run`: the settings to store, so that `npcae train --resume` can assemble the run again.
    It runs after the other callbacks (order 1), so it saves the state they have just updated.

    While the run lasts, a reserve file the size of a checkpoint keeps room for the next one
    (npcae/system/reserve.py): a disk that fills up costs no epochs, only the reserve.
    """

    order = 1
    RESERVE = ".checkpoint.npz.reserve"

    def __init__(self, out_dir, *, period=DEFAULTS["checkpoint_every"], run=None):
        self.out_dir, self.period, self.run = os.fspath(out_dir), int(period), run or {}
        self.path = os.path.join(self.out_dir, CHECKPOINT)
        self.reserve = DiskReserve(os.path.join(self.out_dir, self.RESERVE))

    def on_train_begin(self, trainer):
        os.makedirs(self.out_dir, exist_ok=True)
        self.reserve.hold(self._expected_size(trainer))

    def on_epoch_end(self, trainer, logs):
        if self.period and trainer.epoch % self.period == 0:
            self.save(trainer)

    def on_train_end(self, trainer):
        if not trainer.position_intact():
            self.reserve.drop()
            return                                  # keep the last good checkpoint
        try:
            self.save(trainer)
        finally:
            self.reserve.drop()
        if trainer.status == "finished":
            trainer.eval_model.save(os.path.join(self.out_dir, "weights.npz"))
        else:
            where = f"epoch {trainer.epoch}" + (f", batch {trainer.batch}" if trainer.batch else "")
            trainer.log(f"stopped at {where}; resume with: npcae train --resume {self.out_dir}")

    def save(self, trainer):
        self.reserve.write_with(lambda: save_checkpoint(self.path, trainer, self.run))
        if trainer.status == "running":
            self.reserve.hold(self._expected_size(trainer))

    def _expected_size(self, trainer):
        """Room for the next checkpoint: the last one's size, or before any, the parameters with
        Adam's two slots and the state; and 10% + 1 MB for the history that grows in it."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            model = trainer.model
            size = (3 * sum(p.nbytes for _, p, _ in model.named_parameters())
                    + sum(v.nbytes for v in model.state_arrays().values()))
        return int(size * 1.1) + 2 ** 20

    def last_good(self):
        """A sentence naming the last checkpoint on disk and its position, for error messages."""
        if os.path.exists(self.path):
            state = read_checkpoint(self.path)
            batch = state["trainer"]["batch"]
            where = f"epoch {state['epoch']}" + (f", batch {batch}" if batch else "")
            return f"The last good checkpoint is {self.path} ({where})."
        return "No checkpoint had been written yet."
