"""MaxPool2D: the maximum of each window forward, the gradient to where it was backward."""
import numpy as np

from ..kernels import pooling, reference
from ..kernels.geometry import PADDINGS
from .base import Layer, as_float


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or int(v) < 1 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class MaxPool2D(Layer):
    """2-D max pooling on NHWC tensors; Keras `MaxPooling2D`, PyTorch `nn.MaxPool2d`.

    x (N, H, W, C) -> y (N, OH, OW, C),  window (PH, PW),  strides (SH, SW) = window by default
    "valid": OH = floor((H - PH) / SH) + 1;   "same": OH = ceil(H / SH), padded as Keras pads a
             convolution (pad_top = max((OH - 1)*SH + PH - H, 0) // 2, the extra row at the
             bottom) with -inf, so a pad never wins                          (likewise OW)

    Forward:   y[n, oh, ow, c] = max_{i, j} x_pad[n, oh*SH + i, ow*SW + j, c]
               index[n, oh, ow, c] = i*PW + j of that maximum       (uint8: windows up to 16x16)
    Backward:  dx[n, oh*SH + i, ow*SW + j, c] += dy[n, oh, ow, c]   for the (i, j) in index only
               Overlapping windows (strides < window) add up on a pixel that wins several.

    Ties: the first maximum in row-major order within the window wins (all of dy goes there),
    as in TensorFlow's CPU MaxPoolGrad (SpatialMaxPoolWithArgMaxHelper scans the window row by
    row and replaces only on a strictly larger value); PyTorch's CPU max_pool2d breaks ties the
    same way. A NaN is never chosen over a number found before it (TensorFlow's rule; PyTorch
    propagates NaN instead).

    A training forward keeps only `index` (one byte an output element), not x: backward
    sends dy by it, without searching the windows again. `fast=False` runs the plain NumPy
    reference (kernels/reference.py: max_pool_forward, max_pool_backward) instead of the
    Numba kernels (kernels/pooling.py); both give the same arrays bit for bit.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", *, fast=True):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding, self.fast = padding, fast
        self._index = self._x_shape = self._x_dtype = None

    def geometry(self, input_shape):
        _, height, width, _ = input_shape
        return pooling.pool_geometry(height, width, self.pool_size, self.strides, self.padding)

    def output_shape(self, input_shape):
        geom = self.geometry(input_shape)
        return (input_shape[0], geom.out_h, geom.out_w, input_shape[3])

    def forward(self, x, training=False):
        x = as_float(x)
        geom = self.geometry(x.shape)
        run = pooling.max_pool if self.fast else reference.max_pool_forward
        y, index = run(x, geom)
        self._index, self._x_shape, self._x_dtype = ((index, x.shape, x.dtype) if training
                                                     else (None, None, None))
        return y

    def backward(self, grad_out):
        geom = self.geometry(self._x_shape)
        dy = np.asarray(grad_out, dtype=self._x_dtype)
        run = pooling.max_pool_backward if self.fast else reference.max_pool_backward
        return run(dy, self._index, self._x_shape, geom)

    def __repr__(self):
        return (f"MaxPool2D({self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r})")
