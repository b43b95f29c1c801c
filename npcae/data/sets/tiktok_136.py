"""tiktok-136: the 10 real frames of TikTok video 136 the original Keras CAE was trained on.

The frames (images/136_NNNNN.png, 1024x512) and their masks (masks/136_NNNNN.png) come from a
pinned commit of tot-alin/Convolutional_autoencoder_CAE_Segmentation_masks (folders
data/val_image/ and data/val_mask/); every file's SHA-256 is in tiktok_136.sha256 beside this
module. The original trained on the first, middle and last frame and held out the other 7.
"""
import os
from pathlib import Path

from ..dataset import Dataset
from ..fetch import cache_root, download_verified, read_checksums

BASE_URL = ("https://raw.githubusercontent.com/tot-alin/Convolutional_autoencoder_CAE_Segmentation_masks/"
            "7f44d4c97e290c1794279bb6049ec8feadfc5d1d")
URL_ENV = "NPCAE_TIKTOK_URL"             # another base URL laid out like the commit
DIR_ENV = "NPCAE_TIKTOK_DIR"             # a folder holding the set, used as found
REMOTE_FOLDERS = {"images": "data/val_image", "masks": "data/val_mask"}
SHA256 = read_checksums(__package__, "tiktok_136.sha256")
TIKTOK_TRAIN = ("136_00090", "136_00210", "136_00420")  # first, middle and last: the original's


def default_dest():
    """$NPCAE_CACHE/tiktok-136 if NPCAE_CACHE is set, else ~/.cache/npcae/tiktok-136."""
    return cache_root() / "tiktok-136"


def remote_path(relative):
    """Where a file of the set is in the source commit: images/N.png -> data/val_image/N.png."""
    folder, name = relative.split("/")
    return f"{REMOTE_FOLDERS[folder]}/{name}"


def fetch_tiktok136(dest=None, base_url=None, timeout=60.0):
    """Make sure dest/images/NAME.png and dest/masks/NAME.png (20 files) exist and verify.

    dest: default default_dest(). base_url: default $NPCAE_TIKTOK_URL or BASE_URL; files are
    fetched from BASE/data/val_image/NAME.png and BASE/data/val_mask/NAME.png.
    Returns dest as a Path, ready for load_folder (see download_verified for the checks).
    """
    dest = Path(dest).expanduser() if dest is not None else default_dest()
    base = (base_url or os.environ.get(URL_ENV) or BASE_URL).rstrip("/")
    return download_verified(dest, SHA256, lambda relative: f"{base}/{remote_path(relative)}", timeout)


DATASET = Dataset(
    name="tiktok-136", description="10 real frames of TikTok video 136, the original's data",
    size=(1024, 512), split={"train_names": TIKTOK_TRAIN}, checksums=SHA256, source=BASE_URL,
    download=fetch_tiktok136, env=DIR_ENV)
