"""A folder of photos in, a folder of pictures out (`npcae predict`): what its task draws for each
photo, at the photo's own size (binary masks: the mask, a cut-out whose alpha is the soft mask,
an overlay and, given a background, the person composited over it).

Nothing is written for a bad input: --background is read before the model, and every photo is
decoded once before the first prediction (photos.py), so a truncated or corrupt file is named
(exit 2) and the --out folder is not even created. The largest batch's memory is estimated
and refused up front, as evaluate's is. Every file goes through atomic_write: a crash or a full
disk leaves whole files, never half of one (a run stopped midway leaves the photos done so far,
each with all its files but the one under way).
"""
from pathlib import Path

import numpy as np

from ..data.folder import DataError, open_image
from ..models.tta import with_tta
from ..tasks import BinaryMask
from .background import parse_background
from .photos import read_photos
from .sizing import check_memory, model_input, plan_batches
from .writers import PngFolder


def predict_files(model, size, files, out_dir, task=None, batch=3, background=None, at="trained",
                  tta=None):
    """Write the task's files for every photo into out_dir, each at the photo's own size
    (binary masks: NAME_mask.png, NAME_cutout.png, NAME_overlay.png, and NAME_composite.png
    given a background, a Background or parse_background's text), the model run at the trained
    size or at="own" at each photo's (sizing.py). Every photo is decoded and the memory
    checked before out_dir is created or anything written. `out_dir` may also be a writer
    (writers.py). tta="flip": each output the mean of the photo's and its mirror image's
    (models/tta.py). Returns the stems."""
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
    seen = with_tta(model, tta)
    writer = (out_dir if hasattr(out_dir, "write") else PngFolder(out_dir)).open()
    extra = {} if background is None else {"background": background}
    written = []
    for run, chunk in plan:
        originals = [open_image(files[i]) for i in chunk]        # any mode, as 8-bit RGB
        outputs = seen.forward(np.stack([model_input(im, run) for im in originals]))
        for i, original, output in zip(chunk, originals, outputs):
            writer.write(files[i].stem, task.render(original, output, **extra))
            written.append(files[i].stem)
    return written
