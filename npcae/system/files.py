"""Files written whole or not at all, and folders proven writable before work starts.

Every file npcae writes (weights, checkpoints, figures, PNGs, downloads) goes through
`atomic_write`: a crash, Ctrl-C or full disk leaves the old file or the new one, never half.
"""
import os
import tempfile
from pathlib import Path

from ..errors import InputError


class FolderNotWritable(InputError):
    """An output folder that cannot be created or written to: a fault of the disk (read-only,
    full, a file in the way), exit status 4 as every other one, though found before any work."""
    exit_status = 4


def _umask():
    mask = os.umask(0)          # the only way to read it is to set it
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(file_object) on a temporary file beside `path`, then rename it into place.

    A crash or Ctrl-C leaves either the old file or the new one, never half of one. The file
    gets the permissions open() would have given it (mkstemp makes it private, 0600).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.filename is None:    # a failed write() names no file
            raise OSError(error.errno, error.strerror, path) from error
        raise


def atomic_write_bytes(path, data):
    """Write bytes through atomic_write."""
    atomic_write(path, lambda f: f.write(data))


def ensure_writable(folder):
    """Create `folder` if needed and prove a file can be written there (else FolderNotWritable)."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".npcae-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise FolderNotWritable(f"cannot write to output folder {folder}: "
                                f"{error.strerror or error}") from None
    return folder
