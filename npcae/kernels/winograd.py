"""Winograd convolution F(m x m, 3 x 3) (Lavin and Gray 2016) for 3x3 stride-1 convolutions,
and F(2x2, 2x2) for 2x2 windows (r = 2 below: UpConv2D's sub-pixel phases; measured and not
chosen, layers/conv_choice.py says why).

    y  = winograd_forward(x, w, m=4, pad=1, bias=b)     # x (N, H, W, C), w (3, 3, C, F) -> (N, OH, OW, F)
    dx = winograd_backward_data(dy, w, m=4, pad=1)      # -> (N, H, W, C)
    dw = winograd_backward_weights(x, dy, m=4, pad=1)   # -> (3, 3, C, F)

A direct 3x3 convolution spends 9 multiplies per output and channel pair. Winograd's minimal
filtering computes an m x m tile of outputs from an alpha x alpha tile of inputs (alpha = m + 2)
with alpha^2 multiplies: F(2x2, 3x3) 16 instead of 36, F(4x4, 3x3) 36 instead of 144. With d a
tile of one input channel and g the 3x3 filter from that channel to one output channel,

    Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A          (. elementwise, alpha x alpha)

B^T (alpha x alpha), G (alpha x 3) and A^T (m x alpha) are fixed matrices (below: Lavin and
Gray's, interpolation points 0, +-1 for F(2,3) and 0, +-1, +-2 for F(4,3)). The sum over the
channels of an elementwise product is, for each of the alpha^2 positions (xi, nu), a matrix
product over tiles t, channels c and filters f:

    V[xi nu][t, c] = (B^T d_tc B)[xi, nu]          input transform    (alpha^2, T, C)
    U[xi nu][c, f] = (G g_cf G^T)[xi, nu]           filter transform   (alpha^2, C, F)
    M[xi nu]       = V[xi nu] @ U[xi nu]            alpha^2 GEMMs      (alpha^2, T, F)
    Y_tf           = A^T M_tf A                     output transform, cropped to OH x OW

so the multiplies become alpha^2 GEMMs of T x C by C x F (numpy's matmul, OpenBLAS), and the
transforms, which touch each value a few times, run in Numba with the channels innermost
(winograd_transforms.py). Where C and F are whole machine vectors and U[p] is small enough to
stay in L2, winograd_fused.py runs transform, product and untransform per group of tiles
instead, in cache, with its own register-blocked product: the batched form's V and M went
through memory at a third of a copy's speed (the choice and its figures are there).

Backward through the same algorithm (the gradient of the Winograd forward, which equals the
convolution exactly in exact arithmetic):
    backward data:    dx is a convolution of dy with the kernel rotated by 180 degrees and its
                      channel axes swapped (stride 1): winograd_forward again.
    backward weights: dM_tf = A dY_tf A^T (the output transform's adjoint on each dy tile),
                      dU[xi nu] = V[xi nu]^T @ dM[xi nu], dw = G^T dU G (the filter transform's
                      adjoint): alpha^2 GEMMs of C x T by T x F.

Precision: the transforms' entries (up to 8 in F(4,3)'s A^T, 1/24 in its G) amplify rounding.
tests/test_winograd.py measures the float32 error against the float64 loop reference
(kernels/reference.py): F(2,3) stays near the im2col path's, F(4,3) is a few times larger.
Every tile is independent, so the results do not depend on the thread count.
"""
import numpy as np

from . import winograd_fused
from .winograd_transforms import transform_tiles, untransform_tiles

F23 = dict(
    BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
    G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
    AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64))
F43 = dict(
    BT=np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
    G=np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
    AT=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                 [0, 1, -1, 8, -8, 1]], np.float64))
# F(2x2, 2x2), points 0, -1 and infinity: the sub-pixel phases' 2x2 windows (kernels/subpixel.py)
# at 9 multiplies per 4 outputs instead of 16 (layers/upconv.py).
F22 = dict(
    BT=np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]], np.float64),
    G=np.array([[1, 0], [1, 1], [0, 1]], np.float64),
    AT=np.array([[1, 1, 0], [0, 1, 1]], np.float64))
MATRICES = {(2, 3): F23, (4, 3): F43, (2, 2): F22}


def matrices(m, r=3):
    """B^T, G, A^T of F(m x m, r x r): F(2x2,3x3), F(4x4,3x3) or F(2x2,2x2)."""
    if (m, r) not in MATRICES:
        raise ValueError(f"Winograd runs F(2x2,3x3), F(4x4,3x3) and F(2x2,2x2), not "
                         f"F({m}x{m},{r}x{r})")
    return MATRICES[m, r]


def tiles(size, m):
    return -(-size // m)


# -- the three passes -------------------------------------------------------------------------
def filter_transform(w, m):
    """U (alpha^2, C, F) = G g G^T of every (C, F) filter of w (r, r, C, F), in float64, then w's dtype."""
    r = w.shape[0]
    G = matrices(m, r)["G"]
    alpha = G.shape[0]
    # Two products over the r x r axes, each a BLAS call over C*F columns (einsum took 5x longer).
    rows = (G @ w.astype(np.float64).reshape(r, -1)).reshape(alpha, r, -1)     # G g    (alpha, r, C*F)
    U = np.matmul(G, rows)                                                     # G g G^T (alpha, alpha, C*F)
    return np.ascontiguousarray(U.reshape(alpha * alpha, *w.shape[2:]), dtype=w.dtype)


# Tiles go through transform, GEMMs and back in blocks of about this many bytes of V (or M):
# the workspace stays small whatever the image (the whole V of a 3 x 128x256x256 layer is
# 226 MB, as much again for M), and each block's V is still in cache when its GEMMs read it.
BLOCK_BYTES = 16 << 20


def tile_blocks(total, alpha2, channels, itemsize):
    """[(first tile, count)] covering `total` tiles, each block's V within BLOCK_BYTES."""
    block = max(32, BLOCK_BYTES // (alpha2 * channels * itemsize))
    return [(first, min(block, total - first)) for first in range(0, total, block)]


def _block_buffer(buffer, shape):
    """A contiguous (alpha^2, count, C) view at the start of a flat buffer."""
    return buffer[:shape[0] * shape[1] * shape[2]].reshape(shape)


def output_size(x, pad, r=3):
    """(OH, OW) of an r x r stride-1 window over x (N, H, W, C) padded by `pad`."""
    out_hw = (x.shape[1] + 2 * pad - r + 1, x.shape[2] + 2 * pad - r + 1)
    if min(out_hw) < 1:
        raise ValueError(f"a {x.shape[1]}x{x.shape[2]} input with padding {pad} has no {r}x{r} window")
    return out_hw


def _check(x, w, pad):
    if w.shape[0] != w.shape[1] or w.shape[0] not in (2, 3):
        raise ValueError(f"Winograd takes 3x3 and 2x2 kernels, not {w.shape[0]}x{w.shape[1]}")
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"x has {x.shape[3]} channels, the kernel {w.shape[2]}")
    return output_size(x, pad, w.shape[0])


def winograd_forward(x, w, m=4, pad=1, bias=None, U=None):
    """The stride-1 convolution of x (N, H, W, C) with w (r, r, C, F), r = 3 or 2, padded by
    `pad` on every side (3x3 and 1: "same"), plus bias (F,): (N, H + 2 pad - r + 1, ..., F). U: w's filter
    transform when the caller keeps it (an inference copy: its weights no longer change)."""
    out_hw = _check(x, w, pad)
    mats = matrices(m, w.shape[0])
    alpha2 = mats["BT"].shape[0] ** 2
    rows, cols = tiles(out_hw[0], m), tiles(out_hw[1], m)
    channels, filters = x.shape[3], w.shape[3]
    U = filter_transform(w, m) if U is None else U
    y = np.empty((x.shape[0], *out_hw, filters), x.dtype)
    bias = np.zeros(filters, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    BT, AT, x = mats["BT"].astype(x.dtype), mats["AT"].astype(x.dtype), np.ascontiguousarray(x)
    if winograd_fused.fits(channels, filters, x.dtype):
        U = np.ascontiguousarray(U, x.dtype)
        winograd_fused.forward(x, U, BT, AT, pad, rows, cols, bias, y)
        return y
    blocks = tile_blocks(x.shape[0] * rows * cols, alpha2, max(channels, filters), x.itemsize)
    V_space = np.empty(alpha2 * blocks[0][1] * channels, x.dtype)
    M_space = np.empty(alpha2 * blocks[0][1] * filters, x.dtype)
    for first, count in blocks:
        V = _block_buffer(V_space, (alpha2, count, channels))
        transform_tiles(x, BT, m, -pad, rows, cols, first, V)
        M = np.matmul(V, U, out=_block_buffer(M_space, (alpha2, count, filters)))
        untransform_tiles(M, AT, rows, cols, first, bias, y)
    return y


def winograd_backward_data(dy, w, m=4, pad=1):
    """dx of the convolution above: dy convolved with w rotated by 180 degrees, channels swapped,
    padded by r - 1 - pad (stride 1: the adjoint of an r x r window is an r x r window)."""
    rotated = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    return winograd_forward(dy, rotated, m, w.shape[0] - 1 - pad)


def winograd_backward_weights(x, dy, m=4, pad=1, r=3):
    """dw (r, r, C, F) of the convolution above, through the Winograd algorithm's own adjoint:
    dM = A dY A^T per tile, dU = V^T dM per position (summed over blocks of tiles), dw = G^T dU G."""
    out_hw = output_size(x, pad, r)
    if dy.shape[1:3] != out_hw:
        raise ValueError(f"dy is {dy.shape[1]}x{dy.shape[2]}, the output {out_hw[0]}x{out_hw[1]}")
    mats = matrices(m, r)
    rows, cols = tiles(out_hw[0], m), tiles(out_hw[1], m)
    BT = mats["BT"].astype(x.dtype)
    A = np.ascontiguousarray(mats["AT"].T.astype(dy.dtype))           # (alpha, m)
    alpha, G = A.shape[0], mats["G"]
    channels, filters = x.shape[3], dy.shape[3]
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    if winograd_fused.fits_weights(channels, filters, x.dtype):
        dU = winograd_fused.weights(x, np.ascontiguousarray(dy, x.dtype), BT, A, pad, rows, cols)
        return _filter_adjoint(dU, G, r, channels, filters, x.dtype)
    blocks = tile_blocks(x.shape[0] * rows * cols, alpha * alpha, max(channels, filters), x.itemsize)
    V_space = np.empty(alpha * alpha * blocks[0][1] * channels, x.dtype)
    dM_space = np.empty(alpha * alpha * blocks[0][1] * filters, x.dtype)
    dU = np.zeros((alpha * alpha, channels, filters), x.dtype)
    part = np.empty_like(dU)
    for first, count in blocks:
        V = _block_buffer(V_space, (alpha * alpha, count, channels))
        dM = _block_buffer(dM_space, (alpha * alpha, count, filters))
        transform_tiles(x, BT, m, -pad, rows, cols, first, V)
        transform_tiles(dy, A, m, 0, rows, cols, first, dM)
        dU += np.matmul(V.transpose(0, 2, 1), dM, out=part)
    return _filter_adjoint(dU, G, r, channels, filters, x.dtype)


def _filter_adjoint(dU, G, r, channels, filters, dtype):
    """dw (r, r, C, F) = G^T dU G for dU (alpha^2, C, F), in float64, then `dtype`."""
    alpha = G.shape[0]
    half = (G.T @ dU.astype(np.float64).reshape(alpha, -1)).reshape(r, alpha, -1)   # G^T dU   (r, alpha, C*F)
    dw = np.matmul(G.T, half)                                                     # G^T dU G (r, r, C*F)
    return dw.reshape(r, r, channels, filters).astype(dtype)
