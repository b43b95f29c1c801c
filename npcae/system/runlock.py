"""One writer per run folder: a lock held while a run writes there, and the leftovers of a
killed one cleaned up.

    with RunLock("runs/demo"):      # raises RunFolderBusy naming the other process
        trainer.fit()

The lock is an flock on runs/demo/.npcae.lock, so the kernel drops it when its process dies,
however it dies (SIGKILL included): a killed run never leaves the folder locked. A run that
ends removes the file (a killed one leaves it, unlocked and harmless). Removing a lock file
races with a process that opened it just before: that process may then lock a file no longer
in the folder while a third creates a new one, so a lock counts only when the file locked is
still the one at the path (the same inode), else it is taken again.
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
        path = self.folder / LOCK_FILE
        while True:
            # A raw descriptor, not a buffered file: a pid that a full disk kept out must not
            # fail again when the file is closed.
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(self._fd)
                raise RunFolderBusy(f"{self.folder} is in use by another npcae process (pid "
                                    f"{other}); wait for it to end, or choose another --out") from None
            if _same_file(self._fd, path):
                break
            os.close(self._fd)                  # locked a file its owner removed: again
        try:                 # the pid only names us to a refused run: a full disk may keep it out
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        remove_stale_temporaries(self.folder)
        return self

    def __exit__(self, *exc):
        try:
            (self.folder / LOCK_FILE).unlink(missing_ok=True)     # still ours: removed locked
        except OSError:
            pass                                # a folder gone read-only keeps a harmless file
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        return False


def _same_file(fd, path):
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def remove_stale_temporaries(folder):
    """Delete the ".<name>.<random>.tmp" files atomic_write leaves when its process is killed
    mid-write (only safe while holding the folder's lock); returns their names."""
    stale = [p for p in Path(folder).iterdir()
             if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return [p.name for p in stale]
