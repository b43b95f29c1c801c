"""Numba-jitted im2col and col2im: the fast half of every convolution.

Column layout, used everywhere in npcae:

    cols[(n * OH + oh) * OW + ow, (i * KW + j) * C + c] = x_padded[n, oh*s + i, ow*s + j, c]

i.e. cols is (N*OH*OW, KH*KW*C) with the channel fastest, so that a Keras weight tensor
(KH, KW, C, OUT) reshaped to (KH*KW*C, OUT) multiplies it directly and the product
(N*OH*OW, OUT) already is the NHWC output: no transposes anywhere.

col2im is the adjoint of im2col (<im2col(x), c> == <x, col2im(c)>): every input pixel sums the
column entries of the windows that cover it. It is written as a gather, one input row per
parallel iteration, so no two threads ever write the same element and the summation order is
fixed: the result is deterministic whatever the thread count.

A layer rarely needs all of its columns at once: im2col_blocks builds them a block of output
rows at a time, and columns_matmul / columns_t_matmul multiply each block while it is still in
cache, so the shared workspace stays at BLOCK_BYTES instead of the 906 MB of the widest layer.

The plain-loop versions of both, and a loop-based convolution, live in `reference.py`.
"""
import numpy as np
from numba import njit, prange

from . import workspace
from .geometry import ConvGeometry
from .launch import SERIAL_BELOW




@njit(inline="always")
def _im2col_row(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row, block_row):
    """Output row first_row + block_row (of N*OH) into cols' rows block_row*OW ..."""
    _, height, width, channels = x.shape
    image_row = first_row + block_row
    n = image_row // out_h
    oh = image_row % out_h
    for ow in range(out_w):
        r = block_row * out_w + ow
        for i in range(kh):
            ih = oh * stride - pad_top + i
            for j in range(kw):
                iw = ow * stride - pad_left + j
                base = (i * kw + j) * channels
                if 0 <= ih < height and 0 <= iw < width:
                    for c in range(channels):
                        cols[r, base + c] = x[n, ih, iw, c]
                else:
                    for c in range(channels):
                        cols[r, base + c] = 0


@njit(parallel=True, cache=True)
def _im2col_parallel(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row):
    for block_row in prange(cols.shape[0] // out_w):
        _im2col_row(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row, block_row)


@njit(cache=True)
def _im2col_serial(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row):
    for block_row in range(cols.shape[0] // out_w):
        _im2col_row(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row, block_row)


def _im2col_kernel(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row):
    """Output rows first_row .. first_row + len(cols) / OW - 1 (of N*OH) into cols."""
    kernel = _im2col_serial if cols.size < SERIAL_BELOW else _im2col_parallel
    kernel(x, kh, kw, stride, pad_top, pad_left, out_h, out_w, cols, first_row)


@njit(inline="always")
def _col2im_row(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx, image_row):
    n_images, height, width, channels = dx.shape
    n = image_row // height
    ih = image_row % height
    for iw in range(width):
        for c in range(channels):
            dx[n, ih, iw, c] = 0
        for i in range(kh):
            th = ih + pad_top - i          # = oh * stride if window oh covers row ih
            if th < 0 or th % stride != 0:
                continue
            oh = th // stride
            if oh >= out_h:
                continue
            for j in range(kw):
                tw = iw + pad_left - j
                if tw < 0 or tw % stride != 0:
                    continue
                ow = tw // stride
                if ow >= out_w:
                    continue
                r = (n * out_h + oh) * out_w + ow
                base = (i * kw + j) * channels
                for c in range(channels):
                    dx[n, ih, iw, c] += cols[r, base + c]


@njit(parallel=True, cache=True)
def _col2im_parallel(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx):
    for image_row in prange(dx.shape[0] * dx.shape[1]):
        _col2im_row(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx, image_row)


@njit(cache=True)
def _col2im_serial(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx):
    for image_row in range(dx.shape[0] * dx.shape[1]):
        _col2im_row(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx, image_row)


def _col2im_kernel(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx):
    kernel = _col2im_serial if cols.size < SERIAL_BELOW else _col2im_parallel
    kernel(cols, kh, kw, stride, pad_top, pad_left, out_h, out_w, dx)


def is_pointwise(geom: ConvGeometry):
    """A 1x1, stride-1, unpadded convolution: its columns are the input itself."""
    return geom.kh == geom.kw == geom.stride == 1 and geom.pad_top == geom.pad_left == 0


def im2col(x, geom: ConvGeometry, out=None):
    """(N, H, W, C) -> (N*OH*OW, KH*KW*C) columns, written into `out` when given.

    For a pointwise geometry the columns are a reshaped view of x (no copy).
    """
    n, _, _, channels = x.shape
    shape = (n * geom.out_h * geom.out_w, geom.kh * geom.kw * channels)
    if is_pointwise(geom) and out is None:
        return x.reshape(shape)
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    elif out.shape != shape or out.dtype != x.dtype:
        raise ValueError(f"im2col buffer is {out.shape} {out.dtype}, needs {shape} {x.dtype}")
    _im2col_kernel(np.ascontiguousarray(x), geom.kh, geom.kw, geom.stride,
                   geom.pad_top, geom.pad_left, geom.out_h, geom.out_w, out, 0)
    return out


def col2im(cols, x_shape, geom: ConvGeometry, out=None):
    """Adjoint of im2col: (N*OH*OW, KH*KW*C) columns -> (N, H, W, C), overlaps summed."""
    n, height, width, channels = x_shape
    expected = (n * geom.out_h * geom.out_w, geom.kh * geom.kw * channels)
    if cols.shape != expected:
        raise ValueError(f"col2im got columns {cols.shape}, needs {expected} for input {x_shape}")
    if is_pointwise(geom) and out is None:
        return cols.reshape(x_shape)
    if out is None:
        out = np.empty(x_shape, dtype=cols.dtype)
    _col2im_kernel(np.ascontiguousarray(cols), geom.kh, geom.kw, geom.stride,
                   geom.pad_top, geom.pad_left, geom.out_h, geom.out_w, out)
    return out


def im2col_shared(x, geom: ConvGeometry):
    """im2col into the shared workspace (see workspace.py): valid until the next convolution."""
    n, _, _, channels = x.shape
    if is_pointwise(geom):
        return im2col(x, geom)
    shape = (n * geom.out_h * geom.out_w, geom.kh * geom.kw * channels)
    return im2col(x, geom, out=workspace.scratch(shape, x.dtype))


# The largest shared-workspace block. Whole, the 256-channel layers' columns reach 906 MB at
# 1024x512 and the workspace set the step's peak memory (3.7 GB). In 32 MB blocks their GEMMs
# still have 3.6k+ rows: measured from 8 to 256 MB, every block size ran within noise of one
# another, and at least as fast as one whole GEMM (backward-weights of layer 21 went from 86%
# to 96% of matmul, its block of columns still in cache when cols.T @ dy reads it).
BLOCK_BYTES = 32 * 2**20


def im2col_blocks(x, geom: ConvGeometry, max_bytes=None, into=None):
    """Yield (rows, cols): the columns of consecutive blocks of output rows, each block at most
    max_bytes (default BLOCK_BYTES; at least one image row); `rows` is the slice of im2col(x)'s
    rows the block holds. The blocks live in the shared workspace, each valid until the next
    is made; or, given `into` (a C-contiguous (N*OH*OW, >= KH*KW*C) array), they are its rows,
    the leading columns written and the rest untouched (a layer's KeptColumns)."""
    max_bytes = max_bytes or BLOCK_BYTES
    n, _, _, channels = x.shape
    x = np.ascontiguousarray(x)
    width = geom.kh * geom.kw * channels
    image_rows = n * geom.out_h
    if into is not None and (into.ndim != 2 or into.shape[0] != image_rows * geom.out_w
                             or into.shape[1] < width or not into.flags.c_contiguous):
        raise ValueError(f"im2col buffer is {into.shape}, needs C-contiguous "
                         f"({image_rows * geom.out_w}, >= {width})")
    row_bytes = geom.out_w * (width if into is None else into.shape[1]) * x.itemsize
    per_block = max(1, min(image_rows, max_bytes // row_bytes))
    for first in range(0, image_rows, per_block):
        stop = min(image_rows, first + per_block)
        rows = slice(first * geom.out_w, stop * geom.out_w)
        if into is None:
            cols = workspace.scratch((rows.stop - rows.start, width), x.dtype)
        else:
            cols = into[rows]
        _im2col_kernel(x, geom.kh, geom.kw, geom.stride, geom.pad_top, geom.pad_left,
                       geom.out_h, geom.out_w, cols, first)
        yield rows, cols


def columns_matmul(x, geom: ConvGeometry, matrix, into=None):
    """im2col(x) @ matrix, one block of columns at a time: (N*OH*OW, matrix cols).

    The blocks are in the shared workspace, or the rows of `into` (see im2col_blocks), whose
    width must then match matrix's rows (a KeptColumns buffer with its ones column).
    """
    if is_pointwise(geom) and into is None:
        return im2col(x, geom) @ matrix
    n = x.shape[0]
    out = np.empty((n * geom.out_h * geom.out_w, matrix.shape[1]), np.result_type(x, matrix))
    for rows, cols in im2col_blocks(x, geom, into=into):
        np.matmul(cols, matrix, out=out[rows])
    return out


def columns_t_matmul(x, geom: ConvGeometry, dy):
    """im2col(x).T @ dy, summed over workspace blocks of columns: (KH*KW*C, dy cols)."""
    if is_pointwise(geom):
        return im2col(x, geom).T @ dy
    total = None
    for rows, cols in im2col_blocks(x, geom):
        part = cols.T @ dy[rows]
        total = part if total is None else total.__iadd__(part)
    return total
