"""pix2pix side-by-side composites (photo | colour labels in one file) as frames of class ids.

    frames = CompositeFrames("cityscapes-pix2pix/train", size=(256, 256), classes=19)
    images, masks = frames.read(range(8))     (8, 256, 256, 3) in [0, 1], (8, 256, 256, 1) ids

Every file of the folder (sorted by number when the names are numbers: 1, 2, ..., 10) is split
at a column (data/palette.py: split_composite), its label half snapped to the palette's class
ids at the file's own resolution (IGNORE where no colour fits), and then both halves are resized
to `size`: the photo by area averaging, the ids by nearest neighbour (ids are not averaged).
classes=7 maps Cityscapes' 19 classes to its 7 categories. The masks hold class ids as float32,
as the Frames interface carries masks, with IGNORE (255) for pixels that count for nothing.

The folder's file headers are read when the frames are made, so an odd width (no middle) or a
file that is not an image is named before training starts; pixels are decoded by read(),
kept in memory when the whole set fits `cache_mb` (CachedFrames).
"""
from pathlib import Path

import numpy as np
from PIL import Image

from .folder import header_size, is_hidden, open_image
from .frames import DEFAULT_CACHE_MB, CachedFrames, DataError, check_size
from .palette import CITYSCAPES_19, as_classes, fits, snap, split_composite

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def number_order(path):
    """A sort key: numbered names first, by number (1, 2, ..., 10), then the others by name."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def composite_files(folder):
    """The image files of a folder of composites, in number_order; hidden files are skipped."""
    return sorted((path for path in Path(folder).iterdir()
                   if path.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(path)), key=number_order)


class CompositeFrames(CachedFrames):
    """The composites of one folder, as (photo, class ids) frames at `size` (H, W)."""

    def __init__(self, folder, size=(256, 256), palette=CITYSCAPES_19, classes=None,
                 split_at=None, labels="right", cache_mb=DEFAULT_CACHE_MB):
        self.size_hw = check_size(size)
        self.palette, self.split_at, self.labels = palette, split_at, labels
        self.classes = len(palette.names) if classes is None else int(classes)
        if not fits(palette, self.classes):
            raise DataError(f"--classes {self.classes} does not match the palette's "
                            f"{len(palette.names)} classes (7 is Cityscapes' categories)")
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"no folder of composites at {folder}")
        self._files = composite_files(folder)
        if not self._files:
            raise DataError(f"no composite images in {folder}")
        for path in self._files:
            height, width = header_size(path)
            if split_at is None and width % 2:
                raise DataError(f"composite {path} is {width} pixels wide: an odd width has no "
                                f"middle to split at (give the column)")
        self._start_cache(self.size_hw, cache_mb)
        self.names = [p.stem for p in self._files]

    def _make(self, row):
        path = self._files[row]
        try:
            photo, labels = split_composite(np.asarray(open_image(path)), self.split_at,
                                            self.labels)
        except DataError:
            raise
        except ValueError as error:                # a column or side that does not fit
            raise DataError(f"composite {path}: {error}") from None
        ids = as_classes(snap(labels, self.palette), self.palette, self.classes)
        height, width = self.size_hw
        if photo.shape[:2] != (height, width):
            photo = np.asarray(Image.fromarray(photo).resize((width, height), Image.BOX))
        if ids.shape != (height, width):
            ids = np.asarray(Image.fromarray(ids).resize((width, height), Image.NEAREST))
        return photo, ids

    def _select(self, rows):
        self._files = [self._files[i] for i in rows]
