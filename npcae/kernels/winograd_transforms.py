"""Winograd's tile transforms in Numba (kernels/winograd.py has the algorithm and its notation).

    transform_tiles(x, L, stride, offset, rows, cols, first, out)    out[:, t] = L d_t L^T
    untransform_tiles(M, AT, rows, cols, first, bias, y)              y's tile t = A^T M_t A + bias

L is B^T for an input tile (alpha x alpha from alpha x alpha pixels, stride m, offset -pad) or,
in backward-weights, A for a dy tile (alpha x alpha from m x m). _tile_in and _tile_out do one
tile and one vector of channels; winograd_fused.py calls them on tiles it keeps in cache.
"""
import numpy as np
from numba import njit, prange

from .simd import fmadd, lanes, load, store

# -- the transforms (Numba): out = L tile L^T for every tile, channels innermost ----------------
# Each tile's channels go a machine vector at a time (simd.py): the tile's alpha x alpha vectors
# pass through a small scratch that stays in L1, with L's entries as broadcast scalars and its
# zeros skipped. The first form of these loops, channel by channel through per-tile arrays,
# ran at 4-8 GB/s against a 44 GB/s copy, as long as the GEMMs between them. Channels past the
# last whole vector take the same two stages one value at a time.
TILES_PER_TASK = 16          # a parallel task's tiles: its scratch is allocated once for them


@njit(inline="always")
def _tile_in(x, L, stride, offset, out, n, ty, tx, t, c0, tmp, zero):
    """out[a*A + b, t, c0 : c0 + lanes] = sum_{k,l} L[a, k] L[b, l] x[n, ty*stride + k + offset,
    tx*stride + l + offset, c0 : c0 + lanes] (zero outside x), for the tile t at (n, ty, tx)."""
    size_a, size_k = L.shape
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    row0, col0 = ty * stride + offset, tx * stride + offset
    for l in range(size_k):                      # tmp = L d          (size_a, size_k, lanes)
        w = col0 + l
        for a in range(size_a):
            acc = zero
            if 0 <= w < width:
                for k in range(size_k):
                    h, coefficient = row0 + k, L[a, k]
                    if coefficient != 0.0 and 0 <= h < height:
                        acc = fmadd(acc, coefficient, load(x, ((n * height + h) * width + w) * channels + c0))
            store(tmp, (a * size_k + l) * lanes(tmp), acc)
    count = out.shape[1]
    for a in range(size_a):                      # out = tmp L^T      (size_a, size_a, lanes)
        for b in range(size_a):
            acc = zero
            for l in range(size_k):
                coefficient = L[b, l]
                if coefficient != 0.0:
                    acc = fmadd(acc, coefficient, load(tmp, (a * size_k + l) * lanes(tmp)))
            store(out, ((a * size_a + b) * count + t) * channels + c0, acc)


@njit(inline="always")
def _tile_in_one(x, L, stride, offset, out, n, ty, tx, t, c, tmp):
    """_tile_in for the single channel c."""
    size_a, size_k = L.shape
    height, width = x.shape[1], x.shape[2]
    row0, col0 = ty * stride + offset, tx * stride + offset
    for l in range(size_k):
        w = col0 + l
        for a in range(size_a):
            acc = 0.0
            if 0 <= w < width:
                for k in range(size_k):
                    h, coefficient = row0 + k, L[a, k]
                    if coefficient != 0.0 and 0 <= h < height:
                        acc += coefficient * x[n, h, w, c]
            tmp[a * size_k + l] = acc
    for a in range(size_a):
        for b in range(size_a):
            acc = 0.0
            for l in range(size_k):
                coefficient = L[b, l]
                if coefficient != 0.0:
                    acc += coefficient * tmp[a * size_k + l]
            out[a * size_a + b, t, c] = acc


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def transform_tiles(x, L, stride, offset, rows, cols, first, out):
    """Tiles first, first + 1, ... (numbered image by image, row by row): each tile's L d L^T
    into out (L.shape[0]^2, count, C); x and out C-contiguous."""
    size_a, size_k = L.shape
    per_image, count, channels = rows * cols, out.shape[1], x.shape[3]
    for task in prange((count + TILES_PER_TASK - 1) // TILES_PER_TASK):
        tmp = np.empty(size_a * size_k * lanes(out), out.dtype)
        zero = load(np.zeros(lanes(out), out.dtype), 0)
        whole = channels - channels % lanes(out)
        for i in range(task * TILES_PER_TASK, min(count, (task + 1) * TILES_PER_TASK)):
            t = first + i
            n, r = t // per_image, t % per_image
            for c0 in range(0, whole, lanes(out)):
                _tile_in(x, L, stride, offset, out, n, r // cols, r % cols, i, c0, tmp, zero)
            for c in range(whole, channels):
                _tile_in_one(x, L, stride, offset, out, n, r // cols, r % cols, i, c, tmp)


@njit(inline="always")
def _tile_out(M, AT, i_tile, bias, y, n, ty, tx, f0, tmp, zero):
    """y[n, ty*m + i, tx*m + j, f0 : f0 + lanes] = (A^T M_t A)[i, j] + bias, cropped to y."""
    m, alpha = AT.shape
    height, width, filters = y.shape[1], y.shape[2], y.shape[3]
    count = M.shape[1]
    for i in range(m):                           # tmp = A^T M   (m, alpha, lanes)
        for b in range(alpha):
            acc = zero
            for k in range(alpha):
                coefficient = AT[i, k]
                if coefficient != 0.0:
                    acc = fmadd(acc, coefficient, load(M, ((k * alpha + b) * count + i_tile) * filters + f0))
            store(tmp, (i * alpha + b) * lanes(tmp), acc)
    for i in range(min(m, height - ty * m)):
        h = ty * m + i
        for j in range(min(m, width - tx * m)):
            acc = load(bias, f0)
            for b in range(alpha):
                coefficient = AT[j, b]
                if coefficient != 0.0:
                    acc = fmadd(acc, coefficient, load(tmp, (i * alpha + b) * lanes(tmp)))
            store(y, ((n * height + h) * width + tx * m + j) * filters + f0, acc)


@njit(inline="always")
def _tile_out_one(M, AT, i_tile, bias, y, n, ty, tx, f, tmp):
    """_tile_out for the single filter f."""
    m, alpha = AT.shape
    height, width = y.shape[1], y.shape[2]
    for i in range(m):
        for b in range(alpha):
            acc = 0.0
            for k in range(alpha):
                coefficient = AT[i, k]
                if coefficient != 0.0:
                    acc += coefficient * M[k * alpha + b, i_tile, f]
            tmp[i * alpha + b] = acc
    for i in range(min(m, height - ty * m)):
        for j in range(min(m, width - tx * m)):
            acc = bias[f]
            for b in range(alpha):
                coefficient = AT[j, b]
                if coefficient != 0.0:
                    acc += coefficient * tmp[i * alpha + b]
            y[n, ty * m + i, tx * m + j, f] = acc


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def untransform_tiles(M, AT, rows, cols, first, bias, y):
    """For tiles first, first + 1, ...: y[n, ty*m + i, tx*m + j, :] = (A^T M_t A)[i, j] + bias
    (cropped to y), M (alpha^2, count, F); M, bias and y C-contiguous."""
    m, alpha = AT.shape
    per_image, count, filters = rows * cols, M.shape[1], y.shape[3]
    for task in prange((count + TILES_PER_TASK - 1) // TILES_PER_TASK):
        tmp = np.empty(m * alpha * lanes(y), y.dtype)
        zero = load(np.zeros(lanes(y), y.dtype), 0)
        whole = filters - filters % lanes(y)
        for i_tile in range(task * TILES_PER_TASK, min(count, (task + 1) * TILES_PER_TASK)):
            t = first + i_tile
            n, r = t // per_image, t % per_image
            for f0 in range(0, whole, lanes(y)):
                _tile_out(M, AT, i_tile, bias, y, n, r // cols, r % cols, f0, tmp, zero)
            for f in range(whole, filters):
                _tile_out_one(M, AT, i_tile, bias, y, n, r // cols, r % cols, f, tmp)
