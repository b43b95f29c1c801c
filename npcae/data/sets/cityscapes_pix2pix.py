"""cityscapes-pix2pix: pix2pix's Cityscapes composites; their download, checksums and defaults.

Every file is one 512x256 JPEG, the street photo on the left and its Cityscapes colour labels
on the right (read by CompositeFrames, npcae/data/composites.py): train/1.jpg ... train/2975.jpg
and val/1.jpg ... val/500.jpg, the 500 val files held out whole (the split pix2pix reports on).
They are fetched from a pinned commit of a public repository that committed the pix2pix
archive's files unmodified (prakashpandey9/BicycleGAN, folder cityscapes/), and each is checked
against cityscapes_pix2pix.sha256 (3,475 SHA-256 lines, the files' own, beside this module).

The Cityscapes terms of use apply to these files (www.cityscapes-dataset.com/license):
non-commercial research and teaching only, no redistribution of the data or of modified
versions. npcae does not contain them; `npcae fetch-data cityscapes-pix2pix` downloads them.
"""
import os
import sys
from pathlib import Path

from ..composites import CompositeFrames
from ..dataset import Dataset
from ..fetch import cache_root, download_verified, read_checksums
from ..palette import CITYSCAPES_19

BASE_URL = ("https://raw.githubusercontent.com/prakashpandey9/BicycleGAN/"
            "69cda8bea4c469bb77bbb4d4920b28a2577315c6/cityscapes")
URL_ENV = "NPCAE_CITYSCAPES_URL"         # another base URL laid out like the commit (tests)
TERMS = ("the Cityscapes terms of use apply to these files (www.cityscapes-dataset.com/license): "
         "non-commercial research and teaching only, no redistribution")
SHA256 = read_checksums(__package__, "cityscapes_pix2pix.sha256")

# What training on it changes in the run defaults (npcae.train.defaults), when not given. Measured on
# 2 cores (README, "Street scenes"): one epoch of 2,975 composites at 256x256 in batches of 8
# takes ~11 minutes with the held-out pass, so the run's 2 hours hold 10 epochs, which a cosine
# decay spans; validating each epoch costs ~30 s. Class weights: without them (run s8-cityscapes,
# 2 epochs) 11 of the 19 classes had IoU 0 on the training batches as on val, person 0.008:
# cross-entropy's mean over pixels left them to the road, and the Dice term's gradient through
# a softmax that gives a class ~0 is ~0 too. Median-frequency weights (0.03 for the road, 3.5
# for traffic lights) give each class's pixels a say from the first step.
CITYSCAPES_RUN = dict(model="unet", batch_size=8, epochs=10, lr=1e-3, lr_schedule="cosine",
                      loss="ce+dice", class_weights="auto", augment=True,
                      augment_args=dict(scale=0.15, shift=0.05, brightness=0.2, contrast=0.2),
                      val_every=1, checkpoint_every=1, snapshot_every=2, grad_every=1, cache_mb=1024)


def fetch_cityscapes(dest=None, base_url=None, timeout=60.0):
    """Make sure dest/train/N.jpg and dest/val/N.jpg (3,475 files, 104 MB) exist and verify.

    dest: default $NPCAE_CACHE/cityscapes-pix2pix; base_url: default $NPCAE_CITYSCAPES_URL or
    BASE_URL, from which files are fetched as BASE/train/N.jpg. Files already there are hashed
    and kept if they match; the others are downloaded, verified and renamed into place.
    """
    dest = Path(dest).expanduser() if dest is not None else cache_root() / "cityscapes-pix2pix"
    base = (base_url or os.environ.get(URL_ENV) or BASE_URL).rstrip("/")
    print(f"cityscapes-pix2pix: {TERMS}", file=sys.stderr, flush=True)
    return download_verified(dest, SHA256, lambda relative: f"{base}/{relative}", timeout)


DATASET = Dataset(
    name="cityscapes-pix2pix", description="pix2pix's Cityscapes composites (photo | colour labels, "
    "512x256 JPEG): 2,975 train, the 500 val held out; 19 classes (or --classes 7)", size=(256, 256),
    task="multiclass", palette=CITYSCAPES_19, reader=CompositeFrames, parts=("train", "val"), checksums=SHA256,
    source=BASE_URL, download=fetch_cityscapes, run_defaults=CITYSCAPES_RUN)
