"""Inference over a set of frames, a batch at a time: predictions, loss and the task's metrics.

    loss, tally = evaluate(model, task, frames)                 # a model in memory
    trained, tally, per_image = evaluate_saved("runs/demo")     # `npcae evaluate`: one from its files

Memory is bounded by the batch: frames are read as each batch needs them (npcae.data Frames).
"""
import math

import numpy as np
from PIL import Image

from ..data import DATASETS, open_frames
from ..data.coco import coco_path
from ..diagnostics.memory import check_inference
from ..errors import InputError
from ..models.tta import with_tta
from ..predict import load_model
from ..predict.sizing import model_input
from ..tasks.base import resize_output
from .options import DEFAULTS
from .task_settings import evaluation_options


def forward_batches(model, images, batch=3):
    """Inference-mode outputs of an image array, `batch` images at a time (bounds im2col memory)."""
    return np.concatenate([model.forward(images[i:i + batch]) for i in range(0, len(images), batch)])


def outputs(model, frames, batch=3, limit=None):
    """Yield (names, images, targets, outputs) for the frames (the first `limit` of them), in batches."""
    count = len(frames) if limit is None else min(limit, len(frames))
    for start in range(0, count, batch):
        indices = list(range(start, min(start + batch, count)))
        images, targets = frames.read(indices)
        yield [frames.names[i] for i in indices], images, targets, model.forward(images)


def weighted_mean(pairs):
    """The mean of values [(value, weight), ...] weighted by weight; exactly the value when
    there is one (fsum of v * (w / total): no v * 3 / 3 rounding)."""
    total = sum(weight for _, weight in pairs)
    if not total:
        return math.nan
    return math.fsum(value * (weight / total) for value, weight in pairs)


def evaluate(model, task, frames, batch=3, per_image=False):
    """(loss, tally[, {name: metrics}]) of the model on every frame, in inference mode.

    The loss is the mean of the batches' losses weighted by their sizes, as Keras reports a
    validation loss (for a loss pooled over the batch, such as Dice, that is not the loss of
    the whole set at once); the tally pools its sums over every frame, so its metrics are the
    whole set's.
    """
    losses, tally, images_metrics = [], task.tally(), {}
    for names, _, targets, out in outputs(model, frames, batch):
        losses.append([task.loss.forward(out, targets), len(names)])
        tally.update(out, targets)
        if per_image:
            for name, o, t in zip(names, out, targets):
                images_metrics[name] = task.tally().update(o, t).result()
    loss = weighted_mean(losses)
    return (loss, tally, images_metrics) if per_image else (loss, tally)


def evaluate_own_size(model, task, frames, size, per_image=False):
    """evaluate()'s results with every frame scored at its own size, as a user meets a photo:
    the image resized (area) to the model's `size`, the output brought back to the photo
    (bilinear, in float) as `npcae predict` does, and scored against the mask as its source
    holds it. One frame at a time: the frames differ in size."""
    losses, tally, images_metrics = [], task.tally(), {}
    for index, name in enumerate(frames.names):
        image, mask = frames.native(index)
        x = model_input(Image.fromarray(image), size)[None]
        out = resize_output(model.forward(x)[0], (image.shape[1], image.shape[0]))[None]
        target = mask.astype(np.float32)[None, ..., None]
        losses.append([task.loss.forward(out, target), 1])
        tally.update(out, target)
        if per_image:
            images_metrics[name] = task.tally().update(out[0], target[0]).result()
    loss = weighted_mean(losses)
    return (loss, tally, images_metrics) if per_image else (loss, tally)


def evaluate_saved(weights, data=None, palette=None, size=None, batch=DEFAULTS["eval_batch"],
                   category=None, tta=None, crowd=None, resolution="model", held_out=False):
    """(TrainedModel, tally, {image: metrics}) of the model in `weights` (a file or run folder)
    on `data` (default: the task's own synthetic set) at `size` (default: its trained size).
    A set split by its publisher (cityscapes-pix2pix: train/ and val/) is evaluated on its
    held-out part; `palette` is a palette file for the data's label colours, `category` the
    category of COCO data (coco:FILE.json) and `crowd` how its crowd regions count
    ("foreground", the default, or "ignore": left out of the score); tta="flip" averages each output with its mirror
    image's (models/tta.py). resolution="own" scores every frame at its own size
    (evaluate_own_size); held_out=True keeps only the frames a registered set's fixed split
    holds out (human-seg-290's 40, tiktok-136's 7)."""
    if resolution not in ("model", "own"):
        raise InputError(f"resolution must be model or own, got {resolution!r}")
    trained = load_model(weights)
    model, task = trained.model, trained.task
    size = tuple(size or trained.size)
    data = data or task.default_data or DEFAULTS["data"]
    options = evaluation_options(task, data, palette, weights)
    if coco_path(data) is not None:
        if category is None:
            raise InputError(f"--category is needed for COCO data ({data}), e.g. person")
        options["category"] = category
        if crowd is not None:
            options["crowd"] = crowd
    elif category is not None or crowd is not None:
        raise InputError(f"--{'category' if category is not None else 'crowd'} is for COCO data "
                         f"(--data coco:FILE.json), not {data}")
    try:
        model.output_shape((1, *size, 3))
    except ValueError as error:
        raise InputError(f"size {size[0]}x{size[1]} does not fit the model: {error}") from None
    check_inference(model, size, batch_size=batch)
    entry = DATASETS.get(data)
    part = 1 if entry is not None and entry.parts else None          # a publisher's held-out part
    frames = open_frames(data, size, part=part, **options)
    if held_out:
        frames = held_out_frames(frames, entry, data)
    seen = with_tta(model, tta)
    if resolution == "own":
        _, total, per_image = evaluate_own_size(seen, task, frames, size, per_image=True)
    else:
        _, total, per_image = evaluate(seen, task, frames, batch=batch, per_image=True)
    return trained, total, per_image


def held_out_frames(frames, entry, data):
    """The frames of a registered set that its fixed split does not train on."""
    training = set((entry.split or {}).get("train_names", ())) if entry is not None else set()
    if not training:
        raise InputError(f"--held-out needs a data set with a fixed split of its own "
                         f"(human-seg-290, tiktok-136), not {data}")
    return frames.subset([name for name in frames.names if name not in training])
