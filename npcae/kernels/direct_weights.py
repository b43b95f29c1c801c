"""The weight gradient of a convolution with few filters, without the columns.

    dw[(i*KW + j)*C + c, f] = sum over n, oh, ow of x[n, oh*s - pad_top + i, ow*s - pad_left + j, c]
                                                     * dy[(n*OH + oh)*OW + ow, f]

the (KH*KW*C, F) matrix im2col(x).T @ dy (conv_functions.conv_backward_weights), with the taps
that fall in the padding left out, as multiplying zeros would. Its partner is direct.py's
forward: a layer whose forward takes the direct road keeps no columns, and building them again
here cost more than the rest of its backward (the U-Net's 32 -> 16 layer at 8 x 256x256: 150 ms
of im2col and a (288 x 524288) @ (524288 x 16) product, whose 16 columns OpenBLAS runs at a
third of its speed).

For one output row, one tap (i, j), eight channels and one vector of filters, the eight sums
stay in registers while the row's pixels stream by, each pixel adding its dy vector times its
eight input values (simd.fmadd); then the sums go back to the block's partial dw. The rows are
cut into WEIGHT_BLOCKS fixed blocks, each summed into its own partial (parallel over blocks,
no two threads share one), and the partials are added in block order: the result does not
depend on the number of threads. The plain loops are reference.conv2d_backward.
"""
import numpy as np
from numba import njit, prange

from .direct import SERIAL_BELOW_MACS, fits
from .simd import fmadd, lanes, load, store

WEIGHT_BLOCKS = 32      # enough for 2-16 threads to share evenly; fixed, so sums are reproducible


@njit(inline="always")
def _eight_channels(x, dy, partial, n, ih, first_pixel, lo, hi, iw0, stride, c, k, f0):
    """partial[k .. k+7 (channels c .. c+7), f0 vector] += pixels lo .. hi-1 of the output row
    whose first pixel is dy's row first_pixel."""
    filters = dy.shape[1]
    s0 = load(partial, k * filters + f0)
    s1 = load(partial, (k + 1) * filters + f0)
    s2 = load(partial, (k + 2) * filters + f0)
    s3 = load(partial, (k + 3) * filters + f0)
    s4 = load(partial, (k + 4) * filters + f0)
    s5 = load(partial, (k + 5) * filters + f0)
    s6 = load(partial, (k + 6) * filters + f0)
    s7 = load(partial, (k + 7) * filters + f0)
    for ow in range(lo, hi):
        g = load(dy, (first_pixel + ow) * filters + f0)
        iw = ow * stride + iw0
        s0 = fmadd(s0, x[n, ih, iw, c], g)
        s1 = fmadd(s1, x[n, ih, iw, c + 1], g)
        s2 = fmadd(s2, x[n, ih, iw, c + 2], g)
        s3 = fmadd(s3, x[n, ih, iw, c + 3], g)
        s4 = fmadd(s4, x[n, ih, iw, c + 4], g)
        s5 = fmadd(s5, x[n, ih, iw, c + 5], g)
        s6 = fmadd(s6, x[n, ih, iw, c + 6], g)
        s7 = fmadd(s7, x[n, ih, iw, c + 7], g)
    store(partial, k * filters + f0, s0)
    store(partial, (k + 1) * filters + f0, s1)
    store(partial, (k + 2) * filters + f0, s2)
    store(partial, (k + 3) * filters + f0, s3)
    store(partial, (k + 4) * filters + f0, s4)
    store(partial, (k + 5) * filters + f0, s5)
    store(partial, (k + 6) * filters + f0, s6)
    store(partial, (k + 7) * filters + f0, s7)


@njit(inline="always")
def _one_channel(x, dy, partial, n, ih, first_pixel, lo, hi, iw0, stride, c, k, f0):
    filters = dy.shape[1]
    s = load(partial, k * filters + f0)
    for ow in range(lo, hi):
        s = fmadd(s, x[n, ih, ow * stride + iw0, c], load(dy, (first_pixel + ow) * filters + f0))
    store(partial, k * filters + f0, s)


@njit(inline="always")
def _add_row(x, dy, partial, kh, kw, stride, pad_top, pad_left, out_h, out_w, row):
    """Output row `row` of N*OH: its pixels' contribution to every tap, channel and filter."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    filters = dy.shape[1]
    n = row // out_h
    ih0 = (row - n * out_h) * stride - pad_top
    for i in range(max(0, -ih0), min(kh, height - ih0)):
        for j in range(kw):
            iw0 = j - pad_left                          # pixel ow reads column ow*s + iw0
            lo = max(0, (-iw0 + stride - 1) // stride)  # the pixels whose column is inside x
            hi = min(out_w, (width - 1 - iw0) // stride + 1)
            if lo >= hi:
                continue
            for f0 in range(0, filters, lanes(dy)):
                c = 0
                while c + 8 <= channels:
                    _eight_channels(x, dy, partial, n, ih0 + i, row * out_w, lo, hi, iw0, stride,
                                    c, (i * kw + j) * channels + c, f0)
                    c += 8
                while c < channels:
                    _one_channel(x, dy, partial, n, ih0 + i, row * out_w, lo, hi, iw0, stride,
                                 c, (i * kw + j) * channels + c, f0)
                    c += 1


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def _weights_parallel(x, dy, partials, kh, kw, stride, pad_top, pad_left, out_h, out_w):
    rows, blocks = x.shape[0] * out_h, partials.shape[0]
    for b in prange(blocks):
        for row in range(b * rows // blocks, (b + 1) * rows // blocks):
            _add_row(x, dy, partials[b], kh, kw, stride, pad_top, pad_left, out_h, out_w, row)


@njit(cache=True, boundscheck=False, error_model="numpy")
def _weights_serial(x, dy, partials, kh, kw, stride, pad_top, pad_left, out_h, out_w):
    rows, blocks = x.shape[0] * out_h, partials.shape[0]
    for b in range(blocks):
        for row in range(b * rows // blocks, (b + 1) * rows // blocks):
            _add_row(x, dy, partials[b], kh, kw, stride, pad_top, pad_left, out_h, out_w, row)


def direct_weights_grad(x, geom, dy):
    """im2col(x, geom).T @ dy, (KH*KW*C, F), for NHWC x and dy as an (N*OH*OW, F) matrix; a
    call with little work runs the serial twin (same blocks, same sums)."""
    n, _, _, channels = x.shape
    filters = dy.shape[1]
    if (dy.shape[0] != n * geom.out_h * geom.out_w or not fits(filters, x.dtype)
            or dy.dtype != x.dtype):
        raise ValueError(f"direct_weights_grad: dy {dy.shape} {dy.dtype} does not fit "
                         f"{geom.kh}x{geom.kw} windows of {x.shape} {x.dtype}")
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    blocks = min(WEIGHT_BLOCKS, n * geom.out_h)
    partials = np.zeros((blocks, geom.kh * geom.kw * channels, filters), x.dtype)
    macs = dy.size * partials.shape[1]
    kernel = _weights_serial if macs < SERIAL_BELOW_MACS else _weights_parallel
    kernel(x, dy, partials, geom.kh, geom.kw, geom.stride, geom.pad_top, geom.pad_left,
           geom.out_h, geom.out_w)
    return partials.sum(axis=0)
