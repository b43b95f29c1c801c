"""Segmentation losses with explicit gradients: loss.forward(pred, target) -> float,
loss.backward() -> dL/dpred (same shape and dtype as pred).

pred holds probabilities (N, H, W, C) after a sigmoid; target the same shape in {0, 1}.
Losses compose: `DiceLoss() + FocalLoss()` (the original's loss) and `0.5 * BCELoss()`.
Reductions are accumulated in float64 so a 1024x512 batch sums without float32 drift.

Every loss, through the Loss base class (see `Loss.__init_subclass__`):
  * backward raises BackwardOrderError, as a layer's does, unless a forward that succeeded
    came before it;
  * forward raises NonFinitePrediction (a BadInput) when its value is not finite because the
    prediction holds NaN or infinity, BadInput when the target does, naming the loss and the
    count. Only the scalar value is tested on every call (0.05-0.2 us, against ~8 us for one
    np.isfinite pass over a 3x256x128x1 prediction, whose forward takes 60-150 us); the arrays
    are scanned only once the value is not finite. So a non-finite value the loss does not see
    passes, as it harms nothing: a probability of inf clipped to 1 - 1e-7 by focal or
    cross-entropy (gradient 0 there), a logit at an ignored pixel. A value that is not finite
    from finite inputs (an overflow) is returned as before.
"""
import functools
import math

import numpy as np

from ..layers.base import BackwardOrderError, BadInput

EPSILON = 1e-7          # Keras's backend epsilon, the clip of the focal and cross-entropy losses


def _checked(pred, target):
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    return pred, target.astype(pred.dtype, copy=False)


class Loss:
    """Base class. Subclasses implement forward and backward; + and * compose them. Each
    subclass's own forward and backward are wrapped once, when the class is made, as Layer's
    are: a backward needs a forward before it, and a non-finite value is explained."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _checked_forward(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _needs_forward(cls.__dict__["backward"])

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def __add__(self, other):
        return SumLoss(self, other)

    def __mul__(self, weight):
        return SumLoss((float(weight), self))

    __rmul__ = __mul__


def _checked_forward(forward):
    @functools.wraps(forward)
    def checked_forward(self, pred, target):
        self._forward_done = False               # a forward that raises leaves nothing to use
        value = forward(self, pred, target)
        if not math.isfinite(value):             # the only cost on the way: a float test
            _refuse_non_finite(self, pred, target, value)
        self._forward_done = True
        return value
    return checked_forward


def _needs_forward(backward):
    @functools.wraps(backward)
    def checked_backward(self):
        done = getattr(self, "_forward_done", None)
        if done is not True:
            last = ("there was no forward before it" if done is None else
                    "the last forward failed and left nothing to differentiate")
            raise BackwardOrderError(f"{type(self).__name__}.backward needs forward(pred, target) "
                                     f"just before it; {last}")
        return backward(self)
    return checked_backward


class NonFinitePrediction(BadInput):
    """A loss's prediction holds NaN or infinity and makes its value `value` (NaN or inf).

    Given by a caller, that is bad input; coming out of a model whose input was finite (a
    training step: models check their input), it means the weights diverged, and a training
    loop reports it so (npcae.train's TrainingDiverged)."""

    def __init__(self, message, value):
        super().__init__(message)
        self.value = value


def _refuse_non_finite(loss, pred, target, value):
    """The loss came out `value` (NaN or infinite): raise NonFinitePrediction if the prediction
    holds NaN or infinity, BadInput if the target does; return if neither does (an overflow)."""
    def count(array):
        return np.count_nonzero(~np.isfinite(array)) if array.dtype.kind in "fc" else 0

    def message(name, bad, size):
        return (f"{type(loss).__name__}: the {name} holds {bad} NaN or infinite values (of "
                f"{size}), so the loss is {value}")

    pred, target = np.asarray(pred), np.asarray(target)
    if bad := count(pred):
        raise NonFinitePrediction(message("prediction", bad, pred.size), value)
    if bad := count(target):
        raise BadInput(message("target", bad, target.size))


class SumLoss(Loss):
    """L = sum_k w_k L_k;  dL/dp = sum_k w_k dL_k/dp."""

    def __init__(self, *terms):
        self.terms = []
        for term in terms:
            weight, loss = term if isinstance(term, tuple) else (1.0, term)
            if isinstance(loss, SumLoss):
                self.terms += [(weight * w, inner) for w, inner in loss.terms]
            else:
                self.terms.append((weight, loss))

    def forward(self, pred, target):
        return sum(w * loss.forward(pred, target) for w, loss in self.terms)

    def backward(self):
        grads = [w * loss.backward() for w, loss in self.terms]
        return sum(grads[1:], start=grads[0])

    def __repr__(self):
        return " + ".join(f"{w:g} * {loss!r}" if w != 1 else repr(loss) for w, loss in self.terms)


class DiceLoss(Loss):
    """segmentation_models DiceLoss (beta=1, per_image=False), per channel then averaged:

        tp = sum(t p), fp = sum(p) - tp, fn = sum(t) - tp     (over N, H, W)
        L  = 1 - (2 tp + s) / (2 tp + fn + fp + s) = 1 - (2 tp + s) / (sum t + sum p + s)
        dL/dp = -(2 t D - (2 tp + s)) / D^2 / C,   D = sum t + sum p + s,  s = 1e-5
    """

    def __init__(self, smooth=1e-5):
        self.smooth = smooth

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        axes = tuple(range(pred.ndim - 1))
        tp = np.sum(target * pred, axis=axes, dtype=np.float64)
        denom = np.sum(target, axis=axes, dtype=np.float64) + np.sum(pred, axis=axes, dtype=np.float64) + self.smooth
        numer = 2 * tp + self.smooth
        self._cache = pred, target, numer, denom
        return float(1 - np.mean(numer / denom))

    def backward(self):
        pred, target, numer, denom = self._cache
        grad = -(2 * target * denom - numer) / denom ** 2 / pred.shape[-1]
        return grad.astype(pred.dtype)

    def __repr__(self):
        return "DiceLoss()"


class FocalLoss(Loss):
    """The original's categorical focal loss on one channel (segmentation_models, alpha 0.25, gamma 2):

        p' = clip(p, 1e-7, 1 - 1e-7),  L = mean(-alpha t (1 - p')^gamma log p')
        dL/dp = -alpha t [(1 - p')^gamma / p' - gamma (1 - p')^(gamma-1) log p'] / size
                (zero where the clip is active)
    """

    def __init__(self, alpha=0.25, gamma=2.0):
        self.alpha, self.gamma = alpha, gamma

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        p = np.clip(pred, EPSILON, 1 - EPSILON)
        self._cache = pred, target, p
        loss = -target * self.alpha * (1 - p) ** self.gamma * np.log(p)
        return float(np.mean(loss, dtype=np.float64))

    def backward(self):
        pred, target, p = self._cache
        a, g = self.alpha, self.gamma
        grad = -a * target * ((1 - p) ** g / p - g * (1 - p) ** (g - 1) * np.log(p))
        grad *= (pred >= EPSILON) & (pred <= 1 - EPSILON)
        return (grad / pred.size).astype(pred.dtype)

    def __repr__(self):
        return f"FocalLoss(alpha={self.alpha}, gamma={self.gamma})"


class BinaryFocalLoss(Loss):
    """Focal loss counting both classes (segmentation_models BinaryFocalLoss):

        L = mean(-alpha t (1-p')^g log p' - (1-alpha)(1-t) p'^g log(1-p'))
    """

    def __init__(self, alpha=0.25, gamma=2.0):
        self.alpha, self.gamma = alpha, gamma

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        p = np.clip(pred, EPSILON, 1 - EPSILON)
        self._cache = pred, target, p
        a, g = self.alpha, self.gamma
        loss = (-a * target * (1 - p) ** g * np.log(p)
                - (1 - a) * (1 - target) * p ** g * np.log(1 - p))
        return float(np.mean(loss, dtype=np.float64))

    def backward(self):
        pred, target, p = self._cache
        a, g = self.alpha, self.gamma
        d_pos = -a * target * ((1 - p) ** g / p - g * (1 - p) ** (g - 1) * np.log(p))
        d_neg = -(1 - a) * (1 - target) * (g * p ** (g - 1) * np.log(1 - p) - p ** g / (1 - p))
        grad = (d_pos + d_neg) * ((pred >= EPSILON) & (pred <= 1 - EPSILON))
        return (grad / pred.size).astype(pred.dtype)

    def __repr__(self):
        return f"BinaryFocalLoss(alpha={self.alpha}, gamma={self.gamma})"


class BCELoss(Loss):
    """Binary cross-entropy on probabilities, clipped like Keras:

        L = mean(-t log p' - (1 - t) log(1 - p')),   dL/dp = (p' - t) / (p' (1 - p')) / size
    """

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        p = np.clip(pred, EPSILON, 1 - EPSILON)
        self._cache = pred, target, p
        loss = -target * np.log(p) - (1 - target) * np.log(1 - p)
        return float(np.mean(loss, dtype=np.float64))

    def backward(self):
        pred, target, p = self._cache
        grad = (p - target) / (p * (1 - p)) * ((pred >= EPSILON) & (pred <= 1 - EPSILON))
        return (grad / pred.size).astype(pred.dtype)

    def __repr__(self):
        return "BCELoss()"


class MSELoss(Loss):
    """Mean squared error, for regression outputs such as a denoised image; Keras `mse`:

        L = mean((p - t)^2) over every element,   dL/dp = 2 (p - t) / size
    """

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        self._diff = pred - target
        return float(np.mean(np.square(self._diff, dtype=np.float64)))

    def backward(self):
        return (2 / self._diff.size * self._diff).astype(self._diff.dtype)

    def __repr__(self):
        return "MSELoss()"


class LovaszLoss(Loss):
    """The Lovasz-softmax loss of a binary mask (Berman et al. 2018), per image and channel, averaged:
    a convex surrogate of 1 - IoU, for models judged by their IoU.

        e_i = |t_i - p_i|, sorted so that e_(1) >= e_(2) >= ...      (one image, one channel)
        g_k = J_k - J_{k-1},  J_k = 1 - (T - F_k) / (T + k - F_k)     T = sum t, F_k = sum of t_(1..k)
        L   = mean over images and channels of sum_k e_(k) g_k        (the Lovasz extension of
                                                                         the Jaccard loss at e)
        dL/dp_i = g_rank(i) * (1 if t_i = 0 else -1) / (N C)

    g is the Jaccard loss gained by each next error, so the largest errors weigh by how much
    they cost the IoU. Piecewise linear in p (its kinks where two errors tie).
    """

    def forward(self, pred, target):
        pred, target = _checked(pred, target)
        n, channels = pred.shape[0], pred.shape[-1]
        p = pred.reshape(n, -1, channels).transpose(0, 2, 1).reshape(n * channels, -1)
        t = target.reshape(n, -1, channels).transpose(0, 2, 1).reshape(n * channels, -1)
        errors = np.abs(t - p).astype(np.float64)
        order = np.argsort(-errors, axis=1, kind="stable")
        t_sorted = np.take_along_axis(t, order, axis=1).astype(np.float64)
        total = t_sorted.sum(axis=1, keepdims=True)
        intersection = total - np.cumsum(t_sorted, axis=1)
        union = total + np.cumsum(1 - t_sorted, axis=1)
        jaccard = 1 - intersection / union
        jaccard[:, 1:] -= jaccard[:, :-1].copy()
        self._cache = pred, order, jaccard, t
        return float(np.mean(np.sum(np.take_along_axis(errors, order, axis=1) * jaccard, axis=1)))

    def backward(self):
        pred, order, jaccard, t = self._cache
        n, channels = pred.shape[0], pred.shape[-1]
        grad = np.empty_like(jaccard)
        np.put_along_axis(grad, order, jaccard, axis=1)
        grad *= np.where(t > 0.5, -1.0, 1.0) / grad.shape[0]
        grad = grad.reshape(n, channels, -1).transpose(0, 2, 1).reshape(pred.shape)
        return grad.astype(pred.dtype)

    def __repr__(self):
        return "LovaszLoss()"


def DiceFocalLoss():
    """The original's loss: Dice + categorical focal."""
    return DiceLoss() + FocalLoss()


LOSSES = {"dice": DiceLoss, "focal": FocalLoss, "binary_focal": BinaryFocalLoss, "bce": BCELoss,
          "mse": MSELoss, "lovasz": LovaszLoss}


def get_loss(spec):
    """A loss from a string such as "dice+focal" or "bce"."""
    terms = []
    for name in spec.replace(" ", "").split("+"):
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r} in {spec!r}; choose from {sorted(LOSSES)}")
        terms.append(LOSSES[name]())
    return terms[0] if len(terms) == 1 else SumLoss(*terms)
