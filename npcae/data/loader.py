"""BatchLoader: an epoch of (x, y) training batches from Frames, shuffled and augmented.

    loader = BatchLoader(train, batch_size=8, seed=0, augmenter=Augmenter(seed=0))
    for x, y in loader.batches(epoch, start=batch):   # resume mid-epoch at batch `start`
        ...
    saved = loader.state_dict()                         # after a batch: JSON-able

An epoch's order is a function of (seed, epoch) alone, so it needs no saved state; the
augmenter's random stream is the loader's only state. Restoring the state saved after batch
k-1 and iterating batches(epoch, start=k) gives exactly the arrays of an uninterrupted run.
"""
import math

import numpy as np

from .frames import DataError, check_same_names, is_count


class BatchLoader:
    """Batches of `frames`: x (B, H, W, 3) float32 in [0, 1], y (B, H, W, 1) float32 0/1.

    batch_size: frames per batch, or None for every frame in one batch (the original's full
        batch); the last batch of an epoch may be smaller.
    shuffle: each epoch visits the frames in np.random.default_rng([seed, epoch]).permutation
        order. With a single batch the frames' own order is kept: a shuffle would only change
        the summation order, and keeping it leaves the 3-frame experiment bit-identical.
    augmenter: an Augmenter (or None) applied to each batch after it is read.
    sources: the sizes of consecutive index ranges that are separate sources (a UnionFrames'
        parts) to draw equally often (balanced_order); None: every frame once an epoch.
    Frames are read as each batch is requested (nothing is read ahead), so memory holds one batch.
    """

    def __init__(self, frames, batch_size=None, shuffle=True, seed=0, augmenter=None, sources=None):
        if batch_size is not None and not is_count(batch_size):
            raise DataError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise DataError(f"seed must be an integer >= 0, got {seed!r}")
        if len(frames) == 0:
            raise DataError("there are no frames to train on")
        self.frames, self.shuffle, self.seed, self.augmenter = frames, bool(shuffle), int(seed), augmenter
        if sources is not None and (sum(sources) != len(frames) or min(sources) < 1):
            raise DataError(f"sources {sources} must be positive sizes adding up to the "
                            f"{len(frames)} frames")
        self.sources = None if sources is None else [int(size) for size in sources]
        self.batch_size = len(frames) if batch_size is None else min(int(batch_size), len(frames))
        self.steps_per_epoch = math.ceil(len(frames) / self.batch_size)

    def order(self, epoch):
        """The frame indices (N,) of epoch `epoch` (0-based), in the order they are trained."""
        if self.sources is not None:
            return balanced_order(self.sources, np.random.default_rng([self.seed, int(epoch)]))
        if self.shuffle and self.steps_per_epoch > 1:
            return np.random.default_rng([self.seed, int(epoch)]).permutation(len(self.frames))
        return np.arange(len(self.frames))

    def batches(self, epoch, start=0):
        """Yield (x, y) for batches start, start + 1, ... of epoch `epoch` (both 0-based)."""
        if not 0 <= start <= self.steps_per_epoch:
            raise DataError(f"start must be a batch index from 0 to {self.steps_per_epoch}, got {start!r}")
        order = self.order(epoch)
        for step in range(start, self.steps_per_epoch):
            x, y = self.frames.read(order[step * self.batch_size:(step + 1) * self.batch_size])
            if self.augmenter is not None:
                x, y = self.augmenter(x, y)
            yield x, y

    def state_dict(self):
        """The augmenter's random state (JSON-able; None without an augmenter), and the names
        of the frames, so that a resumed run can tell that its data is still the same."""
        return {"augmenter": None if self.augmenter is None else self.augmenter.state(),
                "frames": list(self.frames.names)}

    def load_state_dict(self, state):
        """Continue the augmenter's random stream where state_dict() was taken."""
        if "frames" in state:                     # (older checkpoints did not save them)
            check_same_names(state["frames"], self.frames.names, "training")
        saved = state.get("augmenter")
        if (saved is None) != (self.augmenter is None):
            was, now = ("off", "on") if saved is None else ("on", "off")
            raise DataError(f"the saved loader state is of a run with augmentation {was}; "
                            f"this loader has it {now}")
        if saved is not None:
            self.augmenter.set_state(saved)


def balanced_order(sizes, rng):
    """An epoch's frame indices when consecutive ranges of `sizes` frames are sources to draw
    equally often: as many indices as frames, each source's share len / S (the first sources
    taking the remainder), each source's frames in shuffled passes (every frame of a small
    source once before any twice; a large one's sample without repeats), all shuffled together.
    A function of the sizes and the generator alone, so an epoch needs no saved state."""
    total, count = sum(sizes), len(sizes)
    offsets = np.cumsum([0, *sizes[:-1]])
    picks = []
    for k, (size, offset) in enumerate(zip(sizes, offsets)):
        share = total // count + (1 if k < total % count else 0)
        passes = -(-share // size)
        picks.append(np.concatenate([rng.permutation(size) for _ in range(passes)])[:share] + offset)
    chosen = np.concatenate(picks)
    return chosen[rng.permutation(total)]
