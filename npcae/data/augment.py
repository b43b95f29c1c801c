"""Random flips, shifts, zooms and brightness/contrast jitter for (image, mask) batches.

The geometric transform (flip, shift, zoom about the centre) has no rotation, so it separates
into a row map and a column map per sample; applying it is a few numpy gathers of whole rows
and columns. The image is sampled bilinearly with edge values outside; the mask is sampled by
nearest neighbour with 0 outside, so it stays exactly 0/1.
"""
import numpy as np

from .frames import DataError


def _source_coords(out_size, zoom, shift, flip=None):
    """Source coordinate (N, out_size) for each output pixel: the inverse of zoom then shift.

    zoom > 1 enlarges the content; shift is in pixels; flip (N,) bool mirrors the axis.
    """
    centre = (out_size - 1) / 2.0
    out = np.arange(out_size, dtype=np.float64)[None, :]
    src = centre + (out - centre - shift[:, None]) / zoom[:, None]
    if flip is not None:
        src = np.where(flip[:, None], out_size - 1 - src, src)
    return src


def _bilinear(images, src_y, src_x):
    """Sample images (N, H, W, C) at rows src_y (N, H) x cols src_x (N, W); edges are clamped."""
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


def _nearest(masks, src_y, src_x, fill=0):
    """Sample masks (N, H, W, C) at the nearest pixel; samples falling outside become `fill`."""
    n, h, w, _ = masks.shape
    y, x = np.floor(src_y + 0.5).astype(np.intp), np.floor(src_x + 0.5).astype(np.intp)
    # Point rows/columns that fall outside at a row/column of `fill` appended to the mask.
    padded = np.pad(masks, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=fill)
    y = np.where((y >= 0) & (y < h), y, h)
    x = np.where((x >= 0) & (x < w), x, w)
    rows = padded[np.arange(n)[:, None], y]
    return np.stack([np.take(rows[i], x[i], axis=1) for i in range(n)])


class Augmenter:
    """Per-sample random augmentation of images (N, H, W, C) and masks (N, H, W, 1).

    flip: mirror left-right with probability 1/2.
    shift: translate by up to this fraction of the height/width, independently per axis.
    scale: zoom about the centre by a factor in [1 - scale, 1 + scale].
    brightness: multiply the image by a factor in [1 - brightness, 1 + brightness].
    contrast: scale the image's deviation from its mean by a factor in [1 - contrast, 1 + contrast].
    The same geometric transform goes to an image and its mask; photometric jitter to the image
    only. mask_fill: the mask's value where a shift or zoom uncovers pixels it has no value for
    (0, background, for binary masks; IGNORE for class ids, where 0 is a class). Deterministic given `seed`; state()/set_state() save and restore the random stream.
    """

    def __init__(self, seed, flip=True, shift=0.1, scale=0.1, brightness=0.2, contrast=0.2,
                 mask_fill=0):
        amounts = dict(shift=shift, scale=scale, brightness=brightness, contrast=contrast)
        for name, value in amounts.items():
            if not 0 <= value < 1:
                raise DataError(f"augmentation {name} must be in [0, 1), got {value!r}")
        self.flip, self.shift, self.scale = bool(flip), float(shift), float(scale)
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.rng = np.random.default_rng(seed)
        self.mask_fill = mask_fill

    def state(self):
        """The random generator's state: a dict that set_state() accepts (JSON-serialisable)."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        """Resume the random stream exactly where state() was taken."""
        self.rng.bit_generator.state = state

    def __call__(self, images, masks):
        """Return augmented copies (images float32 clipped to [0, 1], masks' values kept exactly)."""
        images, masks = np.asarray(images, np.float32), np.asarray(masks, np.float32)
        if images.ndim != 4 or masks.ndim != 4 or images.shape[:3] != masks.shape[:3]:
            raise DataError(f"augment needs images (N, H, W, C) and masks (N, H, W, 1) of the same N, H, W; "
                            f"got {images.shape} and {masks.shape}")
        n, h, w, _ = images.shape
        # Always draw the same numbers in the same layout, so the stream does not depend on options.
        u = self.rng.random((n, 6))
        flip = (u[:, 0] < 0.5) & self.flip
        zoom = 1 + self.scale * (2 * u[:, 1] - 1)
        shift_y = self.shift * h * (2 * u[:, 2] - 1)
        shift_x = self.shift * w * (2 * u[:, 3] - 1)
        src_y = _source_coords(h, zoom, shift_y)
        src_x = _source_coords(w, zoom, shift_x, flip)
        out_images = _bilinear(images, src_y, src_x)
        out_masks = _nearest(masks, src_y, src_x, self.mask_fill)
        gain = (1 + self.brightness * (2 * u[:, 4] - 1)).astype(np.float32)[:, None, None, None]
        stretch = (1 + self.contrast * (2 * u[:, 5] - 1)).astype(np.float32)[:, None, None, None]
        mean = out_images.mean(axis=(1, 2, 3), keepdims=True)
        # Written so that stretch == gain == 1 returns the pixels bit-for-bit.
        out_images = (out_images * stretch + mean * (1 - stretch)) * gain
        return np.clip(out_images, 0, 1).astype(np.float32), out_masks.astype(np.float32)
