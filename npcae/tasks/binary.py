"""Binary masks: one channel of sigmoid probabilities, a mask where p > 0.5 (the original CAE)."""
import numpy as np
from PIL import Image

from ..losses import get_loss
from .base import Tally, Task, ratio

OVERLAY_TRUE = np.array([0.1, 0.8, 0.2])      # green: the true mask
OVERLAY_PRED = np.array([0.9, 0.1, 0.6])      # magenta: the prediction
CUTOUT_TINT = np.array([255, 0, 160], np.float32)


def overlay(image, mask, color, alpha=0.5):
    """image (H, W, 3) in [0, 1] with `mask` (H, W) painted in `color`."""
    mask = np.asarray(mask).astype(bool)[..., None]
    return np.where(mask, (1 - alpha) * image + alpha * color, image)


class BinaryCounts(Tally):
    """Pixel counts of the thresholded prediction P against the truth T, pooled over batches:

        accuracy = (tp + tn) / pixels,   IoU = tp / (tp + fp + fn),   Dice = 2 tp / (2 tp + fp + fn)
    IoU and Dice are 1 when P and T are both empty. Equal to npcae.metrics on the whole set.
    """

    FIELDS = ("tp", "fp", "fn", "tn")

    def __init__(self, threshold=0.5, **sums):
        super().__init__(**sums)
        self.threshold = threshold

    def update(self, output, target):
        p, t = np.asarray(output) > self.threshold, np.asarray(target) > 0.5
        if p.shape != t.shape:
            raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
        # Python ints: exact at any size, and JSON-ready for a checkpoint.
        tp, n_p, n_t = (int(np.count_nonzero(a)) for a in (p & t, p, t))
        self.sums["tp"] += tp
        self.sums["fp"] += n_p - tp
        self.sums["fn"] += n_t - tp
        self.sums["tn"] += int(p.size) - n_p - n_t + tp
        return self

    def __add__(self, other):
        total = super().__add__(other)
        total.threshold = self.threshold
        return total

    def result(self):
        tp, fp, fn, tn = (self.sums[k] for k in self.FIELDS)
        return {"accuracy": ratio(tp + tn, tp + fp + fn + tn, float("nan")),
                "iou": ratio(tp, tp + fp + fn), "dice": ratio(2 * tp, 2 * tp + fp + fn)}


class BinaryMask(Task):
    """Targets (N, H, W, 1) in {0, 1}; outputs (N, H, W, 1) probabilities; mask = output > 0.5.

    Loss: "dice+focal" by default (the original's), any npcae.losses spec. Metrics: pixel
    accuracy, IoU and Dice of the thresholded mask.
    """

    name = "binary"
    headline = ("iou", "dice", "accuracy")
    caption = "True (green) vs predicted (magenta) masks"
    figures = (("accuracy", (("train_accuracy", "train (dropout on)"),
                             ("heldout_accuracy", "held out"),
                             ("all_accuracy", "all frames (the original's figure)")),
                "pixel accuracy", "Accuracy per epoch"),
               ("iou_dice", (("heldout_iou", "held-out IoU"), ("heldout_dice", "held-out Dice"),
                             ("train_eval_iou", "train IoU"), ("all_iou", "all-frames IoU")),
                "score", "IoU and Dice per epoch"))

    def __init__(self, loss="dice+focal", threshold=0.5):
        super().__init__(get_loss(loss), loss)
        self.threshold = float(threshold)

    @property
    def config(self):
        return {"task": self.name, "loss": self.loss_spec, "threshold": self.threshold}

    def tally(self):
        return BinaryCounts(self.threshold)

    def snapshot(self, output):
        """The probability map as 8-bit gray (H, W)."""
        return (255 * np.asarray(output)[..., 0]).round().astype(np.uint8)

    def draw(self, image, target, output):
        shown = overlay(image, target[..., 0], OVERLAY_TRUE, 0.45)
        if output is not None:
            shown = overlay(shown, output[..., 0] > self.threshold, OVERLAY_PRED, 0.45)
        return np.clip(shown, 0, 1)

    def write_prediction(self, stem, original, output, out_dir, save_png):
        """NAME_mask.png (0/255), NAME_overlay.png and NAME_cutout.png (RGBA, transparent
        background) at the original's size; the probabilities are resized bilinearly, then
        thresholded."""
        probability = Image.fromarray((output[..., 0] * 255).round().astype(np.uint8), "L")
        full = np.asarray(probability.resize(original.size, Image.BILINEAR)) > 255 * self.threshold
        rgb = np.asarray(original)
        mask = (full * 255).astype(np.uint8)
        shown = np.where(full[..., None], 0.55 * rgb + 0.45 * CUTOUT_TINT, rgb).astype(np.uint8)
        save_png(mask, out_dir / f"{stem}_mask.png", "L")
        save_png(shown, out_dir / f"{stem}_overlay.png", "RGB")
        save_png(np.dstack([rgb, mask]), out_dir / f"{stem}_cutout.png", "RGBA")
        return [f"{stem}_{kind}.png" for kind in ("mask", "overlay", "cutout")]
