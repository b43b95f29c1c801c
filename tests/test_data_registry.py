"""The data set registry: entries, the data root, opening by name or path, fetching what is missing;
and the layout of npcae/data that keeps it one list of one module per set."""
import ast
import configparser
import shutil
from pathlib import Path

import numpy as np
import pytest

import npcae.data
from npcae.data import (DATASETS, DEFAULT_TRAIN, SYNTHETIC_TRAIN, TIKTOK_TRAIN, DataError, Dataset,
                        FolderFrames, Record, data_root, dataset, dataset_defaults, dataset_dir, fetch,
                        load_dataset, load_folder, open_frames, save_record, split_frames,
                        synthetic_record, tiktok136_dir)
from npcae.data.registry import SETS
from npcae.data.sets.human_seg_290 import HUMAN_SEG_TRAIN
from npcae.data.sets.tiktok_136 import SHA256

NO_NETWORK = "http://127.0.0.1:9/nothing-listens-here"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No data location from the environment leaks in; any download would fail."""
    for name in ("NPCAE_DATA", "NPCAE_CACHE", "NPCAE_TIKTOK_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPCAE_TIKTOK_URL", NO_NETWORK)
    monkeypatch.setenv("NPCAE_HUMAN_SEG_URL", NO_NETWORK)


def test_the_registered_sets_and_their_defaults():
    assert list(DATASETS) == ["synthetic", "tiktok-136", "human-seg-290", "synthetic-people",
                              "cityscapes-pix2pix", "synthetic-streets"]
    assert dataset("cityscapes-pix2pix").parts == ("train", "val")
    assert dataset("cityscapes-pix2pix").task == dataset("synthetic-streets").task == "multiclass"
    assert len(dataset("cityscapes-pix2pix").checksums) == 3475
    assert dataset("tiktok-136").size == (1024, 512) and dataset("synthetic").size == (256, 128)
    assert dataset("tiktok-136").split == {"train_names": TIKTOK_TRAIN}
    assert dataset("synthetic").split == {"train_names": SYNTHETIC_TRAIN}
    assert dataset("tiktok-136").checksums == SHA256 and dataset("synthetic").checksums is None
    assert DEFAULT_TRAIN == {"synthetic": SYNTHETIC_TRAIN, "tiktok-136": TIKTOK_TRAIN,
                             "human-seg-290": HUMAN_SEG_TRAIN}
    assert "synthetic, tiktok-136" in str(pytest.raises(DataError, dataset, "cityscapes").value)
    bare = dataset_defaults("some/folder")
    assert bare.size is None and bare.split == {} and dataset_defaults("synthetic") is DATASETS["synthetic"]


def test_one_data_root(monkeypatch, tmp_path):
    assert data_root() == Path.home() / ".cache" / "npcae"
    monkeypatch.setenv("NPCAE_CACHE", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" and dataset_dir("tiktok-136") == tmp_path / "cache" / "tiktok-136"
    monkeypatch.setenv("NPCAE_DATA", str(tmp_path / "data"))
    assert data_root() == tmp_path / "data" and dataset_dir("synthetic") == tmp_path / "data" / "synthetic"
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tmp_path / "mine"))
    assert dataset_dir("tiktok-136") == tmp_path / "mine"  # tiktok-136's own variable comes first


def test_open_by_name_or_folder(tmp_path):
    record = open_frames("synthetic", (32, 16))
    assert isinstance(record, Record) and record.size == (32, 16) and len(record) == 10
    assert open_frames("synthetic").size == (128, 64)
    save_record(record.subset(["synth_01", "synth_03"]), tmp_path / "set")
    frames = open_frames(str(tmp_path / "set"), cache_mb=0)
    assert isinstance(frames, FolderFrames) and frames.names == ["synth_01", "synth_03"] and not frames.caching
    message = str(pytest.raises(DataError, open_frames, str(tmp_path / "nope")).value)
    assert "not found" in message and "nope" in message and "tiktok-136" in message


def test_tiktok136_under_NPCAE_DATA_opens_without_hashing_or_downloading(monkeypatch, tiktok_dir):
    monkeypatch.setenv("NPCAE_DATA", str(tiktok_dir.parent))  # downloads would fail: none happen
    frames = open_frames("tiktok-136", (64, 32))
    assert isinstance(frames, FolderFrames) and frames.root == tiktok_dir and len(frames) == 10
    np.testing.assert_array_equal(load_dataset("tiktok-136", (64, 32)).images, frames.read(range(10))[0])
    assert tiktok136_dir() == tiktok_dir
    train, held = split_frames(frames, **dataset_defaults("tiktok-136").split)
    assert train.names == list(TIKTOK_TRAIN) and len(held) == 7


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """A registered folder set of two frames whose 'download' copies them from a source folder."""
    source = save_record(synthetic_record(2, (8, 4)), tmp_path / "source")
    checksums = {f"{sub}/synth_0{k}.png": "not checked here" for sub in ("images", "masks") for k in (0, 1)}
    downloads = []

    def download(dest):
        downloads.append(dest)
        shutil.copytree(source, dest, dirs_exist_ok=True)

    entry = Dataset(name="toy", size=(8, 4), split={"n_train": 1}, checksums=checksums, download=download)
    monkeypatch.setitem(DATASETS, "toy", entry)
    monkeypatch.setenv("NPCAE_DATA", str(tmp_path / "root"))
    return entry, downloads, tmp_path / "root" / "toy"


def test_a_set_with_missing_files_is_fetched_first(toy):
    entry, downloads, folder = toy
    frames = open_frames("toy")
    assert downloads == [folder] and frames.names == ["synth_00", "synth_01"]
    open_frames("toy")
    assert len(downloads) == 1  # every listed file exists: nothing fetched, nothing hashed
    (folder / "masks" / "synth_01.png").unlink()
    open_frames("toy")
    assert len(downloads) == 2
    assert fetch("toy", folder.parent / "elsewhere") == folder.parent / "elsewhere"
    assert downloads[-1] == folder.parent / "elsewhere"
    assert fetch("toy") == folder and downloads[-1] == folder


def test_a_set_that_cannot_be_fetched_says_where_it_was_looked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("NPCAE_DATA", str(tmp_path))            # and NPCAE_HUMAN_SEG_URL has no server
    message = str(pytest.raises(DataError, open_frames, "human-seg-290").value)
    assert message.startswith(f"data set human-seg-290 is not complete in {tmp_path / 'human-seg-290'} "
                              "(580 files missing) and fetching it failed: could not download "), message
    assert message.endswith("or set NPCAE_DATA to a folder holding human-seg-290/") and "\n" not in message


def test_a_missing_set_without_a_download_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(DATASETS, "local", Dataset(name="local"))
    monkeypatch.setenv("NPCAE_DATA", str(tmp_path))
    message = str(pytest.raises(DataError, open_frames, "local").value)
    assert str(tmp_path / "local") in message and "no download" in message and "\n" not in message
    assert "nothing to download" in str(pytest.raises(DataError, fetch, "synthetic").value)
    assert "unknown data set" in str(pytest.raises(DataError, fetch, "nope").value)


def test_NPCAE_TIKTOK_DIR_must_exist_and_is_never_downloaded_into(monkeypatch, tmp_path, tiktok_dir):
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tmp_path / "missing"))
    assert "NPCAE_TIKTOK_DIR" in str(pytest.raises(DataError, open_frames, "tiktok-136").value)
    assert not (tmp_path / "missing").exists()
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tiktok_dir))
    assert load_folder(tiktok_dir, (32, 16)).names == open_frames("tiktok-136", (32, 16)).names


# -- the folder's design: one module per named set, nothing private shared ---------------------

DATA = Path(npcae.data.__file__).parent


def test_each_named_set_is_one_module_of_data_sets_named_after_it():
    assert [module.DATASET.name.replace("-", "_") for module in SETS] == \
        [module.__name__.rpartition(".")[2] for module in SETS]
    assert list(DATASETS) == [module.DATASET.name for module in SETS]
    modules = {path.stem for path in (DATA / "sets").glob("*.py")} - {"__init__"}
    assert modules == {module.__name__.rpartition(".")[2] for module in SETS}
    for entry in DATASETS.values():     # a downloaded set's checksums are its file beside its module
        if entry.checksums is not None:
            assert (DATA / "sets" / f"{entry.name.replace('-', '_')}.sha256").is_file(), entry.name


def test_the_checksum_files_ship_with_the_package():
    config = configparser.ConfigParser()
    config.read(DATA.parents[1] / "setup.cfg")
    assert config["options.package_data"]["npcae.data.sets"].split() == ["*.sha256"]


@pytest.mark.parametrize("path", sorted(DATA.rglob("*.py")), ids=lambda path: path.relative_to(DATA).as_posix())
def test_no_module_of_npcae_data_imports_a_private_name_or_imports_inside_a_function(path):
    tree = ast.parse(path.read_text(), str(path))
    private = [f"line {node.lineno}: {alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for alias in node.names if alias.name.startswith("_")]
    nested = [f"line {node.lineno}" for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not private, f"{path.name} imports private names: {private}"
    assert not nested, f"{path.name} imports inside a function (a hidden cycle?): {nested}"
