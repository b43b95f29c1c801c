"""One writer per run folder: a lock held while a run writes there, and the leftovers of a
killed one cleaned up.

    with RunLock("runs/demo"):      # raises RunFolderBusy naming the other process
        trainer.fit()

The lock is an flock on runs/demo/.npcae.lock, so the kernel drops it when its process dies,
however it dies (SIGKILL included): a killed run never leaves the folder locked.
"""
import fcntl
import os
from pathlib import Path

from ..errors import NpcaeError

LOCK_FILE = ".npcae.lock"


class RunFolderBusy(NpcaeError, RuntimeError):
    """Another process is writing to this run folder."""


class RunLock:
    def __init__(self, folder):
        self.folder = Path(folder)
        self._fd = None

    def __enter__(self):
        # A raw descriptor, not a buffered file: a pid that a full disk kept out must not fail
        # again when the file is closed.
        self._fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise RunFolderBusy(f"{self.folder} is in use by another npcae process (pid {other}); "
                                "wait for it to end, or choose another --out") from None
        try:                 # the pid only names us to a refused run: a full disk may keep it out
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        remove_stale_temporaries(self.folder)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        return False


def remove_stale_temporaries(folder):
    """Delete the ".<name>.<random>.tmp" files atomic_write leaves when its process is killed
    mid-write (only safe while holding the folder's lock); returns their names."""
    stale = [p for p in Path(folder).iterdir()
             if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return [p.name for p in stale]
