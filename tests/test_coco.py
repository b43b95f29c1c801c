"""COCO (npcae.data.coco): one category of a COCO instances file as binary masks. The masks
are pycocotools' own (checked pixel for pixel on the real images of ../shared/data/coco-tiny),
crowds included; train and val files pair as a run's data and held-out part; the reads match a
folder of the same pixels; and bad input is one DataError line naming the file."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from npcae.data import BatchLoader, CocoFrames, DataError, FolderFrames, open_frames, split_frames
from npcae.data.folder import open_image

# pycocotools 2.0.11 under NumPy 2, on every decode (npcae's own decodes silence it too).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def coco_api():
    """pycocotools' (COCO, mask): the reference. The test extra installs it, so missing it fails
    under CI (CI=true) and skips elsewhere; the test of its absence needs neither."""
    try:
        from pycocotools import mask
        from pycocotools.coco import COCO
    except ImportError as error:
        message = f"needs pycocotools (pip install -e \".[test]\"): {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must have it (CI=true)")
        pytest.skip(message)
    return COCO, mask


@pytest.fixture
def coco_dir(coco_api):
    return shared_data("coco-tiny", inside="annotations")


def spec(root, split):
    return f"coco:{root / 'annotations' / f'instances_{split}2017.json'}"


# -- the issue's "Done when": npcae's masks are pycocotools' masks -------------------------

@pytest.mark.parametrize("split, people, crowds", [("train", 40, 3), ("val", 49, 7)])
def test_every_person_mask_is_the_union_of_annToMask_over_the_image_crowds_included(
        coco_api, coco_dir, split, people, crowds):
    COCO = coco_api[0]
    path = coco_dir / "annotations" / f"instances_{split}2017.json"
    frames = CocoFrames(path, (32, 32), category="person")
    reference = COCO(str(path))
    ids = reference.getImgIds(catIds=[1])
    assert len(frames) == len(ids) == people
    by_name = {reference.imgs[i]["file_name"].rsplit(".", 1)[0]: i for i in ids}
    assert frames.names == sorted(by_name)
    seen_crowds = 0
    for name, image_id in by_name.items():
        info = reference.imgs[image_id]
        expected = np.zeros((info["height"], info["width"]), np.uint8)
        for ann in reference.loadAnns(reference.getAnnIds(imgIds=[image_id], catIds=[1], iscrowd=None)):
            expected |= reference.annToMask(ann)
            seen_crowds += ann["iscrowd"]
        mask = frames.native_mask(name)
        assert mask.dtype == np.uint8 and mask.shape == expected.shape, name
        assert np.array_equal(mask, expected), f"{split} {name}: {np.sum(mask != expected)} pixels differ"
    assert seen_crowds == crowds              # the crowds were among the annotations compared


def test_the_counts_names_and_notes_of_coco_tiny(coco_dir):
    train = open_frames(spec(coco_dir, "train"), (16, 16), category="person")
    val = open_frames(spec(coco_dir, "val"), (16, 16), category=1)            # by id
    assert isinstance(train, CocoFrames) and (len(train), len(val)) == (40, 49)
    assert train.category == {"supercategory": "person", "id": 1, "name": "person"}
    assert train.notes == ["instances_train2017.json: 40 of 80 images hold a 'person'; 3 crowd regions "
                           "count as foreground; the 40 others are left out (keep_empty=True keeps them)"]
    assert all(len(name) == 12 and name.isdigit() for name in train.names)     # the files' stems
    assert train.image_dir == coco_dir / "train2017"
    assert len(open_frames(spec(coco_dir, "val"), (16, 16), category="PERSON", keep_empty=True)) == 80
    assert len(open_frames(spec(coco_dir, "train"), (16, 16), category="1")) == 40  # --category 1


# -- a run's data and held-out part --------------------------------------------------------

def test_train_and_val_files_are_a_runs_data_and_held_out_part(coco_dir):
    frames = open_frames(spec(coco_dir, "train"), (48, 64), category="person")
    heldout = open_frames(spec(coco_dir, "val"), (48, 64), category="person")
    train, held = split_frames(frames, val_frames=heldout)
    assert (len(train), len(held), train.size, held.size) == (40, 49, (48, 64), (48, 64))
    x, y = next(BatchLoader(train, batch_size=4, seed=0).batches(0))
    assert x.shape == (4, 48, 64, 3) and y.shape == (4, 48, 64, 1)
    assert x.dtype == y.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert set(np.unique(y)) <= {0.0, 1.0} and y.any()          # every frame holds a person
    assert frames.caching and not open_frames(spec(coco_dir, "train"), (48, 64), cache_mb=0,
                                              category="person").caching


def test_frames_read_as_a_folder_of_the_same_pixels_reads(coco_dir, tmp_path):
    """Resized as FolderFrames resizes: BOX for the photo, BOX then > 0 for the mask."""
    frames = CocoFrames(coco_dir / "annotations" / "instances_val2017.json", (40, 56), category="person")
    names = frames.names[:2]
    part = frames.subset(names)
    photos = [np.asarray(open_image(part.image_dir / f"{name}.jpg")) for name in names]
    masks = [part.native_mask(name) for name in names]
    for name, photo, mask in zip(names, photos, masks):
        folder = tmp_path / name
        (folder / "images").mkdir(parents=True)
        (folder / "masks").mkdir()
        Image.fromarray(photo).save(folder / "images" / f"{name}.png")
        Image.fromarray(mask * np.uint8(255)).save(folder / "masks" / f"{name}.png")
        expected = FolderFrames(folder, (40, 56), cache_mb=0).read([0])
        got = part.read([names.index(name)])
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]), name


# -- a tiny COCO file of our own, for sizes and faults ---------------------------------------

def rle(mask):
    """A mask's uncompressed run-length encoding as COCO stores crowds (column-major runs)."""
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat[0] else []) + runs}


@pytest.fixture
def tiny(tmp_path, coco_api):
    """root/annotations/instances_mini2017.json and root/mini2017/{a,b,c}.png (6x8): a holds a
    person polygon and a person crowd, b only a dog, c a person in compressed RLE."""
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "mini2017").mkdir()
    rng = np.random.default_rng(0)
    for name in "abc":
        Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(root / "mini2017" / f"{name}.png")
    crowd = np.zeros((6, 8), np.uint8)
    crowd[4:6, 0:3] = 1
    block = np.zeros((6, 8), np.uint8, order="F")
    block[1:3, 5:8] = 1
    compressed = {"size": [6, 8], "counts": coco_api[1].encode(block)["counts"].decode()}   # a string
    data = {"images": [{"id": k + 1, "file_name": f"{name}.png", "height": 6, "width": 8}
                       for k, name in enumerate("abc")],
            "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"},
                           {"id": 17, "name": "cat"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                 "segmentation": [[1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]]},
                {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": rle(crowd)},
                {"id": 3, "image_id": 2, "category_id": 18, "iscrowd": 0,
                 "segmentation": [[0.0, 0.0, 3.0, 0.0, 3.0, 3.0]]},
                {"id": 4, "image_id": 3, "category_id": 1, "iscrowd": 0, "segmentation": compressed}]}
    path = root / "annotations" / "instances_mini2017.json"
    path.write_text(json.dumps(data))
    return path, data, crowd, block


def test_a_tiny_file_opens_at_its_own_size_with_crowds_and_compressed_runs(tiny, coco_api):
    COCO = coco_api[0]
    path, data, crowd, block = tiny
    frames = open_frames(f"coco:{path}", category="person")
    assert frames.names == ["a", "c"] and frames.size == (6, 8)
    reference = COCO(str(path))
    a = reference.annToMask(reference.anns[1]) | reference.annToMask(reference.anns[2])
    assert np.array_equal(frames.native_mask("a"), a) and (frames.native_mask("a") >= crowd).all()
    assert np.array_equal(frames.native_mask("c"), block)
    images, masks = frames.read([0, 1])
    assert np.array_equal(masks[..., 0], np.stack([a, block]))
    assert np.array_equal(images[1], np.asarray(Image.open(path.parents[1] / "mini2017" / "c.png")) / np.float32(255))
    kept = open_frames(f"coco:{path}", category="person", keep_empty=True)
    assert kept.names == ["a", "b", "c"] and not kept.read([1])[1].any()
    dogs = open_frames(f"coco:{path}", (3, 4), category="dog")
    assert dogs.names == ["b"] and dogs.read([0])[1].shape == (1, 3, 4, 1)


def message(call, *args, **kwargs):
    text = str(pytest.raises(DataError, call, *args, **kwargs).value)
    assert "\n" not in text, text
    return text


def rewrite(path, data):
    path.write_text(json.dumps(data))
    return f"coco:{path}"


def test_bad_files_and_requests_are_one_line_naming_the_file(tiny):
    path, data, _, _ = tiny
    good = f"coco:{path}"
    text = message(open_frames, f"coco:{path.parent / 'nope.json'}", category="person")
    assert text == f"COCO annotation file not found: {path.parent / 'nope.json'}"
    assert str(path.parent) in message(open_frames, f"coco:{path.parent}", category="person")
    assert "names no file" in message(open_frames, "coco:", category="person")
    path.write_text(json.dumps(data)[:-20])
    text = message(open_frames, good, category="person")
    assert text.startswith(f"{path}: is not valid JSON (line 1, column "), text
    assert message(open_frames, rewrite(path, [1]), category="person") == \
        f"{path}: is not a COCO instances file: it holds a JSON list, not an object"
    assert message(open_frames, rewrite(path, {**data, "annotations": None}), category="person") == \
        f"{path}: is not a COCO instances file: it has no 'annotations' list"
    rewrite(path, data)
    text = message(open_frames, good, category="persn")
    assert text == (f"{path}: has no category 'persn'; did you mean person? its categories are: "
                    "person, dog, cat"), text
    assert "choose one" in message(open_frames, good) and "person, dog, cat" in message(open_frames, good)
    assert message(open_frames, good, category="cat") == f"{path}: has no image holding a 'cat' (category 17)"
    assert "keep_empty" in message(open_frames, good, category="person", keep_empty="yes")
    assert "not palette" in message(open_frames, good, category="person", palette="x")
    assert "val-data" in message(open_frames, good, category="person", part=1)
    assert "pass a size" in message(open_frames, rewrite(path, {**data, "images": [
        data["images"][0], {**data["images"][1], "height": 7}, data["images"][2]]}), category="person",
        keep_empty=True)
    crowd = data["annotations"][1]
    bad = {**data, "annotations": [{**crowd, "segmentation": {**crowd["segmentation"], "size": [5, 8]}}]}
    assert "not the image's size [6, 8]" in message(open_frames, rewrite(path, bad), category="person")
    bad = {**data, "annotations": [{**crowd, "image_id": 99}]}
    assert message(open_frames, rewrite(path, bad), category="person") == \
        f"{path}: has a malformed annotation (id 2): its image_id 99 is not among the images"
    rewrite(path, data)
    (path.parents[1] / "mini2017" / "c.png").unlink()
    assert message(open_frames, good, category="person") == \
        f"image file {path.parents[1] / 'mini2017' / 'c.png'} named in {path} is missing"
    assert len(open_frames(good, category="dog")) == 1            # c is not needed for dogs
    (path.parents[1] / "mini2017" / "c.png").write_bytes(b"not a png")
    text = message(open_frames(good, category="person").read, [1])
    assert text.startswith(f"cannot read image file {path.parents[1] / 'mini2017' / 'c.png'}"), text
    for name in "abc":
        (path.parents[1] / "mini2017" / f"{name}.png").unlink(missing_ok=True)
    (path.parents[1] / "mini2017").rmdir()
    text = message(open_frames, good, category="person")
    assert text.startswith(f"no image folder {path.parents[1] / 'mini2017'} for {path}"), text


def test_without_pycocotools_a_coco_spec_names_the_extra(tmp_path):
    """The import is blocked in a fresh interpreter: npcae imports, and opening a coco: spec
    says how to install the extra, in one line (before the file is even read)."""
    path = tmp_path / "annotations" / "instances_train2017.json"
    code = ("import sys\n"
            "sys.modules['pycocotools'] = None\n"
            "from npcae.data import DataError, open_frames\n"
            "try:\n"
            "    open_frames(sys.argv[1], category='person')\n"
            "except DataError as error:\n"
            "    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code, f"coco:{path}"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reading COCO annotations needs pycocotools"), lines
    assert lines[0].endswith('pip install -e ".[coco]"')


def test_npcae_train_on_coco_persons_with_its_val_file_and_resume(coco_dir, tmp_path, capsys):
    """--data coco:... --val-data coco:... --category person: 40 training photos, 49 held out;
    the run stores the files whole, so it resumes from any folder; --category is required for
    COCO data and refused for any other."""
    from npcae.cli import main
    from test_cli import error_line
    common = ["--model", "unet", "--filters", "2,3", "--size", "32x32", "--no-progress"]
    train, val = spec(coco_dir, "train"), spec(coco_dir, "val")
    out = tmp_path / "run"
    assert main(["train", "--data", train, "--val-data", val, *common, "--epochs", "1",
                 "--out", str(out)]) == 2
    assert "--category is needed for COCO data" in error_line(capsys)
    assert main(["train", "--data", train, "--val-data", val, "--category", "person", *common,
                 "--epochs", "1", "--out", str(out)]) == 0
    assert "training on 40 frames" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    assert main(["train", "--data", "synthetic", "--category", "person", *common,
                 "--out", str(tmp_path / "other")]) == 2
    assert "--category is for COCO data" in error_line(capsys)


def test_keep_empty_and_images_choose_the_frames_and_their_folder(coco_dir, tmp_path, capsys):
    """--keep-empty keeps the 40 train images without a person (80 frames); --images reads the
    images from another folder (here a link to train2017/), one missing there is one line;
    both are refused for data that is not COCO."""
    from npcae.cli import main
    from npcae.train import settings
    from npcae.train.experiment import open_data
    from test_cli import error_line
    train, val = spec(coco_dir, "train"), spec(coco_dir, "val")

    def frames(**given):
        run = settings({"data": train, "val_data": val, "category": "person", "model": "unet",
                        "size": [16, 16], **given})
        return open_data(run)[0]
    assert len(frames(keep_empty=True)) == 80 and len(frames()) == 40
    elsewhere = tmp_path / "pictures"
    elsewhere.symlink_to(coco_dir / "train2017")
    moved = frames(images=str(elsewhere))
    assert len(moved) == 40 and moved.image_dir == elsewhere
    common = ["--model", "unet", "--size", "32x32", "--category", "person", "--val-data", val]
    assert main(["train", "--data", train, "--images", str(tmp_path), *common,
                 "--out", str(tmp_path / "c")]) == 2
    assert "000000262145.jpg named in" in error_line(capsys)
    assert main(["train", "--data", "synthetic", "--keep-empty", "--out", str(tmp_path / "d")]) == 2
    assert "--keep-empty is for COCO data" in error_line(capsys)


def test_crowd_ignore_marks_the_pixels_only_a_crowd_covers_and_the_tally_leaves_them_out(tiny, coco_api):
    from npcae.data.labels import IGNORE
    from npcae.tasks import BinaryMask
    path, data, crowd, block = tiny
    frames = CocoFrames(path, category="person", crowd="ignore")
    reference = coco_api[0]()
    reference.dataset = data
    reference.createIndex()
    polygon = reference.annToMask(data["annotations"][0])
    _, masks = frames.read([0])
    expected = np.where(polygon == 1, 1, np.where((crowd == 1) & (polygon == 0), IGNORE, 0))
    np.testing.assert_array_equal(masks[0, ..., 0], expected)
    # a prediction of "person" everywhere: only the polygon's pixels are true positives, and
    # the crowd's pixels count neither way
    tally = BinaryMask().tally().update(np.ones_like(masks), masks)
    assert tally.sums["tp"] == polygon.sum() and tally.sums["fp"] == (expected == 0).sum()
    assert sum(tally.sums.values()) == (expected != IGNORE).sum()
    with pytest.raises(DataError, match="crowd must be one of foreground, ignore"):
        CocoFrames(path, category="person", crowd="skip")


def test_evaluate_crowd_is_for_coco_data(tmp_path, capsys):
    from npcae.cli import main
    from npcae.models import create
    from test_cli import error_line
    weights = tmp_path / "weights.npz"
    create("cae", input_size=(32, 16), seed=0, filters=(2, 4, 8)).save(weights)
    assert main(["evaluate", "--weights", str(weights), "--crowd", "ignore"]) == 2
    assert "--crowd is for COCO data" in error_line(capsys)
