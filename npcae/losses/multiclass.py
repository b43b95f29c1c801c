"""Losses for multi-class masks: the model gives one logit per class, the target a class id per
pixel. The binary losses (losses.py) take probabilities and a target of pred's shape; these take
logits (N, H, W, K) and ids (N, H, W) or (N, H, W, 1), with IGNORE for pixels that count for
nothing (Cityscapes' void: the label colours JPEG blurred beyond recognition, the ego car).
"""
import numpy as np

from ..kernels import softmax as softmax_kernels
from ..data.labels import IGNORE
from ..layers.base import BadInput
from .binary import Loss, SumLoss


def class_logits(pred, loss):
    """pred as an array of logits, one channel per class on the last axis and at least two: a
    softmax over one class is 1 whatever the logit, so the loss would be 0 and teach nothing."""
    logits = np.asarray(pred)
    if logits.ndim < 2 or logits.shape[-1] < 2:
        raise BadInput(f"{type(loss).__name__} needs logits of at least 2 classes on the last "
                       f"axis, got shape {logits.shape}; a one-channel mask takes a sigmoid "
                       f"loss (BCELoss, DiceLoss)")
    return logits


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

    fast=True runs kernels/softmax.py (one sweep a pass, every core); fast=False the NumPy
    code below, the reference it is tested against.
    """

    def __init__(self, class_weights=None, ignore_index=IGNORE, fast=True):
        weights = None if class_weights is None else np.asarray(class_weights, np.float64)
        if weights is not None and (weights.ndim != 1 or not np.all(weights >= 0)):
            raise ValueError("class weights must be one non-negative number per class")
        self.class_weights = weights
        self.ignore_index, self.fast = ignore_index, fast

    def forward(self, pred, target):
        logits = class_logits(pred, self)
        ids = class_ids(target, logits.shape, self.ignore_index)
        classes = logits.shape[-1]
        if self.class_weights is not None and self.class_weights.shape != (classes,):
            raise ValueError(f"{self.class_weights.size} class weights for {classes} classes")
        if self.fast:
            rows = np.ascontiguousarray(logits.reshape(-1, classes))
            weights = np.ones(classes) if self.class_weights is None else self.class_weights
            flat_ids = ids.reshape(-1)
            p, (loss_sum, total) = softmax_kernels.softmax_ce(rows, flat_ids, weights, self.ignore_index)
            self._fast_cache = logits.shape, logits.dtype, p, flat_ids, weights, total
            return float(loss_sum / total) if total > 0 else 0.0
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
        if self.fast:
            shape, dtype, p, ids, weights, total = self._fast_cache
            if total == 0:
                return np.zeros(shape, dtype)
            return softmax_kernels.ce_gradient(p, ids, weights, self.ignore_index, total, dtype).reshape(shape)
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


class MultiClassDice(Loss):
    """Soft Dice averaged over the classes, on the softmax of NHWC logits (Milletari et al. 2016,
    one term per class as Sudre et al. 2017 write the generalised Dice, unweighted):

        p = softmax(z) (N, H, W, K),  t = onehot(y),  v_i = [y_i != 255]
        I_k = sum_i v_i p_ik t_ik,    S_k = sum_i v_i p_ik + sum_i t_ik
        L   = 1 - (1/K) sum_k (2 I_k + s) / (S_k + s)                          (s: smooth)
        dL/dp_ik = -(v_i / K) (2 t_ik (S_k + s) - (2 I_k + s)) / (S_k + s)^2
        dL/dz_i  = p_i * (g_i - <g_i, p_i>),   g_i = dL/dp_i      (through the softmax)

    Sums are over the whole batch, so a class rare in pixels weighs as much as the road: that
    is what it adds to cross-entropy for mIoU. A class absent from the batch scores
    s / (sum_i p_ik + s), which pushes its probabilities down. s = 1, as is usual. fast: as
    SoftmaxCrossEntropy's (kernels/softmax.py, or this NumPy reference).
    """

    def __init__(self, smooth=1.0, ignore_index=IGNORE, fast=True):
        self.smooth, self.ignore_index, self.fast = float(smooth), ignore_index, fast

    def forward(self, pred, target):
        logits = class_logits(pred, self)
        ids = class_ids(target, logits.shape, self.ignore_index)
        classes = logits.shape[-1]
        if self.fast:
            flat_ids = ids.reshape(-1)
            p, _ = softmax_kernels.softmax_ce(np.ascontiguousarray(logits.reshape(-1, classes)),
                                              flat_ids, np.ones(classes), self.ignore_index)
            intersection, p_sums, t_sums = softmax_kernels.dice_sums(p, flat_ids, self.ignore_index)
            numerator, denominator = 2 * intersection + self.smooth, p_sums + t_sums + self.smooth
            self._fast_cache = logits.shape, logits.dtype, p, flat_ids, numerator, denominator
            return float(1 - np.mean(numerator / denominator))
        valid = (ids != self.ignore_index)[..., None]
        shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=-1, keepdims=True)
        onehot = (ids[..., None] == np.arange(classes)) & valid      # ignored pixels: all zero
        axes = tuple(range(ids.ndim))
        intersection = (p * onehot).sum(axis=axes)
        total = (p * valid).sum(axis=axes) + onehot.sum(axis=axes)
        self._cache = logits.dtype, p, onehot, valid, intersection, total
        return float(1 - np.mean((2 * intersection + self.smooth) / (total + self.smooth)))

    def backward(self):
        if self.fast:
            shape, dtype, p, ids, numerator, denominator = self._fast_cache
            return softmax_kernels.dice_gradient(p, ids, self.ignore_index, numerator, denominator,
                                                 dtype).reshape(shape)
        dtype, p, onehot, valid, intersection, total = self._cache
        denominator = total + self.smooth
        g = -(2 * onehot * denominator - (2 * intersection + self.smooth)) / denominator ** 2
        g *= valid / p.shape[-1]
        grad = p * (g - (g * p).sum(axis=-1, keepdims=True))
        return grad.astype(dtype)


MULTICLASS_LOSSES = ("ce", "dice")


def multiclass_loss(spec, class_weights=None, ignore_index=IGNORE, fast=True):
    """A multi-class loss from "ce", "dice" or "ce+dice": the weights go to the cross-entropy."""
    terms = []
    for name in spec.replace(" ", "").split("+"):
        if name == "ce":
            terms.append(SoftmaxCrossEntropy(class_weights, ignore_index, fast))
        elif name == "dice":
            terms.append(MultiClassDice(ignore_index=ignore_index, fast=fast))
        else:
            raise ValueError(f"unknown multi-class loss {name!r} in {spec!r}; choose terms of "
                             f"{', '.join(MULTICLASS_LOSSES)}")
    return terms[0] if len(terms) == 1 else SumLoss(*terms)
