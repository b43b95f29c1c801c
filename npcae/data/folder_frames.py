"""FolderFrames: a folder's frames read from disk as batches need them, kept when they fit.

    frames = FolderFrames("../shared/data/human-seg-290", size=(256, 256))   # scans headers only
    images, masks = frames.read([0, 5, 7])      # (3, 256, 256, 3) float32, (3, 256, 256, 1) 0/1
    load_folder(path, size)                     # every frame in memory, as a Record
"""
import numpy as np

from .folder import read_headers, read_pixels, scan
from .frames import DEFAULT_CACHE_MB, CachedFrames, DataError, check_size, is_count


class FolderFrames(CachedFrames):
    """A folder's frames (images/ and masks/, see npcae.data.folder), read on demand.

    path: the folder (or its Kaggle parent). size: (H, W) to resize to with area interpolation,
    or None for the native size, which every frame must then share (else DataError asking for a
    size). names: only these frames (default all). Names are sorted.
    The folder is scanned now: pairing, and every file's header (sizes, mask aspect ratios), so
    bad data is named before training starts and `notes` says what will be fixed on reading
    (masks resized to their images). Pixels are decoded only by read().

    Memory budget (npcae.data.frames.CachedFrames): if every frame of the set fits in
    `cache_mb` megabytes of uint8 pixels, H * W * 4 bytes a frame, read() keeps each frame's
    decoded, resized pixels, and a frame read before opens no file: epoch 2 reads no files.
    256 MB holds 1,024 frames at 256x256, 128 at 1024x512. Otherwise nothing is kept and
    memory does not grow with the number of frames. subset() shares the parent's store and its
    budget, so the training and held-out parts of one folder keep at most cache_mb together.
    """

    def __init__(self, path, size=None, cache_mb=DEFAULT_CACHE_MB, names=None, classes=None,
                 palette=None):
        size = check_size(size)
        self.classes, self.palette = classes, palette     # class-id masks (data.folder.open_class_ids)
        self._start_cache(None, cache_mb)
        self.root, pairs = scan(path, names)
        self._files, self._size, notes = read_headers(self.root, pairs, size)
        self.names = [f.name for f in self._files]
        self.notes = notes

    def _make(self, row):
        pair = self._files[row]
        pixels = read_pixels(pair, self._size, self.classes, self.palette)
        if pixels[0].shape[:2] != self._size:  # only if the file changed since the scan
            raise DataError(f"image {pair.image} is now {pixels[0].shape[0]}x{pixels[0].shape[1]}, "
                            f"not the {self._size[0]}x{self._size[1]} it was when scanned")
        return pixels

    def _make_native(self, row):
        return read_pixels(self._files[row], None, self.classes, self.palette)

    def _select(self, rows):
        self._files = [self._files[i] for i in rows]


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
