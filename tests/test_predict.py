"""`npcae predict` end to end: every output at the photo's own size (any size, gray and RGBA
photos), the cut-out's alpha is the soft mask, --background composites exactly, and bad input
(a corrupt photo, a bad --background) is one line, exit 2, with nothing written.

Two models, neither trained: the real tiny CAE (it runs at its trained size, 32x16, and its
mask is resized back), and a 1x1 convolution whose output is the photo's red channel / 255, a
model of any size whose soft mask is known exactly: alpha must equal the red channel.
"""
import re

import numpy as np
import pytest
from PIL import Image

from npcae import predict
from npcae.cli import main
from npcae.layers import Conv2D
from npcae.diagnostics.memory import MemoryTooSmall
from npcae.models import Sequential, create
from npcae.tasks import BinaryMask, ImageToImage

SIZE = (32, 16)                                       # the tiny CAE's trained size (H, W)
OWN = ("--at", "own")                                 # run a model of any size at each photo's


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("npcae: error: "), err
    return err[0]


def read(path):
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def photo(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


@pytest.fixture(scope="module")
def cae_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("cae") / "weights.npz"
    create("cae", input_size=SIZE, seed=0, filters=(2, 4, 8)).save(path)
    return path


def red_channel_model():
    """A model of any size whose soft mask is the photo's red channel / 255."""
    conv = Conv2D(3, 1, 1, rng=np.random.default_rng(0), fast=False)
    conv.params["W"][...] = np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1)
    conv.params["b"][...] = 0.0
    return Sequential([conv])


@pytest.fixture
def red_model(monkeypatch):
    """`npcae predict --weights ANYTHING` loads red_channel_model() with a binary-mask task."""
    model, task = red_channel_model(), BinaryMask()
    monkeypatch.setattr(predict, "load_model", lambda weights: predict.TrainedModel(model, SIZE, task))
    return model


@pytest.fixture
def rgb(rng):
    return rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)     # H, W: not multiples of 8


def run(weights, inputs, out, *options):
    return main(["predict", "--weights", str(weights), *map(str, inputs), "--out", str(out),
                 *map(str, options)])


def composited(rgb, alpha, background):
    a = alpha.astype(np.int64)[..., None]
    return ((a * rgb + (255 - a) * np.asarray(background, np.int64) + 127) // 255).astype(np.uint8)


# -- sizes and modes ----------------------------------------------------------------------------
def test_every_output_has_the_photos_own_size_for_rgb_gray_and_rgba(tmp_path, cae_weights, rgb, rng):
    photos = tmp_path / "photos"
    photos.mkdir()
    gray = rng.integers(0, 256, (21, 19), dtype=np.uint8)
    alpha = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    photo(photos / "a_rgb.png", rgb)
    photo(photos / "b_gray.png", gray)
    photo(photos / "c_rgba.png", np.dstack([rgb, alpha]))
    photo(photos / "d_trained_size.jpg", rgb[:32, :16])
    out = tmp_path / "cut"
    assert run(cae_weights, [photos], out) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}_{kind}.png" for stem in ("a_rgb", "b_gray", "c_rgba", "d_trained_size")
        for kind in ("mask", "cutout", "overlay"))
    for stem, colour in [("a_rgb", rgb), ("b_gray", np.dstack([gray] * 3)), ("c_rgba", rgb)]:
        h, w = colour.shape[:2]
        mask_mode, mask = read(out / f"{stem}_mask.png")
        cutout_mode, cutout = read(out / f"{stem}_cutout.png")
        overlay_mode, overlay = read(out / f"{stem}_overlay.png")
        assert (mask_mode, cutout_mode, overlay_mode) == ("L", "RGBA", "RGB")
        assert mask.shape == (h, w) and cutout.shape == (h, w, 4) and overlay.shape == (h, w, 3)
        assert set(np.unique(mask)) <= {0, 255}
        # the photo's own colours (an RGBA photo's alpha dropped), the soft mask as alpha
        np.testing.assert_array_equal(cutout[..., :3], colour, err_msg=stem)
        np.testing.assert_array_equal(overlay[mask == 0], colour[mask == 0], err_msg=stem)


def test_the_cutouts_alpha_is_the_cae_soft_mask_resized_bilinearly(tmp_path, cae_weights, rgb):
    """At the trained size alpha is round(255 p) of the model's output itself; at 37x53 it is
    that of the output resized bilinearly (in float) from 32x16; the mask is p > 0.5."""
    model, size, _ = predict.load_model(cae_weights)
    assert size == SIZE and not predict.takes_any_size(model, size)
    small = rgb[:32, :16]
    inputs = [photo(tmp_path / "small.png", small), photo(tmp_path / "large.png", rgb)]
    assert run(cae_weights, inputs, tmp_path / "out") == 0

    p_small = model.forward(small[None] / np.float32(255))[0, ..., 0]
    shrunk = np.asarray(Image.fromarray(rgb).resize((16, 32), Image.BOX), np.float32) / 255
    out = Image.fromarray(model.forward(shrunk[None])[0, ..., 0], "F")
    p_large = np.asarray(out.resize((53, 37), Image.BILINEAR))
    for stem, p in [("small", p_small), ("large", p_large)]:
        _, cutout = read(tmp_path / "out" / f"{stem}_cutout.png")
        _, mask = read(tmp_path / "out" / f"{stem}_mask.png")
        np.testing.assert_array_equal(cutout[..., 3], np.rint(255 * p), err_msg=stem)
        np.testing.assert_array_equal(mask, np.where(p > 0.5, 255, 0), err_msg=stem)
    assert not set(np.unique(cutout[..., 3])) <= {0, 255}        # soft, not 0/255


def test_a_model_that_takes_any_size_runs_at_the_photos_own_size(tmp_path, red_model, rgb):
    """--at own: nothing is resized, the soft mask is R / 255 at every pixel, so alpha is R
    exactly."""
    assert predict.takes_any_size(red_model, SIZE)
    assert run("red", [photo(tmp_path / "p.png", rgb)], tmp_path / "out", *OWN) == 0
    _, cutout = read(tmp_path / "out" / "p_cutout.png")
    _, mask = read(tmp_path / "out" / "p_mask.png")
    np.testing.assert_array_equal(cutout[..., 3], rgb[..., 0])
    np.testing.assert_array_equal(mask, np.where(rgb[..., 0] >= 128, 255, 0))


def test_by_default_even_a_model_of_any_size_runs_at_its_trained_size(tmp_path, red_model, rgb):
    """As it saw its training frames: the photo shrunk to 32x16 by BOX, the soft mask (its red
    channel / 255) resized back to 37x53 bilinearly."""
    assert run("red", [photo(tmp_path / "p.png", rgb)], tmp_path / "out") == 0
    shrunk = np.asarray(Image.fromarray(rgb).resize((16, 32), Image.BOX), np.float32) / 255
    p = np.asarray(Image.fromarray(np.ascontiguousarray(shrunk[..., 0]), "F").resize((53, 37), Image.BILINEAR))
    _, cutout = read(tmp_path / "out" / "p_cutout.png")
    np.testing.assert_array_equal(cutout[..., 3], np.rint(255 * p))


def test_at_own_with_a_model_that_runs_only_at_its_trained_size_is_one_line(tmp_path, cae_weights,
                                                                           capsys, rgb):
    assert run(cae_weights, [photo(tmp_path / "p.png", rgb)], tmp_path / "out", *OWN) == 2
    assert "--at own: this model runs only at its trained size 32x16" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


# -- --background -------------------------------------------------------------------------------
@pytest.mark.parametrize("colour, value", [("white", (255, 255, 255)), ("#00ff00", (0, 255, 0)),
                                           ("10, 20,30", (10, 20, 30)), ("rgb(1,2,3)", (1, 2, 3))])
def test_a_colour_background_is_composited_through_the_soft_alpha(tmp_path, red_model, rgb,
                                                                  colour, value):
    assert run("red", [photo(tmp_path / "p.png", rgb)], tmp_path / "out", "--background", colour, *OWN) == 0
    mode, got = read(tmp_path / "out" / "p_composite.png")
    assert mode == "RGB"
    np.testing.assert_array_equal(got, composited(rgb, rgb[..., 0], np.broadcast_to(value, rgb.shape)))


def test_an_image_background_of_the_photos_size_is_used_as_it_is(tmp_path, red_model, rgb, rng):
    scene = rng.integers(0, 256, rgb.shape, dtype=np.uint8)
    background = photo(tmp_path / "scene.png", scene)
    assert run("red", [photo(tmp_path / "p.png", rgb)], tmp_path / "out", "--background", background, *OWN) == 0
    np.testing.assert_array_equal(read(tmp_path / "out" / "p_composite.png")[1],
                                  composited(rgb, rgb[..., 0], scene))


def test_an_image_background_covers_the_photo_centred(tmp_path, red_model, rgb):
    """A 74x318 background (red | blue | green thirds) behind a 37x53 photo: scaled by 1/2 to
    37x159 to cover its height, then its middle 53 columns, the blue third, cut out."""
    bands = np.zeros((74, 318, 3), np.uint8)
    bands[:, :106, 0], bands[:, 106:212, 2], bands[:, 212:, 1] = 255, 255, 255
    clear = rgb.copy()
    clear[..., 0] = 0                                    # alpha 0: the composite is the background
    inputs = [photo(tmp_path / "p.png", clear)]
    assert run("red", inputs, tmp_path / "out", "--background", photo(tmp_path / "b.png", bands),
               *OWN) == 0
    got = read(tmp_path / "out" / "p_composite.png")[1]
    assert got.shape == (37, 53, 3)
    np.testing.assert_array_equal(got[:, 3:-3], np.broadcast_to((0, 0, 255), (37, 47, 3)))
    assert got[..., 2].mean() > 240                      # no bars, no red or green third


@pytest.mark.parametrize("value, phrase", [
    ("notacolour", "is neither an image file nor a colour"), ("300,0,0", "must be 0-255"),
    ("#00ff0080", "has an alpha channel"), ("", "--background is empty"),
    ("missing.jpg", "--background image not found"), ("broken", "--background: cannot read image file"),
    ("folder", "is a folder")])
def test_a_bad_background_is_one_line_before_any_work(tmp_path, capsys, value, phrase, rgb):
    """The weights do not exist: the --background error comes first, and nothing is written."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    value = {"broken": str(tmp_path / "broken.png"), "folder": str(tmp_path / "folder")}.get(value, value)
    inputs = [photo(tmp_path / "p.png", rgb)]
    assert run(tmp_path / "no-weights.npz", inputs, tmp_path / "out", "--background", value) == 2
    assert phrase in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_a_background_for_a_task_that_cuts_nothing_out_is_refused(tmp_path, monkeypatch, capsys,
                                                                  red_model, rgb):
    monkeypatch.setattr(predict, "load_model", lambda weights: predict.TrainedModel(red_model, SIZE, ImageToImage()))
    assert run("x", [photo(tmp_path / "p.png", rgb)], tmp_path / "out", "--background", "white") == 2
    assert "task is 'image'" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


# -- corrupt photos, memory ---------------------------------------------------------------------
@pytest.mark.parametrize("out_exists", [False, True])
def test_a_corrupt_photo_is_one_line_and_nothing_is_written(tmp_path, cae_weights, capsys, rgb,
                                                            out_exists):
    photos, out = tmp_path / "photos", tmp_path / "cut"
    photos.mkdir()
    photo(photos / "a.png", rgb)
    broken = photos / "z.png"                            # sorted last: found before a's outputs
    broken.write_bytes(photo(tmp_path / "whole.png", rgb).read_bytes()[:300])
    if out_exists:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    assert run(cae_weights, [photos], out, "--background", "white") == 2
    line = one_error_line(capsys)
    assert line.startswith(f"npcae: error: cannot read image file {broken}"), line
    if out_exists:
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    else:
        assert not out.exists()


def test_a_photo_too_large_for_memory_is_refused_before_any_work(tmp_path, red_model, rgb):
    files = [photo(tmp_path / "p.png", rgb)]
    plan = predict.plan_batches(red_model, SIZE, [(37, 53)], batch=3, at="own")
    assert plan == [((37, 53), [0])]
    with pytest.raises(MemoryTooSmall, match=f"at the photo {files[0]}'s own size 37x53 needs about"):
        predict.check_memory(red_model, plan, files, available=1)


def test_batches_group_photos_that_run_at_one_size(cae_weights):
    """The CAE runs every photo at its trained size, 3 at a time; a model of any size batches
    only neighbours of one size together."""
    cae, size, _ = predict.load_model(cae_weights)
    sizes = [(37, 53), (37, 53), (20, 20), (64, 32)]
    assert predict.plan_batches(cae, size, sizes, batch=3) == [(SIZE, [0, 1, 2]), (SIZE, [3])]
    assert predict.plan_batches(red_channel_model(), SIZE, sizes, batch=3, at="own") == [
        ((37, 53), [0, 1]), ((20, 20), [2]), ((64, 32), [3])]
    assert predict.plan_batches(red_channel_model(), SIZE, sizes, batch=3) == [
        (SIZE, [0, 1, 2]), (SIZE, [3])]                          # the default: the trained size


# -- from Python -------------------------------------------------------------------------------
def test_a_loaded_model_predicts_any_image_at_its_own_size(cae_weights, rgb):
    """npcae.load_model(path).predict(image): the outputs the PNGs are drawn from, at the
    image's size, for one image or a batch, uint8 or float; still unpacks as npcae 0.1's tuple."""
    import npcae
    trained = npcae.load_model(cae_weights)
    model, size, task = trained
    assert size == SIZE and task.name == "binary" and trained.model is model
    shrunk = np.asarray(Image.fromarray(rgb).resize((16, 32), Image.BOX), np.float32) / 255
    out = Image.fromarray(model.forward(shrunk[None])[0, ..., 0], "F")
    expected = np.asarray(out.resize((53, 37), Image.BILINEAR))
    soft = trained.predict(rgb)
    assert soft.shape == (37, 53, 1) and soft.dtype == np.float32
    # predict runs the inference copy (models/folding.py), whose epilogue rounds once less.
    np.testing.assert_allclose(soft[..., 0], expected, rtol=0, atol=1e-6)
    both = trained.predict(np.stack([rgb, rgb[::-1]]))
    assert both.shape == (2, 37, 53, 1)
    # OpenBLAS may round a row differently in a taller product: equal to float32 rounding.
    np.testing.assert_allclose(both[0], soft, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(trained.predict(rgb / np.float64(255)), soft)   # floats in [0, 1]


@pytest.mark.parametrize("bad, phrase", [
    (np.zeros((8, 8), np.uint8), "shape (8, 8)"),
    (np.zeros((8, 8, 4), np.uint8), "shape (8, 8, 4)"),
    (np.zeros((0, 8, 3), np.uint8), "shape (0, 8, 3)"),
    (np.full((8, 8, 3), 2.0), "floats in [0, 1]"),
    (np.full((8, 8, 3), np.nan), "floats in [0, 1]")])
def test_a_loaded_model_refuses_what_is_not_an_image_in_one_line(cae_weights, bad, phrase):
    from npcae.data import DataError
    with pytest.raises(DataError, match=re.escape(phrase)):
        predict.load_model(cae_weights).predict(bad)


def test_a_multiclass_model_predicts_class_ids(tmp_path, rng):
    """A multi-class TrainedModel gives the argmax of its logits at the image's size; raw=True
    the logits themselves."""
    from npcae.predict import TrainedModel
    from npcae.tasks import MultiClassMask
    conv = Conv2D(3, 3, 1, rng=np.random.default_rng(0), fast=False)
    conv.params["W"][...] = np.eye(3).reshape(1, 1, 3, 3)       # logits: the colour channels
    conv.params["b"][...] = 0.0
    trained = TrainedModel(Sequential([conv]), (8, 8), MultiClassMask(
        ["red", "green", "blue"], [[255, 0, 0], [0, 255, 0], [0, 0, 255]]))
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :3, 0], image[:, 3:6, 1], image[:, 6:, 2] = 200, 200, 200
    ids = trained.predict(image)
    assert ids.dtype == np.uint8 and ids.shape == (8, 8)
    assert (ids[:, :3] == 0).all() and (ids[:, 3:6] == 1).all() and (ids[:, 6:] == 2).all()
    assert trained.predict(image, raw=True).shape == (8, 8, 3)
