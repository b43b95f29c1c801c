"""Inverted dropout, as Keras does it, driven by the layer's own seedable Generator."""
import numpy as np

from ..kernels.elementwise import scale_mask
from .base import Layer


class Dropout(Layer):
    """Training: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element;  inference: y = x.
    Backward:  dx = dy * m / (1 - rate)  (the same mask).  Keras `Dropout`, PyTorch `nn.Dropout`.

    `rng` is a numpy Generator or a seed; the same seed gives the same masks, so runs repeat.
    The generator is the layer's state ("rng"), so weights files and checkpoints carry it and
    `npcae.gradcheck.fixed_state` can rewind it to draw one mask again.

    The mask keeps u >= rate for uniforms u drawn in float32 whatever x's dtype, so that a
    float32 layer and its float64 twin built from the same seed drop the same units (the
    float32 gradient check compares exactly such a pair); float32 training draws what it
    always drew. Backward keeps m as booleans (a quarter of a float32 scaled mask: 0.2 GB less
    held through a 3 x 1024x512 CAE step) and applies it as x * (1 / (1 - rate)) * m, which is
    x * (m / (1 - rate)) bit for bit, signed zeros included (1 / (1 - rate) > 0).
    """

    def __init__(self, rate, *, rng=None):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.add_state("rng", rng if isinstance(rng, np.random.Generator)
                       else np.random.default_rng(rng))
        self._keep = None             # m of the last training forward (bool), or None

    @property
    def rng(self):
        """The layer's np.random.Generator (its state entry "rng")."""
        return self.state["rng"]

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        self._keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        return self._apply(x)

    def backward(self, grad_out):
        if self._keep is None:
            return grad_out
        return self._apply(grad_out)

    def _apply(self, a):
        """a * (1 / (1 - rate)) * m, in a's dtype, in one new array."""
        return scale_mask(a, self._keep, 1.0 / (1.0 - self.rate))

    def __repr__(self):
        return f"Dropout({self.rate})"
