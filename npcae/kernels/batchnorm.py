"""Numba batch normalisation, NHWC seen as (M, C) rows: per-channel sums and the element-wise
passes of layers/batchnorm.py, each one sweep over memory.

    channel_sums(x)                 sum over rows of x             (C,) float64
    moments(x)                      mean, variance in one sweep    (C,), (C,) float64
    gradient_sums(dy, x, mean)      sum of dy, sum of dy*(x-mean)  (C,), (C,) float64, one sweep
    normalise(x, mean, scale, beta) (x - mean) * scale + beta       a new array like x
    normalise_backward(dy, x, mean, scale, c_mean, c_centred)
                                    dy * scale - c_mean - (x - mean) * c_centred
    normalise_relu, gradient_sums_relu, normalise_backward_relu
                                    the same followed by a ReLU (layers/fused.py): dy = dz where
                                    the normalised x > 0, recomputed, never stored

NumPy needs about eight sweeps of a (M, C) array for a training forward and backward (x - mu,
its square, the sums, the scale, the shift; dy's sums, dx's three terms) and runs them on one
core; these need four (the statistics in one sweep: `moments`), on every core. Profiled on the
default U-Net step (8 x 256x256, one thread), batch norm took 1.3 s of 7.6 s in NumPy.

The sums run in float64, like the reference's: each of P row blocks adds its rows into its own
float64 accumulator row (no two threads share one), and the P rows are added at the end. So the
result is deterministic, and differs from the reference's (NumPy's pairwise order, the variance
in a second sweep about the mean) only in float64's last digits. The element-wise passes compute
in x's dtype, in the reference's order of operations, `(x - mean) * scale + beta`, so they equal
it bit for bit given the same per-channel values. Arrays below SERIAL_BELOW elements run a
serial twin (a parallel launch costs more than the whole pass at a U-Net's 16x16 bottom).
"""
import numpy as np
from numba import get_num_threads, njit, prange

from .launch import SERIAL_BELOW


def _blocks(rows, size):
    """The number of row blocks to sum in: a few per thread, or 1 below SERIAL_BELOW."""
    return 1 if size < SERIAL_BELOW else min(rows, 4 * get_num_threads())


@njit(parallel=True, cache=True)
def _sums(x, blocks):
    """sum(x) per channel."""
    rows, channels = x.shape
    partial = np.zeros((blocks, channels))
    for b in prange(blocks):
        acc = partial[b]
        for r in range(b * rows // blocks, (b + 1) * rows // blocks):
            for c in range(channels):
                acc[c] += x[r, c]
    return partial.sum(axis=0)


@njit(parallel=True, cache=True)
def _shifted_sums(x, shift, blocks):
    """Per channel, sum(x - shift) and sum((x - shift)^2) in float64, in one sweep."""
    rows, channels = x.shape
    partial = np.zeros((2, blocks, channels))
    for b in prange(blocks):
        acc, acc_square = partial[0, b], partial[1, b]
        for r in range(b * rows // blocks, (b + 1) * rows // blocks):
            for c in range(channels):
                d = np.float64(x[r, c]) - shift[c]
                acc[c] += d
                acc_square[c] += d * d
    return partial[0].sum(axis=0), partial[1].sum(axis=0)


@njit(parallel=True, cache=True)
def _gradient_sums(dy, x, mean, blocks):
    rows, channels = x.shape
    partial = np.zeros((2, blocks, channels))
    for b in prange(blocks):
        acc_dy, acc_dyx = partial[0, b], partial[1, b]
        for r in range(b * rows // blocks, (b + 1) * rows // blocks):
            for c in range(channels):
                g = dy[r, c]
                acc_dy[c] += g
                acc_dyx[c] += np.float64(g) * np.float64(x[r, c] - mean[c])
    return partial[0].sum(axis=0), partial[1].sum(axis=0)


@njit(parallel=True, cache=True)
def _normalise_parallel(x, mean, scale, beta, y):
    for r in prange(x.shape[0]):
        for c in range(x.shape[1]):
            y[r, c] = (x[r, c] - mean[c]) * scale[c] + beta[c]


@njit(cache=True)
def _normalise_serial(x, mean, scale, beta, y):
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            y[r, c] = (x[r, c] - mean[c]) * scale[c] + beta[c]


@njit(parallel=True, cache=True)
def _backward_parallel(dy, x, mean, scale, c_mean, c_centred, dx):
    for r in prange(x.shape[0]):
        for c in range(x.shape[1]):
            dx[r, c] = dy[r, c] * scale[c] - c_mean[c] - (x[r, c] - mean[c]) * c_centred[c]


@njit(cache=True)
def _backward_serial(dy, x, mean, scale, c_mean, c_centred, dx):
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            dx[r, c] = dy[r, c] * scale[c] - c_mean[c] - (x[r, c] - mean[c]) * c_centred[c]


def _rows(a):
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-1])


def _channel_vector(v, dtype):
    return np.ascontiguousarray(v, dtype=dtype)


def channel_sums(x):
    """x (..., C) -> (C,) float64: the sum of each channel."""
    x2 = _rows(x)
    return _sums(x2, _blocks(x2.shape[0], x2.size))


def moments(x):
    """x (..., C) -> mean, variance (C,) float64, in one sweep over x.

    Sums of x - s and (x - s)^2 with s each channel's first value, a number of the data's own
    scale, so that var = E[(x - s)^2] - E[x - s]^2 cancels little (in float64, about
    ((mean - s) / std)^2 ulps: nothing a float32 activation can see). Two sweeps, the mean and
    then sum((x - mean)^2) as NumPy's road does, read x once more: on the U-Net's step that
    sweep of every batch norm's input was 40 ms of 1.2 s.
    """
    x2 = _rows(x)
    m = x2.shape[0]
    shift = x2[0].astype(np.float64) if m else np.zeros(x2.shape[1])
    sums, squares = _shifted_sums(x2, shift, _blocks(m, x2.size))
    mean_shifted = sums / m
    return shift + mean_shifted, np.maximum(squares / m - mean_shifted ** 2, 0.0)


def gradient_sums(dy, x, mean):
    """dy, x (..., C), mean (C,) -> (sum(dy), sum(dy * (x - mean))), each (C,) float64."""
    x2, dy2 = _rows(x), _rows(dy)
    return _gradient_sums(dy2, x2, _channel_vector(mean, x2.dtype), _blocks(x2.shape[0], x2.size))


def normalise(x, mean, scale, beta):
    """(x - mean) * scale + beta per channel, in x's dtype: a new array of x's shape."""
    x2 = _rows(x)
    y = np.empty_like(x2)
    kernel = _normalise_serial if x2.size < SERIAL_BELOW else _normalise_parallel
    kernel(x2, *(_channel_vector(v, x2.dtype) for v in (mean, scale, beta)), y)
    return y.reshape(np.shape(x))


def normalise_backward(dy, x, mean, scale, c_mean, c_centred):
    """dy * scale - c_mean - (x - mean) * c_centred per channel, in x's dtype."""
    x2, dy2 = _rows(x), _rows(dy)
    dx = np.empty_like(x2)
    kernel = _backward_serial if x2.size < SERIAL_BELOW else _backward_parallel
    kernel(dy2, x2, *(_channel_vector(v, x2.dtype) for v in (mean, scale, c_mean, c_centred)), dx)
    return dx.reshape(np.shape(x))


# -- batch norm followed by ReLU (layers/fused.py): z = max(y, 0), y the normalised x ----------
# The ReLU's mask is y > 0, recomputed from x by the same operations as the forward's, so it is
# the forward's bit for bit; no pass writes y, and backward never reads z.
@njit(inline="always")
def _normalised(x, mean, scale, beta, r, c):
    return (x[r, c] - mean[c]) * scale[c] + beta[c]


@njit(inline="always")
def _relu_store(y, z, r, c):
    if y > 0:
        z[r, c] = y
    else:
        z[r, c] = 0


@njit(parallel=True, cache=True)
def _normalise_relu_parallel(x, mean, scale, beta, z):
    for r in prange(x.shape[0]):
        for c in range(x.shape[1]):
            _relu_store(_normalised(x, mean, scale, beta, r, c), z, r, c)


@njit(cache=True)
def _normalise_relu_serial(x, mean, scale, beta, z):
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            _relu_store(_normalised(x, mean, scale, beta, r, c), z, r, c)


@njit(parallel=True, cache=True)
def _gradient_sums_relu(dz, x, mean, scale, beta, blocks):
    rows, channels = x.shape
    partial = np.zeros((2, blocks, channels))
    for b in prange(blocks):
        acc_dy, acc_dyx = partial[0, b], partial[1, b]
        for r in range(b * rows // blocks, (b + 1) * rows // blocks):
            for c in range(channels):
                g = dz[r, c] if _normalised(x, mean, scale, beta, r, c) > 0 else 0
                acc_dy[c] += g
                acc_dyx[c] += np.float64(g) * np.float64(x[r, c] - mean[c])
    return partial[0].sum(axis=0), partial[1].sum(axis=0)


@njit(inline="always")
def _backward_relu_at(dz, x, mean, scale, beta, c_mean, c_centred, dx, r, c):
    # Where the mask is 0, dy * scale - c_mean is 0 - c_mean: the value -c_mean (whose zero
    # may carry the other sign: equal as numbers, which is all a later sum sees).
    centred = (x[r, c] - mean[c]) * c_centred[c]
    if _normalised(x, mean, scale, beta, r, c) > 0:
        dx[r, c] = dz[r, c] * scale[c] - c_mean[c] - centred
    else:
        dx[r, c] = -c_mean[c] - centred


@njit(parallel=True, cache=True)
def _backward_relu_parallel(dz, x, mean, scale, beta, c_mean, c_centred, dx):
    for r in prange(x.shape[0]):
        for c in range(x.shape[1]):
            _backward_relu_at(dz, x, mean, scale, beta, c_mean, c_centred, dx, r, c)


@njit(cache=True)
def _backward_relu_serial(dz, x, mean, scale, beta, c_mean, c_centred, dx):
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            _backward_relu_at(dz, x, mean, scale, beta, c_mean, c_centred, dx, r, c)


def normalise_relu(x, mean, scale, beta):
    """max((x - mean) * scale + beta, 0) per channel, in x's dtype: a new array of x's shape."""
    x2 = _rows(x)
    z = np.empty_like(x2)
    kernel = _normalise_relu_serial if x2.size < SERIAL_BELOW else _normalise_relu_parallel
    kernel(x2, *(_channel_vector(v, x2.dtype) for v in (mean, scale, beta)), z)
    return z.reshape(np.shape(x))


def gradient_sums_relu(dz, x, mean, scale, beta):
    """gradient_sums(dy, x, mean) for dy = dz where (x - mean) * scale + beta > 0, else 0."""
    x2, dz2 = _rows(x), _rows(dz)
    vectors = (_channel_vector(v, x2.dtype) for v in (mean, scale, beta))
    return _gradient_sums_relu(dz2, x2, *vectors, _blocks(x2.shape[0], x2.size))


def normalise_backward_relu(dz, x, mean, scale, beta, c_mean, c_centred):
    """normalise_backward(dy, ...) for dy = dz where (x - mean) * scale + beta > 0, else 0."""
    x2, dz2 = _rows(x), _rows(dz)
    dx = np.empty_like(x2)
    kernel = _backward_relu_serial if x2.size < SERIAL_BELOW else _backward_relu_parallel
    vectors = (_channel_vector(v, x2.dtype) for v in (mean, scale, beta, c_mean, c_centred))
    kernel(dz2, x2, *vectors, dx)
    return dx.reshape(np.shape(x))
