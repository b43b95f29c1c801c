"""Data: frames in memory or read from folders, splits, batches, named data sets, augmentation.

    frames = open_frames("tiktok-136", (256, 128))        # or a folder path; Frames
    train, heldout = split_frames(frames, **dataset_defaults("tiktok-136").split)
    loader = BatchLoader(train, batch_size=8, seed=0, augmenter=Augmenter(seed=0))
    for x, y in loader.batches(epoch): ...

Images are NHWC float32 (N, H, W, 3) in [0, 1]; masks (N, H, W, 1) hold exactly 0.0 or 1.0
(or class ids, for a multi-class set). Bad input raises DataError with one line naming the culprit.

The folder, from the bottom up (a module imports only from those above it in this list):
  what frames are     frames (Frames, Record, CachedFrames, splits)
  formats             image_modes (any pixel mode to RGB or a mask), labels (IGNORE, class weights),
                      palette (colour labels <-> class ids), folder (images/ + masks/ files),
                      folder_frames (FolderFrames), composites (pix2pix's photo | labels files),
                      coco (CocoFrames: one category of a COCO instances file, "coco:PATH")
  plumbing            fetch (verified downloads, checksum files), drawing (what renderers share),
                      loader (BatchLoader), resample (sampling on a grid), paste (copy-paste
                      of people), augment (Augmenter)
  named data sets     dataset (Dataset: where a set is, how it is fetched and opened);
                      sets/ (one module per set: tiktok_136, human_seg_290, cityscapes_pix2pix,
                      synthetic, synthetic_people, synthetic_streets); registry (lists them:
                      DATASETS, open_frames, fetch)
  tools               inspection (`npcae inspect`)
"""
from .augment import Augmenter
from .coco import CocoFrames
from .dataset import Dataset, data_root
from .folder import is_hidden, save_record
from .folder_frames import FolderFrames, iter_batches, load_folder
from .frames import CachedFrames, DataError, Frames, Record, check_size, split, split_frames
from .loader import BatchLoader
from .registry import DATASETS, dataset, dataset_defaults, dataset_dir, fetch, open_frames, register
from .sets.human_seg_290 import HUMAN_SEG_HELDOUT, HUMAN_SEG_TRAIN, fetch_human_seg290
from .sets.synthetic import SYNTHETIC_TRAIN, synthetic_record
from .sets.synthetic_people import SyntheticPeople, render_people
from .sets.tiktok_136 import TIKTOK_TRAIN, fetch_tiktok136

# The training frames of each named data set; the other frames are held out.
DEFAULT_TRAIN = {name: entry.split["train_names"] for name, entry in DATASETS.items()
                 if "train_names" in entry.split}


def tiktok136_dir():
    """Where tiktok-136 lives: $NPCAE_TIKTOK_DIR if set (must exist), else under data_root(),
    downloaded first if files are missing."""
    return dataset("tiktok-136").locate()


def load_dataset(spec, size=None):
    """Load a registered data set or a folder path into an in-memory Record, resized to size (H, W).

    'synthetic' without a size renders the default (128, 64); folders without a size keep
    their native size.
    """
    return open_frames(spec, size, cache_mb=0).to_record()


__all__ = ["DataError", "Frames", "Record", "FolderFrames", "open_frames", "split_frames", "BatchLoader",
           "Dataset", "DATASETS", "register", "dataset", "dataset_defaults", "dataset_dir", "data_root",
           "fetch", "load_folder", "split", "iter_batches", "TIKTOK_TRAIN", "synthetic_record",
           "SYNTHETIC_TRAIN", "save_record", "fetch_tiktok136", "Augmenter", "load_dataset",
           "tiktok136_dir", "DEFAULT_TRAIN", "check_size", "is_hidden", "CachedFrames", "HUMAN_SEG_TRAIN",
           "HUMAN_SEG_HELDOUT", "fetch_human_seg290", "SyntheticPeople", "render_people", "CocoFrames"]
