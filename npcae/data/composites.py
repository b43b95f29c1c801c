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
file that is not an image is named before training starts (scan_composites, which npcae inspect
runs too); a few files are decoded then as well, to refuse a folder of grayscale pictures or of
photos before training on them (check_labels, which every read applies: it costs nothing beside
snapping the colours). Pixels are decoded by read(), kept in memory when the whole set fits
`cache_mb` (CachedFrames).
"""
from pathlib import Path

import numpy as np
from PIL import Image

from .folder import header_size, is_hidden, is_listed, open_image
from .frames import DEFAULT_CACHE_MB, CachedFrames, DataError, FileError, check_size
from .palette import CITYSCAPES_19, CLOSE_DISTANCE, as_classes, fits, snap, split_composite

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

# A label half is refused when under MIN_FIT of its pixels that are not black lie within
# CLOSE_DISTANCE = 10 of a palette colour (palette.colour_fit). Measured with the Cityscapes
# palette: the label halves of all 3,475 cityscapes-pix2pix composites score 0.555 at least (1st
# percentile 0.63, median 0.76), 0.46 at least once saved again as JPEG at quality 50; photos
# where the labels should be score 0.26 at most: the right and left halves of human-seg-290's
# 290 photos (median 0.014, max 0.255), of coco-tiny's 160 (max 0.21), of cityscapes' own
# photo halves (max 0.20), of DAVIS and TikTok frames (under 0.10). So 0.4 leaves a factor of
# 1.4 below the lowest labels and 1.6 above the highest photo. Within MAX_DISTANCE = 40 they do
# not part: labels 0.89 at least, photos up to 0.92 (29 palette colours cover much of the RGB
# cube). Leaving out void colours instead of black refused a real one (train/1399.jpg, 46% in
# the void colour (81, 0, 81): 0.35). A palette of 3 of a street's 8 classes (road, sky, car)
# scores 0.57 to 0.71 on synthetic streets, so a palette naming only some classes still reads.
MIN_FIT = 0.4
# A label half whose channels never differ by more than this is grayscale: colour labels are
# not, when the palette has colours (each of the 3,475 cityscapes label halves has a pixel whose
# channels differ by 127 or more; grayscale composites, also saved as RGB JPEGs, by 0).
GRAY_SPREAD = 8
SAMPLE_FILES = 3            # decoded when the frames are made: first, middle and last file


def number_order(path):
    """A sort key: numbered names first, by number (1, 2, ..., 10), then the others by name."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def composite_files(folder):
    """The image files of a folder of composites (folder.is_listed: hidden files are skipped, a
    folder or a broken link in a file's place is kept, to be named), in number_order."""
    return sorted((path for path in Path(folder).iterdir() if is_listed(path, IMAGE_SUFFIXES)),
                  key=number_order)


def _odd_width(path, width):
    what = (f"is {width} pixels wide: an odd width has no middle to split photo and labels at; "
            f"crop or pad it to an even width")
    return FileError(path, what, f"composite {path} {what}")


def _parts_hint(folder):
    """" (its train/ and val/ hold composites: ...)" when subfolders hold the images, else ""."""
    subs = [sub for sub in sorted(folder.iterdir()) if sub.is_dir() and not is_hidden(sub)
            and any(is_listed(path, IMAGE_SUFFIXES) for path in sub.iterdir())]
    if not subs:
        return ""
    names = [f"{sub.name}/" for sub in subs]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f" (its {listed} hold{'s' * (len(names) == 1)} composites: give one of them, e.g. {subs[0]})"


def scan_composites(folder, split_at=None):
    """The composites of a folder as CompositeFrames checks them before reading any pixel:
    ([path], [FileError]): the files whose header reads with a width that splits (split_at None:
    an even one), and a problem for each other file, or for a folder holding none.
    CompositeFrames refuses the first problem; npcae inspect lists them all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder of composites at {folder}")
    files, problems = [], []
    for path in composite_files(folder):
        try:
            height, width = header_size(path)
        except FileError as error:
            problems.append(error)
            continue
        if split_at is None and width % 2:
            problems.append(_odd_width(path, width))
        else:
            files.append(path)
    if not files and not problems:
        hint = _parts_hint(folder)
        problems.append(FileError(folder, f"holds no composite images{hint}",
                                  f"no composite images in {folder}{hint}"))
    return files, problems


def _spread(colours):
    """The most the channels of any of (..., 3) colours differ by (0 for grayscale); 0.1 ms for
    256x256 (a reduction over the last axis, max(axis=2) - min(axis=2), takes 3 ms)."""
    r, g, b = (np.asarray(colours)[..., c].astype(np.int16) for c in range(3))
    return max(int(np.abs(x - y).max(initial=0)) for x, y in ((r, g), (g, b), (r, b)))


def check_labels(labels, palette, fit):
    """Why a composite's label half (H, W, 3) cannot be colour labels in `palette`, or None.
    fit: its palette.colour_fit (snap(..., fit=) gives it). Grayscale (when the palette has
    colours), or under MIN_FIT of its pixels close to a palette colour: a photo, see MIN_FIT."""
    if _spread(palette.colours) > GRAY_SPREAD and _spread(labels) <= GRAY_SPREAD:
        return ("its label half is grayscale (R = G = B in every pixel), so it cannot hold the "
                "palette's colours: a pix2pix composite is a photo and its colour labels side by side")
    if fit < MIN_FIT:
        return (f"only {fit:.0%} of its label half's pixels lie within {CLOSE_DISTANCE:g} of a palette "
                f"colour (black aside; colour labels: over {MIN_FIT:.0%}): a photo where the labels "
                f"should be, or labels in another palette (give that with --palette)")
    return None


def read_composite(path, palette=CITYSCAPES_19, split_at=None, labels="right", far=None):
    """One composite file as (photo (H, W', 3) uint8, ids (H, W') uint8 of the palette's classes,
    IGNORE where no colour fits), at its own resolution. FileError naming the file if it cannot
    be read, split, or its label half is not colour labels (check_labels).
    far: a list to which the share of label pixels far from every palette colour is appended."""
    try:
        photo, colours = split_composite(np.asarray(open_image(path)), split_at, labels)
    except DataError:
        raise
    except ValueError as error:                # a column or side that does not fit
        raise FileError(path, str(error), f"composite {path}: {error}") from None
    fit = []
    ids = snap(colours, palette, far=far, fit=fit)
    why = check_labels(colours, palette, fit[0])
    if why:
        raise FileError(path, why, f"composite {path}: {why}")
    return photo, ids


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
        self._files, problems = scan_composites(folder, split_at)
        if problems:
            raise problems[0]
        for row in sorted(set(np.linspace(0, len(self._files) - 1, SAMPLE_FILES).round().astype(int))):
            read_composite(self._files[row], palette, split_at, labels)   # grayscale? photos?
        self._start_cache(self.size_hw, cache_mb)
        self.names = [p.stem for p in self._files]

    def _make(self, row):
        photo, ids = read_composite(self._files[row], self.palette, self.split_at, self.labels)
        ids = as_classes(ids, self.palette, self.classes)
        height, width = self.size_hw
        if photo.shape[:2] != (height, width):
            photo = np.asarray(Image.fromarray(photo).resize((width, height), Image.BOX))
        if ids.shape != (height, width):
            ids = np.asarray(Image.fromarray(ids).resize((width, height), Image.NEAREST))
        return photo, ids

    def _select(self, rows):
        self._files = [self._files[i] for i in rows]
