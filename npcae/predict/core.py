"""A trained model on new photos: load it from its files, and write what its task draws for each
photo, at the photo's own size (binary masks: the mask, a cut-out whose alpha is the soft mask,
an overlay and, given a background, the person composited over it).

Where the model runs (`at`, `npcae predict --at`):
  * "trained" (the default), for every model: at the size it was trained at. The photo is
    shrunk (or grown) to it by Pillow's BOX filter, as the data readers prepared the training
    frames, and the task resizes the output back to the photo (soft masks: bilinear, in float).
    A model learns people at the scale its frames showed them: the default U-Net trained on
    human-seg-290 (128x128) reached held-out IoU 0.817 on the 40 held-out photos at their own
    resolution this way, and 0.507 run at their own size (183x275 to 1500x1001), where a person
    is several times larger than any it has seen.
  * "own": at each photo's own size, nothing resized, for a model that takes any size (a U-Net
    pads to a multiple of 2^depth and crops back) and was trained on frames at their own scale.
    A model that does not take any size is refused with one line.
A model takes any size when its output_shape, a probe of shapes only, accepts its trained size
made odd (H | 1, W | 1), which no power-of-2 downsampling divides, and gives an output of that
size; a photo whose own size such a model still refuses runs at the trained size.

Nothing is written for a bad input: --background is read before the model, and every photo is
decoded once before the first prediction, so a truncated or corrupt file is named (exit 2) and
the --out folder is not even created. Each photo is decoded again when its batch comes, which
keeps memory at one batch: measured on 2 cores, decoding a 512x512 JPEG takes 1.7 ms and a
12 MP one 0.14 s, while the default CAE alone predicts one 1024x512 frame in 3.5 s. The
largest batch's memory is estimated and refused up front, as evaluate's is. Every file goes
through atomic_write: a crash or a full disk leaves whole files, never half of one (a run
stopped midway leaves the photos done so far, each with all its files but the one under way).
"""
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageOps

from ..data.folder import IMAGE_SUFFIXES, DataError, is_hidden, open_image
from ..diagnostics.memory import check, inference_bytes
from ..models import UnknownModel, build, read_config
from ..system.files import atomic_write, ensure_writable
from ..models.io import NPZ_ERRORS, load_arrays, not_npz, read_checkpoint_arrays
from ..tasks import BinaryMask, make_task

WEIGHT_FILES = ("weights.npz", "checkpoint.npz")


def load_model(weights):
    """(model, input size (H, W), task) from weights.npz, checkpoint.npz or a run folder.

    The model is rebuilt by the registry from the config stored beside its weights, so any
    registered model loads; the task (how its outputs become masks) is stored there too
    (files from before tasks existed hold binary-mask models).
    """
    path = Path(weights).expanduser()
    if path.is_dir():
        found = [path / name for name in WEIGHT_FILES if (path / name).exists()]
        if not found:
            raise DataError(f"no weights.npz or checkpoint.npz in {path}")
        path = found[0]
    if not path.exists():
        raise DataError(f"weights file not found: {path}")
    try:
        what = not_npz(path)
    except OSError as error:
        raise DataError(f"cannot read weights file {path}: {error.strerror or error}") from None
    if what:
        raise DataError(f"{path} is not a .npz weights file ({what}); give the weights.npz or "
                        "checkpoint.npz of an npcae run, or its folder")
    try:
        config = read_config(path)
    except NPZ_ERRORS as error:
        raise DataError(f"cannot read weights file {path} ({type(error).__name__}: {error}); "
                        "is it a weights.npz or checkpoint.npz written by npcae?") from None
    if config is None:
        raise DataError(f"{path} holds no model config; save it with model.save()")
    try:
        model = build(config)
    except UnknownModel as error:
        raise DataError(f"{path}: {error}") from None
    params, state = read_checkpoint_arrays(path)
    if params:                                   # a checkpoint: "model/<name>" keys
        load_arrays(model, params, state, f"weights in {path} are for a different architecture")
    else:
        try:
            model.load(path)
        except NPZ_ERRORS as error:
            raise DataError(f"cannot read weights file {path}: {type(error).__name__}: {error}") from None
    try:
        task = make_task(config.get("task", {"task": "binary"}))
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: the stored task cannot be used: {error}") from None
    size = tuple(config.get("input_size") or (1024, 512))
    return model, size, task


def list_images(inputs):
    """Image files named directly or found (non-recursively, sorted) in the folders given."""
    files = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(p))
            if not found:
                raise DataError(f"no PNG or JPEG images in folder {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"input not found: {path}")
    seen = {}
    for path in files:                 # outputs are named by stem: two stems alike would collide
        if path.stem in seen:
            raise DataError(f"{seen[path.stem]} and {path} would write the same outputs "
                            f"({path.stem}_*.png); predict them into separate --out folders")
        seen[path.stem] = path
    return files


def _save_png(array, path, mode):
    image = Image.fromarray(array, mode)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


# -- --background ----------------------------------------------------------------------------
COLOUR_HELP = "a colour name such as white, #00ff00, or R,G,B with each 0-255"


class Background:
    """What --background names, an opaque colour or an image, at any photo's size.

    An image covers the photo as CSS's `background-size: cover; background-position: center`:
    scaled by the larger of the two ratios, so it fills the photo with no bars, and its centre
    cropped to the photo's aspect ratio (ImageOps.fit, Lanczos); an image of the photo's size is
    used as it is. Any mode Pillow reads, as its RGB (alpha dropped, as for the photos).
    """

    def __init__(self, text, colour=None, image=None):
        self.text, self.colour, self.image = text, colour, image
        self._sized = {}

    def at(self, height, width):
        """The background at (height, width): (H, W, 3) uint8."""
        if self.colour is not None:
            return np.broadcast_to(np.array(self.colour, np.uint8), (height, width, 3))
        if (height, width) not in self._sized:     # the last size only: one camera's photos
            self._sized = {(height, width): np.asarray(   # are fitted once, and memory stays flat
                ImageOps.fit(self.image, (width, height), Image.LANCZOS))}
        return self._sized[(height, width)]

    def __repr__(self):
        return f"Background({self.text!r})"


def parse_colour(text):
    """(r, g, b) from "white", "#00ff00", "#0f0", "rgb(0,255,0)", "0,255,0"; None if none of these."""
    numbers = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
    if numbers:
        rgb = tuple(int(v) for v in numbers.groups())
        if max(rgb) > 255:
            raise DataError(f"--background {text!r}: each of R,G,B must be 0-255")
        return rgb
    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        return None
    if len(rgb) == 4:
        raise DataError(f"--background {text!r} has an alpha channel; a background is opaque: "
                        "give its colour without one")
    return rgb


def parse_background(text):
    """A Background from --background's value: an existing image file, else a colour
    (DataError, one line, when it is neither). An image is decoded now, before any work."""
    if not text.strip():
        raise DataError(f"--background is empty; give an image file or {COLOUR_HELP}")
    path = Path(text).expanduser()
    if path.is_file():
        try:
            return Background(text, image=open_image(path))
        except DataError as error:
            raise DataError(f"--background: {error}") from None
    if path.is_dir():
        raise DataError(f"--background {text} is a folder; give one image file or a colour")
    colour = parse_colour(text)
    if colour is not None:
        return Background(text, colour=colour)
    if path.suffix.lower() in IMAGE_SUFFIXES or os.sep in text:
        raise DataError(f"--background image not found: {path}")
    raise DataError(f"--background {text!r} is neither an image file nor a colour ({COLOUR_HELP})")


# -- where the model runs ---------------------------------------------------------------------
def _fits(model, hw):
    """True when the model takes an (h, w) input and gives an output of that size."""
    try:
        shape = model.output_shape((1, *hw, 3))
    except ValueError:
        return False
    return tuple(shape[1:3]) == tuple(hw)


def takes_any_size(model, size):
    """True when the model runs at any height and width (see the module's docstring)."""
    return _fits(model, (size[0] | 1, size[1] | 1))


def read_photos(files):
    """Decode every photo now (DataError naming the first bad one); their (height, width)."""
    sizes = []
    for path in files:
        width, height = open_image(path).size
        sizes.append((height, width))
    return sizes


AT = ("trained", "own")


def plan_batches(model, size, sizes, batch, at="trained"):
    """[(run size (H, W), [indices of files])]: consecutive photos that run at one size, at most
    `batch` at a time: every photo at the trained `size`, or with at="own" each at its own."""
    if at not in AT:
        raise ValueError(f"at must be one of {AT}, got {at!r}")
    own = at == "own"
    if own and not takes_any_size(model, size):
        raise DataError(f"--at own: this model runs only at its trained size {size[0]}x{size[1]} "
                        f"(it does not take any size); leave --at out")
    plan = []
    for i, hw in enumerate(sizes):
        run = tuple(hw) if own and _fits(model, hw) else tuple(size)
        if plan and plan[-1][0] == run and len(plan[-1][1]) < batch:
            plan[-1][1].append(i)
        else:
            plan.append((run, [i]))
    return plan


def check_memory(model, plan, files, available=None):
    """MemoryTooSmall (exit 2, before any work) if the largest batch of the plan cannot run."""
    run, chunk = max(plan, key=lambda item: item[0][0] * item[0][1] * len(item[1]))
    needed = inference_bytes(model, run, len(chunk))
    where = (f"at the photo {files[chunk[0]]}'s own size {run[0]}x{run[1]}"
             if len(chunk) == 1 else f"on {len(chunk)} photos at {run[0]}x{run[1]}")
    check(needed, f"running the model {where} needs about {{needed}}",
          "predict a smaller copy of the photo, or on a machine with more memory", available)


def _model_input(image, run):
    """An RGB PIL image as the model's (H, W, 3) float32 input in [0, 1] at run = (H, W)."""
    if image.size != (run[1], run[0]):
        image = image.resize((run[1], run[0]), Image.BOX)
    return np.asarray(image, np.float32) / 255.0


def predict_files(model, size, files, out_dir, task=None, batch=3, background=None, at="trained"):
    """Write the task's files for every photo into out_dir, each at the photo's own size
    (binary masks: NAME_mask.png, NAME_cutout.png, NAME_overlay.png, and NAME_composite.png
    given a background, a Background or parse_background's text), the model run at the trained
    size or at="own" at each photo's (the module's docstring). Every photo is decoded and
    the memory checked before out_dir is created or anything written. Returns the stems."""
    task = task or BinaryMask()
    if isinstance(background, str):
        background = parse_background(background)
    if background is not None and not task.composites:
        raise DataError(f"--background needs a model that cuts something out; this one's task "
                        f"is {task.name!r}")
    files = [Path(path) for path in files]
    if not files:
        return []
    plan = plan_batches(model, size, read_photos(files), batch, at)
    check_memory(model, plan, files)
    out_dir = ensure_writable(out_dir)
    extra = {} if background is None else {"background": background}
    written = []
    for run, chunk in plan:
        originals = [open_image(files[i]) for i in chunk]        # any mode, as 8-bit RGB
        outputs = model.forward(np.stack([_model_input(im, run) for im in originals]))
        for i, original, output in zip(chunk, originals, outputs):
            task.write_prediction(files[i].stem, original, output, out_dir, _save_png, **extra)
            written.append(files[i].stem)
    return written
