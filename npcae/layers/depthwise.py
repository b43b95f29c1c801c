"""DepthwiseConv2D: each input channel convolved with its own filters, Keras's layer and layout.

    x (N, H, W, C) -> y (N, OH, OW, C*M),  W (KH, KW, C, M),  b (C*M,)      M: depth_multiplier
    Forward:   y[n, p, q, c*M + m] = sum_{i,j} x[n, p*s + i - pt, q*s + j - pl, c] W[i, j, c, m] + b[c*M + m]
    Backward:  dW[i, j, c, m] = sum_{n,p,q} x[n, p*s + i - pt, q*s + j - pl, c] dy[n, p, q, c*M + m]
               db[k]          = sum_{n,p,q} dy[n, p, q, k]
               dx[n, h, w, c] = sum_{i,j,m} dy[n, p, q, c*M + m] W[i, j, c, m]  over p*s + i - pt = h,
                                                                              q*s + j - pl = w

Output sizes and padding as Conv2D's (kernels/geometry.py: Keras "same" and "valid"). Keras's
MobileNetV2 pads before a stride-2 depthwise convolution (0 before and 1 after on an even
size, 1 and 1 on an odd one) and then runs it "valid": for a 3x3 kernel that is exactly
"same" (pad_total = (out - 1) * 2 + 3 - n is 1 on even n, 2 on odd), so "same" is used.

Per output value a depthwise convolution does KH*KW multiply-adds with no reuse across
channels: im2col + GEMM would write 9 values to read each once, so it has its own kernels
(kernels/depthwise.py: NHWC rows, channels innermost, deterministic for any thread count);
`fast=False` runs the plain NumPy version (kernels/reference.py) they are tested against.
"""
import numpy as np

from ..kernels import conv_geometry, depthwise, reference
from ..kernels.geometry import PADDINGS
from .base import Layer, as_float
from .init import he_normal


class DepthwiseConv2D(Layer):
    """Keras `DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier, use_bias)`;
    PyTorch `nn.Conv2d(C, C*M, k, groups=C)` (its weight (C*M, 1, KH, KW) is W transposed)."""

    def __init__(self, channels, kernel_size=3, stride=1, padding="same", depth_multiplier=1, *,
                 use_bias=True, rng=None, fast=True):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        if padding not in PADDINGS:
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        for name, value in (("channels", channels), ("kernel_size", kh), ("kernel_size", kw),
                            ("stride", stride), ("depth_multiplier", depth_multiplier)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"DepthwiseConv2D {name} must be a positive integer, got {value!r}")
        self.channels, self.multiplier = int(channels), int(depth_multiplier)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), padding
        self.fast = fast
        rng = rng if rng is not None else np.random.default_rng()
        # He normal over a depthwise filter's own fan-in, KH*KW (PyTorch's kaiming for groups=C).
        self.add_param("W", he_normal(rng, (self.kernel_size[0], self.kernel_size[1], self.channels,
                                            self.multiplier), fan_in=kh * kw))
        if use_bias:
            self.add_param("b", np.zeros(self.channels * self.multiplier, np.float32))
        self._x = None

    @property
    def out_channels(self):
        return self.channels * self.multiplier

    def geometry(self, input_shape):
        _, height, width, channels = input_shape
        if channels != self.channels:
            raise ValueError(f"{self!r} expects {self.channels} input channels, got {channels}")
        return conv_geometry(height, width, *self.kernel_size, self.stride, self.padding)

    def output_shape(self, input_shape):
        geom = self.geometry(input_shape)
        return (input_shape[0], geom.out_h, geom.out_w, self.out_channels)

    def forward_macs(self, input_shape):
        n, out_h, out_w, out_c = self.output_shape(input_shape)
        return n * out_h * out_w * out_c * self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x, training=False):
        x = as_float(x)
        geom = self.geometry(x.shape)
        weights = self.params["W"].astype(x.dtype, copy=False)
        self._x = x
        if self.fast:
            y = depthwise.depthwise_forward(x, weights, geom)
        else:
            y = reference.depthwise_forward(x, weights, geom)
        if "b" in self.params:
            y += self.params["b"].astype(x.dtype, copy=False)
        return y

    def backward(self, grad_out):
        x = self._x
        geom = self.geometry(x.shape)
        dy = np.ascontiguousarray(grad_out, dtype=x.dtype)
        weights = self.params["W"].astype(x.dtype, copy=False)
        if self.fast:
            self.grads["W"][...] = depthwise.depthwise_backward_weights(x, dy, weights.shape, geom)
            dx = depthwise.depthwise_backward_data(dy, weights, x.shape, geom)
        else:
            dx, self.grads["W"][...] = reference.depthwise_backward(x, weights, dy, geom)
        if "b" in self.grads:
            self.grads["b"][...] = dy.sum(axis=(0, 1, 2), dtype=np.float64)
        return dx

    def __repr__(self):
        kh, kw = self.kernel_size
        multiplier = f", depth_multiplier={self.multiplier}" if self.multiplier > 1 else ""
        return (f"DepthwiseConv2D({self.channels}, ({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding!r}{multiplier}"
                f"{'' if 'b' in self.params else ', use_bias=False'})")
