"""Metrics of a predicted mask against the truth, at a threshold (0.5, as the original's accuracy).

All take arrays of the same shape, probabilities and {0, 1} targets, and reduce over everything
given: pass one image for a per-image figure, the batch for a pooled one. When prediction and
truth are both empty, IoU and Dice are 1 (a perfect answer), not 0/0.
"""
import numpy as np


def _binary(pred, target, threshold):
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    return pred > threshold, target > 0.5


def pixel_accuracy(pred, target, threshold=0.5):
    """Fraction of pixels where the thresholded prediction equals the target (Keras binary_accuracy)."""
    p, t = _binary(pred, target, threshold)
    return float(np.mean(p == t))


def iou(pred, target, threshold=0.5):
    """|P and T| / |P or T| of the thresholded masks."""
    p, t = _binary(pred, target, threshold)
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else np.count_nonzero(p & t) / union


def dice(pred, target, threshold=0.5):
    """2 |P and T| / (|P| + |T|) of the thresholded masks."""
    p, t = _binary(pred, target, threshold)
    total = np.count_nonzero(p) + np.count_nonzero(t)
    return 1.0 if total == 0 else 2 * np.count_nonzero(p & t) / total


def per_image(metric, pred, target, threshold=0.5):
    """The metric for each image of an (N, ...) batch, as a list."""
    return [metric(p, t, threshold) for p, t in zip(pred, target)]
