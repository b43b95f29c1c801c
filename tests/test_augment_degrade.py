"""The Augmenter's degradations (blur, noise, JPEG): off by default and then not drawing a
single number (a run's stream is what it was); each does what it says to the image and leaves
the mask alone; deterministic and resumable; bad amounts are one DataError."""
import numpy as np
import pytest

from npcae.data import Augmenter, DataError


def batch(rng, n=8):
    images = rng.random((n, 24, 20, 3), dtype=np.float32)
    images[:, 8:16, 6:14] = 1.0                          # an edge, for blur and JPEG to soften
    masks = (rng.random((n, 24, 20, 1)) > 0.5).astype(np.float32)
    return images, masks


def test_without_degradations_the_stream_and_its_state_are_as_before(rng):
    images, masks = batch(rng)
    plain = Augmenter(seed=3)
    assert not plain.degrades and "geometry" not in plain.state()
    plain(images, masks)
    reference = np.random.default_rng(3)                 # what Augmenter(3) drew before blur existed:
    reference.random((8, 6))                             # one (N, 6) draw a batch, nothing else
    assert plain.state() == reference.bit_generator.state


@pytest.mark.parametrize("amounts", [dict(blur=2.0), dict(noise=0.1), dict(jpeg=10)])
def test_each_degradation_changes_about_half_the_images_and_no_mask(amounts, rng):
    images, masks = batch(rng, n=16)
    still = dict(flip=False, shift=0, scale=0, brightness=0, contrast=0)
    out_images, out_masks = Augmenter(seed=0, **still, **amounts)(images, masks)
    np.testing.assert_array_equal(out_masks, masks)
    changed = [not np.allclose(a, b, atol=1e-6) for a, b in zip(out_images, images)]
    assert 3 <= sum(changed) <= 13
    assert out_images.dtype == np.float32 and 0 <= out_images.min() and out_images.max() <= 1
    if "blur" in amounts:                                # a blur lowers the pixel-to-pixel change
        k = changed.index(True)
        assert np.abs(np.diff(out_images[k], axis=1)).mean() < np.abs(np.diff(images[k], axis=1)).mean()


def test_degradations_are_deterministic_and_resume_mid_stream(rng):
    images, masks = batch(rng)
    amounts = dict(blur=1.5, noise=0.05, jpeg=20)
    first, second = Augmenter(seed=5, **amounts), Augmenter(seed=5, **amounts)
    np.testing.assert_array_equal(first(images, masks)[0], second(images, masks)[0])
    saved = first.state()
    expected = first(images, masks)[0]
    resumed = Augmenter(seed=99, **amounts)
    resumed.set_state(saved)
    np.testing.assert_array_equal(resumed(images, masks)[0], expected)


@pytest.mark.parametrize("amounts, message", [(dict(blur=9), "blur must be"), (dict(noise=1.5), "noise must be"),
                                              (dict(jpeg=2), "jpeg must be")])
def test_bad_amounts_are_refused(amounts, message):
    with pytest.raises(DataError, match=message):
        Augmenter(seed=0, **amounts)
