"""Copy-paste (npcae/data/paste.py through the Augmenter's `paste`): people only added, never
removed, and only their pixels; at the height asked for, the donor's shape kept; off draws no
number; deterministic and resumable; refused for class ids, image targets and a probability
outside 0..1."""
import numpy as np
import pytest

from npcae.data import Augmenter, DataError
from npcae.data import paste as paste_module
from npcae.data.paste import paste_people

STILL = dict(flip=False, shift=0, scale=0, brightness=0, contrast=0)


def people(n=6, h=40, w=32):
    """Photo j: background grey 0.9, a disc-shaped person (mask 1) of its own colour j / 10 at a
    different spot in each photo, so that a pasted pixel names its donor and a background pixel
    pasted by mistake would show as 0.9."""
    images = np.full((n, h, w, 3), 0.9, np.float32)
    masks = np.zeros((n, h, w, 1), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for j in range(n):
        disc = (yy - 12 - 2 * j) ** 2 + (xx - 8 - 2 * j) ** 2 <= 7 ** 2
        images[j][disc], masks[j][disc] = j / 10, 1
    return images, masks


def eroded(mask):
    """The pixels of a 2-D boolean mask whose 8 neighbours are in it too."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.all([padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)


def test_pasting_adds_only_other_photos_people(monkeypatch):
    monkeypatch.setattr(paste_module, "PASTES_PER_PHOTO", 1)       # no paste over a paste's edge
    images, masks = people()
    out_images, out_masks = paste_people(images.copy(), masks.copy(), np.random.default_rng(0),
                                         probability=1.0, heights=(0.4, 0.5))
    assert set(np.unique(out_masks)) == {0.0, 1.0}
    assert np.all(out_masks >= masks)                              # people are only added
    for i in range(len(images)):
        changed = np.any(out_images[i] != images[i], axis=-1)
        added = (out_masks[i, :, :, 0] > masks[i, :, :, 0])
        assert added.any()                                         # probability 1: pasted
        np.testing.assert_array_equal(added, changed & (masks[i, :, :, 0] == 0))
        assert np.all(out_masks[i, changed, 0] == 1)               # pasted pixels are person
        # Two pixels inside a pasted person the colour is a donor's own; nearer its edge
        # bilinear sampling blends in the donor's background.
        inner = eroded(eroded(changed))                            # (over its own person too)
        assert inner.any()
        colours = np.round(out_images[i][inner][:, 0] * 10, 3)
        assert set(colours) <= {float(j) for j in range(6)} - {float(i)}   # another photo's person


def test_a_pasted_person_keeps_the_donors_shape_at_the_height_drawn(monkeypatch):
    monkeypatch.setattr(paste_module, "PASTES_PER_PHOTO", 1)
    images, masks = people(n=2)
    masks[:], images[:] = 0, 0.9
    masks[0, 5:20, 4:14], images[0, 5:20, 4:14] = 1, 0.3          # a 15 x 10 person, the only donor
    rng = np.random.default_rng(1)
    draws = np.random.default_rng(1).random((1, 2, paste_module.DRAWS))[0, 1]
    out_images, out_masks = paste_people(images.copy(), masks.copy(), rng, probability=1.0,
                                         heights=(0.3, 0.3))
    added = out_masks[1, :, :, 0] > 0
    rows, cols = np.flatnonzero(added.any(axis=1)), np.flatnonzero(added.any(axis=0))
    assert rows.size == 12 and cols.size == 8                      # 15 x 10 -> 12 x 8
    assert rows[0] == int(draws[3] * (40 - 12 + 1)) and cols[0] == int(draws[4] * (32 - 8 + 1))
    np.testing.assert_allclose(out_images[1][added], 0.3, atol=1e-6)
    np.testing.assert_array_equal(out_masks[0], masks[0])          # photo 1 had no one to give


def test_a_wide_group_is_scaled_to_fit_not_squeezed():
    images, masks = people(n=2, h=40, w=32)
    masks[0] = 0
    masks[0, 10:14, :] = 1                                          # 4 x 32 people, a row of them
    masks[1] = 0
    out = paste_people(images.copy(), masks.copy(), np.random.default_rng(0), probability=1.0,
                       heights=(0.5, 0.5))[1]
    added = out[1, :, :, 0] > 0
    assert np.flatnonzero(added.any(axis=0)).size == 32            # the width fits the photo
    assert np.flatnonzero(added.any(axis=1)).size in (4, 8)         # at the scale that fits: 1 (twice)


def test_without_paste_the_stream_is_as_before_and_a_pasting_stream_resumes():
    images, masks = people(n=8)
    plain = Augmenter(seed=3)
    plain(images, masks)
    reference = np.random.default_rng(3)
    reference.random((8, 6))
    assert plain.state() == reference.bit_generator.state          # one (N, 6) draw, nothing else
    assert plain.paste_rng.bit_generator.state == np.random.default_rng([3, 2]).bit_generator.state
    first, second = Augmenter(seed=5, paste=0.5, **STILL), Augmenter(seed=5, paste=0.5, **STILL)
    assert set(first.state()) == {"geometry", "degrade", "paste"}
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


def test_a_state_without_a_paste_stream_is_refused_by_a_pasting_augmenter():
    degrading = Augmenter(seed=0, blur=1.0)
    Augmenter(seed=1, blur=1.0).set_state(degrading.state())       # as before paste existed
    for state in (degrading.state(), Augmenter(seed=0).state()):
        with pytest.raises(DataError, match="no copy-paste stream"):
            Augmenter(seed=0, paste=0.5).set_state(state)


def test_probability_zero_changes_nothing():
    images, masks = people()
    out = paste_people(images.copy(), masks.copy(), np.random.default_rng(0), probability=0.0)
    np.testing.assert_array_equal(out[0], images)
    np.testing.assert_array_equal(out[1], masks)


@pytest.mark.parametrize("amounts, message", [(dict(paste=1.5), "paste must be a probability"),
                                              (dict(paste=0.5, mask_fill=255), "binary masks")])
def test_bad_paste_settings_are_refused(amounts, message):
    with pytest.raises(DataError, match=message):
        Augmenter(seed=0, **amounts)


def test_runs_without_binary_masks_refuse_paste_before_their_folder_exists():
    from npcae.train.run_settings import SettingsError, settings
    with pytest.raises(SettingsError, match="multiclass target has none"):
        settings({"data": "synthetic-streets", "augment_args": {"paste": 0.5}})
    with pytest.raises(SettingsError, match="image target has none"):
        settings({"data": "synthetic", "task": "image", "augment_args": {"paste": 0.5}})
    assert settings({"data": "synthetic-people", "model": "unet",
                     "augment_args": {"paste": 0.5}})["augment_args"]["paste"] == 0.5
    with pytest.raises(ValueError, match="one binary mask per photo"):
        paste_people(np.zeros((2, 4, 4, 3), np.float32), np.zeros((2, 4, 4, 3), np.float32),
                     np.random.default_rng(0), 1.0)
