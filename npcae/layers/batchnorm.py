"""BatchNormalization: each channel normalised by the batch's statistics in training, by moving
averages of them in inference; the backward runs through the batch mean and variance."""
import numpy as np

from ..kernels import batchnorm as kernels
from .base import BadInput, Layer, as_float, check_backward


def channel_sum(a):
    """Sum over all but the last axis, accumulated in float64: (..., C) -> (C,) float64.

    NumPy adds the rows of a (M, C) array one after another, so a float32 sum over the
    M = N*H*W values of a channel loses digits as M grows: at 8x256x256x16 (M = 524,288)
    measured 1.4e-5 relative error in the mean and 1.8e-4 in the variance. With float64
    accumulators (NumPy casts in small buffers: no float64 copy of x) both are exact to
    float32's last digit, for 10% more time (12.0 against 10.8 ms a sum).
    """
    return a.reshape(-1, a.shape[-1]).sum(axis=0, dtype=np.float64)


def channel_dot(a, b):
    """sum(a * b) over all but the last axis, in float64, without an a-sized product array."""
    channels = a.shape[-1]
    return np.einsum("ij,ij->j", a.reshape(-1, channels), b.reshape(-1, channels),
                     dtype=np.float64)


class NumpyRoad:
    """The reference: kernels/batchnorm.py's passes in NumPy (the statistics in two sweeps), in
    the same order of operations (the layer's `fast=False`)."""

    @staticmethod
    def moments(x):
        """Two sweeps: the mean, then the centred squares (x - mean in x's dtype)."""
        m = x.size // x.shape[-1]
        mean = channel_sum(x) / m
        centred = x - mean.astype(x.dtype)
        return mean, channel_dot(centred, centred) / m

    @staticmethod
    def gradient_sums(dy, x, mean):
        return channel_sum(dy), channel_dot(dy, x - mean)

    @staticmethod
    def normalise(x, mean, scale, beta):
        y = x - mean
        y *= scale
        y += beta.astype(x.dtype)
        return y

    @staticmethod
    def normalise_backward(dy, x, mean, scale, c_mean, c_centred):
        dx = dy * scale
        dx -= c_mean
        centred = x - mean
        centred *= c_centred
        dx -= centred
        return dx


class BatchNormalization(Layer):
    """Per-channel batch normalisation of NHWC tensors; Keras `BatchNormalization` (axis=-1),
    PyTorch `nn.BatchNorm2d` (whose momentum is our 1 - momentum).

    x (N, H, W, C) -> y (N, H, W, C);  gamma, beta (C,) trained;  moving_mean, moving_variance
    (C,) state.  Every sum runs over the M = N*H*W values of one channel.

    Training:   mu  = sum(x) / M,   var = sum((x - mu)^2) / M              (biased: over M)
                sigma = sqrt(var + epsilon),   xhat = (x - mu) / sigma
                y   = gamma * xhat + beta
                moving_mean     = momentum * moving_mean     + (1 - momentum) * mu
                moving_variance = momentum * moving_variance + (1 - momentum) * var
    Inference:  y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta

    Backward, training: mu and var depend on every x of the channel, so dx has three terms
    (dxhat = gamma * dy, then the chain rule through var and mu):
                dbeta  = sum(dy),   dgamma = sum(dy * xhat)
                dx = (gamma / sigma) / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
    Backward, frozen (statistics fixed): dx = dy * gamma / sigma, sigma from moving_variance.

    The moving variance is fed the same biased variance that normalises, as Keras 3 does
    (keras/src/layers/normalization/batch_normalization.py: moments, then assign). tf.keras 2's
    default fused kernel fed it M / (M - 1) times that (TensorFlow's FusedBatchNorm reports
    the Bessel-corrected variance), and PyTorch keeps the unbiased one too; at M = 524,288
    the two differ by 2e-6 relatively.

    `frozen=True` makes training forwards normalise with the moving statistics too and leave
    them alone, so the layer is its inference function, with that function's gradient (what
    Keras does to a BatchNormalization set trainable=False, e.g. to fine-tune on small
    batches); gamma and beta still receive gradients. A training forward of an empty batch
    (N = 0) raises BadInput: its statistics would be 0 / 0, and the moving ones NaN.

    Numerics: the per-channel sums (mu, var, sum(dy), sum(dy * xhat)) are accumulated in
    float64 whatever x's dtype (see `channel_sum`), the C-long statistics are kept in float64,
    and the element-wise work runs in x's dtype. A training forward keeps x itself (no copy)
    and mu and 1 / sigma.

    The sums and element-wise passes run in Numba (kernels/batchnorm.py: four sweeps of memory
    on every core, the mean and variance in one, against NumPy's eight on one); `fast=False`
    runs the same passes in NumPy (NumpyRoad), the reference, the variance in a second sweep
    about the mean. The two agree to float64's last digits in the statistics, and so to within
    an ulp or two of x's dtype in y and dx.
    """

    def __init__(self, channels, momentum=0.99, epsilon=1e-3, *, frozen=False, fast=True):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.channels, self.momentum, self.epsilon = int(channels), float(momentum), float(epsilon)
        self.frozen, self.fast = bool(frozen), bool(fast)
        self.add_param("gamma", np.ones(self.channels, np.float32))
        self.add_param("beta", np.zeros(self.channels, np.float32))
        self.add_state("moving_mean", np.zeros(self.channels, np.float32))
        self.add_state("moving_variance", np.ones(self.channels, np.float32))
        self._x = self._mean = self._inv_std = None

    def output_shape(self, input_shape):
        if input_shape[-1] != self.channels:
            raise ValueError(f"{self!r} expects {self.channels} channels, got {input_shape[-1]}")
        return tuple(input_shape)

    def forward(self, x, training=False):
        return self._forward(x, training, relu=False)

    def forward_relu(self, x, training=False):
        """ReLU(forward(x)) in one pass over x, on the fast road; layers/fused.py calls it and
        records the forward as a guarded one would (call it through there)."""
        if not self.fast:
            raise ValueError(f"{self!r}: the fused batch norm + ReLU runs on the fast road only")
        return self._forward(x, training, relu=True)

    def _forward(self, x, training, relu):
        x = as_float(x)
        self.output_shape(x.shape)
        mean, variance = self._statistics(x, training)
        inv_std = 1.0 / np.sqrt(variance + self.epsilon)
        self._x, self._mean, self._inv_std = (x, mean, inv_std) if training else (None,) * 3
        scale = self.params["gamma"].astype(np.float64) * inv_std
        normalise = kernels.normalise_relu if relu else self._road.normalise
        return normalise(x, mean.astype(x.dtype), scale.astype(x.dtype), self.params["beta"])

    @property
    def _road(self):
        return kernels if self.fast else NumpyRoad

    def _statistics(self, x, training):
        """mean, variance (C,) float64: the batch's (training, updating the moving ones), or
        the moving ones."""
        if training and not self.frozen:
            m = x.size // self.channels
            if m == 0:     # as_float let N = 0 through: a mean of no values, NaN in the state
                raise BadInput(f"{self!r} cannot take the statistics of an empty batch (shape "
                               f"{x.shape}) in a training forward; its moving statistics would "
                               f"become NaN")
            mean, variance = self._road.moments(x)
            self._update_moving_statistics(mean, variance)
            return mean, variance
        return (self.state["moving_mean"].astype(np.float64),
                self.state["moving_variance"].astype(np.float64))

    def _update_moving_statistics(self, mean, variance):
        """moving = momentum * moving + (1 - momentum) * batch, in float64, stored in place."""
        for name, batch in (("moving_mean", mean), ("moving_variance", variance)):
            moving = self.state[name]
            moving[...] = self.momentum * moving.astype(np.float64) + (1 - self.momentum) * batch

    def backward(self, grad_out):
        return self._backward(grad_out, relu=False)

    def backward_relu(self, grad_out):
        """backward(ReLU's backward(grad_out)) after a training forward_relu: the ReLU's mask
        recomputed from x in each of backward's two passes, the same as the forward's.
        layers/fused.py checks the order first, as a guarded backward does."""
        check_backward(self, grad_out)
        return self._backward(grad_out, relu=True)

    def _backward(self, grad_out, relu):
        x, mean, inv_std = self._x, self._mean, self._inv_std
        dy = np.asarray(grad_out, dtype=x.dtype)
        mean_x = mean.astype(x.dtype)
        scale = self.params["gamma"].astype(np.float64) * inv_std      # gamma / sigma
        scale_x = scale.astype(x.dtype)
        if relu:      # dy here is dz, the ReLU's upstream gradient
            beta = self.params["beta"]
            sum_dy, sum_dy_centred = kernels.gradient_sums_relu(dy, x, mean_x, scale_x, beta)
        else:
            sum_dy, sum_dy_centred = self._road.gradient_sums(dy, x, mean_x)
        sum_dy_xhat = sum_dy_centred * inv_std
        self.grads["gamma"][...] = sum_dy_xhat
        self.grads["beta"][...] = sum_dy
        m = x.size // self.channels
        if self.frozen:                            # the statistics are constants: dy * scale
            c_mean = c_centred = np.zeros(self.channels)
        else:    # dx = scale * dy - scale * mean(dy) - (scale / sigma) * mean(dy * xhat) * centred
            c_mean, c_centred = scale * sum_dy / m, scale * inv_std * sum_dy_xhat / m
        c_mean, c_centred = c_mean.astype(x.dtype), c_centred.astype(x.dtype)
        if relu:
            return kernels.normalise_backward_relu(dy, x, mean_x, scale_x, beta, c_mean, c_centred)
        return self._road.normalise_backward(dy, x, mean_x, scale_x, c_mean, c_centred)

    def __repr__(self):
        frozen = ", frozen=True" if self.frozen else ""
        return (f"BatchNormalization({self.channels}, momentum={self.momentum}, "
                f"epsilon={self.epsilon}{frozen})")
