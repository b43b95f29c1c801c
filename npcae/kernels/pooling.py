"""Numba max pooling, NHWC: the maximum of each window, where it was, and the gradient sent back.

Geometry as Keras/TensorFlow compute it, per axis (H shown; W likewise):

    "valid": OH = floor((H - PH) / SH) + 1, no padding
    "same":  OH = ceil(H / SH),  pad_top = max((OH - 1) * SH + PH - H, 0) // 2

Padding counts as -inf: a window's maximum is over its real pixels only (every "same" window
holds at least one), so a pad never wins. Windows are scanned in row-major order with a strict
`best < v`: the FIRST maximum in row-major order within the window wins a tie, which is what
TensorFlow's CPU kernel for the gradient (SpatialMaxPoolWithArgMaxHelper, maxpooling_op.cc)
records. A NaN never replaces a maximum, but one found first stays.

    y[n, oh, ow, c]     = max over the window's real pixels of x
    index[n, oh, ow, c] = i * PW + j, the offset in the window of the maximum that wins
    dx[n, ih, iw, c]    = sum of dy[n, oh, ow, c] over the windows whose index points at (ih, iw)

backward is a gather, as col2im's: one input row per parallel iteration, so no two threads
write one element, and each pixel adds its windows in the order of their offset (i, j)
ascending, the order the plain reference (reference.py: max_pool_backward) adds them; the
result is deterministic and equal to the reference bit for bit, ties and overlaps included.

Small arrays take a serial twin of each kernel: a parallel launch costs ~60-100 us whatever its
size (see SERIAL_BELOW), more than the whole pooling of a U-Net's deep, small levels.
"""
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .geometry import padding_1d

# Below this many input elements a kernel runs serially. Measured on 2 cores (workqueue
# threads), 2x2 stride-2 float32, median of 30: a parallel launch costs ~60-100 us, and the
# forward is bound by memory, which one core nearly saturates. At 1M elements (8x64x64x32)
# serial and parallel were within noise (forward 264 vs 350 us, backward 454 vs 524 us); at
# 8M (8x256x256x16) the parallel backward took 4.3 ms against 7.1 ms serial.
SERIAL_BELOW = 1 << 20

# A window offset i * PW + j is kept in one byte, so windows have at most 256 positions (16x16).
# One index type also means one compiled signature per float type: each kernel costs 1-2 s to
# compile on a fresh clone.
INDEX_DTYPE = np.uint8
MAX_WINDOW = 256


class PoolGeometry(NamedTuple):
    """Window, strides, top/left padding and output size of one 2-D pooling."""

    ph: int
    pw: int
    sh: int
    sw: int
    pad_top: int
    pad_left: int
    out_h: int
    out_w: int


def pool_geometry(height, width, pool, strides, padding):
    """The PoolGeometry of a (PH, PW) window moved by strides (SH, SW) over height x width."""
    (ph, pw), (sh, sw) = pool, strides
    if ph * pw > MAX_WINDOW:
        raise ValueError(f"a pool of {ph}x{pw} has more than {MAX_WINDOW} positions; the "
                         f"offsets of the maxima are kept as one byte each")
    if padding == "valid" and (height < ph or width < pw):
        raise ValueError(f"input {height}x{width} is smaller than the pool {ph}x{pw} "
                         f"with padding 'valid'")
    out_h, pad_top = padding_1d(height, ph, sh, padding)
    out_w, pad_left = padding_1d(width, pw, sw, padding)
    return PoolGeometry(ph, pw, sh, sw, pad_top, pad_left, out_h, out_w)


@njit(inline="always")
def _pool_row(x, ph, pw, sh, sw, pad_top, pad_left, y, index, image_row):
    """Output row image_row (of N*OH): maxima into y, their window offsets into index."""
    _, height, width, channels = x.shape
    out_h, out_w = y.shape[1], y.shape[2]
    n, oh = image_row // out_h, image_row % out_h
    top = oh * sh - pad_top
    i_lo, i_hi = max(0, -top), min(ph, height - top)      # the window's real rows
    for ow in range(out_w):
        left = ow * sw - pad_left
        j_lo, j_hi = max(0, -left), min(pw, width - left)
        first = i_lo * pw + j_lo                            # the first real pixel seeds it
        for c in range(channels):
            y[n, oh, ow, c] = x[n, top + i_lo, left + j_lo, c]
            index[n, oh, ow, c] = first
        for i in range(i_lo, i_hi):
            for j in range(j_lo, j_hi):
                k = i * pw + j
                if k == first:
                    continue
                for c in range(channels):
                    v = x[n, top + i, left + j, c]
                    if y[n, oh, ow, c] < v:                 # strict: the first maximum stays
                        y[n, oh, ow, c] = v
                        index[n, oh, ow, c] = k


@njit(inline="always")
def _unpool_row(dy, index, ph, pw, sh, sw, pad_top, pad_left, dx, image_row):
    """Input row image_row (of N*H) of dx, gathered from the windows that cover it."""
    _, height, width, channels = dx.shape
    out_h, out_w = dy.shape[1], dy.shape[2]
    n, ih = image_row // height, image_row % height
    hpad = ih + pad_top
    oh_lo = 0 if hpad < ph else (hpad - ph) // sh + 1       # windows oh_lo .. oh_hi - 1
    oh_hi = min(hpad // sh + 1, out_h)
    for iw in range(width):
        wpad = iw + pad_left
        ow_lo = 0 if wpad < pw else (wpad - pw) // sw + 1
        ow_hi = min(wpad // sw + 1, out_w)
        for c in range(channels):
            dx[n, ih, iw, c] = 0
        # oh descending is the offset i = hpad - oh * sh ascending: the reference's order.
        for oh in range(oh_hi - 1, oh_lo - 1, -1):
            i = hpad - oh * sh
            for ow in range(ow_hi - 1, ow_lo - 1, -1):
                k = i * pw + wpad - ow * sw
                for c in range(channels):
                    if index[n, oh, ow, c] == k:
                        dx[n, ih, iw, c] += dy[n, oh, ow, c]


@njit(parallel=True, cache=True)
def _max_pool_parallel(x, ph, pw, sh, sw, pad_top, pad_left, y, index):
    for image_row in prange(y.shape[0] * y.shape[1]):
        _pool_row(x, ph, pw, sh, sw, pad_top, pad_left, y, index, image_row)


@njit(cache=True)
def _max_pool_serial(x, ph, pw, sh, sw, pad_top, pad_left, y, index):
    for image_row in range(y.shape[0] * y.shape[1]):
        _pool_row(x, ph, pw, sh, sw, pad_top, pad_left, y, index, image_row)


@njit(parallel=True, cache=True)
def _max_unpool_parallel(dy, index, ph, pw, sh, sw, pad_top, pad_left, dx):
    for image_row in prange(dx.shape[0] * dx.shape[1]):
        _unpool_row(dy, index, ph, pw, sh, sw, pad_top, pad_left, dx, image_row)


@njit(cache=True)
def _max_unpool_serial(dy, index, ph, pw, sh, sw, pad_top, pad_left, dx):
    for image_row in range(dx.shape[0] * dx.shape[1]):
        _unpool_row(dy, index, ph, pw, sh, sw, pad_top, pad_left, dx, image_row)


def max_pool(x, geom: PoolGeometry):
    """x (N, H, W, C) -> (y (N, OH, OW, C), index (N, OH, OW, C) of window offsets)."""
    x = np.ascontiguousarray(x)
    shape = (x.shape[0], geom.out_h, geom.out_w, x.shape[3])
    y = np.empty(shape, x.dtype)
    index = np.empty(shape, INDEX_DTYPE)
    kernel = _max_pool_serial if x.size < SERIAL_BELOW else _max_pool_parallel
    kernel(x, geom.ph, geom.pw, geom.sh, geom.sw, geom.pad_top, geom.pad_left, y, index)
    return y, index


def max_pool_backward(dy, index, x_shape, geom: PoolGeometry):
    """dL/dy (N, OH, OW, C) and forward's index -> dL/dx (x_shape), in dy's dtype."""
    dy = np.ascontiguousarray(dy)
    if dy.shape != index.shape:
        raise ValueError(f"max-pool gradient is {dy.shape}, the forward's output was {index.shape}")
    dx = np.empty(x_shape, dy.dtype)
    kernel = _max_unpool_serial if dx.size < SERIAL_BELOW else _max_unpool_parallel
    kernel(dy, index, geom.ph, geom.pw, geom.sh, geom.sw, geom.pad_top, geom.pad_left, dx)
    return dx
