"""Element-wise activations. Each caches the least it needs for its derivative."""
import numpy as np

from ..kernels import elementwise
from .base import Layer


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x| <= 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


class Sigmoid(Layer):
    """y = 1 / (1 + e^-x);  dx = dy * y * (1 - y).  Keras `sigmoid`."""

    def forward(self, x, training=False):
        self._y = sigmoid(x)
        return self._y

    def backward(self, grad_out):
        y = self._y
        return grad_out * y * (1 - y)


class Swish(Layer):
    """y = x * s(x), s = sigmoid;  dx = dy * s * (1 + x * (1 - s)).  Keras `swish`, PyTorch `SiLU`.

    Caches x only and recomputes s in backward: one activation-sized array per layer, not two.
    The fast path runs both formulas as single Numba passes (kernels/elementwise.py);
    `fast=False` evaluates them as the numpy expressions below.
    """

    def __init__(self, *, fast=True):
        super().__init__()
        self.fast = fast

    def forward(self, x, training=False):
        self._x = x
        if self.fast:
            return elementwise.swish_forward(x)
        return x * sigmoid(x)

    def backward(self, grad_out):
        x = self._x
        if self.fast:
            return elementwise.swish_backward(x, grad_out)
        s = sigmoid(x)
        return grad_out * s * (1 + x * (1 - s))


class ReLU(Layer):
    """y = max(x, 0);  dx = dy * [x > 0] = dy * [y > 0].  Keras `relu`.

    The fast path caches y (the output it returns, which no layer writes into) and runs each
    formula as one Numba pass (kernels/elementwise.py); `fast=False` caches the mask x > 0 and
    evaluates numpy's where. Both give the same numbers.
    """

    def __init__(self, *, fast=True):
        super().__init__()
        self.fast = fast

    def forward(self, x, training=False):
        if self.fast and x.dtype in (np.float32, np.float64):
            self._y = elementwise.relu_forward(x)
            self._positive = None
            return self._y
        self._positive = x > 0
        return np.where(self._positive, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        if self._positive is None:
            return elementwise.relu_backward(self._y, grad_out)
        return np.where(self._positive, grad_out, 0).astype(grad_out.dtype, copy=False)

    def keep_output(self, y):
        """Cache y, the output a fused batch norm + ReLU computed for this layer (fused.py)."""
        self._y, self._positive = y, None


class ReLU6(Layer):
    """y = min(max(x, 0), 6);  dx = dy * [0 < x < 6].  Keras `ReLU(max_value=6)`, PyTorch `ReLU6`:
    MobileNetV2's activation, bounded so that low precision keeps its range (Sandler et al.).
    At x = 0 and x = 6 the derivative taken is 0, as PyTorch's and TensorFlow's.

    It caches y, not a mask: 0 < x < 6 exactly when 0 < y < 6, so the forward is one pass
    (an inference forward builds nothing it does not return) and backward reads y."""

    def forward(self, x, training=False):
        self._y = np.clip(x, 0, 6).astype(x.dtype, copy=False)
        return self._y

    def backward(self, grad_out):
        inside = (self._y > 0) & (self._y < 6)
        return np.where(inside, grad_out, 0).astype(grad_out.dtype, copy=False)


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x;  dx = dy * (1 or alpha).  alpha defaults to Keras's 0.3."""

    def __init__(self, alpha=0.3):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self._positive = x > 0
        return np.where(self._positive, x, self.alpha * x).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        slope = np.where(self._positive, 1.0, self.alpha).astype(grad_out.dtype)
        return grad_out * slope

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Tanh(Layer):
    """y = tanh(x);  dx = dy * (1 - y^2)."""

    def forward(self, x, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_out):
        return grad_out * (1 - self._y * self._y)


ACTIVATIONS = {"swish": Swish, "silu": Swish, "relu": ReLU, "relu6": ReLU6, "leaky_relu": LeakyReLU,
               "sigmoid": Sigmoid, "tanh": Tanh}


def get_activation(name, *, fast=True):
    """A new activation layer from its Keras name ("swish", "relu", ...)."""
    try:
        layer = ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None
    if hasattr(layer, "fast"):
        layer.fast = fast
    return layer
