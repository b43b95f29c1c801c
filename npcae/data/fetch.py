"""Downloads verified against SHA-256 checksums, and the checksum files the named sets ship.

download_verified() fetches a data set's files, checking each against its SHA-256 before it is
renamed into place, so a folder only ever holds complete, verified files. read_checksums()
reads a set's list of them, a `sha256sum` file beside its module (npcae/data/sets/NAME.sha256).
The sets' own URLs and file lists are in their modules (npcae.data.sets).
"""
import contextlib
import hashlib
import http.client
import itertools
import os
import urllib.error
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from ..system.files import atomic_write_bytes
from .frames import DataError

# Downloads at once. Each file is a new connection (urllib keeps none alive), so a set of many
# small files waits mostly on round trips: human-seg-290's 580 files from a local server that
# answers after 50 ms take 30.6 s one at a time and 3.9 s eight at a time (2 cores).
DOWNLOAD_WORKERS = 8


def cache_root():
    """The download cache: $NPCAE_CACHE if set, else ~/.cache/npcae."""
    root = os.environ.get("NPCAE_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "npcae").expanduser()


def parse_checksums(text):
    """{relative path: SHA-256} from `sha256sum` lines: "<digest>  <relative path>" (blank ones skipped)."""
    lines = (line.split() for line in text.splitlines() if line.strip())
    return {relative: digest for digest, relative in lines}


def read_checksums(package, filename):
    """The checksums in the file `filename` shipped in `package` (setup.cfg's package_data)."""
    return parse_checksums(resources.files(package).joinpath(filename).read_text(encoding="ascii"))


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
    """The bytes at `url`; any network or HTTP failure becomes a one-line DataError.

    The bytes are held in memory until they are verified and written in one rename, so a
    download that fails part way leaves no file behind."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        exc.close()     # its connection; the DataError may outlive it in another thread's future
        raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(f"could not download {url}: {exc.reason}") from None
    except http.client.IncompleteRead as exc:      # the server closed before Content-Length
        got = len(exc.partial)
        of = f" of {got + exc.expected}" if isinstance(exc.expected, int) else ""
        raise DataError(f"could not download {url}: the connection closed after {got}{of} "
                        f"bytes") from None
    except http.client.HTTPException as exc:       # a reply that is not HTTP (BadStatusLine ...)
        raise DataError(f"could not download {url}: {type(exc).__name__}: {exc}".splitlines()[0]
                        ) from None
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
