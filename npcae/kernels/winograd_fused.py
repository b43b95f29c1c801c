"""Winograd's forward and weight gradient per group of tiles, the transforms and the products in
cache: any of winograd.py's F(m x m, r x r), with the same matrices.

    forward(x, U, BT, AT, pad, rows, cols, bias, y)     y, as winograd.py's batched form
    weights(x, dy, BT, A, pad, rows, cols) -> dU        (alpha^2, C, F), summed over the tiles

winograd.py's batched form writes V (alpha^2, T, C) for a block of tiles, hands it to BLAS
for alpha^2 GEMMs and reads M (alpha^2, T, F) back: three passes over buffers of 16 MB, which
on the U-Net's 64 -> 64 layer at 8 x 64x64 went through memory at a third of a copy's speed
and took longer than the GEMMs (transform 6.0 ms, GEMMs 10.4, untransform 6.2). Here each
task takes a few tiles through all three stages while they sit in L1/L2:

    V_g = transform of the task's tiles              (alpha^2, per_task, C)
    M_g[p] = V_g[p] @ U[p]  for each position p      (alpha^2, per_task, F)   the product below
    y  += untransform of M_g

The product is direct.py's register block turned to this GEMM: GROUP tiles' sums of two
vectors of filters (16 registers) while the C channels stream by, each adding U[p]'s two
vectors times one value of V per tile (simd.fmadd). U is read from L2 by every task.
C and F must be whole vectors (`fits`); winograd.py runs the batched form otherwise. Every tile
is computed alone, in the same order of additions: the result does not depend on the threads.
"""
import numpy as np
from numba import njit, prange

from .simd import fmadd, lanes, load, store
from .winograd_transforms import tile_in_vector, tile_out_vector

GROUP = 8                       # tiles per register block: 8 x 2 vectors of sums
PER_TASK = GROUP                # tiles per parallel task of the forward: a multiple of GROUP
WEIGHT_GROUP = 16               # tiles per group of the weight gradient (measured: 16-64 alike)


# Up to this many bytes of U per position the fused form is ahead (ms, fused vs batched, 8
# images, best of 7 on 2 cores: 64 -> 64 at 64x64 8.9 vs 18.1, 128 -> 128 at 32x32 7.0 vs 9.9,
# 64 -> 128 at 32x32 4.0 vs 5.0); from 128 KB (256 -> 128, 256 -> 256) every task reads U[p]
# from beyond L2 and BLAS's batched GEMMs, which read each U[p] once, are as fast or faster
# (256 -> 256 at 16x16: 9.8 vs 9.0).
MAX_U_BYTES = 64 << 10


def fits(channels, filters, dtype):
    """Whether `forward` is the form to take for C = `channels` -> F = `filters` in `dtype`."""
    width = {np.dtype(np.float32): 16, np.dtype(np.float64): 8}.get(np.dtype(dtype))
    return (width is not None and channels % width == 0 and filters % width == 0
            and channels * filters * np.dtype(dtype).itemsize <= MAX_U_BYTES)


@njit(inline="always")
def _product(V, U, M, channels, filters, count, p, g, f0, zero):
    """M[p, g : g + GROUP, f0 : f0 + 2 lanes] = V[p, g : g + GROUP] @ U[p, :, f0 : f0 + 2 lanes];
    V, U and M flat (alpha^2, count, C), (alpha^2, C, F) and (alpha^2, count, F)."""
    f1 = f0 + lanes(U)
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = zero
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = zero
    u_row = p * channels * filters
    v_row = (p * count + g) * channels
    for c in range(channels):
        u = load(U, u_row + c * filters + f0)
        w = load(U, u_row + c * filters + f1)
        v = V[v_row + c]
        s0, t0 = fmadd(s0, v, u), fmadd(t0, v, w)
        v = V[v_row + channels + c]
        s1, t1 = fmadd(s1, v, u), fmadd(t1, v, w)
        v = V[v_row + 2 * channels + c]
        s2, t2 = fmadd(s2, v, u), fmadd(t2, v, w)
        v = V[v_row + 3 * channels + c]
        s3, t3 = fmadd(s3, v, u), fmadd(t3, v, w)
        v = V[v_row + 4 * channels + c]
        s4, t4 = fmadd(s4, v, u), fmadd(t4, v, w)
        v = V[v_row + 5 * channels + c]
        s5, t5 = fmadd(s5, v, u), fmadd(t5, v, w)
        v = V[v_row + 6 * channels + c]
        s6, t6 = fmadd(s6, v, u), fmadd(t6, v, w)
        v = V[v_row + 7 * channels + c]
        s7, t7 = fmadd(s7, v, u), fmadd(t7, v, w)
    m_row = (p * count + g) * filters
    sums = ((s0, t0), (s1, t1), (s2, t2), (s3, t3), (s4, t4), (s5, t5), (s6, t6), (s7, t7))
    for j, (s, t) in enumerate(sums):
        store(M, m_row + j * filters + f0, s)
        store(M, m_row + j * filters + f1, t)


@njit(inline="always")
def _product_one(V, U, M, channels, filters, count, p, g, f0, zero):
    """_product for one vector of filters (F an odd number of vectors)."""
    u_row, row = p * channels * filters, p * count + g
    v_row, m_row = row * channels, row * filters
    for j in range(GROUP):
        s = zero
        for c in range(channels):
            s = fmadd(s, V[v_row + j * channels + c], load(U, u_row + c * filters + f0))
        store(M, m_row + j * filters + f0, s)


def forward(x, U, BT, AT, pad, rows, cols, bias, y, per_task=None):
    """Fill y (N, OH, OW, F) with bias + the convolution; x, U, bias and y C-contiguous, of one
    dtype, C and F whole vectors (`fits`)."""
    per_task = PER_TASK if per_task is None else per_task
    if per_task % GROUP:               # _product reads GROUP tiles from each group's first
        raise ValueError(f"per_task must be a multiple of {GROUP}, got {per_task}")
    _forward(x, U, BT, AT, pad, rows, cols, bias, y, per_task)


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def _forward(x, U, BT, AT, pad, rows, cols, bias, y, per_task):
    """y (N, OH, OW, F) = bias + the stride-1 3x3 convolution of x (N, H, W, C) padded by `pad`,
    by F(m x m, 3 x 3) with U = G g G^T (alpha^2, C, F); rows x cols tiles per image, taken
    `per_task` (a multiple of GROUP) at a time."""
    alpha, m = BT.shape[0], AT.shape[0]
    channels, filters = x.shape[3], U.shape[2]
    per_image = rows * cols
    total = x.shape[0] * per_image
    width = lanes(y)
    for task in prange((total + per_task - 1) // per_task):
        V = np.zeros((alpha * alpha, per_task, channels), x.dtype)   # a short last task: zeros
        M = np.empty((alpha * alpha, per_task, filters), x.dtype)
        V_flat, M_flat, U_flat = V.reshape(-1), M.reshape(-1), U.reshape(-1)
        tmp = np.empty(alpha * alpha * width, x.dtype)
        zero = load(np.zeros(width, x.dtype), 0)
        first = task * per_task
        count = min(per_task, total - first)
        for j in range(count):
            n, r = (first + j) // per_image, (first + j) % per_image
            for c0 in range(0, channels, width):
                tile_in_vector(x, BT, m, -pad, V, n, r // cols, r % cols, j, c0, tmp, zero)
        for p in range(alpha * alpha):
            for g in range(0, count, GROUP):
                f0 = 0
                while f0 + 2 * width <= filters:
                    _product(V_flat, U_flat, M_flat, channels, filters, per_task, p, g, f0, zero)
                    f0 += 2 * width
                if f0 < filters:
                    _product_one(V_flat, U_flat, M_flat, channels, filters, per_task, p, g, f0,
                                 zero)
        for j in range(count):
            n, r = (first + j) // per_image, (first + j) % per_image
            for f0 in range(0, filters, width):
                tile_out_vector(M, AT, j, bias, y, n, r // cols, r % cols, f0, tmp, zero)


# -- backward-weights: dU[p] = sum over tiles of V[p, t]^T dM[p, t], a group of tiles at a time --
# Each group's tiles are transformed into scratch (V and dM, in cache) and added into the
# block's partial dU, eight channels by two vectors of filters held in registers across the
# group. The partial is read and written once a group, so the form pays where it is small:
# up to 32 KB of dU per position (ms, fused vs batched, 8 images: 64 -> 64 at 64x64 12.1 vs
# 15.0, 128 -> 64 20.5 vs 28.2, 64 -> 128 at 32x32 4.6 vs 8.0); at 64 KB (128 -> 128) it lost,
# 14.4 vs 9.8.
WEIGHT_BLOCKS = 8       # fixed partial sums (tiles cut in 8 ranges): the same at any thread count
MAX_WEIGHT_U_BYTES = 32 << 10


def fits_weights(channels, filters, dtype):
    """Whether `weights` is the form to take for backward-weights of C -> F in `dtype`."""
    return (fits(channels, filters, dtype)
            and channels * filters * np.dtype(dtype).itemsize <= MAX_WEIGHT_U_BYTES)


def weights(x, dy, BT, A, pad, rows, cols, per_group=None):
    """dU (alpha^2, C, F) = sum over the tiles of V[p]^T dM[p], in WEIGHT_BLOCKS fixed partial
    sums added in order; x and dy C-contiguous, of one dtype."""
    alpha = BT.shape[0]
    partials = np.zeros((WEIGHT_BLOCKS, alpha * alpha, x.shape[3], dy.shape[3]), x.dtype)
    _weights(x, dy, BT, A, pad, rows, cols, WEIGHT_GROUP if per_group is None else per_group,
             partials)
    return partials.sum(axis=0)


@njit(inline="always")
def _accumulate(V, dM, partial, channels, filters, count, per_group, p, c0, f0):
    """partial[p, c0 : c0 + 8, f0 : f0 + 2 lanes] += sum over the group's tiles t < count of
    V[p, t, c0 + i] * dM[p, t, f0 : f0 + 2 lanes]; all three flat."""
    f1 = f0 + lanes(dM)
    base = (p * channels + c0) * filters
    s0, t0 = load(partial, base + f0), load(partial, base + f1)
    s1, t1 = load(partial, base + filters + f0), load(partial, base + filters + f1)
    s2, t2 = load(partial, base + 2 * filters + f0), load(partial, base + 2 * filters + f1)
    s3, t3 = load(partial, base + 3 * filters + f0), load(partial, base + 3 * filters + f1)
    s4, t4 = load(partial, base + 4 * filters + f0), load(partial, base + 4 * filters + f1)
    s5, t5 = load(partial, base + 5 * filters + f0), load(partial, base + 5 * filters + f1)
    s6, t6 = load(partial, base + 6 * filters + f0), load(partial, base + 6 * filters + f1)
    s7, t7 = load(partial, base + 7 * filters + f0), load(partial, base + 7 * filters + f1)
    for t in range(count):
        row = p * per_group + t
        u, w = load(dM, row * filters + f0), load(dM, row * filters + f1)
        v = row * channels + c0
        s0, t0 = fmadd(s0, V[v], u), fmadd(t0, V[v], w)
        s1, t1 = fmadd(s1, V[v + 1], u), fmadd(t1, V[v + 1], w)
        s2, t2 = fmadd(s2, V[v + 2], u), fmadd(t2, V[v + 2], w)
        s3, t3 = fmadd(s3, V[v + 3], u), fmadd(t3, V[v + 3], w)
        s4, t4 = fmadd(s4, V[v + 4], u), fmadd(t4, V[v + 4], w)
        s5, t5 = fmadd(s5, V[v + 5], u), fmadd(t5, V[v + 5], w)
        s6, t6 = fmadd(s6, V[v + 6], u), fmadd(t6, V[v + 6], w)
        s7, t7 = fmadd(s7, V[v + 7], u), fmadd(t7, V[v + 7], w)
    sums = ((s0, t0), (s1, t1), (s2, t2), (s3, t3), (s4, t4), (s5, t5), (s6, t6), (s7, t7))
    for i, (s, t) in enumerate(sums):
        store(partial, base + i * filters + f0, s)
        store(partial, base + i * filters + f1, t)


@njit(inline="always")
def _accumulate_one(V, dM, partial, channels, filters, count, per_group, p, c0, f0):
    """_accumulate for one vector of filters (F an odd number of vectors)."""
    for i in range(8):
        at = (p * channels + c0 + i) * filters + f0
        s = load(partial, at)
        for t in range(count):
            row = p * per_group + t
            s = fmadd(s, V[row * channels + c0 + i], load(dM, row * filters + f0))
        store(partial, at, s)


@njit(parallel=True, cache=True, boundscheck=False, error_model="numpy")
def _weights(x, dy, BT, A, pad, rows, cols, per_group, partials):
    """partials[b] (alpha^2, C, F) += V[p]^T dM[p] over block b's tiles, where V = B^T d B of
    x's tiles and dM = A dY A^T of dy's (m x m) tiles; the caller sums the blocks in order."""
    alpha, m = BT.shape[0], A.shape[1]
    channels, filters = x.shape[3], dy.shape[3]
    blocks, per_image = partials.shape[0], rows * cols
    total = x.shape[0] * per_image
    width = lanes(dy)
    for b in prange(blocks):
        V = np.empty((alpha * alpha, per_group, channels), x.dtype)
        dM = np.empty((alpha * alpha, per_group, filters), x.dtype)
        V_flat, dM_flat, partial = V.reshape(-1), dM.reshape(-1), partials[b].reshape(-1)
        tmp = np.empty(alpha * alpha * width, x.dtype)
        zero = load(np.zeros(width, x.dtype), 0)
        start, end = b * total // blocks, (b + 1) * total // blocks
        for first in range(start, end, per_group):
            count = min(per_group, end - first)
            for j in range(count):
                n, r = (first + j) // per_image, (first + j) % per_image
                for c0 in range(0, channels, width):
                    tile_in_vector(x, BT, m, -pad, V, n, r // cols, r % cols, j, c0, tmp, zero)
                for f0 in range(0, filters, width):
                    tile_in_vector(dy, A, m, 0, dM, n, r // cols, r % cols, j, f0, tmp, zero)
            for p in range(alpha * alpha):
                for c0 in range(0, channels, 8):
                    f0 = 0
                    while f0 + 2 * width <= filters:
                        _accumulate(V_flat, dM_flat, partial, channels, filters, count,
                                    per_group, p, c0, f0)
                        f0 += 2 * width
                    if f0 < filters:
                        _accumulate_one(V_flat, dM_flat, partial, channels, filters, count,
                                        per_group, p, c0, f0)
