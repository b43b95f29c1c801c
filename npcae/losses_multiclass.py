"""Losses for multi-class masks: the model gives one logit per class, the target a class id per
pixel. The binary losses (losses.py) take probabilities and a target of pred's shape; these take
logits (N, H, W, K) and ids (N, H, W) or (N, H, W, 1), with IGNORE for pixels that count for
nothing (Cityscapes' void: the label colours JPEG blurred beyond recognition, the ego car).
"""
import numpy as np

from .losses import Loss

IGNORE = 255            # Cityscapes' "trainId 255"; class-id PNGs mark void pixels with it


def class_ids(target, logits_shape, ignore_index=IGNORE):
    """target as an int64 (N, H, W) array of ids in [0, K) or ignore_index; one clear error
    for a shape or a value that is neither."""
    ids = np.asarray(target)
    if ids.shape == tuple(logits_shape[:-1]) + (1,):
        ids = ids[..., 0]
    if ids.shape != tuple(logits_shape[:-1]):
        raise ValueError(f"class ids {np.shape(target)} do not match logits "
                         f"{tuple(logits_shape)}: need {tuple(logits_shape[:-1])} or "
                         f"{tuple(logits_shape[:-1]) + (1,)}")
    if not np.issubdtype(ids.dtype, np.integer):
        if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
            raise ValueError("class ids must be whole numbers")
    ids = ids.astype(np.int64)
    classes = logits_shape[-1]
    bad = (ids < 0) | ((ids >= classes) & (ids != ignore_index))
    if bad.any():
        raise ValueError(f"class id {int(ids[bad][0])} is outside 0..{classes - 1} and is not "
                         f"the ignore label {ignore_index}")
    return ids


class SoftmaxCrossEntropy(Loss):
    """PyTorch `nn.CrossEntropyLoss(weight, ignore_index=255)` on NHWC logits, mean reduction:

        z (N, H, W, K) logits,  y (N, H, W) ids,  V = the pixels with y != 255,  w (K,) weights
        log p_k = z_k - m - log sum_j exp(z_j - m),   m = max_j z_j        (no overflow)
        L       = sum_{i in V} w_{y_i} (-log p_{y_i}) / sum_{i in V} w_{y_i}
        dL/dz_i = w_{y_i} (p_i - onehot(y_i)) / sum_{i in V} w_{y_i}   for i in V, 0 elsewhere

    class_weights None weighs every class 1 (L is then the mean over V). A batch with no pixel
    in V has L = 0 and a zero gradient (PyTorch returns nan): nothing to learn from, and a NaN
    would end the run. Sums in float64.
    """

    def __init__(self, class_weights=None, ignore_index=IGNORE):
        weights = None if class_weights is None else np.asarray(class_weights, np.float64)
        if weights is not None and (weights.ndim != 1 or not np.all(weights >= 0)):
            raise ValueError("class weights must be one non-negative number per class")
        self.class_weights = weights
        self.ignore_index = ignore_index

    def forward(self, pred, target):
        logits = np.asarray(pred)
        ids = class_ids(target, logits.shape, self.ignore_index)
        classes = logits.shape[-1]
        if self.class_weights is not None and self.class_weights.shape != (classes,):
            raise ValueError(f"{self.class_weights.size} class weights for {classes} classes")
        shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        valid = ids != self.ignore_index
        safe_ids = np.where(valid, ids, 0)
        weights = (np.ones(classes) if self.class_weights is None else self.class_weights)[safe_ids]
        weights = np.where(valid, weights, 0.0)                    # (N, H, W)
        total = weights.sum()
        picked = np.take_along_axis(log_p, safe_ids[..., None], axis=-1)[..., 0]
        self._cache = logits.dtype, log_p, safe_ids, weights, total
        return float(-(weights * picked).sum() / total) if total > 0 else 0.0

    def backward(self):
        dtype, log_p, safe_ids, weights, total = self._cache
        if total == 0:
            return np.zeros(log_p.shape, dtype)
        grad = np.exp(log_p)                                        # softmax p
        np.put_along_axis(grad, safe_ids[..., None],
                          np.take_along_axis(grad, safe_ids[..., None], axis=-1) - 1, axis=-1)
        grad *= (weights / total)[..., None]                       # ignored pixels: weight 0
        return grad.astype(dtype)

    def __repr__(self):
        weights = ("" if self.class_weights is None
                   else f"class_weights={self.class_weights.round(3).tolist()}, ")
        return f"SoftmaxCrossEntropy({weights}ignore_index={self.ignore_index})"


def median_frequency_weights(masks, classes, ignore_index=IGNORE):
    """Class weights by median-frequency balancing (Eigen and Fergus 2015, as SegNet uses them):

        freq_k = pixels of class k / pixels of the images in which k occurs   (ignored excluded)
        w_k    = median(freq over the classes that occur) / freq_k;   0 for a class never seen

    so a class as common as the median one weighs 1, a rare one more. `masks` is an iterable of
    (H, W) class-id arrays (the training masks, read once)."""
    counts = np.zeros(classes, np.int64)
    present_pixels = np.zeros(classes, np.int64)
    for mask in masks:
        ids = np.asarray(mask).reshape(-1)
        ids = ids[ids != ignore_index].astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= classes):
            raise ValueError(f"class ids outside 0..{classes - 1} (and not {ignore_index})")
        here = np.bincount(ids, minlength=classes)
        counts += here
        present_pixels += np.where(here > 0, ids.size, 0)
    occurs = counts > 0
    if not occurs.any():
        raise ValueError("no labelled pixel in the masks: nothing to weigh")
    freq = np.where(occurs, counts / np.maximum(present_pixels, 1), 0.0)
    return np.where(occurs, np.median(freq[occurs]) / np.where(occurs, freq, 1.0), 0.0)
