"""Saving and loading a model's named parameters and state as a .npz file, atomically."""
import json
import os
import tempfile
import zipfile

import numpy as np

# WeightsMismatch is defined beside the layers' state, which raises it too; it is imported from
# here (npcae.models.io.WeightsMismatch, npcae.models.WeightsMismatch) as it always was.
from ..layers.state import WeightsMismatch, fit, restore  # noqa: F401

CONFIG_KEY = "__config__"
# What np.load raises on a file that is not a whole .npz: truncated, empty, another format.
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)
STATE_PREFIX = "state/"      # "state/2.rng": a state entry beside the parameters ("3.W")


def not_npz(path):
    """Why `path` is not a .npz (a zip archive, starting "PK"), or None when it may be one.
    np.load would call a text file "pickled data" and read a .npy as an array: this names what
    the file is not instead. Raises OSError when the file cannot be read at all."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK":
        return None
    return "it is empty" if not head else "not a zip archive"


def _umask():
    mask = os.umask(0)          # the only way to read it is to set it
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(file_object) on a temporary file beside `path`, then rename it into place.

    A crash or Ctrl-C leaves either the old file or the new one, never half of one. The file
    gets the permissions open() would have given it (mkstemp makes it private, 0600).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.filename is None:    # a failed write() names no file
            raise OSError(error.errno, error.strerror, path) from error
        raise


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
