"""synthetic-streets (data/sets/synthetic_streets.py): deterministic scenes, the eight classes, and
composites that read back to the exact ids through CompositeFrames."""
import numpy as np
import pytest
from PIL import Image

from npcae.data.composites import CompositeFrames
from npcae.data.frames import DataError
from npcae.data.sets.synthetic_streets import SyntheticStreets, render_street, street_composite

CLASSES = {0, 1, 2, 5, 8, 10, 11, 13}   # road, sidewalk, building, pole, vegetation, sky,
#                                          person, car


def test_scenes_are_deterministic_and_hold_the_eight_classes():
    first = render_street(0, 3, (64, 96))
    again = render_street(0, 3, (64, 96))
    assert np.array_equal(first.image, again.image) and np.array_equal(first.ids, again.ids)
    assert not np.array_equal(first.ids, render_street(0, 4, (64, 96)).ids)
    seen = set()
    for index in range(20):
        seen |= set(np.unique(render_street(0, index, (64, 64)).ids).tolist())
    assert seen == CLASSES


def test_composites_read_back_to_the_exact_ids(tmp_path):
    folder = tmp_path / "streets"
    folder.mkdir()
    frames = [render_street(1, k, (48, 64)) for k in range(3)]
    for k, frame in enumerate(frames):
        Image.fromarray(street_composite(frame)).save(folder / f"{k + 1}.png")
    images, masks = CompositeFrames(folder, size=(48, 64)).read(range(3))
    for k, frame in enumerate(frames):
        assert np.array_equal(masks[k, ..., 0], frame.ids)
        assert np.array_equal((images[k] * 255).round().astype(np.uint8), frame.image)


def test_the_frame_set_reads_ids_and_refuses_a_bad_count():
    streets = SyntheticStreets(n_frames=5, size=(32, 32))
    assert streets.names[:2] == ["street_000", "street_001"]
    images, masks = streets.read([0, 4])
    assert images.shape == (2, 32, 32, 3) and set(np.unique(masks)) <= CLASSES
    with pytest.raises(DataError, match="positive integer"):
        SyntheticStreets(n_frames=0)
