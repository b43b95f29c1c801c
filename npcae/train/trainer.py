"""The training loop: given a model, a task, an optimiser and batches, train for some epochs.

    trainer = Trainer(model, task, Adam(model.named_parameters()), loader, epochs=500,
                      callbacks=[Validation(heldout), History(out), Checkpoint(out, run=run)])
    trainer.fit()

The loop does forward, loss, backward and step, one batch at a time; everything else
(validation, logs, checkpoints, progress, Ctrl-C) is a callback (npcae/train/callbacks). The trainer's
position (epochs done, batches done of the current epoch, the epoch's running loss and metric
sums) is its own state, so a run stopped between two batches resumes at the next one.
`npcae.train.experiment` assembles all of this from a run's settings, as `npcae train` does.
"""
import math

from ..errors import InputError, NpcaeError
from ..losses import NonFinitePrediction
from ..models.containers import no_input_gradient
from .callbacks import Callback
from .evaluation import weighted_mean


class TrainingDiverged(NpcaeError, RuntimeError):
    """The loss stopped being a finite number."""
    exit_status = 3


class NothingToLearn(InputError):
    """An epoch whose training masks held no pixel to learn from (all ignored)."""


class Trainer:
    def __init__(self, model, task, optimizer, loader, *, epochs, callbacks=(), log=print):
        self.model, self.task, self.optimizer, self.loader = model, task, optimizer, loader
        self.epochs, self.log = int(epochs), log
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {callback!r}")
        self.callbacks = sorted(callbacks, key=lambda callback: callback.order)   # stable
        names = [c.name for c in self.callbacks if c.name is not None]
        if len(names) != len(set(names)):
            raise ValueError(f"two callbacks share a name (their states would mix): {names}")
        self.epoch = 0                 # epochs completed
        self.batch = 0                 # batches completed of the epoch under way
        self.stop_requested = False
        self.status = "new"            # then "running", and "finished", "stopped" or "failed"
        self.failure = None            # the exception that ended fit() with "failed"
        self.updating = False          # inside train_step: the weights may be half updated
        self.averaged = None           # WeightAverage's model (--ema), else None
        self._reset_epoch_sums()

    # -- the loop ------------------------------------------------------------------------------
    def fit(self):
        """Train until `epochs` epochs are done or a stop is requested; returns the status."""
        self.status, self.stop_requested, self.failure, self.updating = "running", False, None, False
        try:
            self._call("on_train_begin")
            while self.epoch < self.epochs and not self.stop_requested:
                self._run_epoch()
            self.status = "finished" if self.epoch >= self.epochs else "stopped"
        except BaseException as error:
            self.status, self.failure = "failed", error
            self._end()
            raise
        self._end()
        return self.status

    def _run_epoch(self):
        if self.batch == 0:
            self._call("on_epoch_begin")
        for x, y in self.loader.batches(self.epoch, start=self.batch):
            self._call("on_batch_begin")
            logs = self.train_step(x, y)
            self.batch += 1
            self._call("on_batch_end", logs)
            if self.stop_requested and self.batch < self.loader.steps_per_epoch:
                return                 # mid-epoch; a stop after the last batch ends the epoch
        if self._tally.counted() == 0:
            raise NothingToLearn(f"no target pixel counted in epoch {self.epoch + 1}: every pixel "
                                 "of every training mask is ignored (void, or a colour far from "
                                 "every palette colour); npcae inspect shows what the masks hold")
        logs = {"epoch": self.epoch + 1, **self._epoch_results()}
        self.epoch, self.batch = self.epoch + 1, 0
        self._reset_epoch_sums()
        self._call("on_epoch_end", logs)

    def train_step(self, x, y):
        """One batch: forward, loss, backward, optimiser step; returns the batch's logs."""
        self.updating = True
        output = self.model.forward(x, training=True)
        where = f", batch {self.batch + 1}" if self.loader.steps_per_epoch > 1 else ""
        try:                 # the model's input was finite: a NaN out of it is a diverged model
            loss = self.task.loss.forward(output, y)
        except NonFinitePrediction as error:
            raise TrainingDiverged(f"loss became {error.value} at epoch {self.epoch + 1}{where} "
                                   f"({error})") from None
        if not math.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss} at epoch {self.epoch + 1}{where}")
        with no_input_gradient(self.model):        # nothing reads dL/d(images)
            self.model.backward(self.task.loss.backward())
        self.optimizer.step()
        self.updating = False
        self._batch_losses.append([loss, len(x)])
        self._tally.update(output, y)
        return {"loss": loss, "size": len(x)}

    @property
    def eval_model(self):
        """The model validated, pictured and saved as weights.npz: the weight average under
        --ema (callbacks/averaging.py), else the model being trained."""
        return self.model if self.averaged is None else self.averaged

    def position_intact(self):
        """Whether the state of a failed fit() is one the run passed through, and so worth
        saving: True unless the failure came inside a training step (a diverged loss, a bug in
        a layer, a second Ctrl-C) and the weights may be half updated."""
        return self.status != "failed" or (isinstance(self.failure, Exception) and not self.updating)

    def request_stop(self):
        """Stop after the batch under way (a checkpoint callback then saves the position)."""
        self.stop_requested = True

    # -- the epoch's sums ------------------------------------------------------------------------
    def _reset_epoch_sums(self):
        self._batch_losses, self._tally = [], self.task.tally()

    def _epoch_results(self):
        """train_loss (the mean over frames) and the task's metrics of this epoch's batches,
        computed on the batches as trained (dropout on), as Keras reports them."""
        return {"train_loss": weighted_mean(self._batch_losses),
                **{f"train_{k}": v for k, v in self._tally.result().items()}}

    def state_dict(self):
        return {"epoch": self.epoch, "batch": self.batch, "batch_losses": self._batch_losses, "tally": self._tally.state_dict()}

    def load_state_dict(self, state):
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
        self._batch_losses = [list(pair) for pair in state["batch_losses"]]
        self._tally.load_state_dict(state["tally"])

    def callback(self, kind):
        """The first callback of class `kind` (or None)."""
        return next((c for c in self.callbacks if isinstance(c, kind)), None)

    def _call(self, hook, *args):
        """Call `hook` of every callback; if one raises, the others still run (History still
        records the epoch whose gradient norms could not be written) and the first error is
        raised after them, so the state a checkpoint then saves is the whole epoch's."""
        errors = []
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(self, *args)
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def _end(self):
        """on_train_end for every callback even if one raises (the SIGINT handler must come
        off, the bar must close); the first error is raised after, unless fit() already failed."""
        errors = []
        for callback in self.callbacks:
            try:
                callback.on_train_end(self)
            except Exception as error:
                errors.append(error)
        if errors and self.status != "failed":
            self.status, self.failure = "failed", errors[0]
            raise errors[0]


