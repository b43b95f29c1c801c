"""Saving and loading a model's named parameters and state as a .npz file, atomically."""
import json
import zipfile

import numpy as np

# WeightsMismatch is defined beside the layers' state, which raises it too; it is imported from
# here (npcae.models.io.WeightsMismatch, npcae.models.WeightsMismatch) as it always was.
from ..layers.state import WeightsMismatch, fit, restore  # noqa: F401
from ..errors import InputError
from ..system.files import atomic_write

CONFIG_KEY = "__config__"
# What np.load raises on a file that is not a whole .npz: truncated, empty, another format.
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)
STATE_PREFIX = "state/"      # "state/2.rng": a state entry beside the parameters ("3.W")



class UnreadableWeights(InputError):
    """A weights file or checkpoint that is not a whole .npz npcae wrote."""

def not_npz(path):
    """Why `path` is not a .npz (a zip archive, starting "PK"), or None when it may be one.
    np.load would call a text file "pickled data" and read a .npy as an array: this names what
    the file is not instead. Raises OSError when the file cannot be read at all."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK":
        return None
    return "it is empty" if not head else "not a zip archive"


def save_weights(model, path, config=None, extra=None):
    """Write every parameter under its dotted name ("3.W"), every state entry under
    "state/<dotted name>" ("state/2.rng"), plus an optional JSON config."""
    arrays = {name: value for name, value, _ in model.named_parameters()}
    arrays.update({STATE_PREFIX + name: value for name, value in model.state_arrays().items()})
    if config is not None:
        arrays[CONFIG_KEY] = np.array(json.dumps(config))
    arrays.update(extra or {})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_config(path):
    """The JSON config stored with the weights, or None."""
    with np.load(path) as data:
        return json.loads(str(data[CONFIG_KEY])) if CONFIG_KEY in data.files else None


def load_weights(model, path):
    """Copy the arrays of a .npz into the model's parameters and state, in place (optimisers
    keep theirs), exactly.

    Raises WeightsMismatch naming the first difference when the file was written by another
    architecture; the model is left untouched in that case. A file without state (written
    before layers had any) loads into a model whose state is only random generators, which
    then keep theirs; any other state must match by name and shape.
    """
    with np.load(path) as data:
        stored = {name: data[name] for name in data.files if not name.startswith("__")}
    stored_state = {name[len(STATE_PREFIX):]: stored.pop(name)
                    for name in list(stored) if name.startswith(STATE_PREFIX)}
    load_arrays(model, stored, stored_state, f"weights in {path} are for a different architecture")


def load_arrays(model, stored, stored_state, what):
    """Parameters {name: array} and state {name: array} into the model, in place, after checking
    every name and shape (WeightsMismatch, starting with `what`, and nothing changed)."""
    params = {name: value for name, value, _ in model.named_parameters()}
    values = fit(params, stored, what)
    state = dict(model.named_state())
    old_file = not stored_state and all(isinstance(v, np.random.Generator) for v in state.values())
    if not old_file:
        fit(state, stored_state, what)                   # checked before anything is written
    for name, value in params.items():
        restore(value, values[name])
    if not old_file:
        model.load_state_arrays(stored_state)


def read_checkpoint_arrays(path):
    """(parameters, state) stored in a checkpoint of this version or of npcae 0.1 (whose runs
    cannot be resumed, but whose weights still load), by name, for predict and evaluate."""
    try:
        with np.load(path) as data:
            files = {name: data[name] for name in data.files if name.startswith(("model/", "state/"))}
    except NPZ_ERRORS as error:
        raise UnreadableWeights(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from None
    strip = lambda prefix: {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
    return strip("model/"), strip("state/")
