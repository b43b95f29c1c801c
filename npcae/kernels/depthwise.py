"""Depthwise convolution kernels (NHWC, each channel with its own KH x KW filters).

    x (N, H, W, C),  W (KH, KW, C, M),  y (N, OH, OW, C*M)       M: the depth multiplier
    y[n, p, q, c*M + m]  = sum_{i,j} x[n, p*s + i - pt, q*s + j - pl, c] W[i, j, c, m]
    dx[n, h, w, c]       = sum_{i,j,m} dy[n, p, q, c*M + m] W[i, j, c, m]   over p*s + i - pt = h,
                                                                             q*s + j - pl = w
    dW[i, j, c, m]       = sum_{n,p,q} x[n, p*s + i - pt, q*s + j - pl, c] dy[n, p, q, c*M + m]

A depthwise convolution is not a GEMM: per output value it does KH*KW multiply-adds with no
reuse across channels, so im2col would write 9 values to read each once. These kernels walk
NHWC rows with the channels innermost (contiguous, so each (i, j) tap is one vector multiply-add
over the channels, as XNNPACK and oneDNN lay it out), one output row per task:

  * forward and backward-data are gathers: each task writes only its own row (backward-data
    finds, for each input row, the output rows and taps that read it), so no two threads write
    one value and the result does not depend on the thread count;
  * backward-weights sums over every image and row: it sums fixed blocks of rows into their
    own partial dW, then adds the partials in block order, so the sum is the same for any
    thread count (the blocks, not the threads, decide the order).

Each has a serial twin below SERIAL_BELOW elements (same arithmetic, same order); the plain
loop versions the tests trust are in reference.py.
"""
import numpy as np
from numba import njit, prange

from .launch import SERIAL_BELOW

WEIGHT_BLOCKS = 16      # fixed partial sums of dW: the order of the sum, whatever the threads


@njit(inline="always")
def _forward_row(x, w, s, pt, pl, y, n, p):
    kh, kw, channels, multiplier = w.shape
    height, width = x.shape[1], x.shape[2]
    for q in range(y.shape[2]):
        for i in range(kh):
            h = p * s + i - pt
            if h < 0 or h >= height:
                continue
            for j in range(kw):
                col = q * s + j - pl
                if col < 0 or col >= width:
                    continue
                if multiplier == 1:                 # MobileNet's case: one contiguous vector loop
                    for c in range(channels):
                        y[n, p, q, c] += x[n, h, col, c] * w[i, j, c, 0]
                    continue
                for c in range(channels):
                    v = x[n, h, col, c]
                    for m in range(multiplier):
                        y[n, p, q, c * multiplier + m] += v * w[i, j, c, m]


@njit(parallel=True, cache=True)
def _forward_parallel(x, w, s, pt, pl, y):
    rows = y.shape[1]
    for task in prange(y.shape[0] * rows):
        _forward_row(x, w, s, pt, pl, y, task // rows, task % rows)


@njit(cache=True)
def _forward_serial(x, w, s, pt, pl, y):
    rows = y.shape[1]
    for task in range(y.shape[0] * rows):
        _forward_row(x, w, s, pt, pl, y, task // rows, task % rows)


@njit(inline="always")
def _data_row(dy, w, s, pt, pl, dx, n, h):
    kh, kw, channels, multiplier = w.shape
    out_h, out_w = dy.shape[1], dy.shape[2]
    for col in range(dx.shape[2]):
        for i in range(kh):
            top = h + pt - i                 # = p * s for the output row p that reads row h
            if top < 0 or top % s:
                continue
            p = top // s
            if p >= out_h:
                continue
            for j in range(kw):
                left = col + pl - j
                if left < 0 or left % s:
                    continue
                q = left // s
                if q >= out_w:
                    continue
                if multiplier == 1:
                    for c in range(channels):
                        dx[n, h, col, c] += dy[n, p, q, c] * w[i, j, c, 0]
                    continue
                for c in range(channels):
                    total = dx[n, h, col, c]
                    for m in range(multiplier):
                        total += dy[n, p, q, c * multiplier + m] * w[i, j, c, m]
                    dx[n, h, col, c] = total


@njit(parallel=True, cache=True)
def _data_parallel(dy, w, s, pt, pl, dx):
    rows = dx.shape[1]
    for task in prange(dx.shape[0] * rows):
        _data_row(dy, w, s, pt, pl, dx, task // rows, task % rows)


@njit(cache=True)
def _data_serial(dy, w, s, pt, pl, dx):
    rows = dx.shape[1]
    for task in range(dx.shape[0] * rows):
        _data_row(dy, w, s, pt, pl, dx, task // rows, task % rows)


@njit(inline="always")
def _weights_block(x, dy, s, pt, pl, partial, start, stop):
    kh, kw, channels, multiplier = partial.shape
    height, width = x.shape[1], x.shape[2]
    rows = dy.shape[1]
    for task in range(start, stop):
        n, p = task // rows, task % rows
        for q in range(dy.shape[2]):
            for i in range(kh):
                h = p * s + i - pt
                if h < 0 or h >= height:
                    continue
                for j in range(kw):
                    col = q * s + j - pl
                    if col < 0 or col >= width:
                        continue
                    if multiplier == 1:
                        for c in range(channels):
                            partial[i, j, c, 0] += x[n, h, col, c] * dy[n, p, q, c]
                        continue
                    for c in range(channels):
                        v = x[n, h, col, c]
                        for m in range(multiplier):
                            partial[i, j, c, m] += v * dy[n, p, q, c * multiplier + m]


@njit(parallel=True, cache=True)
def _weights_parallel(x, dy, s, pt, pl, partials):
    tasks = dy.shape[0] * dy.shape[1]
    blocks = partials.shape[0]
    for b in prange(blocks):
        _weights_block(x, dy, s, pt, pl, partials[b], tasks * b // blocks, tasks * (b + 1) // blocks)


@njit(cache=True)
def _weights_serial(x, dy, s, pt, pl, partials):
    tasks = dy.shape[0] * dy.shape[1]
    blocks = partials.shape[0]
    for b in range(blocks):
        _weights_block(x, dy, s, pt, pl, partials[b], tasks * b // blocks, tasks * (b + 1) // blocks)


def _parallel(array):
    return array.size >= SERIAL_BELOW


def depthwise_forward(x, w, geometry):
    """y (N, OH, OW, C*M) = the depthwise convolution of x (N, H, W, C) with w (KH, KW, C, M),
    without bias, in x's dtype; geometry: a kernels.ConvGeometry."""
    g = geometry
    y = np.zeros((x.shape[0], g.out_h, g.out_w, w.shape[2] * w.shape[3]), x.dtype)
    run = _forward_parallel if _parallel(y) else _forward_serial
    run(np.ascontiguousarray(x), np.ascontiguousarray(w, x.dtype), g.stride, g.pad_top, g.pad_left, y)
    return y


def depthwise_backward_data(dy, w, input_shape, geometry):
    """dx (input_shape) from dy (N, OH, OW, C*M)."""
    g = geometry
    dx = np.zeros(input_shape, dy.dtype)
    run = _data_parallel if _parallel(dx) else _data_serial
    run(np.ascontiguousarray(dy), np.ascontiguousarray(w, dy.dtype), g.stride, g.pad_top, g.pad_left, dx)
    return dx


def depthwise_backward_weights(x, dy, kernel_shape, geometry):
    """dW (KH, KW, C, M) from x and dy; the same bits for any thread count."""
    g = geometry
    blocks = max(1, min(WEIGHT_BLOCKS, dy.shape[0] * dy.shape[1]))
    partials = np.zeros((WEIGHT_BLOCKS, *kernel_shape), dy.dtype)[:blocks]
    run = _weights_parallel if _parallel(dy) else _weights_serial
    run(np.ascontiguousarray(x, dy.dtype), np.ascontiguousarray(dy), g.stride, g.pad_top, g.pad_left,
        partials)
    dw = partials[0].copy()
    for b in range(1, blocks):                   # in block order: fixed, whatever ran them
        dw += partials[b]
    return dw
