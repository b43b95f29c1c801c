"""BatchLoader: full and mini-batches, seeded per-epoch shuffles, lazy reads, and exact resume."""
import json

import numpy as np
import pytest

from npcae.data import Augmenter, BatchLoader, DataError, Record


def numbered(n=7, h=6, w=4):
    """A Record whose frame k has every image pixel k / 255 and a distinct mask."""
    images = np.repeat(np.arange(n, dtype=np.float32)[:, None, None, None] / 255, h * w * 3).reshape(n, h, w, 3)
    masks = np.zeros((n, h, w, 1), np.float32)
    for k in range(n):
        masks[k, k % h, :, 0] = 1
    return Record(images, masks, [f"f{k}" for k in range(n)])


def ids(x):
    return [int(round(v * 255)) for v in x[:, 0, 0, 0]]


class CountingFrames:
    """Frames that record which indices were read, to see when reading happens."""

    def __init__(self, frames):
        self.frames, self.reads = frames, []
        self.names, self.size = frames.names, frames.size

    def __len__(self):
        return len(self.frames)

    def read(self, indices):
        self.reads.append(list(indices))
        return self.frames.read(indices)


@pytest.mark.parametrize("batch_size", [None, 7, 100])
def test_one_batch_keeps_the_frames_order(batch_size):
    frames = numbered()
    loader = BatchLoader(frames, batch_size, shuffle=True, seed=5)
    assert loader.steps_per_epoch == 1 and loader.batch_size == 7
    for epoch in range(3):
        (x, y), = list(loader.batches(epoch))
        np.testing.assert_array_equal(x, frames.images)
        np.testing.assert_array_equal(y, frames.masks)


def test_shuffled_epochs_visit_every_frame_once_in_a_seeded_order():
    loader = BatchLoader(numbered(), batch_size=3, seed=2)
    assert loader.steps_per_epoch == 3
    orders = []
    for epoch in range(4):
        batches = list(loader.batches(epoch))
        assert [len(x) for x, _ in batches] == [3, 3, 1]
        order = [k for x, _ in batches for k in ids(x)]
        assert sorted(order) == list(range(7))
        for x, y in batches:  # masks travel with their images
            for image, mask in zip(x, y):
                assert mask[ids(image[None])[0] % 6, 0, 0] == 1
        orders.append(order)
    assert len({tuple(o) for o in orders}) == 4
    assert orders[0] == list(np.random.default_rng([2, 0]).permutation(7))
    again = BatchLoader(numbered(), batch_size=3, seed=2)
    assert [k for x, _ in again.batches(3) for k in ids(x)] == orders[3]  # no state needed
    other = BatchLoader(numbered(), batch_size=3, seed=3)
    assert [k for x, _ in other.batches(0) for k in ids(x)] != orders[0]
    plain = BatchLoader(numbered(), batch_size=3, shuffle=False)
    assert [k for x, _ in plain.batches(1) for k in ids(x)] == list(range(7))


def test_batches_are_read_only_when_asked_for_and_start_skips():
    frames = CountingFrames(numbered())
    loader = BatchLoader(frames, batch_size=2, seed=0)
    stream = loader.batches(0)
    assert frames.reads == []
    next(stream)
    assert len(frames.reads) == 1  # nothing is read ahead: memory holds one batch
    order = list(loader.order(0))
    frames.reads.clear()
    list(loader.batches(0, start=2))
    assert frames.reads == [order[4:6], order[6:]]
    assert list(loader.batches(0, start=4)) == []


def run(loader, epochs, start_epoch=0, start=0):
    out = []
    for epoch in range(start_epoch, epochs):
        for x, y in loader.batches(epoch, start=start if epoch == start_epoch else 0):
            out.append((x, y, json.dumps(loader.state_dict())))
    return out


@pytest.mark.parametrize("augment", [True, False])
def test_resuming_after_any_batch_gives_the_same_arrays(augment):
    make = lambda: BatchLoader(numbered(), batch_size=3, seed=4,
                               augmenter=Augmenter(seed=9) if augment else None)
    whole = run(make(), epochs=3)
    assert len(whole) == 9
    for done in range(1, 9):  # stopped after `done` batches: epoch done // 3, batch done % 3
        resumed = BatchLoader(numbered(), batch_size=3, seed=4,
                              augmenter=Augmenter(seed=123) if augment else None)
        resumed.load_state_dict(json.loads(whole[done - 1][2]))
        rest = run(resumed, epochs=3, start_epoch=done // 3, start=done % 3)
        assert len(rest) == 9 - done
        for (x, y, _), (ex, ey, _) in zip(rest, whole[done:]):
            np.testing.assert_array_equal(x, ex)
            np.testing.assert_array_equal(y, ey)
    if augment:  # the augmenter really was on, and a restored one without the state differs
        assert not np.array_equal(whole[0][0], numbered().images[list(make().order(0)[:3])])
        fresh = run(BatchLoader(numbered(), batch_size=3, seed=4, augmenter=Augmenter(seed=123)), 3, 0, 0)
        assert not np.array_equal(fresh[0][0], whole[0][0])


def test_bad_arguments_and_mismatched_states_are_refused():
    frames = numbered()
    for batch_size in (0, -1, 2.0, True):
        assert "batch_size" in str(pytest.raises(DataError, BatchLoader, frames, batch_size).value)
    for seed in (-1, 1.5, None):
        assert "seed" in str(pytest.raises(DataError, BatchLoader, frames, 2, seed=seed).value)
    with pytest.raises(DataError, match="start"):
        next(BatchLoader(frames, 2).batches(0, start=5))
    plain, augmented = BatchLoader(frames, 2), BatchLoader(frames, 2, augmenter=Augmenter(0))
    with pytest.raises(DataError, match="augmentation on"):
        plain.load_state_dict(augmented.state_dict())
    with pytest.raises(DataError, match="augmentation off"):
        augmented.load_state_dict(plain.state_dict())
