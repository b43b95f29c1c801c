"""Where a model runs on a photo of any size, and in what batches.

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
"""
import numpy as np
from PIL import Image

from ..data.folder import DataError
from ..diagnostics.memory import check, inference_bytes


def fits(model, hw):
    """True when the model takes an (h, w) input and gives an output of that size."""
    try:
        shape = model.output_shape((1, *hw, 3))
    except ValueError:
        return False
    return tuple(shape[1:3]) == tuple(hw)


def takes_any_size(model, size):
    """True when the model runs at any height and width (see the module's docstring)."""
    return fits(model, (size[0] | 1, size[1] | 1))


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
        run = tuple(hw) if own and fits(model, hw) else tuple(size)
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


def model_input(image, run):
    """An RGB PIL image as the model's (H, W, 3) float32 input in [0, 1] at run = (H, W)."""
    if image.size != (run[1], run[0]):
        image = image.resize((run[1], run[0]), Image.BOX)
    return np.asarray(image, np.float32) / 255.0
