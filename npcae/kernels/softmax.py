"""Numba softmax losses over pixels: the passes of losses_multiclass.py, each one sweep, on every
core. Logits are seen as (P, K) rows, one pixel a row, with ids (P,) int64 and `ignore` the id
that counts for nothing.

    softmax_ce(z, ids, weights, ignore)     -> p (P, K) float64, [sum w_y (-log p_y), sum w_y]
    ce_gradient(p, ids, weights, ignore, total, dtype)   w_y (p - onehot(y)) / total
    dice_sums(p, ids, ignore)               -> [I_k, sum_i v_i p_ik, sum_i t_ik]  (3, K)
    dice_gradient(p, ids, ignore, numerator, denominator, dtype)
                                            p * (g - <g, p>),  g_k = -(2 t_k D_k - N_k) / (K D_k^2)

NumPy takes ten or so sweeps of the (P, K) array in float64 (the shift, exp, the sums, log,
the gathers, the one-hot) on one core: 0.3-0.5 s of a 1.8 s U-Net step at 8 x 256x256 x 19
classes. Here a pixel's K values stay in cache from max to gradient.

Every value is computed in float64 in the reference's order within a pixel, so p and the
gradients equal the reference's to float64 rounding (the exp and log of LLVM and NumPy may
differ in the last bit). Sums over pixels go into LOSS_BLOCKS fixed blocks of rows, each summed
in order into its own partial and the partials added in order: the result does not depend on
the thread count. Arrays below SERIAL_BELOW values run a serial twin of the same loops (waking
the threads costs ~3 ms a call, more than a gradient check's 12 pixels take); the twins share
each pixel's code (inlined), so they give the same bits.
"""
import math

import numpy as np
from numba import njit, prange

from .launch import SERIAL_BELOW

LOSS_BLOCKS = 32


@njit(inline="always")
def _softmax_row(z, ids, weights, ignore, p, i):
    """p[i] = softmax(z[i]) in float64; returns (w_y (-log p_y), w_y), zeros if y is ignored."""
    classes = z.shape[1]
    top = np.float64(z[i, 0])
    for k in range(1, classes):
        top = max(top, np.float64(z[i, k]))
    total = 0.0
    for k in range(classes):
        e = math.exp(np.float64(z[i, k]) - top)
        p[i, k] = e
        total += e
    for k in range(classes):
        p[i, k] /= total
    y = ids[i]
    if y == ignore:
        return 0.0, 0.0
    w = weights[y]
    return w * -((np.float64(z[i, y]) - top) - math.log(total)), w


@njit(inline="always")
def _softmax_block(z, ids, weights, ignore, p, partial, b):
    rows = z.shape[0]
    for i in range(b * rows // LOSS_BLOCKS, (b + 1) * rows // LOSS_BLOCKS):
        loss, w = _softmax_row(z, ids, weights, ignore, p, i)
        partial[b, 0] += loss
        partial[b, 1] += w


@njit(parallel=True, cache=True)
def _softmax_ce_parallel(z, ids, weights, ignore, p, partial):
    for b in prange(LOSS_BLOCKS):
        _softmax_block(z, ids, weights, ignore, p, partial, b)


@njit(cache=True)
def _softmax_ce_serial(z, ids, weights, ignore, p, partial):
    for b in range(LOSS_BLOCKS):
        _softmax_block(z, ids, weights, ignore, p, partial, b)


def softmax_ce(z, ids, weights, ignore):
    p = np.empty(z.shape)
    partial = np.zeros((LOSS_BLOCKS, 2))
    kernel = _softmax_ce_serial if z.size < SERIAL_BELOW else _softmax_ce_parallel
    kernel(z, ids, weights, ignore, p, partial)
    return p, _in_order(partial)


def _in_order(partial):
    """The blocks' partial sums added first to last (not NumPy's pairwise order)."""
    total = np.zeros(partial.shape[1:])
    for block in partial:
        total += block
    return total


@njit(inline="always")
def _ce_gradient_row(p, ids, weights, ignore, total, grad, i):
    y = ids[i]
    scale = 0.0 if y == ignore else weights[y] / total
    for k in range(p.shape[1]):
        grad[i, k] = 0 if y == ignore else (p[i, k] - (1.0 if k == y else 0.0)) * scale


@njit(parallel=True, cache=True)
def _ce_gradient_parallel(p, ids, weights, ignore, total, grad):
    for i in prange(p.shape[0]):
        _ce_gradient_row(p, ids, weights, ignore, total, grad, i)


@njit(cache=True)
def _ce_gradient_serial(p, ids, weights, ignore, total, grad):
    for i in range(p.shape[0]):
        _ce_gradient_row(p, ids, weights, ignore, total, grad, i)


def ce_gradient(p, ids, weights, ignore, total, dtype):
    grad = np.empty(p.shape, dtype)
    kernel = _ce_gradient_serial if p.size < SERIAL_BELOW else _ce_gradient_parallel
    kernel(p, ids, weights, ignore, float(total), grad)
    return grad


@njit(inline="always")
def _dice_block(p, ids, ignore, partial, b):
    rows, classes = p.shape
    acc = partial[b]
    for i in range(b * rows // LOSS_BLOCKS, (b + 1) * rows // LOSS_BLOCKS):
        y = ids[i]
        if y == ignore:
            continue
        for k in range(classes):
            acc[1, k] += p[i, k]
        acc[0, y] += p[i, y]
        acc[2, y] += 1.0


@njit(parallel=True, cache=True)
def _dice_sums_parallel(p, ids, ignore, partial):
    for b in prange(LOSS_BLOCKS):
        _dice_block(p, ids, ignore, partial, b)


@njit(cache=True)
def _dice_sums_serial(p, ids, ignore, partial):
    for b in range(LOSS_BLOCKS):
        _dice_block(p, ids, ignore, partial, b)


def dice_sums(p, ids, ignore):
    partial = np.zeros((LOSS_BLOCKS, 3, p.shape[1]))
    kernel = _dice_sums_serial if p.size < SERIAL_BELOW else _dice_sums_parallel
    kernel(p, ids, ignore, partial)
    return _in_order(partial)


@njit(inline="always")
def _dice_gradient_row(p, ids, ignore, base, own, grad, i):
    y = ids[i]
    if y == ignore:
        for k in range(p.shape[1]):
            grad[i, k] = 0
        return
    dot = own[y] * p[i, y]
    for k in range(p.shape[1]):
        dot += base[k] * p[i, k]
    for k in range(p.shape[1]):
        grad[i, k] = p[i, k] * (base[k] + (own[y] if k == y else 0.0) - dot)


@njit(parallel=True, cache=True)
def _dice_gradient_parallel(p, ids, ignore, base, own, grad):
    for i in prange(p.shape[0]):
        _dice_gradient_row(p, ids, ignore, base, own, grad, i)


@njit(cache=True)
def _dice_gradient_serial(p, ids, ignore, base, own, grad):
    for i in range(p.shape[0]):
        _dice_gradient_row(p, ids, ignore, base, own, grad, i)


def dice_gradient(p, ids, ignore, numerator, denominator, dtype):
    """g_k = base_k + [k == y] own_k, with base_k = N_k / (K D_k^2) and own_k = -2 / (K D_k):
    the two parts of dL/dp that do not depend on the pixel, computed once."""
    classes = p.shape[1]
    base = numerator / (classes * denominator ** 2)
    own = -2.0 / (classes * denominator)
    grad = np.empty(p.shape, dtype)
    kernel = _dice_gradient_serial if p.size < SERIAL_BELOW else _dice_gradient_parallel
    kernel(p, ids, ignore, base, own, grad)
    return grad
