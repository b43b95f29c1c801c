"""Image to image: the output is an image in [0, 1] (a denoised frame, say), scored by PSNR."""
import math

import numpy as np
from PIL import Image

from ..losses.binary import get_loss
from .base import Tally, Task


class SquaredError(Tally):
    """Sum of squared errors and the number of values, pooled over batches:

        MSE = sse / n,   PSNR = 10 log10(1 / MSE) dB   (images in [0, 1], so the peak is 1)
    """

    FIELDS = ("sse", "n")

    def update(self, output, target):
        diff = np.asarray(output, np.float64) - np.asarray(target, np.float64)
        self.sums["sse"] += float(np.dot(diff.ravel(), diff.ravel()))
        self.sums["n"] += int(diff.size)
        return self

    def counted(self):
        return self.sums["n"]

    def result(self):
        if not self.sums["n"]:
            return {"mse": math.nan, "psnr": math.nan}
        mse = self.sums["sse"] / self.sums["n"]
        return {"mse": mse, "psnr": 10 * math.log10(1 / mse) if mse > 0 else math.inf}


class ImageToImage(Task):
    """Targets and outputs (N, H, W, C) images in [0, 1]; loss "mse" by default; MSE and PSNR."""

    name = "image"
    headline = ("psnr", "mse")
    figures = (("psnr", (("heldout_psnr", "held out"), ("train_eval_psnr", "train")),
                "PSNR (dB)", "PSNR per epoch"),)
    caption = "Target (left) and output (right)"

    def __init__(self, loss="mse"):
        super().__init__(get_loss(loss), loss)

    @property
    def config(self):
        return {"task": self.name, "loss": self.loss_spec}

    def tally(self):
        return SquaredError()

    def snapshot(self, output):
        return (255 * np.clip(output, 0, 1)).round().astype(np.uint8)

    def draw(self, image, target, output):
        shown = target if output is None else np.concatenate([target, output], axis=1)
        return np.clip(shown, 0, 1)

    def render(self, original, output):
        """output: the output image resized to the original's size (gray or RGB)."""
        pixels = (255 * np.clip(output, 0, 1)).round().astype(np.uint8)
        pixels, mode = (pixels[..., 0], "L") if pixels.shape[-1] == 1 else (pixels, "RGB")
        picture = Image.fromarray(pixels, mode).resize(original.size, Image.BICUBIC)
        return {"output": (np.asarray(picture), mode)}
