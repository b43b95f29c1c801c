"""--data given more than once: the union of the sets' training frames (npcae.data.union)."""
import numpy as np
import pytest

from conftest import shared_data
from npcae.data import DataError, Record
from npcae.data.union import UnionFrames, source_labels
from test_coco import coco_api                    # noqa: F401 (a fixture: pycocotools or fail under CI)


def record(n, size, seed, prefix):
    rng = np.random.default_rng(seed)
    images = rng.random((n, *size, 3), dtype=np.float32)
    masks = (rng.random((n, *size, 1)) > 0.5).astype(np.float32)
    return Record(images, masks, [f"{prefix}{k}" for k in range(n)])


def test_a_union_reads_each_frame_from_its_own_set_in_the_order_asked():
    a, b = record(3, (4, 5), 0, "x"), record(2, (4, 5), 1, "x")        # the same names in both
    union = UnionFrames({"a": a, "b": b})
    assert union.names == ["a/x0", "a/x1", "a/x2", "b/x0", "b/x1"] and union.size == (4, 5)
    images, masks = union.read([4, 0, 3, 2])
    np.testing.assert_array_equal(images, np.concatenate([b.images[[1]], a.images[[0]],
                                                          b.images[[0]], a.images[[2]]]))
    np.testing.assert_array_equal(masks[0], b.masks[1])
    part = union.subset(["a/x2", "b/x1"])
    assert part.names == ["a/x2", "b/x1"]
    np.testing.assert_array_equal(part.read([1])[0][0], b.images[1])
    with pytest.raises(DataError, match="share a size"):
        UnionFrames({"a": a, "c": record(1, (4, 6), 2, "y")})


def test_sources_are_labelled_by_set_coco_split_or_folder_and_kept_distinct():
    assert source_labels(["human-seg-290", "coco:/d/annotations/instances_train2017.json",
                          "/photos/people", "/more/people"]) == [
        "human-seg-290", "coco-train2017", "people", "people-2"]


def test_npcae_train_on_two_sets_trains_on_both_training_parts_and_resumes(frames, tmp_path, capsys):
    """synthetic (3 of its 10 frames train) + a folder of 6 (a tenth held out): 3 + 5 train,
    7 + 1 held out, the two drawn equally often (--balance sources); the run resumes with its two sets; choosing frames by name or count, a set
    named twice and binary masks beside class ids are each one line, exit 2."""
    from npcae.cli import main
    from test_cli import error_line
    common = ["--data", "synthetic", "--data", str(frames), "--size", "64x32",
              "--filters", "2,3,4", "--no-progress"]
    out = tmp_path / "run"
    assert main(["train", *common, "--epochs", "1", "--balance", "sources", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "training on 8 frames (synthetic/synth_00, synthetic/synth_04" in err and "8 held out" in err
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", *common, "--n-train", "2", "--out", str(tmp_path / "b")]) == 2
    assert "--n-train chooses frames of one data set" in error_line(capsys)
    assert main(["train", "--data", "synthetic", "--data", "synthetic", "--out", str(tmp_path / "c")]) == 2
    assert "--data names synthetic twice" in error_line(capsys)
    assert main(["train", "--data", "synthetic", "--data", "synthetic-streets",
                 "--out", str(tmp_path / "d")]) == 2
    assert "the sets of one run must hold the same kind" in error_line(capsys)
    assert not (tmp_path / "b").exists() and not (tmp_path / "d").exists()


def test_coco_persons_and_human_seg_train_together_and_human_segs_held_out_stay_unseen(
        coco_api, monkeypatch):
    """The issue's run: COCO train persons (40) + human-seg-290's 250 training photos; the
    held-out frames are coco-tiny's 49 val persons; human-seg-290's own 40 held-out photos are
    never trained on although --val-data replaces them."""
    coco = shared_data("coco-tiny", inside="annotations") / "annotations"
    people = shared_data("human-seg-290")
    monkeypatch.setenv("NPCAE_DATA", str(people.parent))
    from npcae.data.sets.human_seg_290 import HUMAN_SEG_HELDOUT
    from npcae.train import settings
    from npcae.train.experiment import open_data
    run = settings({"data": [f"coco:{coco}/instances_train2017.json", "human-seg-290"],
                    "val_data": f"coco:{coco}/instances_val2017.json", "category": "person",
                    "model": "unet", "size": [16, 16]})
    train, heldout, _ = open_data(run)
    assert len(train) == 290 and len(heldout) == 49
    assert sum(name.startswith("coco-train2017/") for name in train.names) == 40
    assert not {f"human-seg-290/{name}" for name in HUMAN_SEG_HELDOUT} & set(train.names)
    images, masks = train.read([0, 289])
    assert images.shape == (2, 16, 16, 3) and 0 < masks.mean() < 1


def test_balanced_sources_draw_each_set_equally_often_every_frame_of_a_small_one_first():
    from npcae.data.loader import BatchLoader, balanced_order
    order = balanced_order([4, 30, 11], np.random.default_rng(0))
    assert len(order) == 45
    counts = np.bincount(np.digitize(order, [4, 34]))
    assert counts.tolist() == [15, 15, 15]
    small = order[order < 4]
    assert sorted(np.bincount(small).tolist()) == [3, 4, 4, 4]        # passes: 15 = 4 + 4 + 4 + 3
    assert len(set(order[(order >= 4) & (order < 34)])) == 15          # the large one: no repeats
    union = UnionFrames({"a": record(4, (4, 5), 0, "x"), "b": record(30, (4, 5), 1, "y"),
                         "c": record(11, (4, 5), 2, "z")})
    loader = BatchLoader(union, batch_size=5, seed=3, sources=[4, 30, 11])
    np.testing.assert_array_equal(loader.order(2), loader.order(2))    # a function of (seed, epoch)
    assert not np.array_equal(loader.order(2), loader.order(3))


def test_balance_sources_needs_several_data_sets(tmp_path, capsys):
    from npcae.cli import main
    from test_cli import error_line
    assert main(["train", "--balance", "sources", "--out", str(tmp_path / "run")]) == 2
    assert "--balance sources draws several data sets equally often" in error_line(capsys)
