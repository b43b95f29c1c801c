"""A trained model on new images: load it from its files, and write what its task draws
(binary masks: the mask, an overlay and a transparent cut-out per image).

The model runs at the size it was trained at; its output is resized back to each image's size.
"""
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .checkpoint import read_model_arrays
from .data.folder import IMAGE_SUFFIXES, DataError, is_hidden, open_image
from .models import UnknownModel, atomic_write, build, read_config
from .models.io import NPZ_ERRORS, load_arrays, not_npz
from .tasks import BinaryMask, make_task

WEIGHT_FILES = ("weights.npz", "checkpoint.npz")


def load_model(weights):
    """(model, input size (H, W), task) from weights.npz, checkpoint.npz or a run folder.

    The model is rebuilt by the registry from the config stored beside its weights, so any
    registered model loads; the task (how its outputs become masks) is stored there too
    (files from before tasks existed hold binary-mask models).
    """
    path = Path(weights).expanduser()
    if path.is_dir():
        found = [path / name for name in WEIGHT_FILES if (path / name).exists()]
        if not found:
            raise DataError(f"no weights.npz or checkpoint.npz in {path}")
        path = found[0]
    if not path.exists():
        raise DataError(f"weights file not found: {path}")
    try:
        what = not_npz(path)
    except OSError as error:
        raise DataError(f"cannot read weights file {path}: {error.strerror or error}") from None
    if what:
        raise DataError(f"{path} is not a .npz weights file ({what}); give the weights.npz or "
                        "checkpoint.npz of an npcae run, or its folder")
    try:
        config = read_config(path)
    except NPZ_ERRORS as error:
        raise DataError(f"cannot read weights file {path} ({type(error).__name__}: {error}); "
                        "is it a weights.npz or checkpoint.npz written by npcae?") from None
    if config is None:
        raise DataError(f"{path} holds no model config; save it with model.save()")
    try:
        model = build(config)
    except UnknownModel as error:
        raise DataError(f"{path}: {error}") from None
    params, state = read_model_arrays(path)
    if params:                                   # a checkpoint: "model/<name>" keys
        load_arrays(model, params, state, f"weights in {path} are for a different architecture")
    else:
        try:
            model.load(path)
        except NPZ_ERRORS as error:
            raise DataError(f"cannot read weights file {path}: {type(error).__name__}: {error}") from None
    try:
        task = make_task(config.get("task", {"task": "binary"}))
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: the stored task cannot be used: {error}") from None
    size = tuple(config.get("input_size") or (1024, 512))
    return model, size, task


def list_images(inputs):
    """Image files named directly or found (non-recursively, sorted) in the folders given."""
    files = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(p))
            if not found:
                raise DataError(f"no PNG or JPEG images in folder {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"input not found: {path}")
    seen = {}
    for path in files:                 # outputs are named by stem: two stems alike would collide
        if path.stem in seen:
            raise DataError(f"{seen[path.stem]} and {path} would write the same outputs "
                            f"({path.stem}_*.png); predict them into separate --out folders")
        seen[path.stem] = path
    return files


def _save_png(array, path, mode):
    image = Image.fromarray(array, mode)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def predict_files(model, size, files, out_dir, task=None, batch=3):
    """Write the task's files for every image (binary masks: NAME_mask.png, NAME_overlay.png,
    NAME_cutout.png); the model runs at `size`, its output is resized back to each image's own
    size. Returns the stems."""
    task = task or BinaryMask()
    out_dir = Path(out_dir)
    written = []
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        originals = [open_image(path) for path in chunk]      # any mode, as 8-bit RGB
        x = np.stack([np.asarray(im.resize((size[1], size[0]), Image.BOX), np.float32) / 255.0
                      for im in originals])
        for path, original, output in zip(chunk, originals, model.forward(x)):
            task.write_prediction(path.stem, original, output, out_dir, _save_png)
            written.append(path.stem)
    return written


def ensure_writable(folder):
    """Create `folder` if needed and prove a file can be written there (else DataError)."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".npcae-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DataError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    return folder
