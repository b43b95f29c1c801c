"""Class-id labels: the id of pixels that count for nothing, and class weights from the masks.

Masks of class ids (N, H, W) or (N, H, W, 1) hold 0..K-1 and IGNORE; the readers write IGNORE
for void colours, augmentation fills with it, and the losses and metrics leave it out.
"""
import numpy as np

IGNORE = 255            # Cityscapes' "trainId 255"; class-id PNGs mark void pixels with it


def median_frequency_weights(masks, classes, ignore_index=IGNORE):
    """Class weights by median-frequency balancing (Eigen and Fergus 2015, as SegNet uses them):

        freq_k = pixels of class k / pixels of the images in which k occurs   (ignored excluded)
        w_k    = median(freq over the classes that occur) / freq_k;   0 for a class never seen

    so a class as common as the median one weighs 1, a rare one more. `masks` is an iterable of
    (H, W) class-id arrays (the training masks, read once)."""
    counts = np.zeros(classes, np.int64)
    present_pixels = np.zeros(classes, np.int64)
    for mask in masks:
        ids = np.asarray(mask).reshape(-1)
        ids = ids[ids != ignore_index].astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= classes):
            raise ValueError(f"class ids outside 0..{classes - 1} (and not {ignore_index})")
        here = np.bincount(ids, minlength=classes)
        counts += here
        present_pixels += np.where(here > 0, ids.size, 0)
    occurs = counts > 0
    if not occurs.any():
        raise ValueError("no labelled pixel in the masks: nothing to weigh")
    freq = np.where(occurs, counts / np.maximum(present_pixels, 1), 0.0)
    return np.where(occurs, np.median(freq[occurs]) / np.where(occurs, freq, 1.0), 0.0)
