"""Frames: a set of named (image, mask) pairs of one size, read a batch at a time; and splits.

Every set of frames, in memory (Record) or on disk (FolderFrames), answers the same calls:

    frames.names            list of str (sorted, for folders)
    len(frames)             the number of frames
    frames.size             (H, W)
    frames.read(indices)    -> images (B, H, W, 3) float32 in [0, 1], masks (B, H, W, 1) float32 0/1
    frames.subset(names)    -> the same kind of Frames holding those names, in that order
    frames.notes            one-line remarks about the data (e.g. masks resized) for the caller to log
    frames.to_record()      -> every frame read into an in-memory Record

split_frames() divides a set into training and held-out frames by names, count, fraction or a
second set. Bad input raises DataError with a one-line message naming the culprit.
CachedFrames is the base of sets made one frame at a time (decoded from files, or rendered),
which keep the frames' pixels in memory when the whole set fits in a budget; RenderedFrames,
the base of the synthetic sets, numbers and names the frames it draws.
"""
import copy
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

# Decoded frames stay in memory when they fit in this many MB (npcae train --cache-mb).
DEFAULT_CACHE_MB = 256


class DataError(InputError):
    """Bad data on disk or a bad data request; the message is one line naming the culprit."""


class FileError(DataError):
    """A DataError about one file (or folder): its `path`, and `what` is wrong with it in words
    that follow the name, so a list of problems (npcae inspect) reads "PATH: WHAT" without
    cutting the name out of a sentence. str() is the one-line message, `message` if given."""

    def __init__(self, path, what, message=None):
        self.path, self.what = Path(path), what
        super().__init__(message or f"{path}: {what}")

    def __reduce__(self):                      # pickles (a worker process) with its three parts
        return type(self), (self.path, self.what, str(self))


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


class Frames:
    """The interface above; subclasses set `names` and implement `size`, `read` and `subset`."""

    names = ()
    notes = ()

    def __len__(self):
        return len(self.names)

    def rows(self, names):
        """The indices of `names` in this set, in that order; an unknown name raises DataError."""
        index = {name: i for i, name in enumerate(self.names)}
        missing = [name for name in names if name not in index]
        if missing:
            raise DataError(f"frame {missing[0]!r} is not in this record (has {len(self)} frames)")
        return [index[name] for name in names]

    def to_record(self):
        """Every frame read into memory: a Record of the same names, size and notes."""
        images, masks = self.read(range(len(self)))
        return Record(images, masks, list(self.names), list(self.notes))

    def native(self, index):
        """(image (H, W, 3) uint8, mask (H, W) uint8) of frame `index` at its own size, before
        any resizing (what a user's photo is: `npcae evaluate --resolution own` scores there).
        Frames made at one size (rendered, in memory) are their own size."""
        images, masks = self.read([index])
        return ((images[0] * 255).round().astype(np.uint8),
                masks[0, ..., 0].round().astype(np.uint8))


@dataclass
class Record(Frames):
    """Frames in memory: images (N, H, W, 3) float32 in [0, 1], masks (N, H, W, 1) float32 0/1."""

    images: np.ndarray
    masks: np.ndarray
    names: list
    notes: list = field(default_factory=list)

    @property
    def size(self):
        return tuple(self.images.shape[1:3])

    def read(self, indices):
        """(images (B, H, W, 3), masks (B, H, W, 1)) of the frames at `indices`: copies."""
        rows = np.asarray(list(indices), dtype=np.intp)
        return self.images[rows], self.masks[rows]

    def subset(self, names):
        """The frames called `names`, in that order; an unknown name raises DataError."""
        rows = self.rows(names)
        return Record(self.images[rows], self.masks[rows], list(names), list(self.notes))

    def to_record(self):
        return self


class _PixelStore:
    """uint8 pixels (image, mask) by frame name, never more than `budget` bytes in all."""

    def __init__(self, budget):
        self.budget, self.used, self.pixels = budget, 0, {}

    def get(self, name):
        return self.pixels.get(name)

    def put(self, name, image, mask):
        nbytes = image.nbytes + mask.nbytes
        if name not in self.pixels and self.used + nbytes <= self.budget:
            self.pixels[name] = image, mask
            self.used += nbytes


class CachedFrames(Frames):
    """Frames made one at a time as uint8 pixels, kept in memory when the whole set fits.

    A subclass calls `_start_cache(size, cache_mb)` once it knows its size, sets `names`, and
    writes `_make(row)` -> (image (H, W, 3) uint8, mask (H, W) uint8 0/1) for the frame at `row`
    of its own lists, and `_select(rows)` to keep only those rows in a copy of itself.
    Memory budget: if every frame of the set fits in `cache_mb` megabytes (2**20 bytes) of uint8
    pixels, H * W * 4 bytes a frame (3 image bytes and 1 mask byte a pixel), read() keeps each
    frame it makes, and a frame read before is not made again. Otherwise nothing is kept and
    memory does not grow with the number of frames. subset() shares the parent's store and its
    budget, so the training and held-out parts of one set keep at most cache_mb together.
    """

    def _start_cache(self, size, cache_mb):
        if isinstance(cache_mb, bool) or not isinstance(cache_mb, numbers.Real) or not cache_mb >= 0:
            raise DataError(f"cache_mb must be a number of megabytes >= 0, got {cache_mb!r}")
        self._size = size
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
        """True if the whole set fits in the cache budget, so read() keeps what it makes."""
        return len(self) * self.frame_bytes <= self._store.budget

    def read(self, indices):
        """(images (B, H, W, 3) float32 in [0, 1], masks (B, H, W, 1) float32 0/1) at `indices`."""
        rows = list(indices)
        images = np.empty((len(rows), *self._size, 3), np.uint8)
        masks = np.empty((len(rows), *self._size), np.uint8)
        keep = self.caching
        for k, row in enumerate(rows):
            name = self.names[row]
            pixels = self._store.get(name)
            if pixels is None:
                pixels = self._make(row)
                if keep:
                    self._store.put(name, *pixels)
            images[k], masks[k] = pixels
        return to_float(images, masks)

    def subset(self, names):
        """The frames called `names`, in that order, sharing this set's cache."""
        part = copy.copy(self)
        part._select(self.rows(names))
        part.names = list(names)
        return part

    def native(self, index):
        return self._make_native(index)

    def _make(self, row):
        raise NotImplementedError

    def _make_native(self, row):
        return self._make(row)                 # frames made at one size: theirs

    def _select(self, rows):
        raise NotImplementedError


class RenderedFrames(CachedFrames):
    """n_frames frames drawn on demand, PREFIX_000, PREFIX_001, ...: a subclass sets PREFIX and
    writes render(number) -> (image (H, W, 3) uint8, mask (H, W) uint8) of frame `number` of the
    set made with self.seed at self.size."""

    PREFIX = "frame"

    def __init__(self, n_frames, size, seed, cache_mb):
        if not is_count(n_frames):
            raise DataError(f"n_frames must be a positive integer, got {n_frames!r}")
        self._start_cache(check_size(size), cache_mb)
        self.seed = seed
        digits = max(3, len(str(n_frames - 1)))
        self._numbers = list(range(n_frames))
        self.names = [f"{self.PREFIX}_{k:0{digits}d}" for k in self._numbers]
        self.notes = []

    def render(self, number):
        raise NotImplementedError

    def _make(self, row):
        return self.render(self._numbers[row])

    def _select(self, rows):
        self._numbers = [self._numbers[i] for i in rows]


def to_float(images, masks):
    """uint8 images (..., 3) and 0/1 masks (...) -> float32 images / 255 and masks (..., 1)."""
    images = images.astype(np.float32)
    images /= np.float32(255.0)
    return images, masks.astype(np.float32)[..., None]


def _by_names(frames, chosen):
    """(train, heldout): the frames in `chosen` and the rest, both in the frames' own order."""
    train = [name for name in frames.names if name in chosen]
    heldout = [name for name in frames.names if name not in chosen]
    if not heldout:
        raise DataError(f"all {len(frames)} frames would be training frames: nothing would be held out")
    return frames.subset(train), frames.subset(heldout)


def split_frames(frames, train_names=None, n_train=None, val_split=None, val_frames=None, seed=0):
    """Split frames into (train, heldout) Frames, in exactly one of four ways:

    train_names: those frames train, the rest are held out.
    n_train: the first n_train names in sorted order train, the rest are held out.
    val_split: a fraction in (0, 1); round(val_split * N) frames (halves round up), drawn with
        np.random.default_rng(seed) from the sorted names, are held out: the same seed and
        names always give the same split. At least one frame must train and one be held out.
    val_frames: a second set; all of `frames` train and `val_frames` is held out.
    Train and held-out frames keep the order of `frames`. Nothing held out is a DataError.
    """
    ways = dict(train_names=train_names, n_train=n_train, val_split=val_split, val_frames=val_frames)
    given = [name for name, value in ways.items() if value is not None]
    if len(given) != 1:
        raise DataError(f"a split needs exactly one of train_names, n_train, val_split or val_frames; "
                        f"got {', '.join(given) or 'none'}")
    n = len(frames)
    if train_names is not None:
        if isinstance(train_names, str):
            raise DataError(f"train_names must be a list of names, got the string {train_names!r}")
        missing = sorted(set(train_names) - set(frames.names))
        if missing:
            raise DataError(f"train frame {missing[0]!r} is not in the record")
        return _by_names(frames, set(train_names))
    if n_train is not None:
        if not is_count(n_train) or n_train > n:
            raise DataError(f"n_train must be an integer from 1 to {n - 1}, got {n_train!r}")
        if n_train == n:
            raise DataError(f"n_train={n_train} is every frame: nothing would be held out")
        return _by_names(frames, set(sorted(frames.names)[:n_train]))
    if val_split is not None:
        if isinstance(val_split, bool) or not isinstance(val_split, (float, int)) or not 0 < val_split < 1:
            raise DataError(f"val_split must be a fraction between 0 and 1, got {val_split!r}")
        n_held = math.floor(val_split * n + 0.5)
        if not 1 <= n_held <= n - 1:
            raise DataError(f"val_split {val_split} of {n} frames holds out {n_held}: at least one frame "
                            f"must be held out and one trained")
        names = sorted(frames.names)
        held = np.random.default_rng(seed).choice(n, n_held, replace=False)
        return _by_names(frames, set(names) - {names[i] for i in held})
    if tuple(val_frames.size) != tuple(frames.size):
        raise DataError(f"the held-out frames are {val_frames.size[0]}x{val_frames.size[1]} but the "
                        f"training frames {frames.size[0]}x{frames.size[1]}; give both the same size")
    return frames, val_frames


def split(record, train_names=None, n_train=None):
    """split_frames by `train_names` or `n_train` only (the older name, kept for callers)."""
    return split_frames(record, train_names=train_names, n_train=n_train)


def check_same_names(saved, names, what):
    """Raise DataError unless `names` are the frames a run saved as `saved` (a resumed run must
    train and validate on the frames it started with, wherever they now live)."""
    if list(saved) == list(names):
        return
    gone = [n for n in saved if n not in set(names)]
    new = [n for n in names if n not in set(saved)]
    detail = (f"{gone[0]!r} is missing" if gone else f"{new[0]!r} is new" if new
              else "they are in another order")
    raise DataError(f"the data is not the run's: its {what} frames differ ({len(saved)} in the "
                    f"run, {len(names)} here; {detail}); resume with the data the run started with")

