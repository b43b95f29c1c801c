"""Sampling an image batch at a separable grid of source coordinates: what the augmentations'
zoom, shift, flip and the copy-paste's shrinking share.

    src = source_coords(out_size, zoom, shift, flip)   (N, out_size) source rows or columns
    bilinear(images, src_y, src_x)                     images (N, H, W, C) sampled, edges clamped
    nearest(masks, src_y, src_x, fill)                 masks sampled, `fill` outside

A grid without rotation separates into a row map and a column map per sample, so sampling is a
few numpy gathers of whole rows and columns.
"""
import numpy as np


def source_coords(out_size, zoom, shift, flip=None):
    """Source coordinate (N, out_size) for each output pixel: the inverse of zoom then shift.

    zoom > 1 enlarges the content; shift is in pixels; flip (N,) bool mirrors the axis.
    """
    centre = (out_size - 1) / 2.0
    out = np.arange(out_size, dtype=np.float64)[None, :]
    src = centre + (out - centre - shift[:, None]) / zoom[:, None]
    if flip is not None:
        src = np.where(flip[:, None], out_size - 1 - src, src)
    return src


def bilinear(images, src_y, src_x):
    """images (N, H, W, C) sampled at rows src_y (N, OH) x cols src_x (N, OW), coordinates in
    source pixels: (N, OH, OW, C), values beyond the edges clamped to them."""
    n, h, w, _ = images.shape
    y = np.clip(src_y, 0, h - 1)
    x = np.clip(src_x, 0, w - 1)
    # y0 <= h - 2 keeps y1 = y0 + 1 inside; at the last row the weight wy is then exactly 1.
    y0 = np.minimum(np.floor(y).astype(np.intp), max(h - 2, 0))
    x0 = np.minimum(np.floor(x).astype(np.intp), max(w - 2, 0))
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy = (y - y0).astype(np.float32)[:, :, None, None]
    wx = (x - x0).astype(np.float32)[:, None, :, None]
    # Separable: blend whole rows first, then columns. Gathering rows with fancy indexing and
    # columns with a per-sample np.take is several times faster than one 2-D gather.
    b = np.arange(n)[:, None]
    rows = images[b, y0] * (1 - wy) + images[b, y1] * wy
    cols = lambda idx: np.stack([np.take(rows[i], idx[i], axis=1) for i in range(n)])
    return cols(x0) * (1 - wx) + cols(x1) * wx


def nearest(masks, src_y, src_x, fill=0):
    """masks (N, H, W, C) sampled at the nearest pixel of rows src_y (N, OH) x cols src_x
    (N, OW): (N, OH, OW, C); samples falling outside become `fill`."""
    n, h, w, _ = masks.shape
    y, x = np.floor(src_y + 0.5).astype(np.intp), np.floor(src_x + 0.5).astype(np.intp)
    # Point rows/columns that fall outside at a row/column of `fill` appended to the mask.
    padded = np.pad(masks, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=fill)
    y = np.where((y >= 0) & (y < h), y, h)
    x = np.where((x >= 0) & (x < w), x, w)
    rows = padded[np.arange(n)[:, None], y]
    return np.stack([np.take(rows[i], x[i], axis=1) for i in range(n)])
