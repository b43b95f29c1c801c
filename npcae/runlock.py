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

LOCK_FILE = ".npcae.lock"


class RunFolderBusy(RuntimeError):
    """Another process is writing to this run folder."""


class RunLock:
    def __init__(self, folder):
        self.folder = Path(folder)
        self._file = None

    def __enter__(self):
        self._file = open(self.folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            other = self._file.read().strip() or "unknown"
            self._file.close()
            raise RunFolderBusy(f"{self.folder} is in use by another npcae process (pid {other}); "
                                "wait for it to end, or choose another --out") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        remove_stale_temporaries(self.folder)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        return False


def remove_stale_temporaries(folder):
    """Delete the ".<name>.<random>.tmp" files atomic_write leaves when its process is killed
    mid-write (only safe while holding the folder's lock); returns their names."""
    stale = [p for p in Path(folder).iterdir()
             if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return [p.name for p in stale]
