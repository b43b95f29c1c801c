"""Inference over a set of frames, a batch at a time: predictions, loss and the task's metrics.

Memory is bounded by the batch: frames are read as each batch needs them (npcae.data Frames).
"""
import numpy as np


def predict(model, images, batch=3):
    """Inference-mode outputs of an image array, `batch` images at a time (bounds im2col memory)."""
    return np.concatenate([model.forward(images[i:i + batch]) for i in range(0, len(images), batch)])


def outputs(model, frames, batch=3, limit=None):
    """Yield (names, images, targets, outputs) for the frames (the first `limit` of them), in batches."""
    count = len(frames) if limit is None else min(limit, len(frames))
    for start in range(0, count, batch):
        indices = list(range(start, min(start + batch, count)))
        images, targets = frames.read(indices)
        yield [frames.names[i] for i in indices], images, targets, model.forward(images)


def evaluate(model, task, frames, batch=3, per_image=False):
    """(loss, tally[, {name: metrics}]) of the model on every frame, in inference mode.

    The loss is the mean of the batches' losses weighted by their sizes (as Keras reports a
    validation loss); the tally pools pixel counts over every frame, so its metrics are exact.
    """
    from .training import weighted_mean
    losses, tally, images_metrics = [], task.tally(), {}
    for names, _, targets, out in outputs(model, frames, batch):
        losses.append([task.loss.forward(out, targets), len(names)])
        tally.update(out, targets)
        if per_image:
            for name, o, t in zip(names, out, targets):
                images_metrics[name] = task.tally().update(o, t).result()
    loss = weighted_mean(losses)
    return (loss, tally, images_metrics) if per_image else (loss, tally)
