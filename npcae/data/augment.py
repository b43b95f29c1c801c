"""Random flips, shifts, zooms and brightness/contrast jitter for (image, mask) batches, and
the degradations of photos from other sources: blur, sensor noise, JPEG compression; and
copy-paste of people between the photos of a batch (paste.py).

The geometric transform (flip, shift, zoom about the centre) has no rotation, so it separates
into a row map and a column map per sample; applying it is a few numpy gathers of whole rows
and columns. The image is sampled bilinearly with edge values outside; the mask is sampled by
nearest neighbour with 0 outside, so it stays exactly 0/1. Blur, noise and JPEG touch the image
only, after the jitter: a Gaussian blur of a random width, Gaussian noise of a random strength,
a JPEG round trip at a random quality (Pillow), each on half the images. Pasting comes after
the jitter and before them, so a pasted person's edges are blurred and compressed with the rest.
"""
import io

import numpy as np
from PIL import Image

from .frames import DataError
from .paste import paste_people
from .resample import bilinear, nearest, source_coords


def _gaussian_blur(image, sigma):
    """image (H, W, C) blurred by a Gaussian of standard deviation sigma pixels, separably,
    with mirrored edges."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * image.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(image, pad, mode="reflect" if image.shape[axis] > radius else "edge")
        out = np.zeros_like(image)
        for k, weight in enumerate(taps):
            out += weight * np.take(padded, np.arange(k, k + image.shape[axis]), axis=axis)
        image = out
    return image


def _jpeg(image, quality):
    """image (H, W, 3) in [0, 1] through a JPEG encode and decode at `quality` (Pillow)."""
    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG",
                                                                                quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), np.float32) / np.float32(255)


class Augmenter:
    """Per-sample random augmentation of images (N, H, W, C) and masks (N, H, W, 1).

    flip: mirror left-right with probability 1/2.
    shift: translate by up to this fraction of the height/width, independently per axis.
    scale: zoom about the centre by a factor in [1 - scale, 1 + scale].
    brightness: multiply the image by a factor in [1 - brightness, 1 + brightness].
    contrast: scale the image's deviation from its mean by a factor in [1 - contrast, 1 + contrast].
    blur: on half the images, a Gaussian blur of standard deviation up to this many pixels.
    noise: on half the images, Gaussian noise of standard deviation up to this (pixels in [0, 1]).
    jpeg: on half the images, a JPEG round trip at a quality from this (5-95) to 95; 0: off.
    paste: the probability that a photo receives the people of another photo of the batch,
        resized (paste.py), and once more with the same probability; binary masks only.
    The same geometric transform goes to an image and its mask; photometric jitter to the image
    only. mask_fill: the mask's value where a shift or zoom uncovers pixels it has no value for
    (0, background, for binary masks; IGNORE for class ids, where 0 is a class). Deterministic
    given `seed`; state()/set_state() save and restore the random streams. Blur, noise and JPEG
    draw from a second stream and pasting from a third, each only when it is on, so that a
    run without them draws exactly the numbers it drew before they existed.
    """

    def __init__(self, seed, flip=True, shift=0.1, scale=0.1, brightness=0.2, contrast=0.2,
                 mask_fill=0, blur=0.0, noise=0.0, jpeg=0, paste=0.0):
        amounts = dict(shift=shift, scale=scale, brightness=brightness, contrast=contrast, noise=noise)
        for name, value in amounts.items():
            if not 0 <= value < 1:
                raise DataError(f"augmentation {name} must be in [0, 1), got {value!r}")
        if not 0 <= blur <= 5:
            raise DataError(f"augmentation blur must be a Gaussian's width in pixels, 0 to 5, got {blur!r}")
        if not 0 <= paste <= 1:
            raise DataError(f"augmentation paste must be a probability, 0 to 1, got {paste!r}")
        if paste and mask_fill != 0:
            raise DataError("augmentation paste copies people between photos with binary masks; "
                            "class ids have none to cut (leave paste at 0)")
        if not (jpeg == 0 or 5 <= jpeg <= 95):
            raise DataError(f"augmentation jpeg must be 0 (off) or a lowest quality from 5 to 95, got {jpeg!r}")
        self.flip, self.shift, self.scale = bool(flip), float(shift), float(scale)
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.blur, self.noise, self.jpeg = float(blur), float(noise), int(jpeg)
        self.paste = float(paste)
        self.rng = np.random.default_rng(seed)
        self.degrade_rng = np.random.default_rng([seed, 1])
        self.paste_rng = np.random.default_rng([seed, 2])
        self.mask_fill = mask_fill

    @property
    def degrades(self):
        return self.blur > 0 or self.noise > 0 or self.jpeg > 0

    def state(self):
        """The random generators' state: a dict that set_state() accepts (JSON-serialisable);
        without blur, noise, JPEG or pasting, the first generator's alone, as before they existed."""
        if not (self.degrades or self.paste):
            return self.rng.bit_generator.state
        state = {"geometry": self.rng.bit_generator.state, "degrade": self.degrade_rng.bit_generator.state}
        if self.paste:
            state["paste"] = self.paste_rng.bit_generator.state
        return state

    def set_state(self, state):
        """Resume the random streams exactly where state() was taken."""
        if self.paste and "paste" not in state:
            raise DataError("the saved augmentation state has no copy-paste stream: it is of a "
                            "run without paste, and this augmenter pastes")
        if "geometry" in state:
            self.rng.bit_generator.state = state["geometry"]
            self.degrade_rng.bit_generator.state = state["degrade"]
            if "paste" in state:
                self.paste_rng.bit_generator.state = state["paste"]
        else:
            self.rng.bit_generator.state = state

    def degrade(self, images):
        """Blur, noise and JPEG, each on half the images (in place where it can)."""
        n = len(images)
        u = self.degrade_rng.random((n, 6))
        for i in range(n):
            if self.blur > 0 and u[i, 0] < 0.5 and u[i, 1] > 0:
                images[i] = _gaussian_blur(images[i], self.blur * u[i, 1])
            if self.jpeg > 0 and u[i, 2] < 0.5:
                quality = self.jpeg + (95 - self.jpeg) * u[i, 3]
                images[i] = _jpeg(images[i], quality)
            if self.noise > 0 and u[i, 4] < 0.5:
                sigma = self.noise * u[i, 5]
                images[i] += self.degrade_rng.normal(0, sigma, images[i].shape).astype(np.float32)
        return images

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
        src_y = source_coords(h, zoom, shift_y)
        src_x = source_coords(w, zoom, shift_x, flip)
        out_images = bilinear(images, src_y, src_x)
        out_masks = nearest(masks, src_y, src_x, self.mask_fill)
        gain = (1 + self.brightness * (2 * u[:, 4] - 1)).astype(np.float32)[:, None, None, None]
        stretch = (1 + self.contrast * (2 * u[:, 5] - 1)).astype(np.float32)[:, None, None, None]
        mean = out_images.mean(axis=(1, 2, 3), keepdims=True)
        # Written so that stretch == gain == 1 returns the pixels bit-for-bit.
        out_images = (out_images * stretch + mean * (1 - stretch)) * gain
        if self.paste:
            out_images, out_masks = paste_people(np.clip(out_images, 0, 1).astype(np.float32, copy=False),
                                                 out_masks.astype(np.float32, copy=False),
                                                 self.paste_rng, self.paste)
        if self.degrades:
            out_images = self.degrade(np.clip(out_images, 0, 1).astype(np.float32))
        return np.clip(out_images, 0, 1).astype(np.float32), out_masks.astype(np.float32)
