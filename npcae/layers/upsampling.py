"""UpSampling2D: nearest (the original's) and bilinear (TensorFlow's half-pixel rule)."""
import numpy as np

from .base import Layer, as_float

INTERPOLATIONS = ("nearest", "bilinear")


def bilinear_matrix(n_in, factor, dtype):
    """(n_in * factor, n_in) matrix A with out = A @ in along one axis.

    Output pixel o samples the input at t = (o + 0.5) / factor - 0.5, clamped into [0, n_in - 1]
    and linearly interpolated: tf.image.resize(method="bilinear"), Keras UpSampling2D("bilinear").
    """
    n_out = n_in * factor
    t = np.clip((np.arange(n_out) + 0.5) / factor - 0.5, 0, n_in - 1)
    lower = np.floor(t).astype(int)
    upper = np.minimum(lower + 1, n_in - 1)
    frac = t - lower
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.arange(n_out), lower), 1 - frac)
    np.add.at(matrix, (np.arange(n_out), upper), frac)
    return matrix.astype(dtype)


class UpSampling2D(Layer):
    """x (N, H, W, C) -> y (N, s*H, s*W, C).  Keras `UpSampling2D`.

    nearest:   y[n, s*h + a, s*w + b, c] = x[n, h, w, c]      (0 <= a, b < s)
               dx[n, h, w, c] = sum_{a, b} dy[n, s*h + a, s*w + b, c]
    bilinear:  y = A_h x A_w^T per image and channel;  dx = A_h^T dy A_w
    """

    def __init__(self, size=2, interpolation="nearest"):
        super().__init__()
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if int(size) < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.size, self.interpolation = int(size), interpolation

    def output_shape(self, input_shape):
        n, height, width, channels = input_shape
        return (n, height * self.size, width * self.size, channels)

    def forward(self, x, training=False):
        x = as_float(x)
        n, height, width, channels = x.shape
        s = self.size
        self._shape = x.shape
        if self.interpolation == "nearest":
            grid = np.broadcast_to(x[:, :, None, :, None, :], (n, height, s, width, s, channels))
            return grid.reshape(n, height * s, width * s, channels)
        self._a_h = bilinear_matrix(height, s, x.dtype)
        self._a_w = bilinear_matrix(width, s, x.dtype)
        rows = np.einsum("ph,nhwc->npwc", self._a_h, x)
        return np.einsum("qw,npwc->npqc", self._a_w, rows)

    def backward(self, grad_out):
        n, height, width, channels = self._shape
        s = self.size
        if self.interpolation == "nearest":
            return grad_out.reshape(n, height, s, width, s, channels).sum(axis=(2, 4))
        rows = np.einsum("qw,npqc->npwc", self._a_w, grad_out)
        return np.einsum("ph,npwc->nhwc", self._a_h, rows)

    def __repr__(self):
        return f"UpSampling2D({self.size}, {self.interpolation!r})"
