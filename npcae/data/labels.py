"""Class-id labels: the id of pixels that count for nothing, and class weights from the masks.

Masks of class ids (N, H, W) or (N, H, W, 1) hold 0..K-1 and IGNORE; the readers write IGNORE
for void colours, augmentation fills with it, and the losses and metrics leave it out.
"""
import numpy as np

from .frames import DataError

IGNORE = 255            # Cityscapes' "trainId 255"; class-id PNGs mark void pixels with it


def median_frequency_weights(masks, classes, ignore_index=IGNORE):
    """Class weights by median-frequency balancing (Eigen and Fergus 2015, as SegNet uses them):

        freq_k = pixels of class k / pixels of the images in which k occurs   (ignored excluded)
        w_k    = median(freq over the classes that occur) / freq_k;   0 for a class never seen

    so a class as common as the median one weighs 1, a rare one more. `masks` is an iterable of
    (H, W) class-id arrays (the training masks, read once). DataError (a ValueError) for an id
    outside 0..classes-1 that is not ignore_index, or masks without one labelled pixel."""
    counts = np.zeros(classes, np.int64)
    present_pixels = np.zeros(classes, np.int64)
    read = 0
    for read, mask in enumerate(masks, 1):
        ids = np.asarray(mask).reshape(-1)
        ids = ids[ids != ignore_index].astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= classes):
            bad = ids[(ids < 0) | (ids >= classes)][0]
            raise DataError(f"class id {bad} in a mask: outside 0..{classes - 1} and not the "
                            f"ignore label {ignore_index}")
        here = np.bincount(ids, minlength=classes)
        counts += here
        present_pixels += np.where(here > 0, ids.size, 0)
    occurs = counts > 0
    if not occurs.any():
        # A DataError (a ValueError too): the readers made every pixel IGNORE, so the masks, or
        # the palette they were read with, are not what the run takes them for.
        raise DataError(f"no labelled pixel in the {read} mask{'s' * (read != 1)}: every pixel is "
                        f"the ignore label {ignore_index} (a void colour, a colour far from every "
                        f"palette colour, or {ignore_index} in the file), so there is nothing to "
                        f"weigh the classes by; the masks must hold class ids 0..{classes - 1} or "
                        f"the palette's colours")
    freq = np.where(occurs, counts / np.maximum(present_pixels, 1), 0.0)
    return np.where(occurs, np.median(freq[occurs]) / np.where(occurs, freq, 1.0), 0.0)
