"""The callback contract: what the training loop calls, and what a checkpoint keeps.

    on_train_begin(trainer)           before the first batch of fit() (also of a resumed fit)
    on_epoch_begin(trainer)           before an epoch's first batch
    on_batch_begin(trainer)           before each batch
    on_batch_end(trainer, logs)       after each batch; logs = {"loss", "size"}
    on_epoch_end(trainer, logs)       after an epoch; logs = {"epoch", "train_loss", ...}: a
                                      callback may add entries, which later callbacks see
    on_train_end(trainer)             always, last; trainer.status tells how fit() ended:
                                      "finished", "stopped" (a stop request) or "failed"
    state_dict() / load_state_dict()  what the callback remembers across epochs; the checkpoint
                                      stores it under the callback's `name` (ndarrays as arrays,
                                      everything else as JSON), so resume needs no special case

Callbacks run in the order of their `order` (0 by default), then of the list: so one that adds
to the epoch's logs (Validation) goes before one that records them (History), and the
Checkpoint (order 1) runs after every callback whose state it saves, wherever it is in the
list. Every hook does nothing by default.
"""


class Callback:
    name = None              # the key of this callback's state in a checkpoint (needed if any)
    order = 0                # callbacks run by order, then by their place in the list

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer):
        pass

    def on_batch_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, logs):
        pass

    def on_epoch_end(self, trainer, logs):
        pass

    def on_train_end(self, trainer):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def every(epoch, period, last):
    """Whether `epoch` (1-based) is a multiple of `period` or the last one (period 0: never)."""
    return bool(period) and (epoch % period == 0 or epoch == last)
