"""Data: image/mask folders, a synthetic stand-in record, the tiktok-136 download, augmentation.

Every loader returns a Record of NHWC float32 arrays: images (N, H, W, 3) in [0, 1] and
masks (N, H, W, 1) holding exactly 0.0 or 1.0. Bad input raises DataError with one line.
"""
import os
from pathlib import Path

from .augment import Augmenter
from .fetch import fetch_tiktok136
from .folder import TIKTOK_TRAIN, DataError, Record, check_size, iter_batches, load_folder, split
from .synthetic import SYNTHETIC_TRAIN, save_record, synthetic_record

# The training frames of each named data set; the other frames are held out.
DEFAULT_TRAIN = {"synthetic": SYNTHETIC_TRAIN, "tiktok-136": TIKTOK_TRAIN}


def tiktok136_dir():
    """Where tiktok-136 lives: $NPCAE_TIKTOK_DIR if set (must exist), else the fetch cache."""
    folder = os.environ.get("NPCAE_TIKTOK_DIR")
    if folder:
        if not Path(folder).expanduser().is_dir():
            raise DataError(f"NPCAE_TIKTOK_DIR points to a missing folder: {folder}")
        return Path(folder).expanduser()
    return fetch_tiktok136()  # verifies the cache; downloads only what is missing


def load_dataset(spec, size=None):
    """Load 'synthetic', 'tiktok-136' or a folder path as a Record, resized to size (H, W).

    'synthetic' without a size renders the default (128, 64); folders without a size keep
    their native size.
    """
    size = check_size(size)
    if spec == "synthetic":
        return synthetic_record(size=size) if size else synthetic_record()
    if spec == "tiktok-136":
        return load_folder(tiktok136_dir(), size)
    return load_folder(spec, size)


__all__ = ["DataError", "Record", "load_folder", "split", "iter_batches", "TIKTOK_TRAIN",
           "synthetic_record", "SYNTHETIC_TRAIN", "save_record", "fetch_tiktok136", "Augmenter",
           "load_dataset", "tiktok136_dir", "DEFAULT_TRAIN"]
