"""The synthetic dancer record: shapes, masks, determinism, and a save/load round trip."""
import numpy as np
import pytest

from npcae.data import SYNTHETIC_TRAIN, DataError, load_folder, save_record, split, synthetic_record


@pytest.fixture(scope="module")
def record():
    return synthetic_record()


def test_default_record_shapes_names_and_values(record):
    assert record.images.shape == (10, 128, 64, 3) and record.images.dtype == np.float32
    assert record.masks.shape == (10, 128, 64, 1) and record.masks.dtype == np.float32
    assert record.names == [f"synth_{k:02d}" for k in range(10)]
    assert set(np.unique(record.masks)) == {0.0, 1.0}
    assert 0 <= record.images.min() and record.images.max() <= 1
    np.testing.assert_array_equal(np.round(record.images * 255) / 255, record.images)  # 8-bit levels


def test_figure_covers_about_a_tenth_like_the_real_frames(record):
    fractions = record.masks.mean(axis=(1, 2, 3))
    assert np.all((fractions > 0.08) & (fractions < 0.15))
    # One upright figure: taller than wide, standing in the lower part of the frame.
    rows = np.nonzero(record.masks[0, :, :, 0].any(axis=1))[0]
    cols = np.nonzero(record.masks[0, :, :, 0].any(axis=0))[0]
    assert np.ptp(rows) > 1.5 * np.ptp(cols) and rows.max() > 0.8 * 128


def test_poses_change_across_frames(record):
    changed = [(record.masks[k] != record.masks[k + 1]).mean() for k in range(9)]
    assert min(changed) > 0.005
    assert not np.array_equal(record.masks[0], record.masks[5])


def test_figure_is_not_one_colour_threshold_away(record):
    # The best single-channel threshold must still misclassify a fair share of figure pixels.
    masks = record.masks[..., 0].astype(bool)
    best = 0.0
    for channel in range(3):
        values = record.images[..., channel]
        for t in np.linspace(0.05, 0.95, 19):
            for guess in (values > t, values < t):
                iou = (guess & masks).sum() / (guess | masks).sum()
                best = max(best, iou)
    assert best < 0.6


def test_deterministic_per_seed_and_any_size():
    a = synthetic_record(n_frames=3, size=(64, 32), seed=4)
    b = synthetic_record(n_frames=3, size=(64, 32), seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    c = synthetic_record(n_frames=3, size=(64, 32), seed=5)
    assert not np.array_equal(a.images, c.images)
    odd = synthetic_record(n_frames=2, size=(50, 37))
    assert odd.images.shape == (2, 50, 37, 3) and odd.masks.any()
    big = synthetic_record(n_frames=1, size=(256, 128))
    assert 0.08 < big.masks.mean() < 0.15
    with pytest.raises(DataError, match="two positive integers"):
        synthetic_record(size=(0, 10))
    with pytest.raises(DataError, match="n_frames"):
        synthetic_record(n_frames=0)


def test_default_split_spreads_over_the_sequence(record):
    train, held = split(record, SYNTHETIC_TRAIN)
    assert train.names == list(SYNTHETIC_TRAIN) and len(held) == 7


def test_save_then_load_folder_round_trips_exactly(record, tmp_path):
    small = record.subset(["synth_01", "synth_07"])
    folder = save_record(small, tmp_path / "synthetic")
    assert sorted(p.name for p in (folder / "masks").iterdir()) == ["synth_01.png", "synth_07.png"]
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]  # no temp files left
    loaded = load_folder(folder)
    assert loaded.names == small.names
    np.testing.assert_array_equal(loaded.images, small.images)
    np.testing.assert_array_equal(loaded.masks, small.masks)
