"""COCO: one category of a COCO instances file as binary masks, read as batches need them.

    frames = open_frames("coco:coco/annotations/instances_train2017.json", (256, 256), category="person")
    heldout = open_frames("coco:coco/annotations/instances_val2017.json", (256, 256), category="person")
    CocoFrames(path, size=None, cache_mb=256, category=1, keep_empty=True)    # the same, in Python

A "coco:PATH" spec names one split's annotation file; its images are in the folder the official
layout puts beside annotations/: annotations/instances_train2017.json -> train2017/ (the part of
the file's name after its last "_", in the parent of the annotation folder; else beside the
file). The other split is the held-out part: --data coco:.../instances_train2017.json
--val-data coco:.../instances_val2017.json.

`category`: one category, by name ("person", case ignored) or id (1, or "1"): it must be given.
A frame's mask is the union of its image's annotations of that category, decoded by pycocotools
(COCO.annToRLE, mask.merge, mask.decode: the same pixels as the union of COCO.annToMask) at the
image's own size; the image and mask are then resized like a folder's (npcae.data.folder):
area interpolation (Pillow BOX), the mask as 0/255 and then binarised as > 0. A frame is named
by its image file's stem (000000262145); names are sorted.

Crowd annotations (iscrowd=1: one run-length-encoded region over objects too many or too close
to outline one by one, such as an audience) count as foreground, as in torchvision's reference
segmentation scripts (their COCO masks are made from every annotation of the chosen categories,
crowds included). The reason: a binary mask has no ignore label, so the only other choice would
be to call a crowd of people background. DeepLab-style conversions instead give crowd pixels the
ignore label 255, which needs a third value the binary task does not have. Where instances
overlap the pixel is simply foreground. For scoring, crowd="ignore" marks the pixels that only
a crowd covers IGNORE (255, npcae.data.labels): the binary tally leaves them out, as COCO's own
evaluation does (`npcae evaluate --crowd ignore`); training refuses such masks, since the binary
losses have no ignore value.

Images without an annotation of the category are dropped by default, so that every frame shows
what is to be learnt (in COCO most images lack any one category: 40 of coco-tiny's 80 train
images hold no person); keep_empty=True keeps them, with empty masks. `notes` says how many
images were left out and how many crowd regions count.

The file is read and checked when the frames are opened (its entries, the category, that every
image file is there); pixels are decoded only by read(), and kept in memory when the whole set
fits the cache budget (npcae.data.frames.CachedFrames), as FolderFrames does. Every problem is a
DataError of one line naming the file. pycocotools is an optional extra: pip install -e ".[coco]".
"""
import contextlib
import difflib
import io
import json
import numbers
import os
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
from PIL import Image

from .folder import open_image
from .frames import DEFAULT_CACHE_MB, CachedFrames, DataError, FileError, check_size
from .labels import IGNORE

try:
    from pycocotools import mask as rle_masks
    from pycocotools.coco import COCO
except ImportError as error:                  # opening a coco: spec says how to install it
    rle_masks = COCO = None
    PYCOCOTOOLS_MISSING = f"{type(error).__name__}: {error}"
else:
    PYCOCOTOOLS_MISSING = None

PREFIX = "coco:"
OPTIONS = ("category", "keep_empty", "image_dir", "crowd")    # what open_frames passes on to CocoFrames
CROWDS = ("foreground", "ignore")

# One image of the set: its frame name, file, size in the annotation file and COCO id.
CocoImage = namedtuple("CocoImage", "name file hw id")


def coco_path(spec):
    """The annotation file a "coco:PATH" spec names, as a Path; None for any other spec."""
    if not (isinstance(spec, str) and spec.startswith(PREFIX)):
        return None
    text = spec[len(PREFIX):]
    if not text:
        raise DataError(f"{spec!r} names no file; give coco:PATH/annotations/instances_train2017.json")
    return Path(text).expanduser()


def open_coco(spec, size=None, cache_mb=DEFAULT_CACHE_MB, part=None, **options):
    """CocoFrames of a "coco:PATH" spec (open_frames' arguments; options: OPTIONS)."""
    path = coco_path(spec)
    if part is not None:
        raise DataError(f"{spec} is one split of COCO; give the other split's file as its held-out "
                        f"part (--val-data coco:.../instances_val2017.json)")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DataError(f"{spec} holds binary masks of one category and takes the options "
                        f"{', '.join(OPTIONS)}, not {', '.join(unknown)}")
    return CocoFrames(path, size, cache_mb, **options)


class CocoFrames(CachedFrames):
    """The images of a COCO instances file holding one category, and that category's masks.

    path: the annotation file (annotations/instances_train2017.json). size: (H, W) to resize to
    with area interpolation, or None for the images' own size, which they must then share
    (COCO's do not: DataError asking for a size). category: its name or id. keep_empty: keep
    the images without the category (empty masks). image_dir: where the images are (default:
    as the official layout puts them, see the module's docstring).
    """

    def __init__(self, path, size=None, cache_mb=DEFAULT_CACHE_MB, *, category=None,
                 keep_empty=False, image_dir=None, crowd="foreground"):
        if COCO is None:
            raise DataError(f"reading COCO annotations needs pycocotools, which is not installed "
                            f"({PYCOCOTOOLS_MISSING}): pip install -e \".[coco]\"")
        size = check_size(size)
        if not isinstance(keep_empty, bool):
            raise DataError(f"keep_empty must be True or False, got {keep_empty!r}")
        if crowd not in CROWDS:
            raise DataError(f"crowd must be one of {', '.join(CROWDS)}, got {crowd!r}")
        self.crowd = crowd
        self._start_cache(None, cache_mb)
        self.path = Path(path).expanduser()
        data = read_json(self.path)
        images = read_images(self.path, data)
        self.category = find_category(self.path, data, category)
        self.category_id = self.category["id"]
        annotations = read_annotations(self.path, data, images, self.category_id)
        del data
        held = {ann["image_id"] for ann in annotations}
        chosen = [image for image in images.values() if keep_empty or image.id in held]
        if not chosen:
            raise FileError(self.path, f"has no image holding a {self.category['name']!r} "
                            f"(category {self.category_id})")
        self.image_dir = Path(image_dir).expanduser() if image_dir is not None else images_beside(self.path)
        check_files(self.path, self.image_dir, chosen)
        chosen.sort(key=lambda image: image.name)
        self._images = chosen
        self._size = size or native_size(self.path, chosen)
        self.names = [image.name for image in chosen]
        self.keep_empty = keep_empty
        # A small COCO index of the chosen images and the category's annotations, for annToRLE.
        self._coco = COCO()
        self._coco.dataset = {"images": [{"id": image.id, "height": image.hw[0], "width": image.hw[1]}
                                         for image in chosen],
                              "annotations": annotations, "categories": [self.category]}
        with contextlib.redirect_stdout(io.StringIO()):     # it prints "creating index..."
            self._coco.createIndex()
        crowds = sum(ann["iscrowd"] for ann in self._coco.dataset["annotations"])
        dropped = len(images) - len(chosen)
        self.notes = [f"{self.path.name}: {len(held)} of {len(images)} images hold a "
                      f"{self.category['name']!r}" +
                      (f"; {crowds} crowd regions count as foreground" if crowds else "") +
                      (f"; the {dropped} others are left out (keep_empty=True keeps them)" if dropped
                       else "")]

    def native_mask(self, name):
        """The mask of frame `name` at its image's own size: (H, W) uint8 0/1, the union of the
        category's annotations of the image (crowds too). No image file is read."""
        return self._mask(self._images[self.rows([name])[0]])

    def crowd_only(self, name):
        """(H, W) bool: the pixels of frame `name`'s mask that only crowd regions cover."""
        image = self._images[self.rows([name])[0]]
        return self._mask(image).astype(bool) & ~self._mask(image, crowds=False).astype(bool)

    def _mask(self, image, crowds=True):
        h, w = image.hw
        anns = [ann for ann in self._coco.imgToAnns.get(image.id, ())
                if not (isinstance(ann["segmentation"], list) and not ann["segmentation"])
                and (crowds or not ann["iscrowd"])]
        if not anns:
            return np.zeros((h, w), np.uint8)
        try:
            with warnings.catch_warnings():
                # pycocotools 2.0.11 under NumPy 2 warns on every decode that its RLE class's
                # __array__ takes no copy keyword: nothing a user can act on.
                warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
                union = rle_masks.decode(rle_masks.merge([self._coco.annToRLE(ann) for ann in anns],
                                                         intersect=0))
        except (TypeError, ValueError, IndexError, KeyError) as error:
            what = (f"has an annotation of {image.file.name} that pycocotools cannot read: "
                    f"{(str(error).splitlines() or [type(error).__name__])[0]}")
            raise FileError(self.path, what) from None
        if union.shape != (h, w):
            raise FileError(self.path, f"has an annotation of {image.file.name} of size "
                            f"{union.shape[0]}x{union.shape[1]}, not the image's {h}x{w}")
        return np.ascontiguousarray(union, dtype=np.uint8)

    def _make(self, row):
        return self._pixels(row, self._size)

    def _make_native(self, row):
        return self._pixels(row, None)

    def _pixels(self, row, size):
        """The image and its mask at size (H, W), or at the image's own with None."""
        image = self._images[row]
        size = size or image.hw
        picture = open_image(image.file)
        if picture.size != image.hw[::-1]:
            raise FileError(image.file, f"is {picture.size[1]}x{picture.size[0]}, but {self.path} "
                            f"says {image.hw[0]}x{image.hw[1]}")
        if self.crowd == "ignore":
            plain = self._mask(image, crowds=False)
            crowd_only = self._mask(image) & ~plain.astype(bool)
            mask = self._resized(plain, size)
            ignored = self._resized(crowd_only.astype(np.uint8), size)
            mask[(ignored == 1) & (mask == 0)] = IGNORE
        else:
            mask = self._resized(self._mask(image), size)
        if image.hw != tuple(size):
            picture = picture.resize(tuple(size)[::-1], Image.BOX)
        return np.asarray(picture), mask

    @staticmethod
    def _resized(mask, size):
        """A 0/1 mask at `size`, as a folder's: BOX averages every source pixel under an output
        pixel (area interpolation), and a pixel the region touches is in it."""
        picture = Image.fromarray(mask * np.uint8(255))
        if picture.size != tuple(size)[::-1]:
            picture = picture.resize(tuple(size)[::-1], Image.BOX)
        return (np.asarray(picture) > 0).astype(np.uint8)

    def _select(self, rows):
        self._images = [self._images[i] for i in rows]


def read_json(path):
    """The annotation file's contents, a dict holding images, annotations and categories lists."""
    if path.is_dir():
        raise FileError(path, "is a folder; a coco: spec names an annotation file such as "
                              "annotations/instances_train2017.json")
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise FileError(path, "not found (a coco: spec names a COCO annotation file, such as "
                              "annotations/instances_train2017.json)",
                        f"COCO annotation file not found: {path}") from None
    except OSError as error:
        raise FileError(path, f"cannot be read: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise FileError(path, f"is not valid JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg})") from None
    except ValueError as error:                                 # not UTF-8 (or -16, -32) text
        raise FileError(path, f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise FileError(path, f"is not a COCO instances file: it holds a JSON {type(data).__name__}, "
                              f"not an object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FileError(path, f"is not a COCO instances file: it has no {key!r} list")
    return data


def _entry_error(path, kind, index, entry, problem):
    """FileError of the `index`th entry of a list (`kind` image or annotation), by its id if it has one."""
    which = f"id {entry['id']!r}" if isinstance(entry, dict) and "id" in entry else f"entry {index}"
    return FileError(path, f"has a malformed {kind} ({which}): {problem}")


def _count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def read_images(path, data):
    """{image id: CocoImage} of every entry of `images`; their files are not looked at here."""
    images, by_name = {}, {}
    for index, entry in enumerate(data["images"]):
        if not isinstance(entry, dict):
            raise _entry_error(path, "image", index, entry, "not an object")
        missing = [key for key in ("id", "file_name", "height", "width") if key not in entry]
        if missing:
            raise _entry_error(path, "image", index, entry, f"no {missing[0]!r}")
        if not isinstance(entry["id"], numbers.Integral) or isinstance(entry["id"], bool):
            raise _entry_error(path, "image", index, entry, "its id must be an integer")
        if not (_count(entry["height"]) and _count(entry["width"])):
            raise _entry_error(path, "image", index, entry, "height and width must be positive integers")
        name = Path(str(entry["file_name"])).stem
        if name in by_name:
            raise FileError(path, f"names two images {name!r}: ids {by_name[name]} and {entry['id']}")
        by_name[name] = entry["id"]
        images[entry["id"]] = CocoImage(name, Path(str(entry["file_name"])),
                                        (int(entry["height"]), int(entry["width"])), entry["id"])
    return images


def find_category(path, data, category):
    """The category entry called `category` (a name, any case) or numbered so (an id, or its digits)."""
    entries = [entry for entry in data["categories"] if isinstance(entry, dict)
               and "id" in entry and "name" in entry]
    if not entries:
        raise FileError(path, "lists no categories (each needs an 'id' and a 'name')")
    names = [str(entry["name"]) for entry in entries]
    shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
    if category is None:
        raise FileError(path, f"holds {len(names)} categories; choose one (category='person' in "
                              f"Python, --category on the command line): {shown}")
    for entry in entries:
        if str(category) == str(entry["name"]) or str(category).casefold() == str(entry["name"]).casefold():
            return entry
    for entry in entries:
        if not isinstance(category, bool) and str(category).strip() == str(entry["id"]):
            return entry
    close = difflib.get_close_matches(str(category), names, n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise FileError(path, f"has no category {category!r}; {hint}its categories are: {shown}")


def read_annotations(path, data, images, category_id):
    """The annotations of the category, each as {id, image_id, category_id, iscrowd, segmentation}
    (what annToRLE reads); their structure is checked now, their pixels when they are decoded."""
    chosen = []
    for index, entry in enumerate(data["annotations"]):
        if not isinstance(entry, dict):
            raise _entry_error(path, "annotation", index, entry, "not an object")
        if entry.get("category_id") != category_id:
            continue
        for key in ("image_id", "segmentation"):
            if key not in entry:
                raise _entry_error(path, "annotation", index, entry, f"no {key!r}")
        image = images.get(entry["image_id"])
        if image is None:
            raise _entry_error(path, "annotation", index, entry,
                               f"its image_id {entry['image_id']!r} is not among the images")
        segmentation = entry["segmentation"]
        if isinstance(segmentation, dict):
            problem = rle_problem(segmentation, image.hw)
            if problem:
                raise _entry_error(path, "annotation", index, entry, problem)
        elif not (isinstance(segmentation, list) and all(isinstance(p, list) for p in segmentation)):
            raise _entry_error(path, "annotation", index, entry,
                               "segmentation must be a list of polygons or a run-length encoding")
        chosen.append({"id": len(chosen) + 1, "image_id": entry["image_id"], "category_id": category_id,
                       "iscrowd": int(bool(entry.get("iscrowd", 0))), "segmentation": segmentation})
    return chosen


def rle_problem(rle, hw):
    """What is wrong with a run-length encoding of an image of size hw, or None."""
    if "counts" not in rle or "size" not in rle:
        return "a run-length encoding needs 'counts' and 'size'"
    if list(rle["size"]) != list(hw):
        return f"its run-length encoding is {rle['size']}, not the image's size {list(hw)}"
    counts = rle["counts"]
    if isinstance(counts, list):              # uncompressed: the runs must cover the image exactly
        if not all(isinstance(c, numbers.Integral) and c >= 0 for c in counts) or sum(counts) != hw[0] * hw[1]:
            return f"its run lengths do not add up to the image's {hw[0]}x{hw[1]} pixels"
    elif not isinstance(counts, (str, bytes)):
        return "its run-length encoding's counts are neither a list nor a string"
    return None


def images_beside(path):
    """Where the official layout puts a split's images: annotations/instances_val2017.json ->
    val2017/ beside annotations/ (else beside the file)."""
    split = path.stem.rpartition("_")[2]
    for folder in (path.parent.parent / split, path.parent / split):
        if folder.is_dir():
            return folder
    raise FileError(path.parent.parent / split, f"not found: the images of {path} are looked for "
                                                f"there (or in {path.parent / split})",
                    f"no image folder {path.parent.parent / split} for {path} (the official layout "
                    f"puts annotations/instances_{split}.json beside {split}/)")


def check_files(path, image_dir, images):
    """Point every image at its file in image_dir; FileError naming the first one missing."""
    try:
        present = {entry.name for entry in os.scandir(image_dir)}
    except OSError as error:
        raise FileError(image_dir, f"cannot be listed: {error.strerror or error}") from None
    for k, image in enumerate(images):
        if image.file.as_posix() not in present and not (image_dir / image.file).is_file():
            raise FileError(image_dir / image.file, f"is missing (named in {path})",
                            f"image file {image_dir / image.file} named in {path} is missing")
        images[k] = image._replace(file=image_dir / image.file)


def native_size(path, images):
    """The size every image shares, for size=None; DataError asking for a size otherwise."""
    for image in images:
        if image.hw != images[0].hw:
            (h0, w0), (h, w) = images[0].hw, image.hw
            raise DataError(f"the images of {path} are of several sizes ({images[0].file.name} "
                            f"{h0}x{w0}, {image.file.name} {h}x{w}); pass a size to resize them all")
    return images[0].hw
