"""Multi-class masks: one logit per class, a class id per pixel (Cityscapes' 19 classes, say).

The model's output is (N, H, W, K) logits, the target (N, H, W, 1) class ids with IGNORE (255)
where a pixel counts for nothing; the predicted class is the argmax. Every figure comes from one
confusion matrix pooled over the pixels of a whole set (npcae.metrics.multiclass), as Cityscapes
and pix2pix report them: pixel accuracy, per-class accuracy and IoU, and their means.
"""
import re

import numpy as np

from ..data.palette import Palette, colourise
from ..losses.multiclass import IGNORE, multiclass_loss
from ..metrics.multiclass import confusion_matrix, predicted_ids, scores
from .base import Tally, Task, resize_output


def slug(name):
    """A class name as a metric key: "traffic light" -> "traffic_light"."""
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_") or "class"


class ConfusionTally(Tally):
    """The (K, K) confusion matrix of argmax(output) against the true ids, rows the truth,
    summed over batches (exact integer counts). result() gives the headline figures and each
    class's IoU as "iou_<class>" (NaN where a class is neither true nor predicted)."""

    FIELDS = ("matrix",)

    def __init__(self, names, matrix=None):
        self.names = tuple(names)
        k = len(self.names)
        self.matrix = np.zeros((k, k), np.int64) if matrix is None else np.array(matrix, np.int64)

    @property
    def sums(self):
        return {"matrix": self.matrix.tolist()}

    def update(self, output, target):
        self.matrix += confusion_matrix(predicted_ids(output), target, len(self.names))
        return self

    def scores(self):
        return scores(self.matrix)

    def counted(self):
        return int(self.matrix.sum())          # the labelled pixels: IGNORE is not in the matrix

    def result(self):
        s = self.scores()
        return {"miou": s["miou"], "pixel_accuracy": s["pixel_accuracy"],
                "class_accuracy": s["mean_class_accuracy"],
                **{f"iou_{slug(name)}": float(v) for name, v in zip(self.names, s["iou"])}}

    def __add__(self, other):
        return ConfusionTally(self.names, self.matrix + other.matrix)

    def state_dict(self):
        return self.sums

    def load_state_dict(self, state):
        self.matrix = np.array(state["matrix"], np.int64).reshape(self.matrix.shape)


class MultiClassMask(Task):
    """Targets (N, H, W, 1) class ids (IGNORE: no class); outputs (N, H, W, K) logits.

    names, colours: the classes and their palette colours (what predict and the figures draw);
    void: the colours the data's labels mark ignored pixels with (for evaluating colour labels);
    loss: "ce" (softmax cross-entropy, the default), "dice" or "ce+dice"; class_weights: K
    weights of the cross-entropy (None: all 1), as `--class-weights auto` computes them.
    """

    name = "multiclass"
    default_model = "unet"       # one output per class: a run of class ids that names no model
    default_data = "synthetic-streets"   # what `npcae evaluate` reads when no --data is given
    headline = ("miou", "pixel_accuracy", "class_accuracy")
    mask_fill = IGNORE           # what augmentation puts where a shifted mask has no pixel
    caption = "Photo, true classes, predicted classes (black: ignored)"
    figures = (("miou", (("heldout_miou", "held out"),
                         ("train_miou", "training batches (augmented, dropout on)")),
                "mean IoU over the classes", "mIoU per epoch"),
               ("accuracy", (("heldout_pixel_accuracy", "held-out pixel accuracy"),
                             ("heldout_class_accuracy", "held-out mean class accuracy"),
                             ("train_pixel_accuracy", "training pixel accuracy")),
                "accuracy", "Accuracy per epoch"))

    def __init__(self, names, colours, loss="ce", class_weights=None, void=()):
        self.palette = Palette(tuple(names), np.asarray(colours, np.uint8).reshape(-1, 3),
                               np.asarray(void, np.uint8).reshape(-1, 3))
        if len(self.palette.names) < 2 or len(self.palette.colours) != len(self.palette.names):
            raise ValueError(f"a multi-class task needs 2 or more classes, each with a colour; got "
                             f"{len(self.palette.names)} names and {len(self.palette.colours)} colours")
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        if self.class_weights is not None and len(self.class_weights) != self.classes:
            raise ValueError(f"{len(self.class_weights)} class weights for {self.classes} classes")
        super().__init__(multiclass_loss(loss, self.class_weights), loss)

    @property
    def classes(self):
        return len(self.palette.names)

    @property
    def config(self):
        return {"task": self.name, "loss": self.loss_spec, "names": list(self.palette.names),
                "colours": self.palette.colours.tolist(), "void": self.palette.void.tolist(),
                "class_weights": self.class_weights}

    @property
    def legend(self):
        """[(class name, RGB in [0, 1])], for the figures."""
        return [(name, tuple(c / 255)) for name, c in zip(self.palette.names, self.palette.colours)]

    def tally(self):
        return ConfusionTally(self.palette.names)

    def colour(self, ids):
        """(H, W) ids (IGNORE black) -> (H, W, 3) uint8 in the palette."""
        return colourise(np.asarray(ids).astype(np.uint8), self.palette)

    def prediction(self, output):
        """(..., H, W, K) logits -> (..., H, W) uint8 class ids (their argmax)."""
        return predicted_ids(output)

    def snapshot(self, output):
        return self.colour(predicted_ids(output))

    def draw(self, image, target, output):
        panels = [np.asarray(image), self.colour(np.asarray(target)[..., 0]) / 255.0]
        if output is not None:
            panels.append(self.snapshot(output) / 255.0)
        return np.concatenate(panels, axis=1)

    def render(self, original, output):
        """The pictures of one photo, each at the photo's own size (the logits are resized
        bilinearly, in float, before the argmax when the model ran at another size):

            classes    8-bit gray: the class id of each pixel, 0..K-1 (255, the ignore label
                       of masks, is never predicted)
            colour     the classes in the palette's colours
            overlay    half the photo, half the colours
        """
        ids = predicted_ids(resize_output(output, original.size))
        rgb = np.asarray(original)
        if ids.shape != rgb.shape[:2]:
            raise ValueError(f"output {ids.shape} does not match the photo {rgb.shape[:2]}")
        colours = self.colour(ids)
        overlay = ((rgb.astype(np.uint16) + colours + 1) // 2).astype(np.uint8)
        return {"classes": (ids, "L"), "colour": (colours, "RGB"), "overlay": (overlay, "RGB")}

    def table(self, total, per_image):
        """The lines `npcae evaluate` prints: each class's pixels, accuracy and IoU, then the
        pooled figures (per-image mIoU is not shown: a class absent from one image has none)."""
        s, truth = total.scores(), total.matrix.sum(axis=1)
        width = max(12, *(len(n) for n in self.palette.names)) + 2
        lines = [f"{'class':<{width}}{'pixels':>12}{'accuracy':>10}{'IoU':>10}"]
        for name, pixels, acc, iou in zip(self.palette.names, truth, s["class_accuracy"], s["iou"]):
            lines.append(f"{name:<{width}}{pixels:>12d}{acc:>10.4f}{iou:>10.4f}")
        lines.append(f"{len(per_image)} images, {int(truth.sum())} labelled pixels: pixel accuracy "
                     f"{s['pixel_accuracy']:.4f}, mean class accuracy {s['mean_class_accuracy']:.4f}, "
                     f"mIoU {s['miou']:.4f} (over the classes with a defined IoU)")
        return lines

    def write_figures(self, tally, out_dir, title=""):
        """The per-class IoU and the confusion matrix of a pooled tally; returns their paths."""
        from ..plots.classes import plot_class_iou, plot_confusion
        s = tally.scores()
        paths = {"class_iou": f"{out_dir}/class_iou.png", "confusion": f"{out_dir}/confusion.png"}
        plot_class_iou(self.palette, s["iou"], s["class_accuracy"], paths["class_iou"], title)
        plot_confusion(self.palette, tally.matrix, paths["confusion"], title)
        return paths
