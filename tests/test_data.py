"""Loading image/mask folders, splitting, streaming batches, load_dataset, and augmentation."""
import numpy as np
import pytest
from PIL import Image

from npcae.data import (TIKTOK_TRAIN, Augmenter, DataError, iter_batches, load_dataset, load_folder,
                        split)
from npcae.data.folder import KAGGLE_SUBDIR


def write(path, array, mode=None, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(array, np.uint8))
    (image.convert(mode) if mode else image).save(path, format=fmt)
    return path


def make_folder(root, names=("b", "a"), shape=(4, 6)):
    """A folder of random RGB images and gray masks; returns {name: (image uint8, mask uint8)}."""
    rng = np.random.default_rng(0)
    frames = {}
    for name in names:
        image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
        mask = np.where(rng.random(shape) < 0.3, 255, 0).astype(np.uint8)
        write(root / "images" / f"{name}.png", image)
        write(root / "masks" / f"{name}.png", mask)
        frames[name] = image, mask
    return frames


def test_load_native_size_values_and_sorted_names(tmp_path):
    frames = make_folder(tmp_path)
    record = load_folder(tmp_path)
    assert record.names == ["a", "b"]
    assert record.images.shape == (2, 4, 6, 3) and record.images.dtype == np.float32
    assert record.masks.shape == (2, 4, 6, 1) and record.masks.dtype == np.float32
    np.testing.assert_array_equal(record.images[1], frames["b"][0] / np.float32(255))
    np.testing.assert_array_equal(record.masks[0, ..., 0], frames["a"][1] > 0)
    assert set(np.unique(record.masks)) <= {0.0, 1.0}


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
def test_mask_modes_binarise_gray_above_zero(tmp_path, mode):
    write(tmp_path / "images" / "x.png", np.full((2, 3, 3), 7))
    gray = np.array([[0, 1, 255], [0, 128, 0]], np.uint8)
    if mode == "P":  # palette indices 0..3: black, red, green, dark gray
        mask = Image.fromarray(np.array([[0, 1, 2], [0, 3, 0]], np.uint8), mode="P")
        mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 40, 40, 40])
        (tmp_path / "masks").mkdir()
        mask.save(tmp_path / "masks" / "x.png")
    else:
        write(tmp_path / "masks" / "x.png", np.repeat(gray[..., None], 3, axis=2), mode=mode)
    record = load_folder(tmp_path)
    np.testing.assert_array_equal(record.masks[0, ..., 0], [[0, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(record.images, np.full((1, 2, 3, 3), 7 / np.float32(255)))


def test_gray_and_rgba_images_become_rgb_and_jpeg_matches_png_mask(tmp_path):
    write(tmp_path / "images" / "g.png", np.full((4, 4, 3), 90), mode="L")
    write(tmp_path / "images" / "r.png", np.full((4, 4, 3), (10, 20, 30)), mode="RGBA")
    write(tmp_path / "images" / "j.jpg", np.full((4, 4, 3), 200), fmt="JPEG")
    for name in "grj":
        write(tmp_path / "masks" / f"{name}.png", np.zeros((4, 4)))
    record = load_folder(tmp_path)
    assert record.names == ["g", "j", "r"] and record.images.shape == (3, 4, 4, 3)
    np.testing.assert_array_equal(record.images[0], 90 / np.float32(255))
    assert np.abs(record.images[1] * 255 - 200).max() <= 2  # JPEG is lossy, barely
    np.testing.assert_array_equal(record.images[2, 0, 0] * 255, [10, 20, 30])


def test_area_resize_averages_blocks_then_binarises(tmp_path):
    # Each 2x2 block averages to a whole number, so BOX's 8-bit rounding is exact.
    image = np.array([[0, 10, 100, 100], [20, 30, 100, 100], [255, 255, 1, 3], [255, 255, 5, 7]])
    write(tmp_path / "images" / "t.png", np.repeat(image[..., None], 3, axis=2))
    # Mask blocks: one 255 pixel (mean 64 -> 1); empty (0); full (1); a half (1).
    mask = np.array([[255, 0, 0, 0], [0, 0, 0, 0], [255, 255, 0, 255], [255, 255, 0, 255]])
    write(tmp_path / "masks" / "t.png", mask)
    record = load_folder(tmp_path, size=(2, 2))
    np.testing.assert_array_equal(record.images[0, ..., 0] * 255, [[15, 100], [255, 4]])
    np.testing.assert_array_equal(record.masks[0, ..., 0], [[1, 0], [1, 1]])


def test_size_is_height_then_width(tmp_path):
    make_folder(tmp_path, shape=(8, 4))
    assert load_folder(tmp_path, size=(4, 2)).images.shape == (2, 4, 2, 3)
    assert load_folder(tmp_path, size=(2, 6)).masks.shape == (2, 2, 6, 1)


def test_names_select_frames_and_kaggle_parent_is_accepted(tmp_path):
    make_folder(tmp_path / KAGGLE_SUBDIR, names=("c", "a", "b"))
    record = load_folder(tmp_path, names=["c", "a"])
    assert record.names == ["a", "c"] and len(record) == 2
    with pytest.raises(DataError, match="'zz' not found"):
        load_folder(tmp_path, names=["a", "zz"])


def error_of(call):
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_folder_structure_errors(tmp_path):
    assert "not found" in error_of(lambda: load_folder(tmp_path / "nope"))
    (tmp_path / "images").mkdir()
    assert "no masks/" in error_of(lambda: load_folder(tmp_path))
    (tmp_path / "masks").mkdir()
    assert "no images" in error_of(lambda: load_folder(tmp_path))
    (tmp_path / "images").rmdir()
    assert "no images/" in error_of(lambda: load_folder(tmp_path))


def test_unpaired_files_are_named(tmp_path):
    make_folder(tmp_path)
    write(tmp_path / "images" / "lonely.png", np.zeros((4, 6, 3)))
    assert "lonely.png has no mask" in error_of(lambda: load_folder(tmp_path))
    (tmp_path / "images" / "lonely.png").unlink()
    write(tmp_path / "masks" / "orphan.png", np.zeros((4, 6)))
    assert "orphan.png has no image" in error_of(lambda: load_folder(tmp_path))


def test_truncated_and_garbage_files_are_named(tmp_path):
    make_folder(tmp_path)
    path = write(tmp_path / "images" / "a.png", np.random.default_rng(1).integers(0, 256, (4, 6, 3)))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # header intact, pixel data cut: only load() notices
    Image.open(path)  # opening alone succeeds
    message = error_of(lambda: load_folder(tmp_path))
    assert "cannot read image file" in message and "a.png" in message and "truncated" in message
    path.write_bytes(b"not an image at all")
    message = error_of(lambda: load_folder(tmp_path))
    assert "cannot read image file" in message and "a.png" in message


def test_size_mismatches_are_named(tmp_path):
    make_folder(tmp_path)
    write(tmp_path / "masks" / "b.png", np.zeros((5, 6)))
    message = error_of(lambda: load_folder(tmp_path))
    assert "b.png" in message and "4x6" in message and "5x6" in message
    write(tmp_path / "masks" / "b.png", np.zeros((4, 6)))
    write(tmp_path / "images" / "c.png", np.zeros((3, 3, 3)))
    write(tmp_path / "masks" / "c.png", np.zeros((3, 3)))
    assert "c.png is 3x3" in error_of(lambda: load_folder(tmp_path))
    assert load_folder(tmp_path, size=(2, 2)).images.shape == (3, 2, 2, 3)


@pytest.mark.parametrize("size", [(0, 4), (4,), (4, 4, 4), (2.0, 3), "4x4", (True, 2), (-1, 2)])
def test_bad_sizes_are_refused(tmp_path, size):
    make_folder(tmp_path)
    assert "two positive integers" in error_of(lambda: load_folder(tmp_path, size=size))


def test_split_by_names_and_by_count(tmp_path):
    make_folder(tmp_path, names=("d", "c", "b", "a"))
    record = load_folder(tmp_path)
    train, held = split(record, train_names=["c", "a"])
    assert train.names == ["a", "c"] and held.names == ["b", "d"]
    np.testing.assert_array_equal(train.images[1], record.images[2])
    train, held = split(record, n_train=3)
    assert train.names == ["a", "b", "c"] and held.names == ["d"]
    assert "'x'" in error_of(lambda: split(record, train_names=["x"]))
    assert "n_train" in error_of(lambda: split(record, n_train=5))
    assert "nothing would be held out" in error_of(lambda: split(record, n_train=4))  # was a later crash
    assert "exactly one" in error_of(lambda: split(record))


def test_iter_batches_streams_lazily_and_shuffles_reproducibly(tmp_path):
    make_folder(tmp_path / KAGGLE_SUBDIR, names=tuple("edcba"))
    whole = load_folder(tmp_path, size=(2, 3))
    batches = list(iter_batches(tmp_path, 2, (2, 3)))
    assert [len(names) for _, _, names in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), whole.images)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), whole.masks)
    def order(seed):
        batches = iter_batches(tmp_path, 2, (2, 3), shuffle_seed=seed)
        return [name for _, _, names in batches for name in names]

    assert order(3) == order(3) and sorted(order(3)) == whole.names and order(3) != order(4)
    stream = iter_batches(tmp_path, 2, (2, 3))
    next(stream)
    (tmp_path / KAGGLE_SUBDIR / "images" / "e.png").unlink()  # files are opened only when needed
    next(stream)
    with pytest.raises(DataError, match="e.png"):
        next(stream)
    assert "batch_size" in error_of(lambda: iter_batches(tmp_path, 0, (2, 3)))
    assert "not found" in error_of(lambda: iter_batches(tmp_path / "nope", 2, (2, 3)))


def test_tiktok136_at_256x128(tiktok_dir):
    record = load_folder(tiktok_dir, size=(256, 128))
    assert record.images.shape == (10, 256, 128, 3) and record.masks.shape == (10, 256, 128, 1)
    assert record.names == sorted(record.names) and 0 <= record.images.min() and record.images.max() <= 1
    assert set(np.unique(record.masks)) == {0.0, 1.0}
    fractions = record.masks.mean(axis=(1, 2, 3))
    assert np.all((fractions > 0.05) & (fractions < 0.15))
    train, held = split(record, TIKTOK_TRAIN)
    assert train.names == list(TIKTOK_TRAIN) and len(held) == 7


def test_load_dataset_specs(tmp_path, tiktok_dir, monkeypatch):
    assert load_dataset("synthetic", (32, 16)).images.shape == (10, 32, 16, 3)
    make_folder(tmp_path / "mine")
    assert load_dataset(str(tmp_path / "mine")).names == ["a", "b"]
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tiktok_dir))
    assert load_dataset("tiktok-136", (64, 32)).masks.shape == (10, 64, 32, 1)
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tmp_path / "missing"))
    assert "NPCAE_TIKTOK_DIR" in error_of(lambda: load_dataset("tiktok-136", (64, 32)))


# --- augmentation ---------------------------------------------------------------------------

def blobs(n=4, h=24, w=12, seed=0):
    """Images whose three channels equal a random-rectangle mask with an empty border."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, h, w, 1), np.float32)
    for i in range(n):
        top, left = rng.integers(3, h // 2), rng.integers(2, w // 2)
        masks[i, top:top + h // 3, left:left + w // 3] = 1
    return np.repeat(masks, 3, axis=3), masks


def test_disabled_augmenter_is_identity_and_flip_mirrors_both():
    images, masks = blobs()
    quiet = dict(shift=0, scale=0, brightness=0, contrast=0)
    out_images, out_masks = Augmenter(0, flip=False, **quiet)(images, masks)
    np.testing.assert_array_equal(out_images, images)
    np.testing.assert_array_equal(out_masks, masks)
    out_images, out_masks = Augmenter(1, **quiet)(images, masks)
    flipped = [not np.array_equal(out_masks[i], masks[i]) for i in range(len(masks))]
    assert any(flipped) and not all(flipped)
    for i, was_flipped in enumerate(flipped):
        expect = masks[i, :, ::-1] if was_flipped else masks[i]
        np.testing.assert_array_equal(out_masks[i], expect)
        np.testing.assert_array_equal(out_images[i], images[i, :, ::-1] if was_flipped else images[i])


def test_geometry_is_shared_and_values_stay_valid():
    images, masks = blobs(n=6)
    out_images, out_masks = Augmenter(5, brightness=0, contrast=0, shift=0.2, scale=0.3)(images, masks)
    assert out_images.dtype == out_masks.dtype == np.float32 and out_images.shape == images.shape
    assert set(np.unique(out_masks)) == {0.0, 1.0}
    assert not np.array_equal(out_masks, masks)
    # Bilinear vs nearest only disagree along edges: the transform itself is the same.
    agreement = (np.round(out_images[..., :1]) == out_masks).mean()
    assert agreement > 0.97
    images, masks = Augmenter(2, brightness=0.5, contrast=0.5)(images, masks)
    assert images.min() >= 0 and images.max() <= 1 and set(np.unique(masks)) <= {0.0, 1.0}


def test_borders_fill_edges_for_images_and_zero_for_masks():
    ones = np.ones((8, 16, 8, 3), np.float32)
    out_images, out_masks = Augmenter(0, shift=0.4, scale=0, brightness=0, contrast=0)(ones, ones[..., :1])
    np.testing.assert_array_equal(out_images, 1.0)  # edge values, not black
    assert out_masks.min() == 0 and out_masks.mean() < 0.9  # shifted-in area is background


def test_brightness_and_contrast_touch_the_image_only():
    images, masks = blobs()
    images = 0.3 + 0.4 * images
    out_images, out_masks = Augmenter(3, flip=False, shift=0, scale=0)(images, masks)
    np.testing.assert_array_equal(out_masks, masks)
    assert not np.allclose(out_images, images)
    gain = out_images.mean(axis=(1, 2, 3)) / images.mean(axis=(1, 2, 3))
    assert np.all((gain >= 0.8 - 1e-6) & (gain <= 1.2 + 1e-6))  # contrast keeps the mean


def test_augmenter_is_deterministic_and_resumable():
    images, masks = blobs()
    first, second = Augmenter(7), Augmenter(7)
    a = first(images, masks)
    b = second(images, masks)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(Augmenter(8)(images, masks)[0], a[0])
    saved = first.state()
    expected = first(images, masks)
    resumed = Augmenter(123)
    resumed.set_state(saved)
    again = resumed(images, masks)
    np.testing.assert_array_equal(again[0], expected[0])
    np.testing.assert_array_equal(again[1], expected[1])
    with pytest.raises(DataError):
        Augmenter(0)(images, masks[:2])


def test_16_bit_gray_images_and_masks_are_scaled_not_clipped(tmp_path):
    """Pillow's convert() clips 16-bit gray at 255 (every pixel white); it is scaled instead."""
    wide = np.array([[0, 257, 32896], [65535, 1, 514]], np.uint16)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(wide).save(tmp_path / "images" / "w.png")
    Image.fromarray(np.array([[0, 0, 1], [65535, 0, 0]], np.uint16)).save(tmp_path / "masks" / "w.png")
    assert Image.open(tmp_path / "images" / "w.png").mode.startswith("I")
    record = load_folder(tmp_path)
    np.testing.assert_array_equal(record.images[0, ..., 1] * 255, [[0, 1, 128], [255, 1, 2]])
    np.testing.assert_array_equal(record.masks[0, ..., 0], [[0, 0, 1], [1, 0, 0]])
