"""Every data format through every entry point that reads it, under the same families of damage.

    FORMATS       a valid folder of each format npcae reads (binary masks, class-id masks,
                  pix2pix composites) and the options that say what it holds
    DAMAGES       what a careless copy, a full disk or a wrong file does to one of its files:
                  empty folder, empty file, truncated, not an image, a folder in a file's place
    ENTRY_POINTS  train, evaluate, predict, inspect, run on the damaged folder

Each case must end in one line naming the damaged file (inspect: a report naming it, exit 1,
or one line, exit 2), the documented exit status, no traceback, and no half-written file. (A
file whose header reads but whose pixels are cut short is found when its batch comes: the run
stops there, its position saved, as the README says.) A
new format, damage or entry point joins every case by one entry below. (Moved, edited and
interrupted runs are the resume tests of test_faults.py; bad arrays through the Python layers
and losses are test_api_faults.py; downloads, test_fetch.py.)
"""

import numpy as np
import pytest
from PIL import Image

from npcae.cli import main
from npcae.data import save_record, synthetic_record
from npcae.data.palette import CITYSCAPES_19
from npcae.data.sets.synthetic_streets import render_street, street_composite
from npcae.models import create
from npcae.tasks import BinaryMask, MultiClassMask

SIZE = ["--size", "32x32"]


# -- formats: (write a valid folder, the files a damage may hit, options, task of its model) ---
def binary_folder(folder):
    save_record(synthetic_record(n_frames=6, size=(32, 32), seed=3), folder)
    return sorted((folder / "images").iterdir()), []


def class_id_folder(folder):
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(6):
        street = render_street(2, i, (32, 32))
        Image.fromarray(street.image).save(folder / "images" / f"s{i}.png")
        Image.fromarray(street.ids).save(folder / "masks" / f"s{i}.png")
    return sorted((folder / "images").iterdir()), ["--classes", "19"]


def composite_folder(folder):
    folder.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(street_composite(render_street(1, i, (32, 32)))).save(folder / f"{i + 1}.png")
    return sorted(folder.iterdir()), ["--classes", "19"]


FORMATS = {"images+masks": (binary_folder, "binary"), "class ids": (class_id_folder, "multiclass"),
           "composites": (composite_folder, "multiclass")}


# -- damages: (damage(files) -> the name a message must give, or None for the folder) ---------
def emptied(files):
    for path in files:
        path.unlink()
    return None


def empty_file(files):
    files[1].write_bytes(b"")
    return files[1].name


def truncated(files):
    data = files[1].read_bytes()
    files[1].write_bytes(data[:len(data) // 2])
    return files[1].name


def not_an_image(files):
    files[1].write_text("these are not the pixels you are looking for\n")
    return files[1].name


def folder_in_place(files):
    files[1].unlink()
    files[1].mkdir()
    return files[1].name


def float_pixels(files):
    """A mode npcae cannot read as 8-bit colour: 32-bit float (TIFF, under the file's name)."""
    Image.fromarray(np.full((32, 64), 0.5, np.float32), "F").save(files[1], format="TIFF")
    return files[1].name


DAMAGES = {"empty folder": emptied, "float pixels": float_pixels, "empty file": empty_file, "truncated": truncated,
           "not an image": not_an_image, "a folder in a file's place": folder_in_place}


# -- entry points: run(folder, options, weights, tmp) -> exit status -------------------------
def train(folder, options, weights, tmp):
    return main(["train", "--data", str(folder), *options, *SIZE, "--epochs", "1",
                 "--val-split", "0.3", "--no-progress", "--out", str(tmp / "run")])


def evaluate(folder, options, weights, tmp):
    return main(["evaluate", "--weights", str(weights), "--data", str(folder), *SIZE])


def predict(folder, options, weights, tmp):
    photos = folder / "images" if (folder / "images").is_dir() else folder
    return main(["predict", "--weights", str(weights), str(photos), "--out", str(tmp / "out")])


def inspect(folder, options, weights, tmp):
    return main(["inspect", str(folder), "--no-progress", *options])


ENTRY_POINTS = {"train": (train, {2}), "evaluate": (evaluate, {2}), "predict": (predict, {2}),
                "inspect": (inspect, {1, 2})}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny untrained model of each task, saved as a trained one is (its task in the config)."""
    folder = tmp_path_factory.mktemp("weights")
    binary = create("cae", input_size=(32, 32), seed=0, filters=(2, 2, 2))
    binary.config["task"] = BinaryMask().config
    binary.save(folder / "binary.npz")
    classes = create("unet", input_size=(32, 32), seed=0, filters=(2, 4), classes=19)
    classes.config["task"] = MultiClassMask(list(CITYSCAPES_19.names),
                                            CITYSCAPES_19.colours.tolist()).config
    classes.save(folder / "multiclass.npz")
    return folder


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("form", list(FORMATS))
def test_damaged_data_is_named_in_one_line(tmp_path, capsys, weights, form, damage, entry):
    write, task = FORMATS[form]
    folder = tmp_path / "data"
    files, options = write(folder)
    culprit = DAMAGES[damage](files)
    run, statuses = ENTRY_POINTS[entry]
    status = run(folder, options, weights / f"{task}.npz", tmp_path)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert status in statuses, (status, out, err)
    named = culprit or folder.name
    if status == 1:                                     # inspect's report of the problems
        assert named in out, out
    else:        # one error line, last (train may have said what it started, and saved it)
        errors = [line for line in err.splitlines() if line.startswith("npcae: error: ")]
        assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
        assert named in errors[0], errors[0]
    left = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not left, left
