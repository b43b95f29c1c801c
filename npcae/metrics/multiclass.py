"""Metrics of multi-class masks, as Cityscapes and pix2pix report them, from one confusion matrix.

    cm = confusion_matrix(predicted, truth, classes)    (K, K) int64: row truth, column prediction
    s  = scores(cm)                                     pixel and per-class accuracy, per-class IoU

Pixels whose truth is IGNORE count nowhere. Confusion matrices add (cm of a data set = the sum
of its batches'), so a data set's figures pool all its pixels, as the Cityscapes benchmark does,
rather than averaging per-image figures:

    pixel accuracy    = trace(cm) / sum(cm)
    class accuracy_k  = cm[k, k] / sum_j cm[k, j]                  (recall of class k)
    IoU_k             = cm[k, k] / (sum_j cm[k, j] + sum_i cm[i, k] - cm[k, k])
    mean class accuracy, mIoU = the means over the classes where they are defined

A class with no truth pixels has no accuracy, and one that is neither true nor predicted
anywhere has no IoU (NaN, left out of the means); a class predicted but never true has IoU 0.
"""
import numpy as np

from ..data.labels import IGNORE


def predicted_ids(logits):
    """(N, H, W, K) logits or probabilities -> (N, H, W) uint8 class ids (argmax)."""
    return np.argmax(logits, axis=-1).astype(np.uint8)


def confusion_matrix(predicted, truth, classes, ignore_index=IGNORE):
    """(K, K) int64 counts: cm[t, p] = pixels of true class t predicted as p."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if truth.shape == predicted.shape + (1,):
        truth = truth[..., 0]
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted ids {predicted.shape} and true ids {truth.shape} differ")
    valid = truth != ignore_index
    t, p = truth[valid].astype(np.int64), predicted[valid].astype(np.int64)
    if t.size and (t.max() >= classes or t.min() < 0 or p.max() >= classes or p.min() < 0):
        raise ValueError(f"class ids outside 0..{classes - 1} (and not {ignore_index})")
    return np.bincount(t * classes + p, minlength=classes * classes).reshape(classes, classes)


def scores(cm):
    """{"pixel_accuracy", "class_accuracy" (K,), "mean_class_accuracy", "iou" (K,), "miou"}."""
    cm = np.asarray(cm, np.float64)
    hits, true, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    union = true + predicted - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        class_accuracy = np.where(true > 0, hits / true, np.nan)
        iou = np.where(union > 0, hits / union, np.nan)
    total = cm.sum()
    return {"pixel_accuracy": float(hits.sum() / total) if total else float("nan"),
            "class_accuracy": class_accuracy, "iou": iou,
            "mean_class_accuracy": _mean(class_accuracy), "miou": _mean(iou)}


def _mean(values):
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")
