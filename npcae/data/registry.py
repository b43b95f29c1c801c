"""Named data sets in one place: where each is found or how it is made, its defaults, checksums.

    open_frames("tiktok-136", (256, 128))   # a registered name or a folder path -> Frames
    dataset("tiktok-136").split             # {"train_names": TIKTOK_TRAIN}: the default split
    fetch("tiktok-136")                     # download and verify into dataset_dir("tiktok-136")

A data set's folder is $NPCAE_DATA/<name> if NPCAE_DATA is set, else the download cache
($NPCAE_CACHE/<name>, default ~/.cache/npcae/<name>). A set may name its own environment
variable, looked at first (tiktok-136: NPCAE_TIKTOK_DIR, which must then exist).

Checksums are verified when files are downloaded: fetch() (`npcae fetch-data NAME`) hashes every
file and downloads the missing or damaged ones. Opening a set does not hash: 20 files would be
cheap, but the next data sets have thousands, and every training start would pay for it. It
checks instead that each listed file exists (one stat a file) and fetches what is missing;
downloads are written atomically, so a file that exists is a file that was verified. A folder
named by an environment variable is used as found. A new data set is one register(...) call.

The sets: synthetic (10 rendered frames of one dancer), tiktok-136 (the original's 10 real
frames), human-seg-290 (290 photos of people, npcae.data.human_seg) and synthetic-people (440
rendered photos of people, npcae.data.synthetic_people), cityscapes-pix2pix (pix2pix's 2,975 + 500
Cityscapes composites, npcae.data.cityscapes) and synthetic-streets (rendered street scenes in
the same palette, npcae.data.synthetic_streets): the last two hold class ids.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .fetch import BASE_URL, SHA256, TIKTOK_TRAIN, cache_root, fetch_tiktok136
from .folder_frames import DEFAULT_CACHE_MB, FolderFrames
from .frames import DataError, check_size
from .human_seg import BASE_URL as HUMAN_SEG_URL
from .human_seg import HUMAN_SEG_SIZE, HUMAN_SEG_TRAIN, fetch_human_seg290
from .human_seg import SHA256 as HUMAN_SEG_SHA256
from .synthetic import SYNTHETIC_TRAIN, synthetic_record
from .synthetic_people import PEOPLE_SIZE, PEOPLE_TRAIN, SyntheticPeople
from .synthetic_streets import STREET_TRAIN, STREETS_RUN, SyntheticStreets
from .cityscapes import CITYSCAPES_RUN, CITYSCAPES_SHA256, CITYSCAPES_URL, fetch_cityscapes
from .composites import CompositeFrames
from ..system.files import ensure_writable


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


DATASETS = {}


def register(entry):
    """Add (or replace) a named data set; returns it."""
    DATASETS[entry.name] = entry
    return entry


def data_root():
    """The folder holding every data set: $NPCAE_DATA if set, else the download cache."""
    root = os.environ.get("NPCAE_DATA")
    return Path(root).expanduser() if root else cache_root()


def dataset(name):
    """The registered Dataset called `name`; DataError naming the registered ones otherwise."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; registered: {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_dir(name):
    """The folder where data set `name` is looked for and downloaded to."""
    return dataset(name).folder()


def dataset_defaults(spec):
    """The registered entry of `spec`, or for a folder path a bare entry: no default size or split."""
    return DATASETS.get(spec) or Dataset(name=str(spec))


def open_frames(spec, size=None, cache_mb=DEFAULT_CACHE_MB, part=None, **options):
    """Frames of a registered data set name or a folder path, resized to size (H, W) if given.

    synthetic renders an in-memory Record (default 128x64); folder sets are FolderFrames, read
    on demand and kept under `cache_mb` (see FolderFrames). Without a size a registered folder
    set opens at its default size (human-seg-290: 256x256), and a folder path keeps its native
    size, which all its frames must share (DataError otherwise). With multi-class options
    (palette, classes) a folder without images/ and masks/ is a folder of composites
    (CompositeFrames, default 256x256).
    """
    if isinstance(spec, str) and spec in DATASETS:
        return DATASETS[spec].open(size, cache_mb, part, **options)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise DataError(f"data set or folder not found: {spec} (registered data sets: {', '.join(DATASETS)})")
    if options and not (path / "images").is_dir() and not (path / "masks").is_dir():
        return CompositeFrames(path, size or (256, 256), cache_mb=cache_mb, **options)
    return FolderFrames(path, size, cache_mb=cache_mb, **options)


def fetch(name, dest=None):
    """Download data set `name` into `dest` (default dataset_dir(name)), verifying every file.

    Files already there are hashed and kept if they match. Returns the folder as a Path.
    """
    entry = dataset(name)
    if entry.download is None:
        raise DataError(f"data set {name} has nothing to download")
    dest = Path(dest).expanduser() if dest is not None else entry.folder()
    if dest.exists() and not dest.is_dir():
        raise DataError(f"{dest} is a file; give a folder to download {name} into")
    ensure_writable(dest)
    entry.download(dest)
    return dest


register(Dataset(
    name="synthetic", description="10 rendered frames of a dancer in a room, exact masks (offline)",
    size=(256, 128), split={"train_names": SYNTHETIC_TRAIN},
    render=lambda size, cache_mb, **_: synthetic_record(size=size) if size else synthetic_record()))
register(Dataset(
    name="tiktok-136", description="10 real frames of TikTok video 136, the original's data",
    size=(1024, 512), split={"train_names": TIKTOK_TRAIN}, checksums=SHA256, source=BASE_URL,
    download=lambda dest: fetch_tiktok136(dest), env="NPCAE_TIKTOK_DIR"))
register(Dataset(
    name="human-seg-290", description="290 photos of people with person masks; 250 train, 40 held out "
    "(every 7th: 7, 14, ..., 280)", size=HUMAN_SEG_SIZE, split={"train_names": HUMAN_SEG_TRAIN},
    checksums=HUMAN_SEG_SHA256, source=HUMAN_SEG_URL, download=lambda dest: fetch_human_seg290(dest)))
register(Dataset(
    name="synthetic-people", description="440 rendered photos of one or two people on varied backgrounds, "
    "exact masks (offline); the first 400 train, the last 40 are held out", size=PEOPLE_SIZE,
    split={"n_train": PEOPLE_TRAIN}, render=lambda size, cache_mb, **_: SyntheticPeople(size=size or PEOPLE_SIZE,
                                                                                  cache_mb=cache_mb)))
register(Dataset(
    name="cityscapes-pix2pix", description="pix2pix's Cityscapes composites (photo | colour labels, "
    "512x256 JPEG): 2,975 train, the 500 val held out; 19 classes (or --classes 7)", size=(256, 256),
    task="multiclass", reader=CompositeFrames, parts=("train", "val"), checksums=CITYSCAPES_SHA256,
    source=CITYSCAPES_URL, download=lambda dest: fetch_cityscapes(dest), run_defaults=CITYSCAPES_RUN))
register(Dataset(
    name="synthetic-streets", description="rendered street scenes with exact Cityscapes class ids "
    "(8 of the 19 classes, offline); the first 270 train, the last 30 are held out",
    size=(256, 256), task="multiclass", split={"n_train": STREET_TRAIN},
    render=lambda size, cache_mb, **options: SyntheticStreets(size=size or (256, 256), cache_mb=cache_mb,
                                                              **options),
    run_defaults=STREETS_RUN))
