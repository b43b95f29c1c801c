"""Image/mask folders: `images/NAME.png|jpg` beside `masks/NAME.png`, loaded as NHWC float32.

Images become (N, H, W, 3) in [0, 1]; masks become (N, H, W, 1) holding exactly 0.0 or 1.0.
Resizing uses area interpolation (Pillow BOX), then masks are binarised as gray value > 0,
which mirrors the original preprocessing (cv2 INTER_AREA, then `> 0`).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

TIKTOK_TRAIN = ("136_00090", "136_00210", "136_00420")
KAGGLE_SUBDIR = "segmentation_full_body_tik_tok_2615_img"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataError(ValueError):
    """Bad data on disk or a bad data request; the message is one line naming the culprit."""


@dataclass
class Record:
    """A set of frames: images (N, H, W, 3) float32 in [0, 1], masks (N, H, W, 1) float32 0/1."""

    images: np.ndarray
    masks: np.ndarray
    names: list

    def __len__(self):
        return len(self.names)

    def subset(self, names):
        """The frames called `names`, in that order; an unknown name raises DataError."""
        index = {name: i for i, name in enumerate(self.names)}
        missing = [name for name in names if name not in index]
        if missing:
            raise DataError(f"frame {missing[0]!r} is not in this record (has {len(self)} frames)")
        rows = [index[name] for name in names]
        return Record(self.images[rows], self.masks[rows], list(names))


def is_count(value):
    """True for a positive integer (numpy ints too, bools not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def check_size(size):
    """Return `size` as a (height, width) tuple of positive ints, or None; else DataError."""
    if size is None:
        return None
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(is_count(v) for v in size)):
        raise DataError(f"size must be two positive integers (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def resolve_root(path):
    """The folder holding images/ and masks/: `path` itself or its Kaggle subfolder."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"data folder not found: {path}")
    if not (path / "images").is_dir() and (path / KAGGLE_SUBDIR / "images").is_dir():
        path = path / KAGGLE_SUBDIR
    for sub in ("images", "masks"):
        if not (path / sub).is_dir():
            raise DataError(f"folder {path} has no {sub}/ subfolder")
    return path


def _by_stem(folder):
    """Map file stem -> path for the image files in `folder`; other files are ignored."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES and not entry.name.startswith("."):
            if entry.stem in found:
                other = found[entry.stem].name
                raise DataError(f"two files named {entry.stem!r} in {folder}: {other}, {entry.name}")
            found[entry.stem] = entry
    return found


def scan(path, names=None):
    """Check a folder's pairing and return (root, [(name, image_path, mask_path), ...]) sorted by name."""
    root = resolve_root(path)
    images, masks = _by_stem(root / "images"), _by_stem(root / "masks")
    if not images:
        raise DataError(f"no images (.png/.jpg) found in {root / 'images'}")
    for stem in sorted(images):
        if stem not in masks:
            raise DataError(f"image {images[stem]} has no mask in {root / 'masks'}")
    for stem in sorted(masks):
        if stem not in images:
            raise DataError(f"mask {masks[stem]} has no image in {root / 'images'}")
    if names is None:
        chosen = sorted(images)
    else:
        chosen = sorted(set(names))
        for name in chosen:
            if name not in images:
                raise DataError(f"frame {name!r} not found in {root / 'images'}")
    return root, [(name, images[name], masks[name]) for name in chosen]


def open_image(path, mode):
    """Open, fully decode (load() catches truncated files) and convert an image file to `mode`."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode) if im.mode != mode else im.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read image file {path}: {reason}") from None


_open = open_image  # the name npcae.predict imports


def read_pair(image_path, mask_path, size=None):
    """Read one frame: image (H, W, 3) float32 in [0, 1] and mask (H, W, 1) float32 0/1."""
    image, mask = open_image(image_path, "RGB"), open_image(mask_path, "L")
    if image.size != mask.size:
        raise DataError(f"image {image_path} is {image.size[1]}x{image.size[0]} but its mask "
                        f"{mask_path.name} is {mask.size[1]}x{mask.size[0]} (height x width)")
    if size is not None and image.size != (size[1], size[0]):
        # BOX averages every source pixel covering an output pixel: area interpolation.
        image = image.resize((size[1], size[0]), Image.BOX)
        mask = mask.resize((size[1], size[0]), Image.BOX)
    pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    binary = (np.asarray(mask) > 0).astype(np.float32)[..., None]
    return pixels, binary


def _read_many(pairs, size):
    """Stack frames into NHWC arrays; without a size, every frame must share the first's size."""
    images, masks = [], []
    for name, image_path, mask_path in pairs:
        image, mask = read_pair(image_path, mask_path, size)
        if images and image.shape != images[0].shape:
            h0, w0 = images[0].shape[:2]
            raise DataError(f"image {image_path} is {image.shape[0]}x{image.shape[1]} but earlier frames "
                            f"are {h0}x{w0}; pass a size to resize them all")
        images.append(image)
        masks.append(mask)
    return np.stack(images), np.stack(masks)


def load_folder(path, size=None, names=None):
    """Load every frame (or only `names`) of a folder into a Record, names sorted.

    size: (height, width) to resize to with area interpolation, or None for the native size.
    """
    size = check_size(size)
    _, pairs = scan(path, names)
    images, masks = _read_many(pairs, size)
    return Record(images, masks, [name for name, _, _ in pairs])


def split(record, train_names=None, n_train=None):
    """Split a record into (train, heldout): by `train_names`, or the first `n_train` sorted names."""
    if (train_names is None) == (n_train is None):
        raise DataError("split needs exactly one of train_names or n_train")
    if train_names is not None:
        chosen = set(train_names)
        missing = sorted(chosen - set(record.names))
        if missing:
            raise DataError(f"train frame {missing[0]!r} is not in the record")
    else:
        if not is_count(n_train) or n_train > len(record):
            raise DataError(f"n_train must be an integer from 1 to {len(record)}, got {n_train!r}")
        chosen = set(sorted(record.names)[:n_train])
    train = [name for name in record.names if name in chosen]
    heldout = [name for name in record.names if name not in chosen]
    return record.subset(train), record.subset(heldout)


def iter_batches(path, batch_size, size, names=None, shuffle_seed=None):
    """Yield (images (B, H, W, 3), masks (B, H, W, 1), names) batches, reading files lazily.

    Only one batch is in memory at a time, so the full Kaggle set (2615 frames) streams fine.
    The folder is checked now, not at the first next(): bad input fails at the call.
    shuffle_seed: None keeps sorted order; an int shuffles the order reproducibly.
    """
    size = check_size(size)
    if not is_count(batch_size):
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    _, pairs = scan(path, names)
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(pairs))
        pairs = [pairs[i] for i in order]

    def batches():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            images, masks = _read_many(chunk, size)
            yield images, masks, [name for name, _, _ in chunk]

    return batches()


def atomic_write_bytes(path, data):
    """Write bytes through the project's one atomic writer (temporary name, then rename)."""
    from ..models.io import atomic_write
    atomic_write(path, lambda f: f.write(data))
