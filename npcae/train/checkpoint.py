"""A run's whole state in one .npz, so that a resumed run ends bit for bit where an uninterrupted
one would: weights, layer state (dropout generators, moving averages), optimiser slots, the
trainer's position (epoch and batch), the data loader's random state and every callback's state.

    save_checkpoint(path, trainer, run)             # the Checkpoint callback calls this
    state = read_checkpoint(path);  restore_trainer(state, trainer)

Keys: "model/<param>", "state/<layer state>", "optim/<slot>/<param>", "optim/iterations",
"optim/lr", "callback/<name>/<key>" for a callback's arrays, and JSON strings "__config__" (how to
rebuild the model), "__run__" (the settings the run was started with), "__trainer__",
"__loader__", "__callbacks__" (the rest of every callback's state) and "__epoch__".
"""
import json

import numpy as np

from ..errors import InputError
from ..models.io import CONFIG_KEY, NPZ_ERRORS, load_arrays, not_npz
from ..system.files import atomic_write

CHECKPOINT = "checkpoint.npz"
FORMAT = 2


class CheckpointError(InputError):
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


def restore_trainer(state, trainer):
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
