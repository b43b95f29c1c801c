"""Side-by-side composites as frames of class ids (data/composites.py): exact on synthetic
composites, numbered names in order, the 7 categories, real cityscapes-pix2pix files, and bad
folders named before any pixel is read."""
import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from npcae.data.composites import CompositeFrames
from npcae.data.frames import DataError
from npcae.data.palette import IGNORE, colourise, to_categories


def write_composites(folder, rng, count=3, height=8, width=6):
    folder.mkdir()
    truth = {}
    for number in (1, 2, 10)[:count]:
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        ids = rng.integers(0, 19, (height, width)).astype(np.uint8)
        ids[0, 0] = IGNORE
        composite = np.concatenate([photo, colourise(ids)], axis=1)
        Image.fromarray(composite).save(folder / f"{number}.png")
        truth[str(number)] = photo, ids
    return truth


def test_synthetic_composites_read_back_exactly(tmp_path, rng):
    truth = write_composites(tmp_path / "train", rng)
    frames = CompositeFrames(tmp_path / "train", size=(8, 6))
    assert frames.names == ["1", "2", "10"]                     # by number, not as text
    images, masks = frames.read(range(3))
    assert images.shape == (3, 8, 6, 3) and masks.shape == (3, 8, 6, 1)
    for k, name in enumerate(frames.names):
        photo, ids = truth[name]
        assert np.array_equal(masks[k, ..., 0], ids)
        np.testing.assert_allclose(images[k], photo / 255, atol=1e-6)
    sevens = CompositeFrames(tmp_path / "train", size=(8, 6), classes=7).read([0])[1][0, ..., 0]
    assert np.array_equal(sevens, to_categories(truth["1"][1]))
    small = CompositeFrames(tmp_path / "train", size=(4, 3)).read([0])[1]
    assert set(np.unique(small)) <= set(np.unique(truth["1"][1]))   # ids are never averaged


def test_bad_composites_are_named_before_training(tmp_path, rng):
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 7, 3), np.uint8)).save(folder / "3.png")
    with pytest.raises(DataError, match=r"3.png is 7 pixels wide"):
        CompositeFrames(folder)
    (folder / "3.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot read image file"):
        CompositeFrames(folder)
    write_composites(tmp_path / "good", rng, count=1)
    with pytest.raises(DataError, match="--classes 5 does not match"):
        CompositeFrames(tmp_path / "good", classes=5)
    with pytest.raises(DataError, match="no folder of composites"):
        CompositeFrames(tmp_path / "missing")
    with pytest.raises(DataError, match="at column 20"):      # a few files are read when made
        CompositeFrames(tmp_path / "good", size=(8, 6), split_at=20)


def test_real_composites_give_photos_and_cityscapes_ids():
    folder = shared_data("cityscapes-pix2pix", inside="val") / "val"
    frames = CompositeFrames(folder, cache_mb=0)
    assert len(frames) == 500 and frames.names[:3] == ["1", "2", "3"]
    images, masks = frames.read([0, 1, 2])
    assert images.shape == (3, 256, 256, 3) and masks.shape == (3, 256, 256, 1)
    labelled = masks[masks != IGNORE]
    assert labelled.max() <= 18 and (labelled == 0).mean() > 0.2     # road is a large class
