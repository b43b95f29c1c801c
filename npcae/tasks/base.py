"""What a task is: everything that depends on the kind of target, in one object.

    task.loss                        the training loss: loss.forward(output, target), backward()
    task.tally()                     a Tally: update(output, target) batch by batch, result()
    task.prediction(output)          what predict() returns: probabilities, or class ids
    task.snapshot(output)            a small uint8 picture of an output, for the evolution plot
    task.draw(image, target, output) an RGB picture of image, truth and prediction, for figures
    task.render(photo, output)       the pictures of one photo at its size ({kind: (pixels, mode)})
    task.composites                  True if render takes a background= (--background)
    task.figures                     the metric curves of a run: (file stem, keys, ylabel, title)
    task.headline                    the metrics a summary prints (the first on the progress bar)
    task.caption                     the title of the figure of drawn predictions
    task.config                      how to make the task again (stored with the run)

The training loop, validation and the figures call only these; a new kind of target (multi-class
masks, say) is a new Task, not an edit of the loop.
"""
import math

import numpy as np
from PIL import Image


class Tally:
    """Metrics accumulated over batches. Subclasses keep sums (JSON-ready numbers) in `sums`, so
    that a tally gives the whole set's metrics whatever the batching (exactly for counts; to
    rounding for float sums), adds with +, and is saved as it is."""

    FIELDS = ()

    def __init__(self, **sums):
        self.sums = {field: sums.get(field, 0) for field in self.FIELDS}

    def update(self, output, target):
        raise NotImplementedError

    def result(self):
        """{metric name: float}."""
        raise NotImplementedError

    def counted(self):
        """How many target values the sums hold (ignored pixels not counted): 0 means there
        was nothing to score, and nothing to learn."""
        raise NotImplementedError

    def __add__(self, other):
        return type(self)(**{k: self.sums[k] + other.sums[k] for k in self.FIELDS})

    def state_dict(self):
        return dict(self.sums)

    def load_state_dict(self, state):
        self.sums = {field: state[field] for field in self.FIELDS}


class Task:
    name = None
    figures = ()
    headline = ()
    caption = ""
    composites = False          # render(..., background=) puts the subject on it
    default_data = None         # what `npcae evaluate` reads when no --data is given (None: the run default)

    def __init__(self, loss, loss_spec):
        self.loss, self.loss_spec = loss, loss_spec      # the Loss, and the string it came from

    @property
    def config(self):
        raise NotImplementedError

    def tally(self):
        raise NotImplementedError

    def prediction(self, output):
        """What a user asks for from (..., H, W, C) outputs: as they are (probabilities of a
        mask, an image); a multi-class task gives class ids (..., H, W) instead of logits."""
        return output

    def snapshot(self, output):
        raise NotImplementedError

    def draw(self, image, target, output):
        raise NotImplementedError

    def render(self, original, output, **options):
        """The pictures of one photo, each at the photo's own size: {kind: (pixels, mode)},
        pixels uint8 and mode a Pillow mode ("L", "RGB", "RGBA"). A writer decides where they
        go (npcae.predict: PNG files NAME_<kind>.png; a video: one stream per kind).

        original: the photo as an 8-bit RGB PIL image; output: the model's (h, w, C) output
        for it, at the photo's size or at the size the model ran at (resize_output brings it
        to the photo's). A task with `composites` also takes background=: a Background
        (npcae.predict) whose at(height, width) gives the new background, (H, W, 3) uint8.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(loss={self.loss!r})"


def resize_output(output, size, resample=Image.BILINEAR):
    """An (h, w, C) output resized channel by channel, as float32, to size = (width, height)
    (a PIL image's .size); returned unchanged (as float32) when it already has that size.

    Pillow resizes mode "F" images in float, so probabilities are not rounded to 8 bits before
    they are thresholded. Bilinear keeps them in their range (its weights are positive and sum
    to 1) and, shrinking, widens its support to the scale, so it averages rather than skips.
    """
    output = np.asarray(output, np.float32)
    if output.shape[1::-1] == tuple(size):
        return output
    return np.dstack([np.asarray(Image.fromarray(np.ascontiguousarray(output[..., c]), "F")
                                 .resize(tuple(size), resample)) for c in range(output.shape[-1])])


def ratio(numerator, denominator, empty=1.0):
    """numerator / denominator, `empty` when both are 0 (a perfect answer on an empty mask)."""
    return empty if denominator == 0 else numerator / denominator


def finite_or_nan(value):
    return value if math.isfinite(value) else math.nan
