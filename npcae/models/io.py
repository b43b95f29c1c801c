"""Saving and loading a model's named parameters as a .npz file, atomically."""
import json
import os
import tempfile

import numpy as np

CONFIG_KEY = "__config__"


class WeightsMismatch(ValueError):
    """The weights in a file do not fit the model they are loaded into."""


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
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_weights(model, path, config=None, extra=None):
    """Write every parameter under its dotted name ("3.W"), plus an optional JSON config."""
    arrays = {name: value for name, value, _ in model.named_parameters()}
    if config is not None:
        arrays[CONFIG_KEY] = np.array(json.dumps(config))
    arrays.update(extra or {})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_config(path):
    """The JSON config stored with the weights, or None."""
    with np.load(path) as data:
        return json.loads(str(data[CONFIG_KEY])) if CONFIG_KEY in data.files else None


def load_weights(model, path):
    """Copy the arrays of a .npz into the model's parameters, in place (optimisers keep theirs).

    Raises WeightsMismatch naming the first difference when the file was written by another
    architecture; the model is left untouched in that case.
    """
    with np.load(path) as data:
        stored = {name: data[name] for name in data.files if not name.startswith("__")}
    expected = {name: value for name, value, _ in model.named_parameters()}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise WeightsMismatch(f"weights in {path} are for a different architecture "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, value in expected.items():
        if stored[name].shape != value.shape:
            raise WeightsMismatch(f"weights in {path} are for a different architecture: {name} is "
                                  f"{stored[name].shape}, the model needs {value.shape}")
    for name, value in expected.items():
        value[...] = stored[name]
