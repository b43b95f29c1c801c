"""Masks for new frames: the mask, an overlay and a transparent cut-out per image; evaluation.

The model runs at the size it was trained at; its mask is resized back to each image's own size.
"""
import os
from pathlib import Path

import numpy as np
from PIL import Image

from . import metrics
from .checkpoint import CheckpointError, read_checkpoint
from .data.folder import IMAGE_SUFFIXES, DataError, open_image as _open
from .models import atomic_write, build, read_config

WEIGHT_FILES = ("weights.npz", "checkpoint.npz")


def load_model(weights):
    """(model, input size (H, W)) from weights.npz, checkpoint.npz or a run folder holding one."""
    path = Path(weights).expanduser()
    if path.is_dir():
        found = [path / name for name in WEIGHT_FILES if (path / name).exists()]
        if not found:
            raise DataError(f"no weights.npz or checkpoint.npz in {path}")
        path = found[0]
    if not path.exists():
        raise DataError(f"weights file not found: {path}")
    try:
        config = read_config(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read weights file {path}: {error}") from None
    if config is None:
        raise DataError(f"{path} holds no model config; save it with model.save()")
    size = tuple(config.pop("input_size", (1024, 512)))
    model = build(config)
    try:
        state = read_checkpoint(path)
        model_arrays = state["model"]
        for name, value, _ in model.named_parameters():
            value[...] = model_arrays[name]
    except CheckpointError:
        model.load(path)
    return model, size


def list_images(inputs):
    """Image files named directly or found (non-recursively, sorted) in the folders given."""
    files = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"no PNG or JPEG images in folder {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"input not found: {path}")
    return files


def _save_png(array, path, mode):
    image = Image.fromarray(array, mode)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def predict_files(model, size, files, out_dir, threshold=0.5, batch=3):
    """Write NAME_mask.png, NAME_overlay.png and NAME_cutout.png for every file; returns names."""
    out_dir = Path(out_dir)
    written = []
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        originals = [_open(path, "RGB") for path in chunk]
        x = np.stack([np.asarray(im.resize((size[1], size[0]), Image.BOX), np.float32) / 255.0
                      for im in originals])
        probabilities = model.forward(x)[..., 0]
        for path, original, prob in zip(chunk, originals, probabilities):
            full = Image.fromarray((prob * 255).round().astype(np.uint8), "L")
            full = np.asarray(full.resize(original.size, Image.BILINEAR)) > 255 * threshold
            rgb = np.asarray(original)
            mask = (full * 255).astype(np.uint8)
            tint = np.array([255, 0, 160], np.float32)
            shown = np.where(full[..., None], 0.55 * rgb + 0.45 * tint, rgb).astype(np.uint8)
            cutout = np.dstack([rgb, mask])
            _save_png(mask, out_dir / f"{path.stem}_mask.png", "L")
            _save_png(shown, out_dir / f"{path.stem}_overlay.png", "RGB")
            _save_png(cutout, out_dir / f"{path.stem}_cutout.png", "RGBA")
            written.append(path.stem)
    return written


def evaluate_record(model, record, batch=3):
    """Per-image and pooled accuracy, IoU and Dice: ([(name, acc, iou, dice)], (acc, iou, dice))."""
    from .training import predict
    pred = predict(model, record.images, batch)
    rows = [(name, metrics.pixel_accuracy(p, t), metrics.iou(p, t), metrics.dice(p, t))
            for name, p, t in zip(record.names, pred, record.masks)]
    total = (metrics.pixel_accuracy(pred, record.masks), metrics.iou(pred, record.masks),
             metrics.dice(pred, record.masks))
    return rows, total


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
