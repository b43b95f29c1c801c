"""Conv2D: im2col + one matrix multiply forward, two matrix multiplies + col2im backward."""
import numpy as np

from .. import kernels
from ..kernels import conv_geometry, reference
from ..kernels.workspace import KeptColumns
from .base import Layer, as_float
from .init import he_normal


class Conv2D(Layer):
    """2-D convolution on NHWC tensors; Keras `Conv2D`, PyTorch `nn.Conv2d`.

    x (N, H, W, C_in) -> y (N, OH, OW, C_out),  W (KH, KW, C_in, C_out),  b (C_out,)
    "same": OH = ceil(H / s);  "valid": OH = floor((H - KH) / s) + 1   (likewise OW)

    Forward:   cols = im2col(x)                 (N*OH*OW, KH*KW*C_in)
               y    = cols @ W.reshape(-1, C_out) + b
    Backward:  dW   = cols.T @ dy,   db = sum over N, OH, OW of dy
               dx   = col2im(dy @ W.reshape(-1, C_out).T)

    Only x is cached: backward rebuilds the columns. They live in one workspace shared by all
    convolutions (kernels/workspace.py), filled a block of output rows at a time wherever the
    GEMM allows it (kernels.columns_matmul, columns_t_matmul), so a whole model holds one small
    im2col buffer; col2im's road builds the columns whole and writes dL/dcols over them.
    A thin layer (C_out <= THIN_FILTERS) instead keeps its own columns, with a column of ones
    that folds b into the GEMMs, from a training forward to its backward
    (workspace.KeptColumns); `keep_columns=False` turns that off. `fast=False` runs the
    loop-based reference instead (slow; for study and as the oracle of the tests).
    """

    # A GEMM with C_out columns does 2 * C_out FLOP per element of cols, im2col writes each
    # element once: at 32 or fewer filters, rebuilding the columns in backward costs a third
    # of the multiply (measured: 0.022 s of im2col vs 0.058 s of dW GEMM at 512x256x32).
    THIN_FILTERS = 32

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="same", *,
                 rng=None, fast=True, keep_columns=None):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        if padding not in kernels.geometry.PADDINGS:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), padding
        self.fast = fast
        self.keep_columns = (self.out_channels <= self.THIN_FILTERS if keep_columns is None
                             else bool(keep_columns))
        self._kept = KeptColumns()
        rng = rng if rng is not None else np.random.default_rng()
        self.add_param("W", he_normal(rng, (kh, kw, self.in_channels, self.out_channels)))
        self.add_param("b", np.zeros(self.out_channels, dtype=np.float32))
        self._x = None

    def geometry(self, input_shape):
        _, height, width, channels = input_shape
        if channels != self.in_channels:
            raise ValueError(f"{self!r} expects {self.in_channels} input channels, got {channels}")
        return conv_geometry(height, width, *self.kernel_size, self.stride, self.padding)

    def output_shape(self, input_shape):
        geom = self.geometry(input_shape)
        return (input_shape[0], geom.out_h, geom.out_w, self.out_channels)

    def forward_macs(self, input_shape):
        n, out_h, out_w, _ = self.output_shape(input_shape)
        kh, kw = self.kernel_size
        return n * out_h * out_w * kh * kw * self.in_channels * self.out_channels

    def forward(self, x, training=False):
        x = as_float(x)
        geom = self.geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        bias = self.params["b"].astype(x.dtype, copy=False)
        self._x = x
        if not self.fast:
            return reference.conv2d_forward(x, weights, bias, self.stride, self.padding)
        self._kept.valid = False
        if training and self.keep_columns and not kernels.is_pointwise(geom):
            weights_bias = np.vstack([weights.reshape(-1, self.out_channels), bias])
            y = kernels.columns_matmul(x, geom, weights_bias, into=self._kept.prepare(x, geom))
        else:
            y = kernels.columns_matmul(x, geom, weights.reshape(-1, self.out_channels))
            y += bias
        return y.reshape(x.shape[0], geom.out_h, geom.out_w, self.out_channels)

    def backward(self, grad_out):
        x = self._x
        weights = self.params["W"].astype(x.dtype, copy=False)
        if not self.fast:
            dx, d_weights, d_bias = reference.conv2d_backward(
                grad_out, x, weights, self.stride, self.padding)
            self.grads["W"][...] = d_weights
            self.grads["b"][...] = d_bias
            return dx
        dy = np.ascontiguousarray(grad_out, dtype=x.dtype).reshape(-1, self.out_channels)
        cols = self.backward_weights(dy)
        return self.backward_data(dy, cols)

    def backward_weights(self, dy):
        """dW = cols.T @ dy and db = sum(dy) into self.grads; returns cols when backward_data
        will reuse them (col2im's road), else None.

        dy is the upstream gradient as a (N*OH*OW, C_out) matrix. Columns kept by forward give
        dW and db in one GEMM; those are not handed on (backward_data gets None).
        """
        x = self._x
        if self._kept.valid:
            d_weights_bias = self._kept.buffer.T @ dy
            self.grads["W"][...] = d_weights_bias[:-1].reshape(self.params["W"].shape)
            self.grads["b"][...] = d_weights_bias[-1]
            return None
        geom = self.geometry(x.shape)
        if self._centred(geom):          # backward_data needs no columns: sum over blocks
            cols, d_weights = None, kernels.columns_t_matmul(x, geom, dy)
        else:
            cols = kernels.im2col_shared(x, geom)
            d_weights = cols.T @ dy
        self.grads["W"][...] = d_weights.reshape(self.params["W"].shape)
        self.grads["b"][...] = dy.sum(axis=0)
        return cols

    def backward_data(self, dy, cols=None):
        """dx = col2im(dy @ W.T), computed into the `cols` buffer when one is given.

        Stride 1 with an odd kernel centred by "same" padding takes a shorter road: dx is then
        itself a "same" convolution of dy with the kernel rotated by 180 degrees and its
        channel axes swapped,  dx = im2col(dy) @ rot180(W).swap(C_in, C_out),  which replaces
        col2im's scattered reads with one more im2col of a (smaller or equal) image.
        """
        x = self._x
        geom = self.geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        if self._centred(geom):
            rotated = weights[::-1, ::-1].transpose(0, 1, 3, 2)
            rotated = np.ascontiguousarray(rotated).reshape(-1, self.in_channels)
            dy_image = dy.reshape(x.shape[0], geom.out_h, geom.out_w, self.out_channels)
            return kernels.columns_matmul(dy_image, geom, rotated).reshape(x.shape)
        w_matrix = weights.reshape(-1, self.out_channels)
        if kernels.is_pointwise(geom):                    # its cols would be a view of x
            d_cols = dy @ w_matrix.T
        else:
            if cols is None:
                cols = kernels.workspace.scratch((dy.shape[0], w_matrix.shape[0]), dy.dtype)
            d_cols = np.matmul(dy, w_matrix.T, out=cols)
        return kernels.col2im(d_cols, x.shape, geom)

    @staticmethod
    def _centred(geom):
        """Stride 1, odd kernel larger than 1x1, padded by half the kernel on every side."""
        return (geom.stride == 1 and geom.kh % 2 == 1 and geom.kw % 2 == 1 and geom.kh * geom.kw > 1
                and geom.pad_top == geom.kh // 2 and geom.pad_left == geom.kw // 2)

    def __repr__(self):
        kh, kw = self.kernel_size
        return (f"Conv2D({self.in_channels}, {self.out_channels}, ({kh}, {kw}), "
                f"stride={self.stride}, padding={self.padding!r})")
