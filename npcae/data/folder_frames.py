"""FolderFrames: a folder's frames read from disk as batches need them, kept when they fit.

    frames = FolderFrames("../shared/data/human-seg-290", size=(256, 256))   # scans headers only
    images, masks = frames.read([0, 5, 7])      # (3, 256, 256, 3) float32, (3, 256, 256, 1) 0/1
    load_folder(path, size)                     # every frame in memory, as a Record
"""
import copy
import numbers

import numpy as np

from ..defaults import DEFAULTS
from .folder import read_headers, read_pixels, scan, to_float
from .frames import DataError, Frames, check_size, is_count

DEFAULT_CACHE_MB = DEFAULTS["cache_mb"]


class _PixelStore:
    """Decoded, resized uint8 pixels by frame name, never more than `budget` bytes in all."""

    def __init__(self, budget):
        self.budget, self.used, self.pixels = budget, 0, {}

    def get(self, name):
        return self.pixels.get(name)

    def put(self, name, image, mask):
        nbytes = image.nbytes + mask.nbytes
        if name not in self.pixels and self.used + nbytes <= self.budget:
            self.pixels[name] = image, mask
            self.used += nbytes


class FolderFrames(Frames):
    """A folder's frames (images/ and masks/, see npcae.data.folder), read on demand.

    path: the folder (or its Kaggle parent). size: (H, W) to resize to with area interpolation,
    or None for the native size, which every frame must then share (else DataError asking for a
    size). names: only these frames (default all). Names are sorted.
    The folder is scanned now: pairing, and every file's header (sizes, mask aspect ratios), so
    bad data is named before training starts and `notes` says what will be fixed on reading
    (masks resized to their images). Pixels are decoded only by read().

    Memory budget: if every frame of the set fits in `cache_mb` megabytes (2**20 bytes) of uint8
    pixels, H * W * 4 bytes a frame (3 image bytes and 1 mask byte a pixel), read() keeps each
    frame's decoded, resized pixels, and a frame read before opens no file: epoch 2 reads no
    files. 256 MB holds 1,024 frames at 256x256, 128 at 1024x512. Otherwise nothing is kept and
    memory does not grow with the number of frames. subset() shares the parent's store and its
    budget, so the training and held-out parts of one folder keep at most cache_mb together.
    """

    def __init__(self, path, size=None, cache_mb=DEFAULT_CACHE_MB, names=None):
        size = check_size(size)
        if isinstance(cache_mb, bool) or not isinstance(cache_mb, numbers.Real) or not cache_mb >= 0:
            raise DataError(f"cache_mb must be a number of megabytes >= 0, got {cache_mb!r}")
        self.root, pairs = scan(path, names)
        self._files, self._size, notes = read_headers(self.root, pairs, size)
        self.names = [f.name for f in self._files]
        self.notes = notes
        self._store = _PixelStore(int(cache_mb * 2**20))

    @property
    def size(self):
        return self._size

    @property
    def frame_bytes(self):
        """Bytes one frame takes in the cache: H * W * 4 (RGB image + mask, uint8)."""
        return self._size[0] * self._size[1] * 4

    @property
    def caching(self):
        """True if the whole set fits in the cache budget, so read() keeps what it decodes."""
        return len(self) * self.frame_bytes <= self._store.budget

    def read(self, indices):
        """(images (B, H, W, 3) float32 in [0, 1], masks (B, H, W, 1) float32 0/1) at `indices`."""
        files = [self._files[i] for i in indices]
        images = np.empty((len(files), *self._size, 3), np.uint8)
        masks = np.empty((len(files), *self._size), np.uint8)
        keep = self.caching
        for k, pair in enumerate(files):
            pixels = self._store.get(pair.name)
            if pixels is None:
                pixels = read_pixels(pair, self._size)
                if pixels[0].shape[:2] != self._size:  # only if the file changed since the scan
                    raise DataError(f"image {pair.image} is now {pixels[0].shape[0]}x{pixels[0].shape[1]}, "
                                    f"not the {self._size[0]}x{self._size[1]} it was when scanned")
                if keep:
                    self._store.put(pair.name, *pixels)
            images[k], masks[k] = pixels
        return to_float(images, masks)

    def subset(self, names):
        """The frames called `names`, in that order, sharing this set's cache."""
        part = copy.copy(self)
        part._files = [self._files[i] for i in self.rows(names)]
        part.names = list(names)
        return part


def load_folder(path, size=None, names=None):
    """Load every frame (or only `names`) of a folder into a Record, names sorted.

    size: (height, width) to resize to with area interpolation, or None for the native size.
    """
    return FolderFrames(path, size, cache_mb=0, names=names).to_record()


def iter_batches(path, batch_size, size, names=None, shuffle_seed=None):
    """Yield (images (B, H, W, 3), masks (B, H, W, 1), names) batches, reading files lazily.

    Only one batch is in memory at a time, so the full Kaggle set (2615 frames) streams fine.
    The folder is checked now, not at the first next(): bad input fails at the call.
    shuffle_seed: None keeps sorted order; an int shuffles the order reproducibly.
    """
    if not is_count(batch_size):
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    frames = FolderFrames(path, size, cache_mb=0, names=names)
    order = np.arange(len(frames))
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(frames))

    def batches():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            yield (*frames.read(chunk), [frames.names[i] for i in chunk])

    return batches()
