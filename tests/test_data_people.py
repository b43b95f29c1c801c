"""Data for background removal: human-seg-290's fixed split and default size."""
import numpy as np
import pytest

from npcae.data import (DATASETS, HUMAN_SEG_HELDOUT, HUMAN_SEG_TRAIN, FolderFrames, dataset_defaults, open_frames,
                        split_frames)
from npcae.data.human_seg import NAMES

NO_NETWORK = "http://127.0.0.1:9/nothing-listens-here"


# -- human-seg-290 ----------------------------------------------------------------------------

def test_human_seg_split_is_250_train_and_every_7th_photo_held_out():
    assert len(NAMES) == 290 and NAMES[0] == "1" and NAMES[-1] == "300"
    assert HUMAN_SEG_HELDOUT == tuple(str(n) for n in range(7, 281, 7))
    assert len(HUMAN_SEG_TRAIN) == 250 and len(set(HUMAN_SEG_TRAIN)) == 250
    assert set(HUMAN_SEG_TRAIN).isdisjoint(HUMAN_SEG_HELDOUT)
    assert set(HUMAN_SEG_TRAIN) | set(HUMAN_SEG_HELDOUT) == set(NAMES)
    entry = DATASETS["human-seg-290"]
    assert entry.split == {"train_names": HUMAN_SEG_TRAIN} and entry.size == (256, 256)
    assert len(entry.checksums) == 580


def test_human_seg_opens_under_NPCAE_DATA_at_256x256_and_splits_alike_for_every_seed(
        human_seg_dir, monkeypatch):
    monkeypatch.setenv("NPCAE_DATA", str(human_seg_dir.parent))
    monkeypatch.setenv("NPCAE_HUMAN_SEG_URL", NO_NETWORK)      # every file is there: none is fetched
    frames = open_frames("human-seg-290", cache_mb=0)
    assert isinstance(frames, FolderFrames) and frames.size == (256, 256) and len(frames) == 290
    assert frames.root == human_seg_dir and "198 of 290 masks" in frames.notes[0]
    splits = [split_frames(frames, seed=seed, **dataset_defaults("human-seg-290").split) for seed in (0, 1, 7)]
    for train, held in splits:
        assert sorted(held.names, key=int) == list(HUMAN_SEG_HELDOUT) and len(train) == 250
        assert set(train.names).isdisjoint(held.names)
    images, masks = splits[0][1].read([0])          # held-out photo "105" (names sort as text)
    assert splits[0][1].names[0] == "105" and images.shape == (1, 256, 256, 3)
    assert 0.05 < masks.mean() < 0.95 and set(np.unique(masks)) == {0.0, 1.0}
