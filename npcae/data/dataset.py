"""Dataset: one named data set, where its files are found (or how it is made), and its defaults.

    entry = Dataset(name="toy", size=(64, 32), checksums={...}, download=fetch_toy)
    entry.folder()          # where its files are, or go: $NPCAE_DATA/toy, else the download cache
    entry.open((64, 32))    # its Frames, fetching the missing files first

Each named set builds its Dataset in its own module of npcae.data.sets, and npcae.data.registry
lists them. A set's folder is $NPCAE_DATA/<name> if NPCAE_DATA is set, else the download cache
($NPCAE_CACHE/<name>, default ~/.cache/npcae/<name>); a set may name its own environment
variable, looked at first (tiktok-136: NPCAE_TIKTOK_DIR, which must then exist).

Opening a set does not hash its files: 20 files would be cheap, but the larger sets have
thousands, and every training start would pay for it. It checks instead that each listed file
exists (one stat a file) and fetches what is missing; downloads are written atomically
(npcae.data.fetch), so a file that exists is a file that was verified. A folder named by an
environment variable is used as found.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .fetch import cache_root
from .folder_frames import FolderFrames
from .frames import DEFAULT_CACHE_MB, DataError, check_size


def data_root():
    """The folder holding every data set: $NPCAE_DATA if set, else the download cache."""
    root = os.environ.get("NPCAE_DATA")
    return Path(root).expanduser() if root else cache_root()


@dataclass(frozen=True)
class Dataset:
    """One named data set. A folder set has images/ and masks/ on disk; `render` makes one in memory."""

    name: str
    description: str = ""
    size: Optional[tuple] = None        # the (H, W) to train at by default; None: it must be given
    split: dict = field(default_factory=dict)   # split_frames arguments of the default split
    render: Optional[Callable] = None   # render(size or None, cache_mb) -> Frames, for a set made in memory
    checksums: Optional[dict] = None    # {relative path: SHA-256} of every file of a folder set
    source: Optional[str] = None        # where its files are downloaded from
    download: Optional[Callable] = None  # download(dest): fetch and verify every file into dest
    env: Optional[str] = None           # an environment variable naming its folder, looked at first
    task: str = "binary"                # what its masks hold: 0/1 ("binary") or class ids ("multiclass")
    palette: Optional[object] = None    # a multi-class set's label colours (a palette.Palette)
    reader: Optional[Callable] = None   # reader(folder, size, cache_mb, **options) -> Frames of a folder set (default FolderFrames)
    parts: Optional[tuple] = None       # (training subfolder, held-out subfolder): a split made by its publisher
    run_defaults: dict = field(default_factory=dict)   # run settings it changes when they are not given

    def folder(self):
        """Where its files are (or go): $env if set, else data_root() / name."""
        if self.env and os.environ.get(self.env):
            return Path(os.environ[self.env]).expanduser()
        return data_root() / self.name

    def locate(self):
        """The folder of a folder set, fetched first if files are missing; DataError if it cannot be."""
        path = self.folder()
        if self.env and os.environ.get(self.env):
            if not path.is_dir():
                raise DataError(f"{self.env} points to a missing folder: {os.environ[self.env]}")
            return path
        if self.checksums:
            missing = [rel for rel in sorted(self.checksums) if not (path / rel).is_file()]
        else:
            missing = [] if path.is_dir() else ["images/"]
        if missing and self.download is None:
            raise DataError(f"data set {self.name} not found: {path / missing[0]} is missing and it has "
                            f"no download (put its images/ and masks/ in {path}, or set NPCAE_DATA)")
        if missing:
            try:
                self.download(path)
            except DataError as exc:
                raise DataError(f"data set {self.name} is not complete in {path} ({len(missing)} files missing) "
                                f"and fetching it failed: {exc}; put its images/ and masks/ there, or set "
                                f"NPCAE_DATA to a folder holding {self.name}/") from None
        return path

    def open(self, size=None, cache_mb=DEFAULT_CACHE_MB, part=None, **options):
        """Its Frames at `size` (H, W): rendered ones by render(size, cache_mb, **options) (size
        None: the renderer's own default), a folder's by its reader (default FolderFrames; size
        None: the set's default size, else its native size). A set with `parts` opens one of
        them: part 0 trains, part 1 is held out. options: a multi-class set's palette, classes."""
        size = check_size(size)
        if self.render is not None:
            return self.render(size, cache_mb, **options)
        folder = self.locate()
        if self.parts is not None:
            folder = folder / self.parts[part or 0]
        reader = self.reader or FolderFrames
        return reader(folder, size or self.size, cache_mb=cache_mb, **options)
