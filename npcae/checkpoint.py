"""A run's whole state in one .npz, so that a resumed run ends bit for bit where an uninterrupted
one would: weights, layer state (dropout generators, moving averages), optimiser slots, the
trainer's position (epoch and batch), the data loader's random state and every callback's state.

    Checkpoint(out_dir, every=50, run=settings)     # a callback: saves every 50 epochs and at
                                                    # the end (weights.npz too when finished)
    state = read_checkpoint(path);  restore(state, trainer)

Keys: "model/<param>", "state/<layer state>", "optim/<slot>/<param>", "optim/iterations",
"optim/lr", "callback/<name>/<key>" for a callback's arrays, and JSON strings "__config__" (how to
rebuild the model), "__run__" (the settings the run was started with), "__trainer__",
"__loader__", "__callbacks__" (the rest of every callback's state) and "__epoch__".
"""
import json
import os

import numpy as np

from .callbacks import Callback
from .defaults import DEFAULTS
from .models.io import CONFIG_KEY, NPZ_ERRORS, atomic_write, load_arrays, not_npz
from .reserve import DiskReserve

CHECKPOINT = "checkpoint.npz"
FORMAT = 2


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the run."""


def _json(value):
    return np.array(json.dumps(value))


def save_checkpoint(path, trainer, run):
    model = trainer.model
    arrays = {f"model/{name}": value for name, value, _ in model.named_parameters()}
    arrays.update({f"state/{name}": value for name, value in model.state_arrays().items()})
    arrays.update({f"optim/{key}": value for key, value in trainer.optimizer.state_dict().items()})
    callbacks = {}
    for callback in trainer.callbacks:
        state = callback.state_dict()
        if callback.name is None:
            if state:
                raise TypeError(f"{type(callback).__name__} has state but no name to save it under")
            continue
        arrays.update({f"callback/{callback.name}/{k}": v for k, v in state.items()
                       if isinstance(v, np.ndarray)})
        callbacks[callback.name] = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    arrays[CONFIG_KEY] = _json(model.config)
    arrays["__run__"] = _json(run)
    arrays["__trainer__"] = _json({"format": FORMAT, **trainer.state_dict()})
    arrays["__loader__"] = _json(trainer.loader.state_dict())
    arrays["__callbacks__"] = _json(callbacks)
    arrays["__epoch__"] = np.array(trainer.epoch)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_checkpoint(path):
    """The checkpoint as a dict: model, state, optim, callbacks (arrays and JSON merged by
    callback name), config, run, trainer, loader, epoch."""
    try:
        what = not_npz(path)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    if what:
        raise CheckpointError(f"{path} is not a checkpoint ({what}); resume the folder of an npcae run")
    try:
        with np.load(path) as data:
            files = {name: data[name] for name in data.files}
    except NPZ_ERRORS as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from None
    if "__run__" not in files:
        raise CheckpointError(f"{path} is not a training checkpoint (no run state in it)")
    if "__trainer__" not in files:
        raise CheckpointError(f"{path} was written by npcae 0.1, whose runs this version cannot "
                              "resume; its weights still load with npcae predict and evaluate")
    strip = lambda prefix: {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
    load = lambda key: json.loads(str(files[key]))
    try:
        callbacks = load("__callbacks__")
        for key, value in strip("callback/").items():
            name, field = key.split("/", 1)
            callbacks.setdefault(name, {})[field] = value
        if load("__trainer__").get("format") != FORMAT:
            raise CheckpointError(f"{path} has checkpoint format {load('__trainer__').get('format')}, "
                                  f"this npcae reads format {FORMAT}")
        return {"model": strip("model/"), "state": strip("state/"), "optim": strip("optim/"),
                "callbacks": callbacks, "config": load(CONFIG_KEY), "run": load("__run__"),
                "trainer": load("__trainer__"), "loader": load("__loader__"),
                "epoch": int(files["__epoch__"])}
    except (KeyError, ValueError) as error:      # JSONDecodeError is a ValueError
        raise CheckpointError(f"checkpoint {path} is damaged: {type(error).__name__} {error}") from None


def restore(state, trainer):
    """Put a read checkpoint back into a freshly assembled trainer (model, optimiser, loader,
    callbacks), in place: the optimiser keeps its references to the parameters."""
    load_arrays(trainer.model, state["model"], state["state"],
                "checkpoint weights are for a different architecture")
    trainer.optimizer.load_state_dict(state["optim"])
    trainer.load_state_dict(state["trainer"])
    trainer.loader.load_state_dict(state["loader"])
    for callback in trainer.callbacks:
        if callback.name is not None and callback.name in state["callbacks"]:
            callback.load_state_dict(state["callbacks"][callback.name])


def read_model_arrays(path):
    """(parameters, state) stored in a checkpoint of this version or of npcae 0.1 (whose runs
    cannot be resumed, but whose weights still load), by name, for predict and evaluate."""
    try:
        with np.load(path) as data:
            files = {name: data[name] for name in data.files if name.startswith(("model/", "state/"))}
    except NPZ_ERRORS as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from None
    strip = lambda prefix: {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
    return strip("model/"), strip("state/")


class Checkpoint(Callback):
    """checkpoint.npz every `period` epochs (0: only at the end) and whenever fit() ends, unless
    it failed inside a training step (a diverged loss keeps the last good checkpoint): a stop
    request, a full disk or a broken data file saves the position, mid-epoch if need be.
    weights.npz when the run is finished.
    `run`: the settings to store, so that `npcae train --resume` can assemble the run again.
    It runs after the other callbacks (order 1), so it saves the state they have just updated.

    While the run lasts, a reserve file the size of a checkpoint keeps room for the next one
    (npcae/reserve.py): a disk that fills up costs no epochs, only the reserve.
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
            trainer.model.save(os.path.join(self.out_dir, "weights.npz"))
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
