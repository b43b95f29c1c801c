"""The input gradient of a convolution whose windows do not overlap, without the columns; run
forward, it is the U-Net's 2x2 stride-2 transposed convolution (layers/transpose.py).

    dx[n, oh*s + i, ow*s + j, c] = bias[c] + sum over f of dy[n, oh, ow, f] * w[(i*KW + j)*C + c, f]

for a geometry with KH, KW <= s and no padding on any side: every pixel of x lies in at most
one window, and those in none get the bias alone. That is col2im(dy @ w.T) + bias
(conv_functions.conv_backward_data) with col2im reduced to a scatter, so the product can be
written straight to its pixels: for eight neighbouring windows, one tap (i, j) and one vector
of channels, the eight sums stay in registers while dy's F values stream by (simd.fmadd), and
each is stored once. C must be a multiple of the lanes (direct.fits). The plain loops are
reference.conv2d_backward (its dx).
"""
import numpy as np
from numba import njit, prange

from .direct import SERIAL_BELOW_MACS, fits
from .simd import fmadd, lanes, load, store


def overlap_free(geom, height, width):
    """Whether no pixel of an H x W input lies in two windows of `geom`, and no window reaches
    into the padding on any side ("same" pads the bottom and right of an odd size too)."""
    return (geom.kh <= geom.stride and geom.kw <= geom.stride and geom.pad_top == geom.pad_left == 0
            and (geom.out_h - 1) * geom.stride + geom.kh <= height
            and (geom.out_w - 1) * geom.stride + geom.kw <= width)


@njit(inline="always")
def _eight(dy, wt, bias, dx, n, oh, ow, i, j, kw, stride, c0):
    """Windows ow .. ow+7 of dy's row oh, their tap (i, j), channels c0 .. c0 + lanes."""
    filters, channels = dy.shape[3], dx.shape[3]
    s0 = load(bias, c0)
    s1, s2, s3, s4, s5, s6, s7 = s0, s0, s0, s0, s0, s0, s0
    tap = (i * kw + j) * filters * channels + c0
    for f in range(filters):
        wv = load(wt, tap + f * channels)
        s0 = fmadd(s0, dy[n, oh, ow, f], wv)
        s1 = fmadd(s1, dy[n, oh, ow + 1, f], wv)
        s2 = fmadd(s2, dy[n, oh, ow + 2, f], wv)
        s3 = fmadd(s3, dy[n, oh, ow + 3, f], wv)
        s4 = fmadd(s4, dy[n, oh, ow + 4, f], wv)
        s5 = fmadd(s5, dy[n, oh, ow + 5, f], wv)
        s6 = fmadd(s6, dy[n, oh, ow + 6, f], wv)
        s7 = fmadd(s7, dy[n, oh, ow + 7, f], wv)
    height, width = dx.shape[1], dx.shape[2]
    first = ((n * height + oh * stride + i) * width + ow * stride + j) * channels + c0
    step = stride * channels                               # from one window's pixel to the next's
    for p, s in enumerate((s0, s1, s2, s3, s4, s5, s6, s7)):
        store(dx, first + p * step, s)


@njit(inline="always")
def _one(dy, wt, bias, dx, n, oh, ow, i, j, kw, stride, c0):
    filters, channels = dy.shape[3], dx.shape[3]
    s = load(bias, c0)
    tap = (i * kw + j) * filters * channels + c0
    for f in range(filters):
        s = fmadd(s, dy[n, oh, ow, f], load(wt, tap + f * channels))
    store(dx, ((n * dx.shape[1] + oh * stride + i) * dx.shape[2] + ow * stride + j) * channels + c0, s)


@njit(inline="always")
def _scatter_row(dy, wt, bias, dx, kh, kw, stride, row):
    out_h, out_w, channels = dy.shape[1], dy.shape[2], dx.shape[3]
    n, oh = row // out_h, row % out_h
    for i in range(kh):
        for j in range(kw):
            for c0 in range(0, channels, lanes(wt)):
                ow = 0
                while ow + 8 <= out_w:
                    _eight(dy, wt, bias, dx, n, oh, ow, i, j, kw, stride, c0)
                    ow += 8
                while ow < out_w:
                    _one(dy, wt, bias, dx, n, oh, ow, i, j, kw, stride, c0)
                    ow += 1


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def _scatter_parallel(dy, wt, bias, dx, kh, kw, stride):
    for row in prange(dy.shape[0] * dy.shape[1]):
        _scatter_row(dy, wt, bias, dx, kh, kw, stride, row)


@njit(cache=True, boundscheck=False, error_model="numpy")
def _scatter_serial(dy, wt, bias, dx, kh, kw, stride):
    for row in range(dy.shape[0] * dy.shape[1]):
        _scatter_row(dy, wt, bias, dx, kh, kw, stride, row)


def direct_scatter(dy, geom, w, x_shape, bias=None):
    """col2im(dy @ w.T, x_shape, geom) + bias for an overlap-free geometry: dy (N*OH*OW, F),
    w the (KH*KW*C, F) kernel matrix, bias (C,) or None; returns dx (x_shape)."""
    n, height, width, channels = x_shape
    filters = w.shape[1]
    if (not overlap_free(geom, height, width) or w.shape[0] != geom.kh * geom.kw * channels
            or dy.shape != (n * geom.out_h * geom.out_w, filters) or not fits(channels, dy.dtype)
            or w.dtype != dy.dtype or (bias is not None and np.shape(bias) != (channels,))):
        raise ValueError(f"direct_scatter: dy {dy.shape} {dy.dtype}, kernel matrix {w.shape} "
                         f"{w.dtype} and bias {np.shape(bias)} do not fit an overlap-free "
                         f"{geom.kh}x{geom.kw} s{geom.stride} geometry on {x_shape}")
    # (KH*KW, F, C): for one tap and one filter the channels are contiguous, a vector's load.
    wt = np.ascontiguousarray(w.reshape(geom.kh * geom.kw, channels, filters).transpose(0, 2, 1))
    covered = geom.kh * geom.out_h == height and geom.kw * geom.out_w == width
    dx = (np.empty if covered else np.zeros)(x_shape, dy.dtype)
    if not covered:
        dx += 0 if bias is None else bias                 # pixels in no window: the bias alone
    bias = np.zeros(channels, dy.dtype) if bias is None else np.ascontiguousarray(bias, dy.dtype)
    image = np.ascontiguousarray(dy).reshape(n, geom.out_h, geom.out_w, filters)
    kernel = _scatter_serial if dy.size * w.shape[0] < SERIAL_BELOW_MACS else _scatter_parallel
    kernel(image, wt.reshape(-1), bias, dx, geom.kh, geom.kw, geom.stride)
    return dx
