"""Binary masks: one channel of sigmoid probabilities, a mask where p > 0.5 (the original CAE)."""
import numpy as np

from ..data.labels import IGNORE
from ..losses.binary import get_loss
from .base import Tally, Task, ratio, resize_output

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
    Target pixels equal to IGNORE (255: COCO crowds with crowd="ignore") are not counted.
    """

    FIELDS = ("tp", "fp", "fn", "tn")

    def __init__(self, threshold=0.5, **sums):
        super().__init__(**sums)
        self.threshold = threshold

    def update(self, output, target):
        target = np.asarray(target)
        p, t = np.asarray(output) > self.threshold, target > 0.5
        if p.shape != t.shape:
            raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
        ignored = target == IGNORE                   # COCO's crowd regions, when scored apart
        if ignored.any():
            p, t = p[~ignored], t[~ignored]
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

    def counted(self):
        return sum(self.sums.values())

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
    composites = True
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

    def render(self, original, output, background=None):
        """The pictures of one photo, each at the photo's own size. p is the soft mask: the
        output's probabilities, resized bilinearly (in float) to the photo when the model ran
        at another size.

            mask        8-bit gray: 255 where p > threshold (0.5), else 0
            cutout      RGBA: the photo, its alpha the soft mask A = round(255 p)
            overlay     the photo, the mask tinted magenta
            composite   with a background: the photo over it through the cut-out's alpha,
                        (A photo + (255 - A) background) / 255, rounded, in sRGB values

        The composite mixes sRGB values, not linear light: it is then exactly the cut-out drawn
        over that background as browsers (CSS), Pillow's alpha_composite and image editors by
        default draw it, and p is a probability, not the fraction of a pixel the person covers,
        so light-mixing physics does not apply to it. The cut-out's colour is the photo's
        everywhere (straight alpha, not premultiplied), so a hard threshold can be redone from it.
        """
        p = resize_output(output, original.size)[..., 0]
        rgb = np.asarray(original)
        if p.shape != rgb.shape[:2]:
            raise ValueError(f"output {p.shape} does not match the photo {rgb.shape[:2]}")
        full = p > self.threshold
        mask = np.where(full, 255, 0).astype(np.uint8)
        alpha = np.clip(np.rint(255 * p), 0, 255).astype(np.uint8)
        shown = np.where(full[..., None], 0.55 * rgb + 0.45 * CUTOUT_TINT, rgb).astype(np.uint8)
        pictures = {"mask": (mask, "L"), "cutout": (np.dstack([rgb, alpha]), "RGBA"),
                    "overlay": (shown, "RGB")}
        if background is not None:
            pictures["composite"] = (composite(rgb, alpha, background.at(*rgb.shape[:2])), "RGB")
        return pictures


def composite(rgb, alpha, background):
    """rgb (H, W, 3) over background (H, W, 3) through alpha (H, W), all uint8:
    round((alpha rgb + (255 - alpha) background) / 255), exactly (255 is odd: no ties)."""
    a = alpha.astype(np.uint32)[..., None]
    mixed = a * rgb + (255 - a) * np.asarray(background, np.uint32)
    return ((mixed + 127) // 255).astype(np.uint8)
