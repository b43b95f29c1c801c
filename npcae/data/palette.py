"""Colour-coded label images and class ids: the Cityscapes palette, snapping, palette files, and
pix2pix's side-by-side composites.

    photo, labels = split_composite(image)              (H, W, 3) -> two (H, W/2, 3) halves
    ids = snap(labels, CITYSCAPES_19)                   (H, W/2) uint8, 255 where nothing fits
    ids7 = to_categories(ids)                           the 7 Cityscapes categories
    palette = read_palette("my_palette.txt")            "name, R, G, B" per line

A label image stores each class as a colour. JPEG blurs the colours (and mixes them along every
boundary), so each pixel takes the class of the nearest palette colour, and becomes IGNORE when
that nearest colour is a void colour or is farther than `max_distance` (Euclidean, in RGB).
Measured on 20 of cityscapes-pix2pix's training composites: the median pixel is 2.2 from its
palette colour, 94.5% are within MAX_DISTANCE = 40, 97.3% within 50; the rest lie on boundaries.

Whether an image is colour labels at all (colour_fit) is measured closer, within CLOSE_DISTANCE
= 10: a photo's pixels land within 40 of one of 29 colours by chance (human-seg-290's photos:
up to 92% of them, 60% at the median), within 10 far less often (see npcae.data.composites).
"""
from typing import NamedTuple

import numpy as np

from .frames import DataError
from .labels import IGNORE

MAX_DISTANCE = 40.0
CLOSE_DISTANCE = 10.0


class Palette(NamedTuple):
    """names (K,) of the classes, their colours (K, 3) uint8, and void colours (V, 3) uint8
    that mean IGNORE."""
    names: tuple
    colours: np.ndarray
    void: np.ndarray


def _colours(rows):
    return np.array(rows, np.uint8).reshape(-1, 3)


# cityscapesScripts' labels.py, the 19 evaluation classes by trainId, and the void colours.
CITYSCAPES_19 = Palette(
    ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
     "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
     "motorcycle", "bicycle"),
    _colours([(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
              (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
              (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
              (0, 80, 100), (0, 0, 230), (119, 11, 32)]),
    _colours([(0, 0, 0), (111, 74, 0), (81, 0, 81), (250, 170, 160), (230, 150, 140),
              (180, 165, 180), (150, 100, 100), (150, 120, 90), (0, 0, 90), (0, 0, 110)]))

# The 7 categories: each class's category, and a colour for each (a typical member's).
CATEGORY_OF_CLASS = np.array([0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6], np.uint8)
CITYSCAPES_7 = Palette(
    ("flat", "construction", "object", "nature", "sky", "human", "vehicle"),
    _colours([(128, 64, 128), (70, 70, 70), (153, 153, 153), (107, 142, 35), (70, 130, 180),
              (220, 20, 60), (0, 0, 142)]),
    CITYSCAPES_19.void)


def nearest_colour(labels, palette=CITYSCAPES_19):
    """(H, W, 3) label colours -> (index (H*W,) of the nearest of the palette's colours then its
    void colours, squared Euclidean distance (H*W,) to it)."""
    labels = np.asarray(labels)
    if labels.ndim != 3 or labels.shape[-1] != 3:
        raise ValueError(f"label colours must be (H, W, 3), got {labels.shape}")
    colours = np.vstack([palette.colours, palette.void]).astype(np.int32)
    pixels = labels.reshape(-1, 1, 3).astype(np.int32)
    distance2 = ((pixels - colours[None]) ** 2).sum(axis=-1)          # (H*W, K+V)
    nearest = distance2.argmin(axis=1)
    return nearest, distance2[np.arange(len(nearest)), nearest]


def snap(labels, palette=CITYSCAPES_19, max_distance=MAX_DISTANCE, far=None, fit=None):
    """(H, W, 3) label colours -> (H, W) uint8 class ids: the nearest palette colour's class,
    IGNORE where the nearest colour is void or farther than max_distance from every colour.
    far: a list to which the share of pixels farther than max_distance is appended.
    fit: a list to which their colour_fit is appended (from the same distances: no extra cost)."""
    nearest, distance2 = nearest_colour(labels, palette)
    too_far = distance2 > max_distance ** 2
    if far is not None:
        far.append(float(too_far.mean()) if too_far.size else 0.0)
    if fit is not None:
        fit.append(_fit(labels, distance2))
    ids = np.where((nearest >= len(palette.names)) | too_far, IGNORE, nearest).astype(np.uint8)
    return ids.reshape(np.shape(labels)[:2])


def _fit(labels, distance2):
    r, g, b = (np.asarray(labels)[..., c].reshape(-1).astype(np.int32) for c in range(3))
    judged = r * r + g * g + b * b > CLOSE_DISTANCE ** 2        # black says nothing
    count = np.count_nonzero(judged)
    return float(np.count_nonzero(judged & (distance2 <= CLOSE_DISTANCE ** 2)) / count) if count else 1.0


def colour_fit(labels, palette=CITYSCAPES_19):
    """How much (H, W, 3) colours look like labels drawn in `palette`: the share of the pixels
    within CLOSE_DISTANCE of one of its colours (classes or void), among those that are not
    black (within CLOSE_DISTANCE of (0, 0, 0); 1.0 if every pixel is). Black is where photos and
    labels meet by chance, a photo's shadows and borders, labels' void and background, so it
    counts neither way. JPEG-blurred labels score 0.55 and more, photos 0.26 and less
    (npcae.data.composites.MIN_FIT)."""
    return _fit(labels, nearest_colour(labels, palette)[1])


def to_categories(ids):
    """19-class ids -> the 7 Cityscapes categories; IGNORE stays IGNORE."""
    ids = np.asarray(ids)
    return np.where(ids == IGNORE, IGNORE, CATEGORY_OF_CLASS[np.minimum(ids, 18)]).astype(np.uint8)


def grouped(palette, classes):
    """Whether `classes` asks for Cityscapes' 7 categories of its 19 classes' ids."""
    return classes == 7 and palette is CITYSCAPES_19


def fits(palette, classes):
    """Whether labels in `palette` give `classes` ids: its own count, or 7 grouped (grouped)."""
    return classes == len(palette.names) or grouped(palette, classes)


def predicted_palette(palette, classes):
    """The palette of the `classes` ids read from labels in `palette` (the 7 categories' if grouped)."""
    return CITYSCAPES_7 if grouped(palette, classes) else palette


def as_classes(ids, palette, classes):
    """ids of the palette's classes as the `classes` ids asked for (grouped: the categories)."""
    return to_categories(ids) if grouped(palette, classes) else ids


def colourise(ids, palette=CITYSCAPES_19, ignore_colour=(0, 0, 0)):
    """(H, W) class ids -> (H, W, 3) uint8: each class in its palette colour."""
    table = np.zeros((256, 3), np.uint8)
    table[:] = ignore_colour
    table[:len(palette.names)] = palette.colours
    return table[np.asarray(ids, np.uint8)]


def split_composite(image, at=None, labels="right"):
    """A pix2pix side-by-side composite (H, W, 3) -> (photo, label colours), cut at column `at`
    (default the middle: the width must then be even) with the labels on the `labels` side."""
    image = np.asarray(image)
    width = image.shape[1]
    if at is None:
        if width % 2:
            raise ValueError(f"a composite of odd width {width} has no middle: give the column "
                             f"to split at (at=), or crop or pad it to an even width")
        at = width // 2
    if not 0 < at < width:
        raise ValueError(f"cannot split a composite {width} wide at column {at}")
    if labels not in ("left", "right"):
        raise ValueError(f"labels must be 'left' or 'right', got {labels!r}")
    left, right = image[:, :at], image[:, at:]
    return (left, right) if labels == "right" else (right, left)


def palette_file(path, option="--palette"):
    """read_palette, its failures (a missing file, a bad line, bytes that are not UTF-8) as one
    DataError (a ValueError) naming `option` and the file."""
    try:
        return read_palette(path)
    except OSError as error:
        raise DataError(f"{option} {path}: cannot read the palette file "
                        f"({error.strerror or error})") from None
    except ValueError as error:                     # read_palette's messages start with the path
        message = str(error) if str(error).startswith(str(path)) else f"{path}: {error}"
        raise DataError(f"{option} {message}") from None


def read_palette(path):
    """A palette file: one class per line, "name, R, G, B" (0-255); a line named "void" is an
    ignore colour; blank lines and lines starting with # are skipped. Errors name the line."""
    names, colours, void = [], [], []
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                         f"{error.start}); a palette file is lines 'name, R, G, B' saved as "
                         f"UTF-8") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            if len(fields) != 4:
                raise ValueError
            rgb = tuple(int(v) for v in fields[1:])
            if not all(0 <= v <= 255 for v in rgb) or not fields[0]:
                raise ValueError
        except ValueError:
            raise ValueError(f"{path}:{number}: expected 'name, R, G, B' with R, G, B in "
                             f"0-255, got {line!r}") from None
        (void if fields[0].lower() == "void" else colours).append(rgb)
        if fields[0].lower() != "void":
            names.append(fields[0])
    if len(names) < 2 or len(names) > IGNORE:
        raise ValueError(f"{path}: {len(names)} classes; a palette needs 2 to {IGNORE} (lines "
                         f"'name, R, G, B'; id {IGNORE} is the ignore label)")
    if len(set(colours)) != len(colours):
        raise ValueError(f"{path}: two classes share a colour")
    return Palette(tuple(names), _colours(colours), _colours(void))
