"""Inverted dropout, as Keras does it, driven by the layer's own seedable Generator."""
import numpy as np

from .base import Layer


class Dropout(Layer):
    """Training: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element;  inference: y = x.
    Backward:  dx = dy * m / (1 - rate)  (the same mask).  Keras `Dropout`, PyTorch `nn.Dropout`.

    `rng` is a numpy Generator or a seed; the same seed gives the same masks, so runs repeat.
    With `frozen = True` a training forward reuses the last mask (gradient checks need that);
    `npcae.gradcheck.frozen_dropout(model)` sets it on every Dropout in a model.
    """

    def __init__(self, rate, rng=None):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.frozen = False
        self._scale = None            # m / (1 - rate) of the last training forward, or None

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._scale = None
            return x
        reuse = (self.frozen and self._scale is not None
                 and self._scale.shape == x.shape and self._scale.dtype == x.dtype)
        if not reuse:
            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
            self._scale = keep * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._scale

    def backward(self, grad_out):
        if self._scale is None:
            return grad_out
        return grad_out * self._scale

    def __repr__(self):
        return f"Dropout({self.rate})"
