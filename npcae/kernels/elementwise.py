"""Numba element-wise kernels: one parallel pass where numpy makes four or five.

swish(x) = x * sigmoid(x) in numpy costs an exp, an abs, a where, a divide and a multiply, each
a full pass over memory with its own temporary. These loops read x (and dy) once and write
once. The numpy expressions they replace stay in layers/activations.py as the plain path.
"""
import math

import numpy as np
from numba import njit, prange

from .launch import SERIAL_BELOW    # below it, a parallel launch costs more than the loop


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


def _swish_forward(x, y):
    (_swish_forward_serial if x.size < SERIAL_BELOW else _swish_forward_parallel)(x, y)


def _swish_backward(x, dy, dx):
    (_swish_backward_serial if x.size < SERIAL_BELOW else _swish_backward_parallel)(x, dy, dx)


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
    rows = y.reshape(-1, y.shape[-1])
    lower, upper = y.dtype.type(lower), y.dtype.type(upper)
    (_bias_clamp_serial if y.size < SERIAL_BELOW else _bias_clamp_parallel)(rows, bias, lower, upper)
    return y


@njit(inline="always")
def _bias_swish_row(y, bias, r):
    for c in range(y.shape[1]):
        v = y[r, c] + bias[c]
        y[r, c] = v * _sigmoid(v)


@njit(parallel=True, cache=True)
def _bias_swish_parallel(y, bias):
    for r in prange(y.shape[0]):
        _bias_swish_row(y, bias, r)


@njit(cache=True)
def _bias_swish_serial(y, bias):
    for r in range(y.shape[0]):
        _bias_swish_row(y, bias, r)


# Swish's exp makes a pass compute-bound: a parallel launch (60-100 us) pays off far below
# SERIAL_BELOW.
SWISH_SERIAL_BELOW = 1 << 16


def bias_swish(y, bias):
    """y (..., C) <- swish(y + bias) in place, and y: a convolution's bias and Swish in one pass."""
    rows = y.reshape(-1, y.shape[-1])
    (_bias_swish_serial if y.size < SWISH_SERIAL_BELOW else _bias_swish_parallel)(rows, bias)
    return y
