"""UpConv2D: nearest upsampling then a convolution, fused into sub-pixel form when it can be."""
import numpy as np

from .. import kernels
from ..kernels import subpixel
from ..kernels.workspace import KeptColumns
from .base import Layer, as_float
from .conv import Conv2D
from .upsampling import UpSampling2D


class UpConv2D(Layer):
    """y = conv(upsample(x)): a decoder's UpSampling2D(2) followed by its first Conv2D.

    x (N, H, W, C) -> y (N, 2H, 2W, F); the parameters are the Conv2D's own W (3, 3, C, F) and b.

    When the pair is nearest x2 and a 3x3, stride-1, "same" convolution and `fast` is set, the
    2H x 2W upsampled tensor is never built: the four output phases are four 2x2 convolutions
    of x, computed as one im2col and one matrix multiply (see kernels/subpixel.py):

        cols  = im2col_2x2(x)                       (N*(H+1)*(W+1), 4*C)
        Y     = cols @ W_sub                         W_sub = phase_weights(W)  (4*C, 4*F)
        y     = interleave(Y) + b
    Backward: dY = deinterleave(dy);  dW = fold(cols.T @ dY);  db = sum dy
              dx = col2im_2x2(dY @ W_sub.T)  or, when 4F < C,  im2col_2x2(dY) @ rot180(W_sub)

    2.25x fewer multiply-adds than upsampling then convolving, and no 4x larger buffers.
    When that GEMM is thin (4*F <= Conv2D.THIN_FILTERS) and the conv keeps columns, a training
    forward keeps its own [cols | 1] with b folded into W_sub, as Conv2D does for thin layers.
    Any other configuration, or fast=False, runs the two layers one after the other.
    """

    chained = True

    def __init__(self, upsample: UpSampling2D, conv: Conv2D, *, fast=True):
        super().__init__()
        self.upsample, self.conv, self.fast = upsample, conv, fast
        self.params, self.grads = conv.params, conv.grads     # one set of arrays, shared
        self._kept = KeptColumns()

    @property
    def fused(self):
        conv = self.conv
        return (self.fast and conv.fast and self.upsample.size == 2
                and self.upsample.interpolation == "nearest" and conv.kernel_size == (3, 3)
                and conv.stride == 1 and conv.padding == "same")

    def sublayers(self):
        return [self.upsample, self.conv]

    def summary_children(self):
        # Fused, the two layers run as one: one row, with the MACs actually performed.
        return [] if self.fused else self.sublayers()

    def named_parameters(self, prefix=""):
        # self.params is the conv's own dict: name the arrays once, as the conv's ("1.W").
        yield from self.conv.named_parameters(prefix + "1.")

    def output_shape(self, input_shape):
        return self.conv.output_shape(self.upsample.output_shape(input_shape))

    def forward_macs(self, input_shape):
        if not self.fused:
            return self.conv.forward_macs(self.upsample.output_shape(input_shape))
        n, height, width, channels = input_shape
        return n * (height + 1) * (width + 1) * 16 * channels * self.conv.out_channels

    def forward(self, x, training=False):
        if not self.fused:
            return self.conv.forward(self.upsample.forward(x, training), training)
        x = as_float(x)
        if x.shape[-1] != self.conv.in_channels:
            self.conv.geometry(x.shape)                # raises the conv's own message
        self._x = x
        n, height, width, _ = x.shape
        filters = self.conv.out_channels
        geom = subpixel.window_geometry(height, width)
        w_sub = subpixel.phase_weights(self.params["W"].astype(x.dtype, copy=False))
        bias = self.params["b"].astype(x.dtype, copy=False)
        self._kept.valid = False
        if training and self.conv.keep_columns and 4 * filters <= Conv2D.THIN_FILTERS:
            w_sub = np.vstack([w_sub, np.tile(bias, 4)])     # every phase adds the same b
            bias = np.zeros_like(bias)
            phases = kernels.columns_matmul(x, geom, w_sub, into=self._kept.prepare(x, geom))
        else:
            phases = kernels.columns_matmul(x, geom, w_sub)
        phases = phases.reshape(n, height + 1, width + 1, 2, 2, filters)
        return subpixel.interleave(phases, bias)

    def backward(self, grad_out):
        if not self.fused:
            return self.upsample.backward(self.conv.backward(grad_out))
        d_phases = self.phase_gradient(grad_out)
        cols = self.backward_weights(d_phases)
        return self.backward_data(d_phases, cols)

    def phase_gradient(self, grad_out):
        """dY: dL/dy (N, 2H, 2W, F) deinterleaved into an (N*(H+1)*(W+1), 4*F) matrix."""
        d_phases = subpixel.deinterleave(grad_out.astype(self._x.dtype, copy=False))
        return d_phases.reshape(-1, 4 * self.conv.out_channels)

    def backward_weights(self, d_phases):
        """dW = fold(cols.T @ dY) and db = sum dY into self.grads; returns cols for reuse.

        d_phases is dY, the deinterleaved upstream gradient, as an (N*(H+1)*(W+1), 4*F) matrix;
        it holds every entry of dy once (and zeros), so its sum over rows and phases is db.
        Columns kept by forward give dW_sub and db in one GEMM and are not handed on.
        """
        x = self._x
        channels, filters = x.shape[-1], self.conv.out_channels
        if self._kept.valid:
            d_sub = self._kept.buffer.T @ d_phases
            d_sub, d_bias = d_sub[:-1], d_sub[-1]
            cols = None
        elif self._data_by_im2col():     # backward_data needs no columns: sum over blocks
            geom = subpixel.window_geometry(*x.shape[1:3])
            cols, d_sub = None, kernels.columns_t_matmul(x, geom, d_phases)
            d_bias = d_phases.sum(axis=0)
        else:
            cols = kernels.im2col_shared(x, subpixel.window_geometry(*x.shape[1:3]))
            d_sub, d_bias = cols.T @ d_phases, d_phases.sum(axis=0)
        self.grads["W"][...] = subpixel.phase_weights_grad(d_sub, channels, filters)
        self.grads["b"][...] = d_bias.reshape(4, filters).sum(axis=0)
        return cols

    def backward_data(self, d_phases, cols=None):
        """dx by whichever of two equal roads writes fewer column values:

            4F < C:  dx = im2col_2x2(dY image) @ rot180(W_sub)    (N*H*W, 16*F) columns
            else:    dx = col2im_2x2(dY @ W_sub.T)                 (N*(H+1)*(W+1), 4*C) columns,
                     written into `cols` (from backward_weights) when one is given.
        """
        x = self._x
        n, height, width, channels = x.shape
        w_sub = subpixel.phase_weights(self.params["W"].astype(x.dtype, copy=False))
        if self._data_by_im2col():
            d_image = d_phases.reshape(n, height + 1, width + 1, -1)
            return kernels.columns_matmul(d_image, subpixel.data_window_geometry(height, width),
                                          subpixel.rotated_phase_weights(w_sub, channels)
                                          ).reshape(x.shape)
        if cols is None:
            cols = kernels.workspace.scratch((d_phases.shape[0], w_sub.shape[0]), d_phases.dtype)
        d_cols = np.matmul(d_phases, w_sub.T, out=cols)
        return kernels.col2im(d_cols, x.shape, subpixel.window_geometry(*x.shape[1:3]))

    def _data_by_im2col(self):
        """backward_data's road: im2col of dY when it writes fewer columns (4F < C)."""
        return 4 * self.conv.out_channels < self.conv.in_channels

    def __repr__(self):
        up, conv = self.upsample, self.conv
        kh, kw = conv.kernel_size
        how = "sub-pixel" if self.fused else "upsample, then conv"
        return (f"UpConv2D({up.size}x {up.interpolation}, {conv.in_channels}->{conv.out_channels} "
                f"{kh}x{kw}, {how})")
