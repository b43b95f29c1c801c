"""Copy-paste (npcae/data/paste.py through the Augmenter's `paste`): people only added, never
removed; pasted pixels are another photo's, at a height in the range asked for; off draws no
number; deterministic and resumable; refused for class ids and for a probability outside 0..1."""
import numpy as np
import pytest

from npcae.data import Augmenter, DataError
from npcae.data.paste import paste_people

STILL = dict(flip=False, shift=0, scale=0, brightness=0, contrast=0)


def people(n=6, h=40, w=32):
    """Photo j is one flat colour, j / n in every channel, with a 20 x 8 person (mask 1) placed
    at a different spot in each photo."""
    images = np.repeat(np.arange(n, dtype=np.float32)[:, None, None, None] / n, 3, axis=3)
    images = np.broadcast_to(images, (n, h, w, 3)).copy()
    masks = np.zeros((n, h, w, 1), np.float32)
    for j in range(n):
        masks[j, 2 + 2 * j:22 + 2 * j, 3 + 3 * j:11 + 3 * j] = 1
    return images, masks


def test_pasting_adds_other_photos_people_at_the_heights_asked_for():
    images, masks = people()
    out_images, out_masks = paste_people(images.copy(), masks.copy(), np.random.default_rng(0),
                                         probability=1.0, heights=(0.25, 0.5))
    assert set(np.unique(out_masks)) == {0.0, 1.0}
    assert np.all(out_masks >= masks)                              # people are only added
    for i in range(len(images)):
        changed = np.any(out_images[i] != images[i], axis=-1)
        assert changed.any()                                       # probability 1: pasted
        assert np.all(out_masks[i, changed, 0] == 1)               # only where the mask is now 1
        colours = set(np.unique(np.round(out_images[i][changed][:, 0] * 6, 4)))
        assert colours <= set(float(j) for j in range(6)) - {float(i)}   # another photo's
        rows = np.flatnonzero((out_masks[i, :, :, 0] > masks[i, :, :, 0]).any(axis=1))
        assert rows.size <= 0.5 * 40 * 2 + 1                        # at most two pastes of <= 20 rows


def test_a_pasted_person_keeps_the_donors_shape_and_a_height_in_range():
    images, masks = people(n=2)
    masks[1] = 0                                                   # photo 0 is the only donor
    out_images, out_masks = paste_people(images.copy(), masks.copy(), np.random.default_rng(1),
                                         probability=1.0, heights=(0.3, 0.3))
    added = out_masks[1, :, :, 0] > 0
    rows, cols = np.flatnonzero(added.any(axis=1)), np.flatnonzero(added.any(axis=0))
    assert 0.3 * 40 - 1 <= rows.size <= 2 * 0.3 * 40               # 12 rows (two may overlap)
    assert cols.size >= round(8 * 12 / 20)                          # the 20 x 8 aspect kept
    np.testing.assert_array_equal(out_masks[0], masks[0])          # photo 1 had no one to give


def test_probability_zero_changes_nothing_and_off_draws_nothing(rng):
    images, masks = people()
    out = paste_people(images.copy(), masks.copy(), np.random.default_rng(0), probability=0.0)
    np.testing.assert_array_equal(out[0], images)
    np.testing.assert_array_equal(out[1], masks)
    plain = Augmenter(seed=3, paste=0.0)
    assert "paste" not in str(plain.state())


def test_the_augmenter_pastes_deterministically_and_resumes_mid_stream():
    images, masks = people(n=8)
    first, second = Augmenter(seed=5, paste=0.5, **STILL), Augmenter(seed=5, paste=0.5, **STILL)
    a, b = first(images, masks), second(images, masks)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], masks)                         # something was pasted
    saved = first.state()
    expected = first(images, masks)
    resumed = Augmenter(seed=99, paste=0.5, **STILL)
    resumed.set_state(saved)
    again = resumed(images, masks)
    np.testing.assert_array_equal(again[0], expected[0])
    np.testing.assert_array_equal(again[1], expected[1])


@pytest.mark.parametrize("amounts, message", [(dict(paste=1.5), "paste must be a probability"),
                                              (dict(paste=0.5, mask_fill=255), "binary masks")])
def test_bad_paste_settings_are_refused(amounts, message):
    with pytest.raises(DataError, match=message):
        Augmenter(seed=0, **amounts)


def test_a_run_of_class_ids_refuses_paste_before_its_folder_exists():
    from npcae.train.run_settings import SettingsError, settings
    with pytest.raises(SettingsError, match="binary masks"):
        settings({"data": "synthetic-streets", "augment_args": {"paste": 0.5}})
    assert settings({"data": "synthetic-people", "model": "unet",
                     "augment_args": {"paste": 0.5}})["augment_args"]["paste"] == 0.5
