"""The training loop and its callbacks: mini-batches, a stop between two batches and an exact
resume, layer state through checkpoints, open-ended history, a user's own callback."""
import csv

import numpy as np
import pytest

from npcae.train.callbacks import Callback, History, Validation
from npcae.train.callbacks import Checkpoint
from npcae.train.checkpoint import read_checkpoint, restore_trainer
from npcae.data import Augmenter, BatchLoader, split_frames, synthetic_record
from npcae.train.experiment import assemble
from npcae.layers import Conv2D, Dropout, Sigmoid, Swish
from npcae.models import Sequential
from npcae.optim import Adam
from npcae.tasks import BinaryMask
from npcae.train.trainer import Trainer, TrainingDiverged
from test_state import RunningMean

# 7 training frames in batches of 4 (4 + 3), shuffled, augmented; 3 held out.
MINI_BATCH_RUN = dict(data="synthetic", size=[32, 16], n_train=7, batch_size=4, augment=True,
                      epochs=4, seed=5, val_every=2, checkpoint_every=100, snapshot_every=2,
                      grad_every=1, model_args={"filters": [2, 3, 4]})


class StopAfter(Callback):
    """Request a stop after the n-th batch of the run (counted from the first fit)."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def on_batch_end(self, trainer, logs):
        self.seen += 1
        if self.seen == self.n:
            trainer.request_stop()


def weights(model):
    return {name: value.copy() for name, value, _ in model.named_parameters()}


def assert_same_run(a, b):
    """Same weights, layer state and optimiser state, bit for bit, and the same history."""
    wa, wb = weights(a.model), weights(b.model)
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)
    sa, sb = a.model.state_arrays(), b.model.state_arrays()
    assert sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    for name in oa:
        np.testing.assert_array_equal(oa[name], ob[name], err_msg=name)
    strip = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    assert strip(a.callback(History).rows) == strip(b.callback(History).rows)


@pytest.mark.parametrize("stop_after", [1, 2, 5])        # mid-epoch, at an epoch's end, mid-epoch
def test_a_mini_batch_run_stopped_between_batches_resumes_bit_for_bit(tmp_path, stop_after):
    straight = assemble(MINI_BATCH_RUN, tmp_path / "a", progress=False, log=lambda *_: None)
    assert straight.trainer.loader.steps_per_epoch == 2
    assert straight.trainer.fit() == "finished"

    out = tmp_path / "b"
    first = assemble(MINI_BATCH_RUN, out, progress=False, log=lambda *_: None)
    first.trainer.callbacks.insert(0, StopAfter(stop_after))
    assert first.trainer.fit() == "stopped"
    assert not (out / "weights.npz").exists()
    state = read_checkpoint(out / "checkpoint.npz")
    assert (state["epoch"], state["trainer"]["batch"]) == divmod(stop_after, 2)

    resumed = assemble(state["run"], out, progress=False, log=lambda *_: None)
    restore_trainer(state, resumed.trainer)
    assert resumed.trainer.fit() == "finished"
    assert_same_run(straight.trainer, resumed.trainer)
    with np.load(tmp_path / "a" / "weights.npz") as a, np.load(out / "weights.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert (tmp_path / "a" / "gradient_norms.csv").read_text() == (out / "gradient_norms.csv").read_text()


def test_mini_batches_shuffle_each_epoch_and_cover_every_frame(tmp_path):
    exp = assemble(MINI_BATCH_RUN, tmp_path, progress=False)
    loader = exp.trainer.loader
    orders = [loader.order(epoch) for epoch in range(3)]
    assert all(sorted(order) == list(range(7)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3


def stateful_trainer(out, records, epochs, stop_after=None):
    """Conv, a layer with state (a running mean), dropout, a 1x1 conv and a sigmoid, trained by
    the bare Trainer with a Checkpoint; batches of 2 of 3 training frames."""
    rng = np.random.default_rng(0)
    model = Sequential(Conv2D(3, 2, 3, rng=rng), Swish(), RunningMean(2), Dropout(0.3, rng=1),
                       Conv2D(2, 1, 1, rng=rng), Sigmoid())
    model.config = {"builder": "test-only", "args": {}, "input_size": None}
    train, heldout = records
    loader = BatchLoader(train, 2, seed=0, augmenter=Augmenter(seed=0))
    callbacks = [Validation(heldout, period=1), History(out), Checkpoint(out, period=1)]
    if stop_after:
        callbacks.insert(0, StopAfter(stop_after))
    return Trainer(model, BinaryMask(), Adam(model.named_parameters(), lr=1e-2), loader,
                   epochs=epochs, callbacks=callbacks, log=lambda *_: None)


def test_layer_state_goes_through_checkpoint_and_resume(tmp_path):
    records = split_frames(synthetic_record(n_frames=5, size=(16, 8)), n_train=3)
    straight = stateful_trainer(tmp_path / "a", records, epochs=3)
    straight.fit()
    steps = int(straight.model.layers[2].state["steps"])
    assert steps == 3 * 2                                  # 3 epochs of 2 batches
    assert np.abs(straight.model.layers[2].state["mean"]).max() > 0

    stopped = stateful_trainer(tmp_path / "b", records, epochs=3, stop_after=3)
    assert stopped.fit() == "stopped"
    state = read_checkpoint(tmp_path / "b" / "checkpoint.npz")
    assert int(state["state"]["2.steps"]) == 3 and "3.rng" in state["state"]
    resumed = stateful_trainer(tmp_path / "b", records, epochs=3)
    restore_trainer(state, resumed)
    np.testing.assert_array_equal(resumed.model.layers[2].state["mean"], state["state"]["2.mean"])
    resumed.fit()
    assert_same_run(straight, resumed)


def test_history_keeps_every_metric_a_callback_adds(tmp_path):
    class Extra(Callback):
        def on_epoch_end(self, trainer, logs):
            if trainer.epoch == 2:
                logs["my_metric"] = 0.5

    exp = assemble(dict(MINI_BATCH_RUN, augment=False, epochs=2, grad_every=0), tmp_path,
                   progress=False)
    exp.trainer.callbacks.insert(3, Extra())             # before History
    exp.trainer.fit()
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["my_metric"] == "" and rows[1]["my_metric"] == "0.5"
    assert list(rows[0])[-1] == "seconds" and "heldout_iou" in rows[0] and "train_iou" in rows[0]


def test_a_diverging_loss_fails_and_keeps_the_last_checkpoint(tmp_path):
    records = split_frames(synthetic_record(n_frames=5, size=(16, 8)), n_train=3)
    trainer = stateful_trainer(tmp_path, records, epochs=5)
    trainer.fit()
    before = read_checkpoint(tmp_path / "checkpoint.npz")
    trainer.epochs = 6

    class Poison(Callback):
        def on_batch_begin(self, trainer):
            trainer.model.layers[0].params["W"][...] = np.nan

    trainer.callbacks.insert(0, Poison())
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 6"):
        trainer.fit()
    assert trainer.status == "failed"
    assert read_checkpoint(tmp_path / "checkpoint.npz")["epoch"] == before["epoch"] == 5


def test_callbacks_must_be_callbacks(tmp_path):
    exp = assemble(MINI_BATCH_RUN, tmp_path, progress=False)
    t = exp.trainer
    with pytest.raises(TypeError, match="Callback instances"):
        Trainer(t.model, t.task, t.optimizer, t.loader, epochs=1, callbacks=[print])


def test_a_second_ctrl_c_waits_for_the_final_checkpoint(tmp_path):
    from npcae.train.callbacks import StopOnInterrupt
    exp = assemble(MINI_BATCH_RUN, tmp_path, progress=False, log=lambda *_: None)
    trainer, handler = exp.trainer, StopOnInterrupt()
    trainer.status = "running"
    handler._interrupt(trainer)                              # the first: stop after this batch
    assert trainer.stop_requested
    with pytest.raises(KeyboardInterrupt):                   # the second, mid-training: now
        handler._interrupt(trainer)
    trainer.status = "stopped"                               # fit() ending, checkpoint under way
    handler._interrupt(trainer)                              # waits: no KeyboardInterrupt
