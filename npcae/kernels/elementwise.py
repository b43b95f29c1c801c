"""Numba element-wise kernels: one parallel pass where numpy makes four or five.

swish(x) = x * sigmoid(x) in numpy costs an exp, an abs, a where, a divide and a multiply, each
a full pass over memory with its own temporary. These loops read x (and dy) once and write
once. The numpy expressions they replace stay in layers/activations.py as the plain path.
"""
import math

import numpy as np
from numba import njit, prange

from .launch import SERIAL_BELOW    # below it, a parallel launch costs more than the loop


# exp(-a) without libm: libm's exp is a call LLVM cannot vectorise, and it made the epilogue's
# Swish 6x slower than this (30 ms against 4.8 ms on 8.4M values, 2 cores). 2^-t = 2^-n e^f
# with n = round(t): 2^-n from a table (a vector gather), e^f by its Taylor polynomial on
# |f| <= ln2 / 2 (degree 8: truncation below 3e-10), all in float64, so the float32 result is
# within an ulp of the correctly rounded one (max relative error 6e-8 measured, against libm's
# 1.2e-7 in _sigmoid's float32 arithmetic).
LOG2E, LN2 = 1.4426950408889634, 0.6931471805599453
EXP_LIMIT = 110.0                      # exp(-110) = 1.7e-48: below float32's least subnormal
POW2_NEGATIVE = 2.0 ** -np.arange(160)  # 2^-n for n up to round(EXP_LIMIT * LOG2E) = 159


@njit(inline="always")
def _exp_negative(a, pow2):
    """exp(-a) for a >= 0, float64, branch-free (vectorisable). NaN takes the limit's index
    (the caller's v * s stays NaN): a NaN table index would read outside the table."""
    t = (a if a < EXP_LIMIT else EXP_LIMIT) * LOG2E
    n = math.floor(t + 0.5)
    f = (n - t) * LN2
    p = 1.0 + f * (1.0 + f * (1 / 2 + f * (1 / 6 + f * (1 / 24 + f * (1 / 120 + f * (
        1 / 720 + f * (1 / 5040 + f * (1 / 40320))))))))
    return p * pow2[int(n)]


@njit(inline="always")
def _sigmoid(v):
    # exp is only ever taken of -|v| <= 0: no overflow, whatever the input.
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@njit(parallel=True, cache=True)
def _swish_forward_parallel(x, y):
    for i in prange(x.size):
        y[i] = x[i] * _sigmoid(x[i])


@njit(cache=True)
def _swish_forward_serial(x, y):
    for i in range(x.size):
        y[i] = x[i] * _sigmoid(x[i])


@njit(parallel=True, cache=True)
def _swish_backward_parallel(x, dy, dx):
    for i in prange(x.size):
        s = _sigmoid(x[i])
        dx[i] = dy[i] * s * (1.0 + x[i] * (1.0 - s))


@njit(cache=True)
def _swish_backward_serial(x, dy, dx):
    for i in range(x.size):
        s = _sigmoid(x[i])
        dx[i] = dy[i] * s * (1.0 + x[i] * (1.0 - s))


# float32's training Swish through _exp_negative, in float64: libm's exp made these two passes
# a fifth of the CAE's 3 x 1024x512 step on a 2.6 GHz EPYC (1.3 s of 6). float64 keeps libm's
# exp, which the gradient checks and the PyTorch parity (1e-14) were measured with.
@njit(inline="always")
def _sigmoid_vectorised(v, pow2):
    e = _exp_negative(abs(v), pow2)              # sigmoid(v) = 1 / (1 + e) or e / (1 + e)
    s = 1.0 / (1.0 + e)
    return s if v >= 0 else e * s


@njit(parallel=True, cache=True)
def _swish_forward_float32(x, y, pow2):
    for i in prange(x.size):
        v = np.float64(x[i])
        y[i] = v * _sigmoid_vectorised(v, pow2)


@njit(parallel=True, cache=True)
def _swish_backward_float32(x, dy, dx, pow2):
    for i in prange(x.size):
        v = np.float64(x[i])
        s = _sigmoid_vectorised(v, pow2)
        dx[i] = dy[i] * (s * (1.0 + v * (1.0 - s)))


def _swish_forward(x, y):
    if x.size < SERIAL_BELOW:
        _swish_forward_serial(x, y)
    elif x.dtype == np.float32:
        _swish_forward_float32(x, y, POW2_NEGATIVE)
    else:
        _swish_forward_parallel(x, y)


def _swish_backward(x, dy, dx):
    if x.size < SERIAL_BELOW:
        _swish_backward_serial(x, dy, dx)
    elif x.dtype == np.float32:
        _swish_backward_float32(x, dy, dx, POW2_NEGATIVE)
    else:
        _swish_backward_parallel(x, dy, dx)


@njit(inline="always")
def _relu_forward_at(x, y, i):
    y[i] = x[i] if x[i] > 0 else 0


@njit(inline="always")
def _relu_backward_at(y, dy, dx, i):
    dx[i] = dy[i] if y[i] > 0 else 0      # y > 0 exactly where x > 0


@njit(parallel=True, cache=True)
def _relu_forward_parallel(x, y):
    for i in prange(x.size):
        _relu_forward_at(x, y, i)


@njit(cache=True)
def _relu_forward_serial(x, y):
    for i in range(x.size):
        _relu_forward_at(x, y, i)


@njit(parallel=True, cache=True)
def _relu_backward_parallel(y, dy, dx):
    for i in prange(y.size):
        _relu_backward_at(y, dy, dx, i)


@njit(cache=True)
def _relu_backward_serial(y, dy, dx):
    for i in range(y.size):
        _relu_backward_at(y, dy, dx, i)


def relu_forward(x):
    """max(x, 0) in one pass (numpy's where takes two: the compare, then the select)."""
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    (_relu_forward_serial if x.size < SERIAL_BELOW else _relu_forward_parallel)(
        x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(y, dy):
    """dy where y > 0, else 0, in dy's dtype: one pass, from the forward's output."""
    dy = np.ascontiguousarray(dy, dtype=y.dtype)
    dx = np.empty_like(y)
    (_relu_backward_serial if y.size < SERIAL_BELOW else _relu_backward_parallel)(
        y.reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


def swish_forward(x):
    """x * sigmoid(x), same shape and dtype as x."""
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    _swish_forward(x.reshape(-1), y.reshape(-1))
    return y


def swish_backward(x, dy):
    """dy * s * (1 + x * (1 - s)) with s = sigmoid(x), in dy's dtype."""
    x = np.ascontiguousarray(x)
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    dx = np.empty_like(x)
    _swish_backward(x.reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


# -- dropout's mask --------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _scale_mask_parallel(a, keep, scale, out):
    for i in prange(a.size):
        out[i] = a[i] * scale * keep[i]


def scale_mask(a, keep, scale):
    """a * scale * keep (keep: booleans of a's shape) in one parallel pass, in a's dtype: what
    numpy's two single-threaded passes give, bit for bit (0 and 1 multiply as numpy's do)."""
    a = np.ascontiguousarray(a)
    out = np.empty_like(a)
    if a.size < SERIAL_BELOW:
        np.multiply(np.multiply(a, scale, out=out), keep, out=out)
    else:
        _scale_mask_parallel(a.reshape(-1), keep.reshape(-1), a.dtype.type(scale), out.reshape(-1))
    return out


# -- a convolution's epilogue at inference: bias and a clamp, in place, one pass ----------------
@njit(inline="always")
def _bias_clamp_row(y, bias, lower, upper, r):
    for c in range(y.shape[1]):
        v = y[r, c] + bias[c]
        y[r, c] = min(max(v, lower), upper)


@njit(parallel=True, cache=True)
def _bias_clamp_parallel(y, bias, lower, upper):
    for r in prange(y.shape[0]):
        _bias_clamp_row(y, bias, lower, upper, r)


@njit(cache=True)
def _bias_clamp_serial(y, bias, lower, upper):
    for r in range(y.shape[0]):
        _bias_clamp_row(y, bias, lower, upper, r)


def bias_clamp(y, bias, lower=-np.inf, upper=np.inf):
    """y (..., C) <- min(max(y + bias, lower), upper) in place, and y: a convolution's bias and
    its ReLU (lower 0) or ReLU6 (0, 6) in one pass over y instead of two or three (numpy's
    y += b runs on one thread; this on all). NaN stays NaN, as numpy's clip keeps it."""
    rows, bias = _wide_rows(y, bias)
    lower, upper = y.dtype.type(lower), y.dtype.type(upper)
    (_bias_clamp_serial if y.size < SERIAL_BELOW else _bias_clamp_parallel)(rows, bias, lower, upper)
    return y


@njit(inline="always")
def _bias_swish_row(y, bias, pow2, r):
    for c in range(y.shape[1]):
        v = np.float64(y[r, c]) + bias[c]
        e = _exp_negative(abs(v), pow2)           # sigmoid(v) = 1 / (1 + e) or e / (1 + e)
        s = 1.0 / (1.0 + e)
        y[r, c] = v * (s if v >= 0 else e * s)


@njit(parallel=True, cache=True)
def _bias_swish_parallel(y, bias, pow2):
    for r in prange(y.shape[0]):
        _bias_swish_row(y, bias, pow2, r)


@njit(cache=True)
def _bias_swish_serial(y, bias, pow2):
    for r in range(y.shape[0]):
        _bias_swish_row(y, bias, pow2, r)


# Swish's exp makes a pass compute-bound, and the serial loop does not vectorise (the parallel
# one does): a parallel launch (60-100 us) pays off from about 16k values (32k: 80 us against
# 230 us serial, measured on 2 cores).
SWISH_SERIAL_BELOW = 1 << 13


def bias_swish(y, bias):
    """y (..., C) <- swish(y + bias) in place, and y: a convolution's bias and Swish in one pass."""
    rows, bias = _wide_rows(y, bias)
    (_bias_swish_serial if y.size < SWISH_SERIAL_BELOW else _bias_swish_parallel)(
        rows, bias.astype(np.float64), POW2_NEGATIVE)
    return y


# A row of 4 channels is too short to fill a vector register: the epilogues loop over rows
# of at least this many values, several pixels side by side with the bias repeated.
WIDE_ROW = 64


def _wide_rows(y, bias):
    """y (..., C) as rows of k pixels (k C >= WIDE_ROW where the pixels divide evenly), and
    the bias repeated k times to match."""
    channels = y.shape[-1]
    pixels = y.size // channels if channels else 0
    k = 1
    while k * channels < WIDE_ROW and pixels % (2 * k) == 0:
        k *= 2
    return y.reshape(-1, k * channels), np.tile(bias, k)
