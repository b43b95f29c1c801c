"""Colour labels and class ids (data/palette.py): exact on synthetic label images, measured on
real cityscapes-pix2pix composites, and one clear error for bad composites and palette files."""
import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from npcae.data.palette import (CITYSCAPES_19, IGNORE, MAX_DISTANCE, colourise, read_palette,
                                snap, split_composite, to_categories)


def test_rendered_ids_snap_back_exactly_even_with_noise(rng):
    ids = rng.integers(0, 19, (40, 60)).astype(np.uint8)
    ids[rng.random(ids.shape) < 0.1] = IGNORE                       # rendered black: void
    colours = colourise(ids).astype(np.int16)
    assert np.array_equal(snap(colours), ids)
    # Noise of up to 5 per channel (8.7 in distance) is less than half the gap between the two
    # closest palette colours (truck 0,0,70 and the void caravan 0,0,90): every pixel snaps home.
    noisy = np.clip(colours + rng.integers(-5, 6, colours.shape), 0, 255)
    assert np.array_equal(snap(noisy), ids)


def test_far_and_void_colours_are_ignored_and_categories_follow():
    labels = np.array([[[0, 255, 0], [111, 74, 0], [128, 64, 128], [0, 0, 142]]], np.uint8)
    assert snap(labels).tolist() == [[IGNORE, IGNORE, 0, 13]]     # green: 159 from vegetation
    assert snap(labels, max_distance=200).tolist() == [[8, IGNORE, 0, 13]]
    assert to_categories(np.array([0, 1, 2, 10, 11, 13, 18, IGNORE])).tolist() == \
        [0, 0, 1, 4, 5, 6, 6, IGNORE]


def test_composites_split_where_asked_and_odd_widths_are_refused():
    image = np.arange(2 * 6 * 3).reshape(2, 6, 3)
    photo, labels = split_composite(image)
    assert np.array_equal(photo, image[:, :3]) and np.array_equal(labels, image[:, 3:])
    photo, labels = split_composite(image, at=2, labels="left")
    assert np.array_equal(labels, image[:, :2]) and np.array_equal(photo, image[:, 2:])
    with pytest.raises(ValueError, match="odd width 5"):
        split_composite(image[:, :5])
    with pytest.raises(ValueError, match="at column 6"):
        split_composite(image, at=6)


def test_palette_files_are_read_and_bad_lines_named(tmp_path):
    good = tmp_path / "palette.txt"
    good.write_text("# two classes and a void\nbackground, 0, 0, 0\nperson, 255, 0, 0\n"
                    "void, 255, 255, 255\n")
    palette = read_palette(good)
    assert palette.names == ("background", "person")
    assert palette.colours.tolist() == [[0, 0, 0], [255, 0, 0]]
    assert palette.void.tolist() == [[255, 255, 255]]
    bad = tmp_path / "bad.txt"
    bad.write_text("road, 128, 64, 128\nsky, 70, 130\n")
    with pytest.raises(ValueError, match="bad.txt:2: expected 'name, R, G, B'"):
        read_palette(bad)
    bad.write_text("road, 128, 64, 300\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_palette(bad)
    bad.write_text("a, 1, 2, 3\nb, 1, 2, 3\n")
    with pytest.raises(ValueError, match="share a colour"):
        read_palette(bad)


def test_real_composites_snap_mostly_to_the_palette():
    """The fraction of label pixels within MAX_DISTANCE of a palette colour, per val file; the
    rest, JPEG's blend along boundaries, is ignored. Measured: 0.90-0.97 per file (0.75-0.89
    of each file keeps a class; the rest is void or blend)."""
    folder = shared_data("cityscapes-pix2pix", inside="val") / "val"
    for number in range(1, 501, 50):
        image = np.asarray(Image.open(folder / f"{number}.jpg").convert("RGB"))
        assert image.shape == (256, 512, 3)
        _, labels = split_composite(image)
        ids = snap(labels)
        colours = np.vstack([CITYSCAPES_19.colours, CITYSCAPES_19.void]).astype(int)
        distance = np.sqrt(((labels.reshape(-1, 1, 3).astype(int) - colours) ** 2).sum(-1)).min(1)
        snapped = (distance <= MAX_DISTANCE).mean()
        assert snapped > 0.85, f"val/{number}.jpg: only {snapped:.1%} of label pixels snap"
        assert (ids == 0).mean() > 0.05, f"val/{number}.jpg: hardly any road"
