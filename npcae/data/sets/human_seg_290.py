"""human-seg-290: 290 photos of people with binary person masks; its split, size and download.

The photos (images/N.jpg, RGB or grayscale, 183x275 up to 1500x1001) and masks (masks/N.png,
0/255; 198 of them smaller than their photo, which the folder reader resizes) for N = 1..289
and 300 come from a pinned commit of VikramShenoy97/Human-Segmentation-Dataset (folders
Training_Images/ and Ground_Truth/); every file's SHA-256 is in human_seg_290.sha256 beside
this module.

The split is fixed, whatever the run's seed: the 40 photos numbered 7, 14, 21, ..., 280 (every
7th) are held out and the other 250 train. A rule over the numbers, not a random draw, so it
can be stated in a line and checked by eye; every 7th spreads the held-out photos evenly over
the collection's order, in which neighbours are sometimes alike (two portraits on one grey
backdrop), so no stretch of it is held out whole. Measured on the files, the held-out photos
look like the training ones: 57% landscape (61% in training), person covering 31% of the
pixels on average (31%), one grayscale photo in each part.

Default size 128x128 (the U-Net's hour on 2 cores; see npcae/train/defaults.py). The folder
reader stretches every photo to the size asked (Pillow BOX, area interpolation, no padding or
cropping), so a person is squeezed by the ratio of the photo's aspect to the size's: the
photos' height/width runs from 0.42 to 1.62 (median 0.75, 175 landscape, 106 portrait, 9
square), and a square size squeezes the two kinds equally (a 4:3 landscape photo by 0.75 in
width, a 3:4 portrait one by 0.75 in height).
"""
import os
from pathlib import Path

from ..dataset import Dataset
from ..fetch import cache_root, download_verified, read_checksums

BASE_URL = ("https://raw.githubusercontent.com/VikramShenoy97/Human-Segmentation-Dataset/"
            "fe4efc56003005a58b7d2449aa563a20e3861e24")
URL_ENV = "NPCAE_HUMAN_SEG_URL"          # another base URL laid out like the commit (tests)
REMOTE_FOLDERS = {"images": "Training_Images", "masks": "Ground_Truth"}
HUMAN_SEG_SIZE = (128, 128)
SHA256 = read_checksums(__package__, "human_seg_290.sha256")
NAMES = tuple(sorted({Path(relative).stem for relative in SHA256}, key=int))   # "1" ... "289", "300"
HUMAN_SEG_HELDOUT = ("7", "14", "21", "28", "35", "42", "49", "56", "63", "70",
                     "77", "84", "91", "98", "105", "112", "119", "126", "133", "140",
                     "147", "154", "161", "168", "175", "182", "189", "196", "203", "210",
                     "217", "224", "231", "238", "245", "252", "259", "266", "273", "280")
HUMAN_SEG_TRAIN = tuple(name for name in NAMES if name not in HUMAN_SEG_HELDOUT)


def fetch_human_seg290(dest=None, base_url=None, timeout=60.0):
    """Make sure dest/images/N.jpg and dest/masks/N.png (580 files, 16 MB) exist and verify.

    dest: default $NPCAE_CACHE/human-seg-290 (~/.cache/npcae/human-seg-290). base_url: default
    $NPCAE_HUMAN_SEG_URL or BASE_URL; files are fetched from BASE/Training_Images/N.jpg and
    BASE/Ground_Truth/N.png. Files already there are hashed and kept if they match; missing
    or damaged ones are downloaded, verified and renamed into place (download_verified).
    """
    dest = Path(dest).expanduser() if dest is not None else cache_root() / "human-seg-290"
    base = (base_url or os.environ.get(URL_ENV) or BASE_URL).rstrip("/")
    return download_verified(dest, SHA256, lambda relative: f"{base}/{remote_path(relative)}", timeout)


def remote_path(relative):
    """Where a file of the set is in the source commit: images/7.jpg -> Training_Images/7.jpg."""
    folder, name = relative.split("/")
    return f"{REMOTE_FOLDERS[folder]}/{name}"


DATASET = Dataset(
    name="human-seg-290", description="290 photos of people with person masks; 250 train, 40 held out "
    "(every 7th: 7, 14, ..., 280)", size=HUMAN_SEG_SIZE, split={"train_names": HUMAN_SEG_TRAIN},
    checksums=SHA256, source=BASE_URL, download=fetch_human_seg290)
