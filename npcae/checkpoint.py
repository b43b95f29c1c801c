"""A run's whole state in one .npz, so that a resumed run ends bit-for-bit where an
uninterrupted one would: weights, optimiser slots, every random generator, epoch, history.

Keys: "model/<param>", "optim/<slot>/<param>", "optim/iterations", "optim/lr", and JSON
strings "__config__" (how to rebuild the model), "__run__" (the training settings),
"__rng__" (bit-generator states), "__history__" (list of per-epoch rows), "__epoch__".
"""
import json

import numpy as np

from .layers.dropout import Dropout
from .models.io import CONFIG_KEY, WeightsMismatch, atomic_write

CHECKPOINT = "checkpoint.npz"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the run."""


def dropout_states(model):
    return [d.rng.bit_generator.state for d in model.walk() if isinstance(d, Dropout)]


def set_dropout_states(model, states):
    dropouts = [d for d in model.walk() if isinstance(d, Dropout)]
    if len(dropouts) != len(states):
        raise CheckpointError(f"checkpoint has {len(states)} dropout states, the model {len(dropouts)}")
    for layer, state in zip(dropouts, states):
        layer.rng.bit_generator.state = state


def _json(value):
    return np.array(json.dumps(value))


def save_checkpoint(path, model, optimizer, epoch, history, run, augment_state=None):
    arrays = {f"model/{name}": value for name, value, _ in model.named_parameters()}
    arrays.update({f"optim/{key}": value for key, value in optimizer.state_dict().items()})
    arrays[CONFIG_KEY] = _json(model.config)
    arrays["__run__"] = _json(run)
    arrays["__rng__"] = _json({"dropout": dropout_states(model), "augment": augment_state})
    arrays["__history__"] = _json(history)
    arrays["__epoch__"] = np.array(epoch)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_checkpoint(path):
    """The checkpoint as a dict: model, optim (arrays by name), config, run, rng, history, epoch."""
    try:
        with np.load(path) as data:
            files = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    if "__run__" not in files:
        raise CheckpointError(f"{path} is not a training checkpoint (no run state in it)")
    strip = lambda prefix: {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
    return {"model": strip("model/"), "optim": strip("optim/"),
            "config": json.loads(str(files[CONFIG_KEY])), "run": json.loads(str(files["__run__"])),
            "rng": json.loads(str(files["__rng__"])), "history": json.loads(str(files["__history__"])),
            "epoch": int(files["__epoch__"])}


def restore(state, model, optimizer):
    """Put a read checkpoint back into a freshly built model and optimiser."""
    params = {name: value for name, value, _ in model.named_parameters()}
    if set(params) != set(state["model"]):
        raise WeightsMismatch("checkpoint weights are for a different architecture")
    for name, value in params.items():
        if value.shape != state["model"][name].shape:
            raise WeightsMismatch(f"checkpoint weights are for a different architecture ({name})")
        value[...] = state["model"][name]
    optimizer.load_state_dict(state["optim"])
    set_dropout_states(model, state["rng"]["dropout"])
