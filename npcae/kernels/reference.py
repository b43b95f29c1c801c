"""Plain, loop-based convolution (and max pooling, at the end): the oracle of the tests and the
version to read first.

Nothing here is fast; everything here is obviously right. Layouts follow Keras:
x (N, H, W, C), weights (KH, KW, C, OUT), bias (OUT,), output (N, OH, OW, OUT).

    out[n, oh, ow, o] = b[o] + sum_{i, j, c} x_pad[n, oh*s + i, ow*s + j, c] * W[i, j, c, o]

Backward, for an upstream gradient g = dL/dout:

    dW[i, j, c, o]          = sum_{n, oh, ow} x_pad[n, oh*s + i, ow*s + j, c] * g[n, oh, ow, o]
    db[o]                   = sum_{n, oh, ow} g[n, oh, ow, o]
    dx_pad[n, oh*s + i, ow*s + j, c] += sum_o W[i, j, c, o] * g[n, oh, ow, o]
"""
import numpy as np

from .geometry import conv_geometry
from .pooling import INDEX_DTYPE


def _padded(x, geom):
    """x with the zero border the geometry implies (extra row/column at the bottom/right)."""
    _, height, width, _ = x.shape
    pad_bottom = max((geom.out_h - 1) * geom.stride + geom.kh - height - geom.pad_top, 0)
    pad_right = max((geom.out_w - 1) * geom.stride + geom.kw - width - geom.pad_left, 0)
    pads = ((0, 0), (geom.pad_top, pad_bottom), (geom.pad_left, pad_right), (0, 0))
    return np.pad(x, pads), pads


def conv2d_forward(x, weights, bias, stride=1, padding="same"):
    """Loop over every output pixel; each is one patch dotted with the whole kernel."""
    n_images, height, width, _ = x.shape
    kh, kw, _, n_out = weights.shape
    geom = conv_geometry(height, width, kh, kw, stride, padding)
    x_pad, _ = _padded(x, geom)
    out = np.empty((n_images, geom.out_h, geom.out_w, n_out), dtype=x.dtype)
    for n in range(n_images):
        for oh in range(geom.out_h):
            for ow in range(geom.out_w):
                patch = x_pad[n, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw, :]
                out[n, oh, ow] = np.tensordot(patch, weights, axes=3) + bias
    return out


def conv2d_backward(grad_out, x, weights, stride=1, padding="same"):
    """(dx, dW, db) of conv2d_forward, by the same loops run backwards."""
    n_images, height, width, _ = x.shape
    kh, kw, _, _ = weights.shape
    geom = conv_geometry(height, width, kh, kw, stride, padding)
    x_pad, pads = _padded(x, geom)
    dx_pad = np.zeros_like(x_pad)
    d_weights = np.zeros_like(weights)
    for n in range(n_images):
        for oh in range(geom.out_h):
            for ow in range(geom.out_w):
                rows = slice(oh * stride, oh * stride + kh)
                cols = slice(ow * stride, ow * stride + kw)
                g = grad_out[n, oh, ow]                                   # (OUT,)
                d_weights += x_pad[n, rows, cols, :, None] * g           # (KH, KW, C, OUT)
                dx_pad[n, rows, cols, :] += np.tensordot(weights, g, axes=([3], [0]))
    d_bias = grad_out.sum(axis=(0, 1, 2))
    (_, _), (top, _), (left, _), (_, _) = pads
    dx = dx_pad[:, top:top + height, left:left + width, :]
    return np.ascontiguousarray(dx), d_weights, d_bias


def im2col_loops(x, geom):
    """im2col in plain Python loops; same layout as `npcae.kernels.im2col`."""
    n_images, height, width, channels = x.shape
    cols = np.zeros((n_images * geom.out_h * geom.out_w, geom.kh * geom.kw * channels), x.dtype)
    for n in range(n_images):
        for oh in range(geom.out_h):
            for ow in range(geom.out_w):
                r = (n * geom.out_h + oh) * geom.out_w + ow
                for i in range(geom.kh):
                    for j in range(geom.kw):
                        ih = oh * geom.stride - geom.pad_top + i
                        iw = ow * geom.stride - geom.pad_left + j
                        if 0 <= ih < height and 0 <= iw < width:
                            base = (i * geom.kw + j) * channels
                            cols[r, base:base + channels] = x[n, ih, iw]
    return cols


def col2im_loops(cols, x_shape, geom):
    """col2im in plain Python loops: scatter every column entry back onto its pixel."""
    n_images, height, width, channels = x_shape
    dx = np.zeros(x_shape, dtype=cols.dtype)
    for n in range(n_images):
        for oh in range(geom.out_h):
            for ow in range(geom.out_w):
                r = (n * geom.out_h + oh) * geom.out_w + ow
                for i in range(geom.kh):
                    for j in range(geom.kw):
                        ih = oh * geom.stride - geom.pad_top + i
                        iw = ow * geom.stride - geom.pad_left + j
                        if 0 <= ih < height and 0 <= iw < width:
                            base = (i * geom.kw + j) * channels
                            dx[n, ih, iw] += cols[r, base:base + channels]
    return dx


def im2col_strided(x, geom):
    """im2col in pure NumPy: a strided window view of the padded input, copied once.

    The view x_pad[n, oh*s + i, ow*s + j, c] -> (N, OH, OW, KH, KW, C) costs nothing; the
    reshape to (N*OH*OW, KH*KW*C) is the copy. Single-threaded: the benchmarks' middle line.
    """
    x_pad, _ = _padded(x, geom)
    n, _, _, channels = x.shape
    s = geom.stride
    strides = x_pad.strides
    view = np.lib.stride_tricks.as_strided(
        x_pad, (n, geom.out_h, geom.out_w, geom.kh, geom.kw, channels),
        (strides[0], strides[1] * s, strides[2] * s, strides[1], strides[2], strides[3]),
        writeable=False)
    return view.reshape(n * geom.out_h * geom.out_w, geom.kh * geom.kw * channels)


def col2im_strided(cols, x_shape, geom):
    """col2im in pure NumPy: one strided add per kernel tap (KH*KW of them)."""
    n, height, width, channels = x_shape
    s = geom.stride
    dx_pad, pads = _padded(np.zeros(x_shape, cols.dtype), geom)
    taps = cols.reshape(n, geom.out_h, geom.out_w, geom.kh, geom.kw, channels)
    for i in range(geom.kh):
        for j in range(geom.kw):
            dx_pad[:, i:i + s * geom.out_h:s, j:j + s * geom.out_w:s, :] += taps[:, :, :, i, j, :]
    (_, _), (top, _), (left, _), (_, _) = pads
    return np.ascontiguousarray(dx_pad[:, top:top + height, left:left + width, :])


# -- max pooling --------------------------------------------------------------------------
# Loops over the PH*PW window offsets only, each a strided slice of the padded input, in
# row-major order: the Numba kernels (kernels/pooling.py) must give exactly these arrays.

def _pool_padded(x, geom, fill):
    """x padded to cover every window ((OH - 1)*SH + PH rows, likewise columns) with `fill`."""
    _, height, width, _ = x.shape
    bottom = max((geom.out_h - 1) * geom.sh + geom.ph - height - geom.pad_top, 0)
    right = max((geom.out_w - 1) * geom.sw + geom.pw - width - geom.pad_left, 0)
    pads = ((0, 0), (geom.pad_top, bottom), (geom.pad_left, right), (0, 0))
    return np.pad(x, pads, constant_values=fill)


def _window_tap(padded, geom, i, j):
    """padded[n, oh*SH + i, ow*SW + j, c] for every (n, oh, ow, c): offset (i, j) of each window."""
    return padded[:, i:i + geom.sh * geom.out_h:geom.sh, j:j + geom.sw * geom.out_w:geom.sw, :]


def max_pool_forward(x, geom):
    """(y, index): the maximum of every window and the offset i*PW + j of the first one in
    row-major order. Pads are -inf and never chosen; the first real pixel seeds each window."""
    padded = _pool_padded(x, geom, -np.inf)
    real = _pool_padded(np.ones(x.shape, bool), geom, False)
    shape = (x.shape[0], geom.out_h, geom.out_w, x.shape[3])
    best = np.full(shape, -np.inf, x.dtype)
    index = np.full(shape, -1, np.int64)
    for i in range(geom.ph):
        for j in range(geom.pw):
            v = _window_tap(padded, geom, i, j)
            take = (best < v) | ((index < 0) & _window_tap(real, geom, i, j))
            best = np.where(take, v, best)
            index = np.where(take, i * geom.pw + j, index)
    return best, index.astype(INDEX_DTYPE)


def max_pool_backward(dy, index, x_shape, geom):
    """dx: each window's dy added onto the pixel its index names, offsets (i, j) in row-major
    order (overlapping windows accumulate)."""
    dx_padded = _pool_padded(np.zeros(x_shape, dy.dtype), geom, 0)
    for i in range(geom.ph):
        for j in range(geom.pw):
            _window_tap(dx_padded, geom, i, j)[...] += np.where(index == i * geom.pw + j, dy, 0)
    top, left = geom.pad_top, geom.pad_left
    return np.ascontiguousarray(dx_padded[:, top:top + x_shape[1], left:left + x_shape[2], :])


def conv2d_transpose_forward(x, weights, bias, stride=1, padding="same"):
    """Loops for Conv2DTranspose, W (KH, KW, C_out, C_in): every input pixel stamps its kernel,
    weighted, onto the output at stride s; the stamps overlap and add. "same" then crops the
    rows and columns a "same" convolution of the output would pad (pad_top first, as
    geometry.padding_1d splits them: TensorFlow's convention; PyTorch's output_padding crops at
    the other end); "valid" keeps all, and a stride wider than the kernel leaves a bias-only
    border at the bottom and right."""
    n_images, height, width, _ = x.shape
    kh, kw, n_out, _ = weights.shape
    if padding == "same":
        out_h, out_w = height * stride, width * stride
    else:
        out_h, out_w = (height - 1) * stride + max(kh, stride), (width - 1) * stride + max(kw, stride)
    geom = conv_geometry(out_h, out_w, kh, kw, stride, padding)
    full_h = max((height - 1) * stride + kh, geom.pad_top + out_h)
    full_w = max((width - 1) * stride + kw, geom.pad_left + out_w)
    full = np.zeros((n_images, full_h, full_w, n_out), dtype=x.dtype)
    for n in range(n_images):
        for i in range(height):
            for j in range(width):
                stamp = np.tensordot(weights, x[n, i, j], axes=([3], [0]))    # (KH, KW, C_out)
                full[n, i * stride:i * stride + kh, j * stride:j * stride + kw] += stamp
    y = full[:, geom.pad_top:geom.pad_top + out_h, geom.pad_left:geom.pad_left + out_w]
    return np.ascontiguousarray(y) + bias


# -- depthwise convolution (kernels/depthwise.py's oracle) -----------------------------------
def _depthwise_padded(x, geometry, kh, kw):
    """x with its "same" (or no) zero padding, large enough for every tap of every output."""
    g = geometry
    n, height, width, channels = x.shape
    padded_h = max((g.out_h - 1) * g.stride + kh, height + g.pad_top)
    padded_w = max((g.out_w - 1) * g.stride + kw, width + g.pad_left)
    padded = np.zeros((n, padded_h, padded_w, channels), x.dtype)
    padded[:, g.pad_top:g.pad_top + height, g.pad_left:g.pad_left + width] = x
    return padded


def _tap(geometry, i, j):
    """The (rows, columns) of the padded input that tap (i, j) reads for every output."""
    g = geometry
    return (slice(None), slice(i, i + g.stride * g.out_h, g.stride),
            slice(j, j + g.stride * g.out_w, g.stride))


def depthwise_forward(x, weights, geometry):
    """y (N, OH, OW, C*M): one tap at a time, y += x[tap] * W[i, j] over the channels."""
    kh, kw, channels, multiplier = weights.shape
    padded = _depthwise_padded(x, geometry, kh, kw)
    y = np.zeros((x.shape[0], geometry.out_h, geometry.out_w, channels, multiplier), x.dtype)
    for i in range(kh):
        for j in range(kw):
            y += padded[_tap(geometry, i, j)][..., None] * weights[i, j]
    return y.reshape(*y.shape[:3], channels * multiplier)


def depthwise_backward(x, weights, dy, geometry):
    """(dx, dW): each tap's share, dW[i, j] = sum x[tap] dy and dx[tap] += dy W[i, j]."""
    kh, kw, channels, multiplier = weights.shape
    padded = _depthwise_padded(x, geometry, kh, kw)
    dy = dy.reshape(*dy.shape[:3], channels, multiplier)
    d_padded, d_weights = np.zeros_like(padded), np.zeros_like(weights)
    for i in range(kh):
        for j in range(kw):
            tap = _tap(geometry, i, j)
            d_weights[i, j] = np.einsum("nhwc,nhwcm->cm", padded[tap], dy)
            d_padded[tap] += np.einsum("nhwcm,cm->nhwc", dy, weights[i, j])
    g = geometry
    return d_padded[:, g.pad_top:g.pad_top + x.shape[1], g.pad_left:g.pad_left + x.shape[2]], d_weights


def winograd_forward_loops(x, weights, m, pad, matrices):
    """Winograd F(m x m, r x r) one tile, one channel and one filter at a time, in float64:
    Y = A^T [sum_c (G g G^T) . (B^T d B)] A per tile (kernels/winograd.py, what it batches).
    `matrices`: {"BT", "G", "AT"}; r is the kernel's size. Plain loops, for study and the tests."""
    BT, G, AT = matrices["BT"], matrices["G"], matrices["AT"]
    alpha, r = BT.shape[0], weights.shape[0]
    n, height, width, channels = x.shape
    filters = weights.shape[3]
    out_h, out_w = height + 2 * pad - r + 1, width + 2 * pad - r + 1
    rows, cols = -(-out_h // m), -(-out_w // m)
    padded = np.zeros((n, rows * m + r - 1, cols * m + r - 1, channels))
    padded[:, pad:pad + height, pad:pad + width] = x
    y = np.zeros((n, rows * m, cols * m, filters))
    for b in range(n):
        for ty in range(rows):
            for tx in range(cols):
                for f in range(filters):
                    product = np.zeros((alpha, alpha))
                    for c in range(channels):
                        d = padded[b, ty * m:ty * m + alpha, tx * m:tx * m + alpha, c]
                        g = weights[:, :, c, f]
                        product += (G @ g @ G.T) * (BT @ d @ BT.T)
                    y[b, ty * m:ty * m + m, tx * m:tx * m + m, f] = AT @ product @ AT.T
    return y[:, :out_h, :out_w]
