"""Copy-paste for binary masks: the people of one photo of a batch, resized and pasted into
another photo of the same batch (Ghiasi et al. 2021, "Simple Copy-Paste is a Strong Data
Augmentation Method for Instance Segmentation", which pastes with a hard mask, no blending).

    images, masks = paste_people(images, masks, rng, probability, heights=(0.1, 0.6))

Why: the person photos npcae trains on (human-seg-290) show one person filling the frame, and
COCO's photos show several small people in cluttered scenes; zooming out (Augmenter's scale)
shrinks the whole photo, background and all, while a pasted person is small against a
background that is not theirs. Each photo, with probability `probability` and then once more
with the same probability, receives the masked pixels of another photo of the batch (as it was
before any pasting), cut to its mask's bounding box, resized to a height drawn from `heights`
(a fraction of the photo's height, keeping the aspect ratio, less where the box would be
wider than the photo; bilinear for the pixels, nearest for the mask; small donors are enlarged)
at a uniformly random place; the mask there becomes 1. Photos whose donor has no
mask pixel get nothing. The masks must be binary (0/1): class ids have no "person" to cut.
"""
import numpy as np

from .resample import bilinear, nearest

PASTES_PER_PHOTO = 2                 # each with the probability: 0, 1 or 2 people are added
DRAWS = 5                            # random numbers per paste, drawn whether it happens or not


def paste_people(images, masks, rng, probability, heights=(0.1, 0.6)):
    """images (N, H, W, C) float32 and masks (N, H, W, 1) of 0/1, pasted into in place and
    returned. rng: a numpy Generator; the same number of draws whatever happens, so the stream
    does not depend on the data."""
    n, h, w, _ = images.shape
    if masks.shape != (n, h, w, 1):
        raise ValueError(f"paste_people needs one binary mask per photo, (N, H, W, 1) = "
                         f"{(n, h, w, 1)}, got {masks.shape}")
    u = rng.random((PASTES_PER_PHOTO, n, DRAWS))
    if n < 2 or probability <= 0:
        return images, masks
    donors_images, donors_masks = images.copy(), masks.copy()
    boxes = [_box(donors_masks[j, :, :, 0] > 0.5) for j in range(n)]
    for draws in u:
        for i, (happens, donor, height, top, left) in enumerate(draws):
            j = (i + 1 + int(donor * (n - 1))) % n          # any other photo of the batch
            if happens >= probability or boxes[j] is None:
                continue
            y0, y1, x0, x1 = boxes[j]
            target = (heights[0] + (heights[1] - heights[0]) * height) * h
            scale = min(target / (y1 - y0), w / (x1 - x0), h / (y1 - y0))   # inside the photo
            out_h = max(1, min(h, int(round((y1 - y0) * scale))))
            out_w = max(1, min(w, int(round((x1 - x0) * scale))))
            src_y = y0 + (np.arange(out_h) + 0.5) * (y1 - y0) / out_h - 0.5
            src_x = x0 + (np.arange(out_w) + 0.5) * (x1 - x0) / out_w - 0.5
            piece = bilinear(donors_images[j:j + 1], src_y[None], src_x[None])[0]
            keep = nearest(donors_masks[j:j + 1], src_y[None], src_x[None])[0, :, :, 0] > 0.5
            row, col = int(top * (h - out_h + 1)), int(left * (w - out_w + 1))
            region = (i, slice(row, row + out_h), slice(col, col + out_w))
            images[region][keep] = piece[keep]
            masks[region][keep] = 1
    return images, masks


def _box(mask):
    """(top, bottom, left, right) of a 2-D boolean mask's True pixels, ends exclusive; None if
    there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
