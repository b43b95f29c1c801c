"""Frames: Record and FolderFrames answer alike; reading on demand, the cache, masks of another
size, hidden files, split_frames; and the real photos of ../shared/data/human-seg-290."""

import numpy as np
import pytest
from PIL import Image

from npcae.data import DataError, FolderFrames, Record, load_folder, split_frames, synthetic_record

# human_seg_dir (../shared/data/human-seg-290) is a fixture of conftest.py.


def write(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, format=fmt)
    return path


def blocky_mask(rng, shape, block):
    """A random 0/255 mask made of block x block squares, so a block-sized downscale is exact."""
    small = np.where(rng.random((shape[0] // block, shape[1] // block)) < 0.4, 255, 0)
    return np.kron(small, np.ones((block, block))).astype(np.uint8), small.astype(np.uint8)


def make_folder(root, names=("d", "b", "a", "c"), shape=(12, 18)):
    """Random RGB PNGs (one grayscale JPEG) and gray masks; returns {name: (image, mask)} uint8."""
    rng = np.random.default_rng(0)
    frames = {}
    for name in names:
        image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
        mask, _ = blocky_mask(rng, shape, 3)
        if name == "b":  # a grayscale JPEG
            write(root / "images" / "b.jpg", image[..., 0], fmt="JPEG")
        else:
            write(root / "images" / f"{name}.png", image)
        write(root / "masks" / f"{name}.png", mask)
        frames[name] = image, mask
    return frames


def error_of(call):
    with pytest.raises(DataError) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


# --- one interface ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["record", "folder"])
def test_record_and_folder_frames_answer_alike(tmp_path, kind):
    make_folder(tmp_path)
    frames = load_folder(tmp_path) if kind == "record" else FolderFrames(tmp_path)
    assert frames.names == ["a", "b", "c", "d"] and len(frames) == 4 and frames.size == (12, 18)
    images, masks = frames.read([3, 0, 3])
    assert images.shape == (3, 12, 18, 3) and images.dtype == np.float32
    assert masks.shape == (3, 12, 18, 1) and masks.dtype == np.float32
    assert set(np.unique(masks)) == {0.0, 1.0} and 0 <= images.min() and images.max() <= 1
    empty_images, empty_masks = frames.read([])
    assert empty_images.shape == (0, 12, 18, 3) and empty_masks.shape == (0, 12, 18, 1)
    part = frames.subset(["d", "a"])
    assert type(part) is type(frames) and part.names == ["d", "a"] and len(part) == 2
    np.testing.assert_array_equal(part.read([0])[0], images[:1])
    assert "'zz'" in error_of(lambda: frames.subset(["a", "zz"]))
    record = frames.to_record()
    assert isinstance(record, Record) and record.names == frames.names
    np.testing.assert_array_equal(record.read([3, 0, 3])[1], masks)
    images[:] = 0  # read() hands out copies: the set itself is untouched
    assert frames.read([3])[0].max() > 0


@pytest.mark.parametrize("size", [None, (6, 9), (5, 7), (24, 20)])
def test_folder_frames_read_exactly_what_load_folder_reads(tmp_path, size):
    make_folder(tmp_path)
    # A preview-size mask goes through the same path in both.
    mask, small = blocky_mask(np.random.default_rng(5), (12, 18), 3)
    write(tmp_path / "masks" / "c.png", small)
    record = load_folder(tmp_path, size)
    frames = FolderFrames(tmp_path, size)
    order = [2, 0, 3, 1]
    images, masks = frames.read(order)
    np.testing.assert_array_equal(images, record.images[order])
    np.testing.assert_array_equal(masks, record.masks[order])
    again = frames.read(order)  # from the cache now: the same bits
    np.testing.assert_array_equal(again[0], images)
    np.testing.assert_array_equal(again[1], masks)


def test_native_values_are_the_files_pixels(tmp_path):
    truth = make_folder(tmp_path)
    images, masks = FolderFrames(tmp_path).read([0, 2])
    np.testing.assert_array_equal(images[0], truth["a"][0] / np.float32(255))
    np.testing.assert_array_equal(masks[1, ..., 0], truth["c"][1] > 0)
    gray, _ = FolderFrames(tmp_path).read([1])  # the grayscale JPEG becomes three equal channels
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])


# --- the cache --------------------------------------------------------------------------------

def delete_files(root):
    for path in (root / "images").iterdir():
        path.unlink()


def frame_mb(n, h=12, w=18):
    return n * h * w * 4 / 2**20


def test_a_set_that_fits_is_read_from_disk_once(tmp_path):
    make_folder(tmp_path)
    frames = FolderFrames(tmp_path, cache_mb=frame_mb(4))  # exactly the budget of 4 frames
    assert frames.caching and frames.frame_bytes == 12 * 18 * 4
    first = frames.read(range(4))
    delete_files(tmp_path)
    second = frames.read(range(4))  # epoch 2 opens no file
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("cache_mb", [0, frame_mb(4) - 1e-6])
def test_a_set_over_the_budget_keeps_nothing(tmp_path, cache_mb):
    make_folder(tmp_path)
    frames = FolderFrames(tmp_path, cache_mb=cache_mb)
    assert not frames.caching
    frames.read(range(4))
    delete_files(tmp_path)
    assert "cannot read image file" in error_of(lambda: frames.read([0]))


def test_subsets_share_one_budget(tmp_path):
    make_folder(tmp_path)
    frames = FolderFrames(tmp_path, cache_mb=frame_mb(3))  # the whole set does not fit; halves do
    train, heldout = frames.subset(["a", "b"]), frames.subset(["c", "d"])
    assert not frames.caching and train.caching and heldout.caching
    train.read([0, 1])
    heldout.read([0, 1])  # only one of these still fits in the shared budget
    delete_files(tmp_path)
    train.read([0, 1])
    heldout.read([0])
    assert "d.png" in error_of(lambda: heldout.read([1]))


@pytest.mark.parametrize("cache_mb", [-1, "256", True, None])
def test_bad_cache_budgets_are_refused(tmp_path, cache_mb):
    make_folder(tmp_path)
    assert "cache_mb" in error_of(lambda: FolderFrames(tmp_path, cache_mb=cache_mb))


# --- what the scan finds ------------------------------------------------------------------------

def test_smaller_and_larger_masks_are_resized_nearest_and_noted_once(tmp_path):
    rng = np.random.default_rng(1)
    truth = {}
    for name in "pqr":
        full, small = blocky_mask(rng, (30, 45), 3)
        write(tmp_path / "images" / f"{name}.png", rng.integers(0, 256, (30, 45, 3)))
        write(tmp_path / "masks" / f"{name}.png", small if name != "r" else full)
        truth[name] = full > 0
    frames = FolderFrames(tmp_path)
    assert frames.notes == [f"2 of 3 masks in {tmp_path / 'masks'} are smaller than their images "
                            f"(same aspect ratio): resized to the image with nearest neighbour"]
    _, masks = frames.read(range(3))
    for k, name in enumerate("pqr"):  # a 10x15 mask scaled up 3x lands on the blocks it came from
        np.testing.assert_array_equal(masks[k, ..., 0], truth[name])
    # Masks larger than their images, e.g. images saved at a preview size.
    write(tmp_path / "masks" / "r.png", np.kron(truth["r"] * 255, np.ones((2, 2))))
    note, = FolderFrames(tmp_path).notes
    assert note.startswith("3 of 3 masks") and "of another size than their images" in note
    for name in "pq":
        write(tmp_path / "masks" / f"{name}.png", np.kron(truth[name] * 255, np.ones((2, 2))))
    assert "larger than their images" in FolderFrames(tmp_path).notes[0]
    np.testing.assert_array_equal(FolderFrames(tmp_path).read([2])[1][0, ..., 0], truth["r"])


def test_equal_sizes_give_no_note(tmp_path):
    make_folder(tmp_path)
    assert FolderFrames(tmp_path).notes == [] and load_folder(tmp_path).notes == []


@pytest.mark.parametrize("mask_shape, fits", [((40, 60), True), ((20, 30), True), ((200, 299), True),
                                              ((200, 297), False), ((20, 40), False), ((60, 40), False)])
def test_aspect_ratio_within_one_percent_or_a_named_error(tmp_path, mask_shape, fits):
    write(tmp_path / "images" / "x.png", np.zeros((40, 60, 3)))
    write(tmp_path / "masks" / "x.png", np.zeros(mask_shape))
    if fits:
        assert FolderFrames(tmp_path).size == (40, 60)
        return
    message = error_of(lambda: FolderFrames(tmp_path, size=(8, 8)))  # at the scan: before any read
    assert "x.png" in message and "40x60" in message and f"{mask_shape[0]}x{mask_shape[1]}" in message
    assert "aspect ratio" in message


def test_hidden_and_macos_resource_files_are_skipped(tmp_path):
    make_folder(tmp_path, names=("a", "b"))
    for sub in ("images", "masks"):
        (tmp_path / sub / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # not an image
        (tmp_path / sub / ".DS_Store").write_bytes(b"junk")
        (tmp_path / sub / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "images" / "._orphan.jpg").write_bytes(b"junk")  # no mask, but hidden: no error
    frames = FolderFrames(tmp_path)
    assert frames.names == ["a", "b"] and frames.read([0, 1])[0].shape == (2, 12, 18, 3)
    assert load_folder(tmp_path).names == ["a", "b"]


def test_native_size_needs_one_size_and_files_are_checked_at_the_scan(tmp_path):
    make_folder(tmp_path, names=("a", "b"))
    write(tmp_path / "images" / "c.png", np.zeros((6, 6, 3)))
    write(tmp_path / "masks" / "c.png", np.zeros((6, 6)))
    message = error_of(lambda: FolderFrames(tmp_path))
    assert "c.png is 6x6" in message and "pass a size" in message
    assert FolderFrames(tmp_path, size=(6, 9)).size == (6, 9)
    (tmp_path / "masks" / "c.png").write_bytes(b"not an image")
    message = error_of(lambda: FolderFrames(tmp_path, size=(6, 9)))  # the header is read at once
    assert "cannot read image file" in message and "c.png" in message


# --- splits ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ten():
    return synthetic_record(n_frames=10, size=(8, 4))


def test_split_by_names_and_by_count(ten):
    train, held = split_frames(ten, train_names=["synth_07", "synth_02"])
    assert train.names == ["synth_02", "synth_07"] and len(held) == 8 and "synth_02" not in held.names
    train, held = split_frames(ten.subset(ten.names[::-1]), n_train=3)
    assert train.names == ["synth_02", "synth_01", "synth_00"]  # first sorted names, frames' order
    assert held.names == [f"synth_{k:02d}" for k in range(9, 2, -1)]
    assert "nothing would be held out" in error_of(lambda: split_frames(ten, n_train=10))
    assert "nothing would be held out" in error_of(lambda: split_frames(ten, train_names=ten.names))
    assert "from 1 to 9" in error_of(lambda: split_frames(ten, n_train=11))
    assert "'nope'" in error_of(lambda: split_frames(ten, train_names=["nope"]))
    assert "string" in error_of(lambda: split_frames(ten, train_names="synth_01"))


def test_split_by_fraction_is_seeded_and_counted(ten):
    train, held = split_frames(ten, val_split=0.2, seed=3)
    assert len(held) == 2 and len(train) == 8 and set(train.names) | set(held.names) == set(ten.names)
    again = split_frames(ten.subset(ten.names[::-1]), val_split=0.2, seed=3)[1]
    assert sorted(again.names) == sorted(held.names)  # the names decide, not the frames' order
    assert len({tuple(split_frames(ten, val_split=0.2, seed=s)[1].names) for s in range(8)}) > 1
    assert len(split_frames(ten, val_split=0.25)[1]) == 3  # 2.5 rounds up
    assert len(split_frames(ten, val_split=0.05)[1]) == 1
    for fraction in (0.04, 0.96):
        assert "at least one" in error_of(lambda: split_frames(ten, val_split=fraction))
    for fraction in (0, 1, 1.5, -0.1, True, "0.1"):
        assert "val_split" in error_of(lambda: split_frames(ten, val_split=fraction))


def test_split_with_a_second_set_and_exactly_one_way(ten, tmp_path):
    other = synthetic_record(n_frames=3, size=(8, 4), seed=1)
    train, held = split_frames(ten, val_frames=other)
    assert train is ten and held is other
    assert "16x4" in error_of(lambda: split_frames(ten, val_frames=synthetic_record(2, (16, 4))))
    assert "got none" in error_of(lambda: split_frames(ten))
    assert "n_train, val_split" in error_of(lambda: split_frames(ten, n_train=2, val_split=0.5))


def test_splitting_folder_frames_gives_folder_frames(tmp_path):
    make_folder(tmp_path)
    frames = FolderFrames(tmp_path, size=(6, 9))
    train, held = split_frames(frames, val_split=0.5, seed=0)
    assert isinstance(train, FolderFrames) and isinstance(held, FolderFrames)
    assert sorted(train.names + held.names) == frames.names and train.size == (6, 9)
    whole = load_folder(tmp_path, size=(6, 9))
    np.testing.assert_array_equal(held.read([1])[0], whole.subset(held.names[1:]).images)


# --- the real photos ------------------------------------------------------------------------

def test_human_seg_290_scans_and_reads(human_seg_dir):
    frames = FolderFrames(human_seg_dir, size=(256, 256))
    assert len(frames) == 290 and frames.size == (256, 256)
    assert frames.notes == [f"198 of 290 masks in {human_seg_dir / 'masks'} are smaller than their images "
                            f"(same aspect ratio): resized to the image with nearest neighbour"]
    assert "pass a size" in error_of(lambda: FolderFrames(human_seg_dir))  # many sizes
    # 56: grayscale JPEG; 97: grayscale with a smaller mask; 100: 1280x1055 with a 551x454 mask.
    chosen = ["56", "97", "100", "108"]
    images, masks = frames.read(frames.rows(chosen))
    assert images.shape == (4, 256, 256, 3) and 0 <= images.min() and images.max() <= 1
    assert set(np.unique(masks)) == {0.0, 1.0}
    assert np.array_equal(images[0, ..., 0], images[0, ..., 2])
    for k, name in enumerate(chosen):
        raw = np.asarray(Image.open(human_seg_dir / "masks" / f"{name}.png")) > 0
        full = FolderFrames(human_seg_dir, names=[name]).read([0])[1][0, ..., 0]  # at the image's size
        assert abs(full.mean() / raw.mean() - 1) < 0.01
        # Lined up: the figure's centre, as a fraction of height and width, stays where it was.
        for m in (raw, full, masks[k, ..., 0] > 0):
            ys, xs = np.nonzero(m)
            centre = ((ys.mean() + 0.5) / m.shape[0], (xs.mean() + 0.5) / m.shape[1])
            np.testing.assert_allclose(centre, ((np.nonzero(raw)[0].mean() + 0.5) / raw.shape[0],
                                                (np.nonzero(raw)[1].mean() + 0.5) / raw.shape[1]), atol=0.01)
