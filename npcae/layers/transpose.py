"""Conv2DTranspose: the adjoint of a strided convolution, run with the convolution's functions."""
import numpy as np

from ..kernels import conv_geometry, geometry
from .base import Layer, as_float
from .conv_functions import (FLIPPED_DIRECT, FLIPPED_KERNEL, ConvPlan, bias_gradient,
                             conv_backward_data, conv_backward_weights, conv_forward, conv_plan,
                             flipped_kernel)
from .init import he_normal


class Conv2DTranspose(Layer):
    """Keras `Conv2DTranspose`, PyTorch `nn.ConvTranspose2d` (up-convolution, "deconvolution").

    x (N, H, W, C_in) -> y (N, OH, OW, C_out),  W (KH, KW, C_out, C_in) as Keras stores it,  b (C_out,)
    "same": OH = H * s;   "valid": OH = (H - 1) * s + max(KH, s)      (likewise OW)

    It is the transpose (adjoint) of the convolution C that maps an (OH, OW, C_out) image to
    (H, W, C_in) with the same kernel W, stride s and padding: C has the conv layout
    (KH, KW, C_in=C_out, C_out=C_in), which is why Keras stores W that way round. So with
    w = W.reshape(-1, C_in) and the geometry of C on an OH x OW image:

        forward    y  = C^T x + b = col2im(x @ w.T) + b           C's backward-data
        backward   dx = C dy      = im2col(dy) @ w                 C's forward
                   dW = im2col(dy).T @ x                           C's backward-weights, its
                   db = sum of dy over N, OH, OW                   dy and x swapping places

    Each is one of layers/conv_functions.py's three functions, with the roads of C's plan
    (shown by repr, summary() and the trace): for the U-Net's 2x2 stride-2 kernel the windows do
    not overlap, and col2im only scatters; with at most 64 output channels, a multiple of 16
    (float32) or 8 (float64), the product is written straight to its pixels, the bias
    included ("scatter, direct", kernels/direct_data.py). <x, C dy> = <C^T x, dy> holds to rounding
    (tests/test_transpose.py).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="same", *,
                 rng=None, use_bias=True):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        if padding not in geometry.PADDINGS:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), padding
        rng = rng if rng is not None else np.random.default_rng()
        self.add_param("W", he_normal(rng, (kh, kw, self.out_channels, self.in_channels)))
        if use_bias:           # off before a batch norm, whose beta is the bias (Keras use_bias)
            self.add_param("b", np.zeros(self.out_channels, dtype=np.float32))
        self._x, self._adjoint_plan, self.last_plan = None, None, None

    def output_size(self, height, width):
        """(OH, OW) for an H x W input, as Keras's deconv_output_length computes them."""
        (kh, kw), s = self.kernel_size, self.stride
        if self.padding == "same":
            return height * s, width * s
        return (height - 1) * s + max(kh, s), (width - 1) * s + max(kw, s)

    def adjoint_geometry(self, input_shape):
        """The geometry of C, the convolution this layer is the transpose of, on the output."""
        _, height, width, channels = input_shape
        if channels != self.in_channels:
            raise ValueError(f"{self!r} expects {self.in_channels} input channels, got {channels}")
        out_h, out_w = self.output_size(height, width)
        return conv_geometry(out_h, out_w, *self.kernel_size, self.stride, self.padding)

    def output_shape(self, input_shape):
        self.adjoint_geometry(input_shape)
        return (input_shape[0], *self.output_size(*input_shape[1:3]), self.out_channels)

    def forward_macs(self, input_shape):
        n, height, width, _ = input_shape
        kh, kw = self.kernel_size
        return n * height * width * kh * kw * self.in_channels * self.out_channels

    @property
    def centred(self):
        kh, kw = self.kernel_size
        return self.stride == 1 and kh % 2 == kw % 2 == 1 and kh * kw > 1 and self.padding == "same"

    def plan(self, training=True, dtype=np.float32):
        """The roads, as this layer runs them in `dtype`: its forward is C's backward-data, its
        dW C's backward-weights, its dx C's forward (conv_functions.py)."""
        (kh, kw), s = self.kernel_size, self.stride
        geom = conv_geometry(2 * kh * s, 2 * kw * s, kh, kw, s, self.padding)
        return as_transposed(self._adjoint(geom, dtype, (2 * kh * s, 2 * kw * s)))

    def _adjoint(self, geom, dtype, output_size):
        """C's plan: its filters are our input channels, its channels our output's, and its
        input our output (OH, OW)."""
        return conv_plan(geom, flip_data=self.centred, filters=self.in_channels,
                         channels=self.out_channels, dtype=dtype, input_size=output_size)

    def forward(self, x, training=False):
        x = as_float(x)
        geom = self.adjoint_geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        output_size = self.output_size(*x.shape[1:3])
        self._x, self._adjoint_plan = x, self._adjoint(geom, x.dtype, output_size)
        self.last_plan = as_transposed(self._adjoint_plan)
        y_shape = (x.shape[0], *self.output_size(*x.shape[1:3]), self.out_channels)
        flipped = None
        if self._adjoint_plan.data in (FLIPPED_KERNEL, FLIPPED_DIRECT):
            flipped = (x, geom, flipped_kernel(weights))
        return conv_backward_data(x.reshape(-1, self.in_channels), geom,
                                  weights.reshape(-1, self.in_channels), y_shape, self._adjoint_plan,
                                  flipped=flipped, bias=self.params["b"].astype(x.dtype, copy=False)
                                  if "b" in self.params else None)

    def backward(self, grad_out):
        x = self._x
        geom = self.adjoint_geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        dy = np.ascontiguousarray(grad_out, dtype=x.dtype)
        # C's backward-weights with its input (our dy) and its output gradient (our x) swapped in
        d_weights, _, _ = conv_backward_weights(dy, geom, x.reshape(-1, self.in_channels),
                                                self._adjoint_plan, bias=False)
        self.grads["W"][...] = d_weights.reshape(self.params["W"].shape)
        if "b" in self.grads:
            self.grads["b"][...] = bias_gradient(dy)
        dx = conv_forward(dy, geom, weights.reshape(-1, self.in_channels), None, self._adjoint_plan)
        return dx.reshape(x.shape)

    def __repr__(self):
        kh, kw = self.kernel_size
        return (f"Conv2DTranspose({self.in_channels}, {self.out_channels}, ({kh}, {kw}), "
                f"stride={self.stride}, padding={self.padding!r}"
                f"{'' if 'b' in self.params else ', use_bias=False'}) [{self.plan()}]")


def as_transposed(plan):
    """C's plan as the transposed layer runs it: (forward, dW, dx) = (C's data, C's weights,
    C's forward)."""
    return ConvPlan(plan.data, plan.weights, plan.forward)

