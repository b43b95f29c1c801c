"""Disk space held back for the checkpoint, so that a run on a filling disk can still save its
position when the disk is full.

A checkpoint is written to a temporary file and renamed over the old one, so writing it needs
room for a whole second copy. When the disk fills up (another process's files, or our own plots
and CSVs), the run would lose every epoch since its last checkpoint. So the run keeps a file
of zeros the size of a checkpoint beside it; when a write fails for want of space, the file
is deleted and the checkpoint written into the room it leaves.

    reserve = DiskReserve("runs/demo/.checkpoint.npz.reserve")
    reserve.hold(25_000_000)            # after each checkpoint: keep that much set aside
    reserve.write_with(save)            # ENOSPC/EDQUOT: free the reserve, then save once more
    reserve.drop()                      # the run has ended: give the space back
"""
import contextlib
import errno
import os

# What write() and friends fail with when the disk (or the user's quota) is full.
FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error):
    return isinstance(error, OSError) and error.errno in FULL


class DiskReserve:
    def __init__(self, path):
        self.path = os.fspath(path)

    def held(self):
        """Bytes set aside now (0 without a reserve file)."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def hold(self, nbytes):
        """Make the reserve at least `nbytes` long; False (and no reserve) if the disk has no
        room for it. Allocated for real (posix_fallocate), not a sparse file: a sparse file
        would free nothing when deleted."""
        if self.held() >= nbytes:
            return True
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                _allocate(fd, nbytes)
            finally:
                os.close(fd)
            return True
        except OSError as error:
            if not is_disk_full(error):
                raise
            self.drop()                     # a partial reserve would promise room it cannot give
            return False

    def drop(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def write_with(self, write):
        """Call write(); if the disk is full, free the reserve and call it once more."""
        try:
            return write()
        except OSError as error:
            if not (is_disk_full(error) and self.held()):
                raise
        self.drop()
        return write()


def _allocate(fd, nbytes):
    """Blocks for the first nbytes of fd: posix_fallocate where the system and the file system
    have it (Linux ext4, xfs, tmpfs), else zeros written out."""
    allocate = getattr(os, "posix_fallocate", None)          # macOS has none
    if allocate is not None:
        try:
            return allocate(fd, 0, nbytes)
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    zeros, done = bytes(1 << 20), 0
    os.lseek(fd, 0, os.SEEK_SET)
    while done < nbytes:
        done += os.write(fd, zeros[:nbytes - done])

