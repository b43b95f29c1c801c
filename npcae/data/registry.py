"""Named data sets in one list: open one by name (or a folder by its path), fetch its files.

    open_frames("tiktok-136", (256, 128))   # a registered name or a folder path -> Frames
    dataset("tiktok-136").split             # {"train_names": TIKTOK_TRAIN}: the default split
    fetch("tiktok-136")                     # download and verify into dataset_dir("tiktok-136")

Each set is described in its own module of npcae.data.sets, which builds its Dataset
(npcae.data.dataset: where its folder is, how missing files are fetched); this module lists
them. The sets: synthetic (10 rendered frames of one dancer), tiktok-136 (the original's 10 real
frames), human-seg-290 (290 photos of people) and synthetic-people (440 rendered photos of
people), cityscapes-pix2pix (pix2pix's 2,975 + 500 Cityscapes composites) and synthetic-streets
(rendered street scenes in the same palette): the last two hold class ids. A new data set is one
module in npcae/data/sets/ and one line in SETS, or one register(...) call from anywhere.

Checksums are verified when files are downloaded: fetch() (`npcae fetch-data NAME`) hashes every
file and downloads the missing or damaged ones; opening a set only checks that its files exist
(Dataset.locate says why).
"""
from pathlib import Path

from ..system.files import ensure_writable
from .coco import coco_path, open_coco
from .composites import CompositeFrames
from .dataset import Dataset
from .folder_frames import FolderFrames
from .frames import DEFAULT_CACHE_MB, DataError
from .sets import cityscapes_pix2pix, human_seg_290, synthetic, synthetic_people, synthetic_streets, tiktok_136

# In the order `npcae` lists them and error messages name them.
SETS = (synthetic, tiktok_136, human_seg_290, synthetic_people, cityscapes_pix2pix, synthetic_streets)
DATASETS = {module.DATASET.name: module.DATASET for module in SETS}


def register(entry):
    """Add (or replace) a named data set; returns it."""
    DATASETS[entry.name] = entry
    return entry


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
    """Frames of a registered data set name, a folder path or a COCO file ("coco:PATH"),
    resized to size (H, W) if given.

    synthetic renders an in-memory Record (default 128x64); folder sets are FolderFrames, read
    on demand and kept under `cache_mb` (see FolderFrames). Without a size a registered folder
    set opens at its default size (human-seg-290: 128x128), and a folder path keeps its native
    size, which all its frames must share (DataError otherwise). With multi-class options
    (palette, classes) a folder without images/ and masks/ is a folder of composites
    (CompositeFrames, default 256x256). "coco:PATH/annotations/instances_train2017.json"
    opens one category of a COCO file (CocoFrames; options category, keep_empty, image_dir).
    """
    if isinstance(spec, str) and spec in DATASETS:
        return DATASETS[spec].open(size, cache_mb, part, **options)
    if coco_path(spec) is not None:
        return open_coco(spec, size, cache_mb, part, **options)
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
