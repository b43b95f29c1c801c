"""Image/mask folders: `images/NAME.png|jpg` beside `masks/NAME.png`, read as NHWC float32
(and written by save_record).

Images become (N, H, W, 3) in [0, 1]; masks become (N, H, W, 1) holding exactly 0.0 or 1.0.
One frame is read in this order:
  1. a mask of another size than its image but the same aspect ratio (within 1%), such as a
     preview-size mask, is resized to the image with nearest-neighbour sampling;
  2. image and mask are resized to the requested size with area interpolation (Pillow BOX);
  3. pixels are divided by 255, and the mask is binarised as gray value > 0.
Steps 2 and 3 mirror the original preprocessing (cv2 INTER_AREA, then `> 0`). Files of any pixel
mode (16-bit gray, palette, alpha, CMYK...) are first made 8-bit RGB images and gray masks whose
gray is 0 only where the mask is black: npcae.data.image_modes says how.
Hidden files (a leading dot, which includes macOS's `._NAME.png`) are ignored everywhere.
"""
import io
from collections import namedtuple
from pathlib import Path

import numpy as np
from PIL import Image

from ..system.files import atomic_write_bytes
from .frames import DataError, FileError, to_float
from .image_modes import to_mask, to_rgb
from .labels import IGNORE
from .palette import as_classes, grouped, snap

KAGGLE_SUBDIR = "segmentation_full_body_tik_tok_2615_img"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ASPECT_TOLERANCE = 0.01  # a mask this close to its image's aspect ratio is a resized copy of it

# One frame's files. mask_resized: the mask's size differs from the image's (same aspect ratio).
FramePair = namedtuple("FramePair", "name image mask hw mask_resized")


def is_hidden(path):
    """True for names starting with a dot: .DS_Store, macOS's ._NAME.png resource forks, editors' temps."""
    return Path(path).name.startswith(".")


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


def is_listed(path, suffixes):
    """Whether a folder's entry is taken for one of its image files: a name with one of
    `suffixes`, not hidden, whatever is there. Something else in a file's place (a folder, a
    broken link, a loop of links) is listed too, so that it is named as unreadable when its
    header is read rather than passed over."""
    path = Path(path)
    return path.suffix.lower() in suffixes and not is_hidden(path)


def _by_stem(folder, kind, problems):
    """Map file stem -> path for the image files in `folder` (is_listed). A second file of the
    same stem is a FileError appended to `problems`; the first is kept."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if is_listed(entry, IMAGE_SUFFIXES):
            if entry.stem in found:
                other = found[entry.stem].name
                problems.append(FileError(entry, f"has the name of another {kind}, {other}",
                                          f"two files named {entry.stem!r} in {folder}: {other}, "
                                          f"{entry.name}"))
                continue
            found[entry.stem] = entry
    return found


def find_pairs(root):
    """The pairs of a folder holding images/ and masks/, and what is wrong with its files:
    ([(name, image_path, mask_path)] sorted by name, [FileError]). Two files of one name, a
    folder without images, an image without a mask and a mask without an image are problems.
    scan() (FolderFrames, training) refuses the first; npcae inspect lists them all."""
    root = Path(root)
    problems = []
    images = _by_stem(root / "images", "image", problems)
    masks = _by_stem(root / "masks", "mask", problems)
    if not images:
        problems.append(FileError(root / "images", "holds no images (.png/.jpg)",
                                  f"no images (.png/.jpg) found in {root / 'images'}"))
    for stem in sorted(set(images) - set(masks)):
        problems.append(FileError(images[stem], f"has no mask in {root / 'masks'}",
                                  f"image {images[stem]} has no mask in {root / 'masks'}"))
    for stem in sorted(set(masks) - set(images)):
        problems.append(FileError(masks[stem], f"has no image in {root / 'images'}",
                                  f"mask {masks[stem]} has no image in {root / 'images'}"))
    return [(stem, images[stem], masks[stem]) for stem in sorted(set(images) & set(masks))], problems


def scan(path, names=None):
    """Check a folder's pairing and return (root, [(name, image_path, mask_path), ...]) sorted by name."""
    root = resolve_root(path)
    found, problems = find_pairs(root)
    if problems:
        raise problems[0]
    images = {name: image for name, image, _ in found}
    masks = {name: mask for name, _, mask in found}
    if names is None:
        chosen = sorted(images)
    else:
        chosen = sorted(set(names))
        for name in chosen:
            if name not in images:
                raise DataError(f"frame {name!r} not found in {root / 'images'}")
    return root, [(name, images[name], masks[name]) for name in chosen]


def _unreadable(path, exc):
    """A FileError for a file Pillow failed on, its reason without the file's name (an OSError's
    strerror, Pillow's message with the quoted name taken out): the message says it once."""
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror                       # "Too many levels of symbolic links", not "...: 'x'"
    else:
        reason = (str(exc).splitlines() or [""])[0].replace(f" {str(path)!r}", "") or type(exc).__name__
    return FileError(path, f"cannot be read as an image: {reason}",
                     f"cannot read image file {path}: {reason}")


_PIL_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def header_size(path):
    """(height, width) from the file's header; no pixels are decoded (Image.open is lazy)."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except _PIL_ERRORS as exc:
        raise _unreadable(path, exc) from None


def _decode(path, convert):
    """Open and fully decode a file (load() catches truncated files), then convert(image);
    Pillow's errors, and a mode that cannot be converted, become one DataError naming the file."""
    try:
        with Image.open(path) as im:
            im.load()
            converted = convert(im)
            return converted.copy() if converted is im else converted   # im's pixels go at close
    except DataError:                  # convert's own refusal (a ValueError too), already one line
        raise
    except _PIL_ERRORS as exc:
        raise _unreadable(path, exc) from None


def open_image(path):
    """An image file as 8-bit "RGB", whatever its mode (npcae.data.image_modes.to_rgb)."""
    return _decode(path, to_rgb)


def open_mask(path):
    """A mask file as 8-bit "L", 0 where it is black (npcae.data.image_modes.to_mask)."""
    return _decode(path, to_mask)


def _check_mask_shape(image_path, image_hw, mask_path, mask_hw):
    """True if the mask must be resized to its image; DataError if its aspect ratio differs."""
    if mask_hw == image_hw:
        return False
    ratio = (mask_hw[0] * image_hw[1]) / (mask_hw[1] * image_hw[0])
    if abs(ratio - 1) > ASPECT_TOLERANCE:
        raise DataError(f"image {image_path} is {image_hw[0]}x{image_hw[1]} but its mask {mask_path} is "
                        f"{mask_hw[0]}x{mask_hw[1]} (height x width), another aspect ratio")
    return True


def read_headers(root, pairs, size=None):
    """Read every pair's headers: ([FramePair], (H, W) the frames will have, notes).

    Without a size every image must share one size. Masks of another aspect ratio raise
    DataError; masks of another size but the same aspect ratio are counted in one note.
    """
    files, smaller, larger = [], 0, 0
    for name, image_path, mask_path in pairs:
        hw, mask_hw = header_size(image_path), header_size(mask_path)
        resized = _check_mask_shape(image_path, hw, mask_path, mask_hw)
        if size is None and files and hw != files[0].hw:
            h0, w0 = files[0].hw
            raise DataError(f"image {image_path} is {hw[0]}x{hw[1]} but earlier frames are {h0}x{w0}; "
                            f"pass a size to resize them all")
        files.append(FramePair(name, image_path, mask_path, hw, resized))
        smaller += resized and mask_hw[0] * mask_hw[1] < hw[0] * hw[1]
        larger += resized and mask_hw[0] * mask_hw[1] >= hw[0] * hw[1]
    notes = []
    if smaller or larger:
        how = "smaller than" if not larger else "larger than" if not smaller else "of another size than"
        notes.append(f"{smaller + larger} of {len(files)} masks in {root / 'masks'} are {how} their "
                     f"images (same aspect ratio): resized to the image with nearest neighbour")
    return files, (size or files[0].hw), notes


def open_class_ids(path, classes, palette=None, far=None):
    """A mask of class ids as an 8-bit "L" image: a gray PNG's values, a palette PNG's indices
    (mode "P", as Pascal VOC stores them), or an RGB label image's colours snapped to `palette`
    (far: a list to which the share of its pixels far from every palette colour is appended);
    Cityscapes' 19 classes grouped into its 7 categories when classes is 7 (palette.grouped).
    Every id must be below `classes` or be IGNORE (255): DataError naming the file otherwise."""
    def convert(im):
        if im.mode in ("L", "P"):
            return im if im.mode == "L" else Image.fromarray(np.asarray(im))
        if im.mode in ("RGB", "RGBA") and palette is not None:
            return Image.fromarray(snap(np.asarray(im.convert("RGB")), palette, far=far))
        what = (f"is a {im.mode} image; class ids need an 8-bit gray or palette PNG (or RGB "
                f"label colours with a palette)")
        raise FileError(path, what, f"mask {path} {what}")
    mask = _decode(path, convert)
    ids = np.asarray(mask)
    stored = len(palette.names) if grouped(palette, classes) else classes
    bad = (ids >= stored) & (ids != IGNORE)
    if bad.any():
        what = f"holds class id {int(ids[bad][0])}: outside 0..{stored - 1} and not the ignore label {IGNORE}"
        raise FileError(path, what, f"mask {path} {what}")
    return Image.fromarray(as_classes(ids, palette, classes)) if grouped(palette, classes) else mask


def read_pixels(pair, size=None, classes=None, palette=None):
    """One frame's pixels: image (H, W, 3) uint8 and mask (H, W) uint8 0/1, at `size` or native.
    With `classes`, the mask holds class ids (open_class_ids), resized by nearest neighbour."""
    if classes is not None:
        image, mask = open_image(pair.image), open_class_ids(pair.mask, classes, palette)
        if mask.size != image.size:
            mask = mask.resize(image.size, Image.NEAREST)
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.BOX)
            mask = mask.resize((size[1], size[0]), Image.NEAREST)     # ids are not averaged
        return np.asarray(image), np.asarray(mask)
    image, mask = open_image(pair.image), open_mask(pair.mask)
    hw, mask_hw = image.size[::-1], mask.size[::-1]
    if _check_mask_shape(pair.image, hw, pair.mask, mask_hw):
        # Nearest neighbour adds no new gray levels, so the mask stays the annotator's 0/255.
        mask = mask.resize(image.size, Image.NEAREST)
    if size is not None and hw != tuple(size):
        # BOX averages every source pixel covering an output pixel: area interpolation.
        image = image.resize((size[1], size[0]), Image.BOX)
        mask = mask.resize((size[1], size[0]), Image.BOX)
    return np.asarray(image), (np.asarray(mask) > 0).astype(np.uint8)


def read_pair(image_path, mask_path, size=None):
    """Read one frame: image (H, W, 3) float32 in [0, 1] and mask (H, W, 1) float32 0/1."""
    image_path, mask_path = Path(image_path), Path(mask_path)
    return to_float(*read_pixels(FramePair(image_path.stem, image_path, mask_path, None, None), size))


def _png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_record(record, folder):
    """Write folder/images/NAME.png (RGB) and folder/masks/NAME.png (gray 0/255), atomically."""
    folder = Path(folder)
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for image, mask, name in zip(record.images, record.masks, record.names):
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        atomic_write_bytes(folder / "images" / f"{name}.png", _png_bytes(pixels))
        gray = np.where(mask[..., 0] > 0, 255, 0).astype(np.uint8)
        atomic_write_bytes(folder / "masks" / f"{name}.png", _png_bytes(gray))
    return folder
