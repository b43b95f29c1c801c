"""Data for background removal: human-seg-290's fixed split and default size; synthetic-people's
determinism, exact masks and variety."""
import numpy as np
import pytest

from npcae.data import (DATASETS, HUMAN_SEG_HELDOUT, HUMAN_SEG_TRAIN, DataError, FolderFrames, SyntheticPeople,
                        dataset_defaults, open_frames, render_people, split_frames)
from npcae.data.sets import synthetic_people
from npcae.data.sets.human_seg_290 import NAMES

NO_NETWORK = "http://127.0.0.1:9/nothing-listens-here"


# -- human-seg-290 ----------------------------------------------------------------------------

def test_human_seg_split_is_250_train_and_every_7th_photo_held_out():
    assert len(NAMES) == 290 and NAMES[0] == "1" and NAMES[-1] == "300"
    assert HUMAN_SEG_HELDOUT == tuple(str(n) for n in range(7, 281, 7))
    assert len(HUMAN_SEG_TRAIN) == 250 and len(set(HUMAN_SEG_TRAIN)) == 250
    assert set(HUMAN_SEG_TRAIN).isdisjoint(HUMAN_SEG_HELDOUT)
    assert set(HUMAN_SEG_TRAIN) | set(HUMAN_SEG_HELDOUT) == set(NAMES)
    entry = DATASETS["human-seg-290"]
    assert entry.split == {"train_names": HUMAN_SEG_TRAIN} and entry.size == (128, 128)
    assert len(entry.checksums) == 580


def test_human_seg_opens_under_NPCAE_DATA_at_128x128_and_splits_alike_for_every_seed(
        human_seg_dir, monkeypatch):
    monkeypatch.setenv("NPCAE_DATA", str(human_seg_dir.parent))
    monkeypatch.setenv("NPCAE_HUMAN_SEG_URL", NO_NETWORK)      # every file is there: none is fetched
    frames = open_frames("human-seg-290", cache_mb=0)
    assert isinstance(frames, FolderFrames) and frames.size == (128, 128) and len(frames) == 290
    assert frames.root == human_seg_dir and "198 of 290 masks" in frames.notes[0]
    splits = [split_frames(frames, seed=seed, **dataset_defaults("human-seg-290").split) for seed in (0, 1, 7)]
    for train, held in splits:
        assert sorted(held.names, key=int) == list(HUMAN_SEG_HELDOUT) and len(train) == 250
        assert set(train.names).isdisjoint(held.names)
    images, masks = splits[0][1].read([0])          # held-out photo "105" (names sort as text)
    assert splits[0][1].names[0] == "105" and images.shape == (1, 128, 128, 3)
    assert 0.05 < masks.mean() < 0.95 and set(np.unique(masks)) == {0.0, 1.0}


# -- synthetic-people -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenes():
    """40 frames at 48x40 (H x W)."""
    return [render_people(0, k, (48, 40)) for k in range(40)]


def test_the_mask_is_the_drawings_coverage_and_outside_it_the_image_is_the_background(scenes):
    for k, frame in enumerate(scenes[:16]):
        empty = render_people(0, k, (48, 40), people=False)
        assert frame.image.shape == (48, 40, 3) and frame.image.dtype == np.uint8
        np.testing.assert_array_equal(frame.mask, frame.alpha >= 0.5, err_msg=f"frame {k}")
        outside = frame.alpha == 0
        np.testing.assert_array_equal(frame.image[outside], empty.image[outside], err_msg=f"frame {k}")
        assert frame.mask.any() and not empty.mask.any() and empty.background == frame.background
        person = frame.mask.astype(bool)
        changed = (frame.image != empty.image).any(axis=-1)
        assert changed[person].mean() > 0.9, f"frame {k}: the people are drawn where the mask says"


def test_frames_are_the_same_scene_at_any_size():
    for k in range(4):
        big, small = render_people(0, k, (128, 96)).alpha, render_people(0, k, (64, 48)).alpha
        # The coverage at 64x48 is the 128x96 coverage averaged over 2x2 blocks, up to the
        # antialiasing ramp at the edges.
        pooled = big.reshape(64, 2, 48, 2).mean(axis=(1, 3))
        assert np.abs(pooled - small).mean() < 0.01, k


def test_deterministic_by_seed_and_frame_whatever_the_order_of_reading():
    frames = SyntheticPeople(n_frames=6, size=(32, 24), seed=3, cache_mb=0)
    assert frames.names == [f"people_00{k}" for k in range(6)] and frames.size == (32, 24) and not frames.caching
    images, masks = frames.read([4, 1])
    again = SyntheticPeople(n_frames=6, size=(32, 24), seed=3, cache_mb=0)
    np.testing.assert_array_equal(again.read([1])[0][0], images[1])
    part = again.subset(["people_004"])
    np.testing.assert_array_equal(part.read([0])[1][0], masks[0])
    np.testing.assert_array_equal(images[0], render_people(3, 4, (32, 24)).image / np.float32(255))
    other = SyntheticPeople(n_frames=6, size=(32, 24), seed=4, cache_mb=0).read([4, 1])[0]
    assert not np.array_equal(other, images)
    assert set(np.unique(masks)) == {0.0, 1.0} and masks.shape == (2, 32, 24, 1)
    with pytest.raises(DataError, match="n_frames"):
        SyntheticPeople(n_frames=0)


def test_scenes_vary_in_people_backgrounds_sizes_and_light(scenes):
    frames = scenes
    assert {f.n_people for f in frames} == {1, 2}
    assert {f.background for f in frames} == set(synthetic_people.BACKGROUNDS)
    covered = np.array([f.mask.mean() for f in frames])
    assert covered.min() < 0.1 and covered.max() > 0.6           # a small full figure, a close-up
    brightness = np.array([f.image.mean() / 255 for f in frames])
    assert brightness.std() > 0.05 and brightness.min() < 0.3 and brightness.max() > 0.5
    # No single colour channel threshold finds the people.
    images = np.stack([f.image for f in frames]).astype(np.float32) / 255
    masks = np.stack([f.mask for f in frames]).astype(bool)
    best = max(((guess & masks).sum() / (guess | masks).sum())
               for c in range(3) for t in np.linspace(0.05, 0.95, 19)
               for guess in (images[..., c] > t, images[..., c] < t))
    assert best < 0.4


def test_synthetic_people_is_registered_with_its_split_and_renders_each_frame_once(monkeypatch):
    entry = DATASETS["synthetic-people"]
    assert entry.size == (128, 128) and entry.split == {"n_train": 400} and entry.download is None
    calls = []
    render = synthetic_people.render_people
    monkeypatch.setattr(synthetic_people, "render_people", lambda *a, **k: calls.append(a) or render(*a, **k))
    frames = open_frames("synthetic-people", (16, 16), cache_mb=1)     # 440 frames of 1 KB fit in 1 MB
    assert isinstance(frames, SyntheticPeople) and len(frames) == 440 and frames.caching
    train, held = split_frames(frames, seed=5, **dataset_defaults("synthetic-people").split)
    assert train.names[-1] == "people_399" and held.names == [f"people_{k}" for k in range(400, 440)]
    first = held.read([0, 39])
    second = held.read([0, 39])
    assert calls == [(0, 400, (16, 16)), (0, 439, (16, 16))]       # the second read rendered nothing
    np.testing.assert_array_equal(first[0], second[0])
    assert open_frames("synthetic-people").size == (128, 128)
