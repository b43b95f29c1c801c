"""Direct convolution: eight output pixels' filter sums held in registers, no columns.

    y[n, oh, ow, f] = b[f] + sum over i, j, c of x[n, oh*s - pad_top + i, ow*s - pad_left + j, c]
                                                  * w[(i*KW + j)*C + c, f]

x is NHWC, w the (KH*KW*C, F) kernel matrix and y the (N*OH*OW, F) output matrix: the same
layout as im2col(x) @ w (im2col.py), so the two are interchangeable roads of conv_forward.
Taps that fall in the padding are skipped, which is what multiplying zeros would give.

Why not im2col: with few filters the matrix product does 2F FLOP per column element that
im2col writes and BLAS then reads, and OpenBLAS's thin products pack their operand once more;
at the U-Net's top (512x512, 32 -> 16 channels) im2col + GEMM ran at 31-37 GF/s on this
machine's two cores and this kernel at 146. Its inner loop takes one vector of `lanes` filters
of one tap (simd.load) and adds it, times each pixel's input value, into eight pixels' sums
(simd.fmadd); the sums stay in registers for the whole window and are stored once. A row's
last eight end at its last inner pixel, overlapping the eight before (those few pixels are
summed twice, the same way); pixels whose window crosses the left or right edge, and rows
with fewer than eight inner pixels, go one at a time (_one, one chain of additions: 4-8 times
slower a pixel, which on 64-pixel rows was a fifth of the time). The order of additions is the
same on every road, so every pixel's sum is computed the same way whichever road took it: the
result is deterministic and independent of the image's width.

F must be a multiple of the lanes (16 for float32, 8 for float64: `fits`). Parallel over
output rows, each written by one thread; a call with little work runs the serial twin.
The plain loops are reference.conv2d_forward.
"""
import numpy as np
from numba import njit, prange

from .simd import fmadd, lanes, load, store

# Below this many multiply-adds (about 0.1 ms of work) a parallel launch costs more than it saves.
SERIAL_BELOW_MACS = 1 << 22
LANES = {np.dtype(np.float32): 16, np.dtype(np.float64): 8}


# Up to this many filters the direct road is the faster one (conv_functions.conv_plan). Measured
# on 3x3 "same" layers of the U-Net (ms, direct vs im2col + OpenBLAS, best of 5 alternating):
# one 512x512 photo's 32 -> 16 channels 15.6 vs 65, 64 -> 64 at 128x128 6.8 vs 10.9, 128 -> 64
# 14.8 vs 22.8; a step's 8 x 64x64, 128 -> 64, 30.4 vs 40.8; but 128 -> 128 at 64x64 8.8 vs 8.8:
# with many filters the product is no longer thin and BLAS is at its best.
MAX_FILTERS = 64


def fits(filters, dtype):
    """Whether direct_conv can compute F = `filters` outputs in `dtype`."""
    lanes_ = LANES.get(np.dtype(dtype))
    return lanes_ is not None and filters % lanes_ == 0


def takes(filters, dtype):
    """Whether the direct road is the one to take for `filters` outputs in `dtype`."""
    return filters <= MAX_FILTERS and fits(filters, dtype)


@njit(inline="always")
def _eight(x, w, bias, y, n, ih0, iw0, stride, i_lo, i_hi, kw, f0, out):
    """Eight pixels of a row, every column tap inside x, from column iw0 on; into y.flat[out:]."""
    channels, filters = x.shape[3], w.shape[1]
    s0 = load(bias, f0)
    s1, s2, s3, s4, s5, s6, s7 = s0, s0, s0, s0, s0, s0, s0
    for i in range(i_lo, i_hi):
        ih = ih0 + i
        for j in range(kw):
            iw = iw0 + j
            tap = (i * kw + j) * channels * filters + f0
            for c in range(channels):
                wv = load(w, tap + c * filters)
                s0 = fmadd(s0, x[n, ih, iw, c], wv)
                s1 = fmadd(s1, x[n, ih, iw + stride, c], wv)
                s2 = fmadd(s2, x[n, ih, iw + 2 * stride, c], wv)
                s3 = fmadd(s3, x[n, ih, iw + 3 * stride, c], wv)
                s4 = fmadd(s4, x[n, ih, iw + 4 * stride, c], wv)
                s5 = fmadd(s5, x[n, ih, iw + 5 * stride, c], wv)
                s6 = fmadd(s6, x[n, ih, iw + 6 * stride, c], wv)
                s7 = fmadd(s7, x[n, ih, iw + 7 * stride, c], wv)
    store(y, out, s0)
    store(y, out + filters, s1)
    store(y, out + 2 * filters, s2)
    store(y, out + 3 * filters, s3)
    store(y, out + 4 * filters, s4)
    store(y, out + 5 * filters, s5)
    store(y, out + 6 * filters, s6)
    store(y, out + 7 * filters, s7)


@njit(inline="always")
def _eight_by_two(x, w, bias, y, n, ih0, iw0, stride, i_lo, i_hi, kw, f0, out):
    """_eight for two vectors of filters at once: each input value feeds two multiply-adds, and
    the sixteen sums and two weight vectors fill 18 of AVX-512's 32 registers."""
    channels, filters = x.shape[3], w.shape[1]
    f1 = f0 + lanes(w)
    s0 = load(bias, f0)
    s1, s2, s3, s4, s5, s6, s7 = s0, s0, s0, s0, s0, s0, s0
    t0 = load(bias, f1)
    t1, t2, t3, t4, t5, t6, t7 = t0, t0, t0, t0, t0, t0, t0
    for i in range(i_lo, i_hi):
        ih = ih0 + i
        for j in range(kw):
            iw = iw0 + j
            tap = (i * kw + j) * channels * filters
            for c in range(channels):
                wv = load(w, tap + c * filters + f0)
                wu = load(w, tap + c * filters + f1)
                v = x[n, ih, iw, c]
                s0, t0 = fmadd(s0, v, wv), fmadd(t0, v, wu)
                v = x[n, ih, iw + stride, c]
                s1, t1 = fmadd(s1, v, wv), fmadd(t1, v, wu)
                v = x[n, ih, iw + 2 * stride, c]
                s2, t2 = fmadd(s2, v, wv), fmadd(t2, v, wu)
                v = x[n, ih, iw + 3 * stride, c]
                s3, t3 = fmadd(s3, v, wv), fmadd(t3, v, wu)
                v = x[n, ih, iw + 4 * stride, c]
                s4, t4 = fmadd(s4, v, wv), fmadd(t4, v, wu)
                v = x[n, ih, iw + 5 * stride, c]
                s5, t5 = fmadd(s5, v, wv), fmadd(t5, v, wu)
                v = x[n, ih, iw + 6 * stride, c]
                s6, t6 = fmadd(s6, v, wv), fmadd(t6, v, wu)
                v = x[n, ih, iw + 7 * stride, c]
                s7, t7 = fmadd(s7, v, wv), fmadd(t7, v, wu)
    sums = ((s0, t0), (s1, t1), (s2, t2), (s3, t3), (s4, t4), (s5, t5), (s6, t6), (s7, t7))
    for p, (s, t) in enumerate(sums):
        store(y, out + p * filters, s)
        store(y, out + p * filters + lanes(w), t)


@njit(inline="always")
def _one(x, w, bias, y, n, ih0, iw0, i_lo, i_hi, kw, f0, out):
    """One pixel, its window starting at column iw0 (possibly in the padding)."""
    width, channels, filters = x.shape[2], x.shape[3], w.shape[1]
    s = load(bias, f0)
    for i in range(i_lo, i_hi):
        ih = ih0 + i
        for j in range(max(0, -iw0), min(kw, width - iw0)):
            tap = (i * kw + j) * channels * filters + f0
            for c in range(channels):
                s = fmadd(s, x[n, ih, iw0 + j, c], load(w, tap + c * filters))
    store(y, out, s)


@njit(inline="always")
def _row(x, w, bias, y, kh, kw, stride, pad_top, pad_left, out_h, out_w, row):
    """Output row `row` of N*OH: every pixel, every filter."""
    height, width, filters = x.shape[1], x.shape[2], w.shape[1]
    n = row // out_h
    ih0 = (row - n * out_h) * stride - pad_top
    i_lo, i_hi = max(0, -ih0), min(kh, height - ih0)          # the kernel rows inside x
    # Pixels [first, last) have every column tap inside x.
    first = min(out_w, (pad_left + stride - 1) // stride)
    last = max(first, min(out_w, (width - kw + pad_left) // stride + 1))
    f0 = 0
    while f0 < filters:
        wide = filters - f0 >= 2 * lanes(w)           # two vectors of filters left
        ow = 0
        while ow < out_w:
            out = (row * out_w + ow) * filters + f0
            iw0 = ow * stride - pad_left
            if first <= ow < last and last - first >= 8:
                # The last eight of the row end at `last`, recomputing a few pixels the eight
                # before them wrote: the same sums in the same order, stored again.
                ow = min(ow, last - 8)
                out = (row * out_w + ow) * filters + f0
                iw0 = ow * stride - pad_left
                if wide:
                    _eight_by_two(x, w, bias, y, n, ih0, iw0, stride, i_lo, i_hi, kw, f0, out)
                else:
                    _eight(x, w, bias, y, n, ih0, iw0, stride, i_lo, i_hi, kw, f0, out)
                ow += 8
            else:
                _one(x, w, bias, y, n, ih0, iw0, i_lo, i_hi, kw, f0, out)
                if wide:
                    _one(x, w, bias, y, n, ih0, iw0, i_lo, i_hi, kw, f0 + lanes(w), out + lanes(w))
                ow += 1
        f0 += 2 * lanes(w) if wide else lanes(w)


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def _direct_parallel(x, w, bias, y, kh, kw, stride, pad_top, pad_left, out_h, out_w):
    for row in prange(x.shape[0] * out_h):
        _row(x, w, bias, y, kh, kw, stride, pad_top, pad_left, out_h, out_w, row)


@njit(cache=True, boundscheck=False, error_model="numpy")
def _direct_serial(x, w, bias, y, kh, kw, stride, pad_top, pad_left, out_h, out_w):
    for row in range(x.shape[0] * out_h):
        _row(x, w, bias, y, kh, kw, stride, pad_top, pad_left, out_h, out_w, row)


def direct_conv(x, geom, w, bias=None):
    """The convolution of NHWC x by the (KH*KW*C, F) matrix w, plus bias (F,) if given, as an
    (N*OH*OW, F) matrix: im2col(x, geom) @ w + bias, computed without the columns."""
    n, _, _, channels = x.shape
    rows, filters = w.shape
    if (rows != geom.kh * geom.kw * channels or not fits(filters, x.dtype) or w.dtype != x.dtype
            or (bias is not None and np.shape(bias) != (filters,))):
        raise ValueError(f"direct_conv: kernel matrix {w.shape} {w.dtype} and bias "
                         f"{np.shape(bias)} do not fit {geom.kh}x{geom.kw} windows of "
                         f"{x.shape} {x.dtype}")
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    bias = np.zeros(filters, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    y = np.empty((n * geom.out_h * geom.out_w, filters), x.dtype)
    kernel = _direct_serial if y.size * rows < SERIAL_BELOW_MACS else _direct_parallel
    kernel(x, w, bias, y, geom.kh, geom.kw, geom.stride, geom.pad_top, geom.pad_left,
           geom.out_h, geom.out_w)
    return y
