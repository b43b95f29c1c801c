"""UpConv2D: nearest upsampling then a convolution, fused into sub-pixel form when it can be."""
import numpy as np

from ..kernels import subpixel
from ..kernels.workspace import KeptColumns
from .base import Layer, as_float
from .conv import Conv2D
from .conv_functions import (FLIPPED_KERNEL, KEPT_COLUMNS, conv_backward_data,
                             conv_backward_weights, conv_forward, conv_plan)
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

    These are layers/conv_functions.py's three functions with a 2x2 window geometry and the
    phase weights, on the roads of the layer's plan (shown by repr, summary() and the trace).
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
        self.last_plan = None
        self._frozen_phase_weights = None

    @property
    def out_channels(self):
        return self.conv.out_channels

    def freeze(self):
        """Promise that W no longer changes (an inference copy): its phase weights are kept."""
        self.conv.freeze()
        self._frozen_phase_weights = {}

    def _phase_weights(self, dtype):
        if self._frozen_phase_weights is None:
            return subpixel.phase_weights(self.params["W"].astype(dtype, copy=False))
        key = np.dtype(dtype).str
        if key not in self._frozen_phase_weights:
            self._frozen_phase_weights[key] = subpixel.phase_weights(self.params["W"].astype(dtype))
        return self._frozen_phase_weights[key]

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

    def plan(self, training=True):
        """The roads of the fused convolution (conv_functions.py); the pair's own when unfused."""
        if not self.fused:
            return self.conv.plan(training)
        keep = training and self.conv.keep_columns and 4 * self.conv.out_channels <= Conv2D.THIN_FILTERS
        return conv_plan(subpixel.window_geometry(2, 2), keep=keep, flip_data=self._data_by_im2col())

    def forward(self, x, training=False):
        if not self.fused:
            return self.conv.forward(self.upsample.forward(x, training), training)
        x = as_float(x)
        if x.shape[-1] != self.conv.in_channels:
            self.conv.geometry(x.shape)                # raises the conv's own message
        self._x, self.last_plan = x, self.plan(training)
        n, height, width, _ = x.shape
        filters = self.conv.out_channels
        w_sub = self._phase_weights(x.dtype)
        # An inference copy takes b into its epilogue (models/folding.py): then there is none.
        bias = self.params["b"].astype(x.dtype, copy=False) if "b" in self.params else np.zeros(filters, x.dtype)
        # Kept columns fold b into the GEMM (every phase adds the same b); else interleave adds it.
        kept = self.last_plan.forward == KEPT_COLUMNS
        phases = conv_forward(x, subpixel.window_geometry(height, width), w_sub,
                              np.tile(bias, 4) if kept else None, self.last_plan, self._kept)
        phases = phases.reshape(n, height + 1, width + 1, 2, 2, filters)
        return subpixel.interleave(phases, np.zeros_like(bias) if kept else bias)

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
        """
        x = self._x
        channels, filters = x.shape[-1], self.conv.out_channels
        d_sub, d_bias, cols = conv_backward_weights(x, subpixel.window_geometry(*x.shape[1:3]),
                                                    d_phases, self.last_plan, self._kept)
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
        flipped = None
        if self.last_plan.data == FLIPPED_KERNEL:
            flipped = (d_phases.reshape(n, height + 1, width + 1, -1),
                       subpixel.data_window_geometry(height, width),
                       subpixel.rotated_phase_weights(w_sub, channels))
        return conv_backward_data(d_phases, subpixel.window_geometry(height, width), w_sub,
                                  x.shape, self.last_plan, cols, flipped)

    def _data_by_im2col(self):
        """backward_data's road: im2col of dY when it writes fewer columns (4F < C)."""
        return 4 * self.conv.out_channels < self.conv.in_channels

    def __repr__(self):
        up, conv = self.upsample, self.conv
        kh, kw = conv.kernel_size
        how = f"sub-pixel [{self.plan()}]" if self.fused else "upsample, then conv"
        return (f"UpConv2D({up.size}x {up.interpolation}, {conv.in_channels}->{conv.out_channels} "
                f"{kh}x{kw}, {how})")
