"""Downloads verified against SHA-256 checksums, and the tiktok-136 record's files.

download_verified() fetches a data set's files, checking each against its SHA-256 before it is
renamed into place, so a folder only ever holds complete, verified files. tiktok-136 (10 frames
of TikTok video 136) are the frames the original Keras CAE was trained on, from a pinned commit
of tot-alin/Convolutional_autoencoder_CAE_Segmentation_masks.
"""
import contextlib
import hashlib
import itertools
import os
import urllib.error
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..system.files import atomic_write_bytes
from .frames import DataError

BASE_URL = ("https://raw.githubusercontent.com/tot-alin/Convolutional_autoencoder_CAE_Segmentation_masks/"
            "7f44d4c97e290c1794279bb6049ec8feadfc5d1d")
REMOTE_FOLDERS = {"images": "data/val_image", "masks": "data/val_mask"}
# Downloads at once. Each file is a new connection (urllib keeps none alive), so a set of many
# small files waits mostly on round trips: human-seg-290's 580 files from a local server that
# answers after 50 ms take 30.6 s one at a time and 3.9 s eight at a time (2 cores).
DOWNLOAD_WORKERS = 8
TIKTOK_TRAIN = ("136_00090", "136_00210", "136_00420")  # first, middle and last: the original's
SHA256 = {
    "images/136_00090.png": "57ca9e111597ade32a8ec436a01d5be93c294bdc68a37c010acf8a8720bb8205",
    "images/136_00120.png": "be97bee9cac10bdb9f223ad37fbc6bd1257506439326b215183269dc0f538134",
    "images/136_00150.png": "c4b67fe4497e1e5b1e38519828a82bd4b10e5afc7eb58b02642dbaaa775efa1e",
    "images/136_00180.png": "4826412d24fba639b525c9a6f91f72ab7ce24e778abf4bfdf65f9c9dbd03220b",
    "images/136_00210.png": "c5423dd559bbb58e039518170c56f7c1c9216e8d34621d1128738b95bf7058b4",
    "images/136_00300.png": "fe52dc1246142e065740b50db0d36067c5b662d16b2f9f0521b589c91f00b3b7",
    "images/136_00330.png": "20804fdd0f69d22d59753a95c1651d1527ca2043b2e1182cbc4848dc9d02c9f9",
    "images/136_00360.png": "3e718a64facac06b67524bb330eb8ef33f5ad988f1be7af9772f053fd6ff1d1b",
    "images/136_00390.png": "7fef8ba1e01956fde7ac4c4065666ac812098fd4dc7021f7b9ad0808dd5604ee",
    "images/136_00420.png": "55092d356c24c617bc4ef5009837d7621b30874901d8575ceca2eb9968568d0d",
    "masks/136_00090.png": "fea85091005630b39bc42be93c819cc8a7d9e75159ddd291a53f84afc3e3c3b4",
    "masks/136_00120.png": "74388a94cb35b62aa791e5c690194df04eeca06963484bd5eebf2ce03c1618be",
    "masks/136_00150.png": "d055e410dda883a996e32c05d91d2bdc3c0fd20d0f320b7da2dee1558b28ebb5",
    "masks/136_00180.png": "cb5ccbd3dc057189a36db9cf8074024608db711f920ada794493412607c58fa6",
    "masks/136_00210.png": "6bcadb4b4df7d2bd25f65435f71bdd8c667a7b64e730b9311ec57186dd9d674a",
    "masks/136_00300.png": "da95f26a42ff34b2728f975db8bf2d8bdee6176e0ff14a9dfd8c60eebba46f5a",
    "masks/136_00330.png": "2098bada6988403d6c8b9056ab61dff927e95ff8fde95902942a1690c3e26cdb",
    "masks/136_00360.png": "18f703dac586d8bb5cfecda2d4e7ed5be97437dbb17af88e04f925e22a98aa66",
    "masks/136_00390.png": "7ffddab2e5f0fca6514438ab864da951cabfc2f5dc86fae2e61817217db029f2",
    "masks/136_00420.png": "7d1fabd7ccf5d13feaa46323dd58abb277e2d0f4428d04cde1670920561a439b",
}


def cache_root():
    """The download cache: $NPCAE_CACHE if set, else ~/.cache/npcae."""
    root = os.environ.get("NPCAE_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "npcae").expanduser()


def default_dest():
    """$NPCAE_CACHE/tiktok-136 if NPCAE_CACHE is set, else ~/.cache/npcae/tiktok-136."""
    return cache_root() / "tiktok-136"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _cached_digest(path):
    """The SHA-256 of the file already at `path`, or None if there is none."""
    return _sha256(path.read_bytes()) if path.is_file() else None


def _discard(path):
    """Remove a file that failed its checksum; how that went, for the error message."""
    try:
        path.unlink(missing_ok=True)
        return "was removed"
    except OSError as exc:
        return f"could not be removed ({exc.strerror or exc}; delete it)"


def _download(url, timeout):
    """The bytes at `url`; any network or HTTP failure becomes a one-line DataError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        exc.close()     # its connection; the DataError may outlive it in another thread's future
        raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(f"could not download {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise DataError(f"could not download {url}: {exc}".splitlines()[0]) from None


def _downloads(urls, timeout, workers):
    """Yield the bytes at each of `urls` in order, or the DataError its download raised.

    Up to `workers` threads download at once (a set of hundreds of small files costs a
    connection each, so one at a time would wait on the network for most of the run), at most
    2 * workers files ahead of the caller, so memory holds a few files, never the set. Only the
    network is threaded: the caller verifies and writes. Closing the generator cancels the
    downloads not yet started and does not wait for the ones under way.
    """
    urls = iter(urls)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="npcae-download")
    try:
        pending = deque(pool.submit(_download, url, timeout) for url in itertools.islice(urls, 2 * workers))
        while pending:
            future = pending.popleft()
            for url in itertools.islice(urls, 1):
                pending.append(pool.submit(_download, url, timeout))
            try:
                yield future.result()
            except DataError as exc:
                yield exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def download_verified(dest, checksums, url_for, timeout=60.0, workers=DOWNLOAD_WORKERS):
    """Make sure dest/RELATIVE exists with the right SHA-256 for every RELATIVE in `checksums`.

    checksums: {relative path: SHA-256 hex}; url_for(relative) -> the URL to download it from.
    Files already present with the right checksum are not downloaded again (each is hashed);
    a file present with another checksum (damaged, or of another version) is downloaded again
    and verified like a missing one. A download that fails its checksum raises DataError
    naming the file and both checksums, and is not saved. A damaged file that cannot be
    replaced (the download fails) is removed, and the DataError says it failed its checksum
    before it says why the download failed. Files are checked and written in sorted order of
    their paths, so the error raised is the first file's in that order, whatever finished
    first; up to `workers` downloads run at once (_downloads).
    """
    wanted = []
    for relative, expected in sorted(checksums.items()):
        cached = _cached_digest(dest / relative)
        if cached != expected:
            wanted.append((relative, expected, cached, url_for(relative)))
    with contextlib.closing(_downloads([url for *_, url in wanted], timeout, workers)) as downloads:
        for (relative, expected, cached, url), data in zip(wanted, downloads):
            target = dest / relative
            if isinstance(data, DataError):
                if cached is None:
                    raise data
                # A damaged file must not pass for a verified one (opening a set only checks that
                # its files exist), so it goes even when no good copy can replace it now.
                raise DataError(f"existing file {target} failed its checksum (expected {expected[:12]}..., "
                                f"got {cached[:12]}...) and {_discard(target)}; downloading it again "
                                f"failed: {data}; fetch again when the download works") from None
            actual = _sha256(data)
            if actual != expected:
                also = (f"; the file there before failed its checksum too and {_discard(target)}"
                        if cached is not None else "")
                raise DataError(f"checksum mismatch for {target} downloaded from {url}: expected "
                                f"{expected[:12]}..., got {actual[:12]}...; not saved{also}")
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)        # replaces a damaged cached file in one rename
    return dest


def fetch_tiktok136(dest=None, base_url=None, timeout=60.0):
    """Make sure dest/images/NAME.png and dest/masks/NAME.png (20 files) exist and verify.

    dest: default default_dest(). base_url: default $NPCAE_TIKTOK_URL or BASE_URL; files are
    fetched from BASE/data/val_image/NAME.png and BASE/data/val_mask/NAME.png.
    Returns dest as a Path, ready for load_folder (see download_verified for the checks).
    """
    dest = Path(dest).expanduser() if dest is not None else default_dest()
    base = (base_url or os.environ.get("NPCAE_TIKTOK_URL") or BASE_URL).rstrip("/")

    def url_for(relative):
        folder, name = relative.split("/")
        return f"{base}/{REMOTE_FOLDERS[folder]}/{name}"

    return download_verified(dest, SHA256, url_for, timeout)
