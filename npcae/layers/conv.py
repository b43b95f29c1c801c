"""Conv2D: y = im2col(x) @ W + b and its two gradients, each by the road its plan names."""
import numpy as np

from .. import kernels
from ..kernels import conv_geometry, reference
from ..kernels.workspace import KeptColumns
from .base import Layer, as_float
from .conv_choice import choose_algo
from .conv_functions import (ALGOS, FLIPPED_DIRECT, FLIPPED_KERNEL, conv_backward_data,
                             conv_backward_weights, conv_forward, conv_plan, flipped_kernel)
from .init import he_normal


class Conv2D(Layer):
    """2-D convolution on NHWC tensors; Keras `Conv2D`, PyTorch `nn.Conv2d`.

    x (N, H, W, C_in) -> y (N, OH, OW, C_out),  W (KH, KW, C_in, C_out),  b (C_out,)
    "same": OH = ceil(H / s);  "valid": OH = floor((H - KH) / s) + 1   (likewise OW)

    Forward:   cols = im2col(x)                 (N*OH*OW, KH*KW*C_in)
               y    = cols @ W.reshape(-1, C_out) + b
    Backward:  dW   = cols.T @ dy,   db = sum over N, OH, OW of dy
               dx   = col2im(dy @ W.reshape(-1, C_out).T)

    The three products are the plain functions of conv_functions.py; which road each takes
    (direct, without columns, for a layer with few filters in whole vectors; else the columns
    in workspace blocks or kept by a thin layer; backward-data by col2im, as a convolution with
    the flipped kernel, or as a direct scatter) is the layer's plan, shown by repr, summary()
    and the trace: `layer.plan()`. Only x is cached, unless the forward keeps columns: a thin
    layer (C_out <= THIN_FILTERS) that the direct road does not take keeps its own [cols | 1]
    from a training forward for backward (`keep_columns=False` turns that off). `fast=False`
    runs the loop-based reference instead (slow; for study and as the oracle of the tests).
    `algo` forces one algorithm for all three passes: "im2col", "direct", "winograd2" or
    "winograd4" (Winograd F(2x2,3x3) / F(4x4,3x3), 3x3 stride 1 only; conv_functions.ALGOS);
    None chooses by shape (layers/conv_choice.py: Winograd F(4x4,3x3) for wide 3x3 layers).
    It can be set on a built layer (layer.algo = "winograd4"). `freeze()` promises the weights
    no longer change (an inference copy, models/folding.py): Winograd's filter transform is
    then computed once and kept, and the choice by shape counts it as free.

    `input_gradient` False (models.containers.no_input_gradient, around a training step's
    backward) skips dx: backward fills dW and db and returns None.
    """
    input_gradient = True

    # A GEMM with C_out columns does 2 * C_out FLOP per element of cols, im2col writes each
    # element once: at 32 or fewer filters, rebuilding the columns in backward costs a third
    # of the multiply (measured: 0.022 s of im2col vs 0.058 s of dW GEMM at 512x256x32).
    THIN_FILTERS = 32

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="same", *,
                 rng=None, fast=True, keep_columns=None, use_bias=True, algo=None):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        if padding not in kernels.geometry.PADDINGS:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), padding
        self.fast = fast
        if algo not in ALGOS:
            raise ValueError(f"algo must be one of {', '.join(map(str, ALGOS))}, got {algo!r}")
        self.algo = algo
        self.keep_columns = (self.out_channels <= self.THIN_FILTERS if keep_columns is None
                             else bool(keep_columns))
        self._kept = KeptColumns()
        rng = rng if rng is not None else np.random.default_rng()
        self.add_param("W", he_normal(rng, (kh, kw, self.in_channels, self.out_channels)))
        if use_bias:           # off before a batch norm, whose beta is the bias (Keras use_bias)
            self.add_param("b", np.zeros(self.out_channels, dtype=np.float32))
        self._x = None
        self.last_plan = None      # the ConvPlan the last forward took (and its backward takes)
        self._transformed = None   # a frozen layer's Winograd filter transforms (freeze)

    def freeze(self):
        """Promise that W no longer changes: Winograd's filter transform is kept once made."""
        self._transformed = {}

    @property
    def frozen(self):
        return self._transformed is not None

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

    def plan(self, training=True, dtype=np.float32, input_shape=None):
        """The roads a forward (training or not) in `dtype` and its backward take
        (conv_functions.py), for input_shape (NHWC), or for a typical input (2KH x 2KW)."""
        if input_shape is None:
            input_shape = (1, 2 * self.kernel_size[0], 2 * self.kernel_size[1], self.in_channels)
        geom = self.geometry(input_shape)
        algo = self.algo
        if algo is None and self.fast:
            algo = choose_algo(geom, self.in_channels, self.out_channels, input_shape[0],
                               training, self.frozen)
        return conv_plan(geom, keep=training and self.keep_columns, flip_data=self.centred,
                         fast=self.fast, filters=self.out_channels, channels=self.in_channels,
                         dtype=dtype, input_size=input_shape[1:3], algo=algo)

    @property
    def centred(self):
        """Stride 1 and an odd kernel larger than 1x1 centred by "same" padding: dx is then a
        convolution of dy with the flipped kernel (conv_functions.FLIPPED_KERNEL)."""
        kh, kw = self.kernel_size
        return self.stride == 1 and kh % 2 == kw % 2 == 1 and kh * kw > 1 and self.padding == "same"

    def forward(self, x, training=False):
        x = as_float(x)
        geom = self.geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        bias = self.params["b"].astype(x.dtype, copy=False) if "b" in self.params else None
        self._x, self.last_plan = x, self.plan(training, x.dtype, x.shape)
        if not self.fast:
            return reference.conv2d_forward(x, weights, 0 if bias is None else bias,
                                            self.stride, self.padding)
        y = conv_forward(x, geom, weights.reshape(-1, self.out_channels), bias, self.last_plan,
                         self._kept, self._transformed)
        return y.reshape(x.shape[0], geom.out_h, geom.out_w, self.out_channels)

    def backward(self, grad_out):
        x = self._x
        if not self.fast:
            weights = self.params["W"].astype(x.dtype, copy=False)
            dx, d_weights, d_bias = reference.conv2d_backward(
                grad_out, x, weights, self.stride, self.padding)
            self.grads["W"][...] = d_weights
            if "b" in self.grads:
                self.grads["b"][...] = d_bias
            return dx
        dy = np.ascontiguousarray(grad_out, dtype=x.dtype).reshape(-1, self.out_channels)
        cols = self.backward_weights(dy)
        if not self.input_gradient:                  # models/containers.py: no_input_gradient
            return None
        return self.backward_data(dy, cols)

    def backward_weights(self, dy):
        """dW and db into self.grads from dy, the upstream gradient as a (N*OH*OW, C_out)
        matrix; returns the columns when backward_data can reuse them, else None."""
        x = self._x
        d_weights, d_bias, cols = conv_backward_weights(x, self.geometry(x.shape), dy,
                                                        self.last_plan, self._kept,
                                                        bias="b" in self.grads)
        self.grads["W"][...] = d_weights.reshape(self.params["W"].shape)
        if "b" in self.grads:
            self.grads["b"][...] = d_bias
        return cols

    def backward_data(self, dy, cols=None):
        """dx from dy as a (N*OH*OW, C_out) matrix, by the plan's road: col2im(dy @ W.T), or,
        stride 1 with a centred odd kernel, the "same" convolution  dx = im2col(dy) @ rot180(W)
        with its channel axes swapped, which replaces col2im's scattered reads with one more
        im2col of an image no larger than x."""
        x = self._x
        geom = self.geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        flipped = None
        if self.last_plan.data in (FLIPPED_KERNEL, FLIPPED_DIRECT):
            dy_image = dy.reshape(x.shape[0], geom.out_h, geom.out_w, self.out_channels)
            flipped = (dy_image, geom, flipped_kernel(weights))
        return conv_backward_data(dy, geom, weights.reshape(-1, self.out_channels), x.shape,
                                  self.last_plan, cols, flipped)

    def __repr__(self):
        return self.describe()

    def describe(self, input_shape=None, training=True):
        """repr with the roads a forward of input_shape takes (summary() passes each layer's)."""
        kh, kw = self.kernel_size
        algo = f", algo={self.algo!r}" if self.algo else ""
        try:
            plan = self.plan(training, input_shape=input_shape)
        except ValueError as error:          # a forced algorithm that float32 cannot run
            plan = f"cannot run: {error}"
        return (f"Conv2D({self.in_channels}, {self.out_channels}, ({kh}, {kw}), "
                f"stride={self.stride}, padding={self.padding!r}"
                f"{'' if 'b' in self.params else ', use_bias=False'}{algo}) [{plan}]")
