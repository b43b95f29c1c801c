"""Bad input on the data side: every pixel mode Pillow reads, damaged downloads, files that are
not weights.

Image modes: each is written to a file with Pillow and read back through the project's own
readers (load_folder for training and evaluation folders, `npcae predict` end to end), and
must give exactly the RGB a viewer shows (within JPEG's error for CMYK) and the mask that is
"not black". Errors are one line, "npcae: error: ...", exit status 2, naming the file.
"""
import hashlib
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from npcae.cli import main
from npcae.data import load_folder
from npcae.data.sets.tiktok_136 import SHA256
from npcae.models import create
from test_cli import error_line
from test_fetch import remote  # noqa: F401 (the local HTTP server fixture)

# Eight colours, two of them dark labels whose luminance is 0: (1, 0, 0) and (0, 0, 4).
COLOURS = np.array([[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]],
                    [[1, 0, 0], [0, 0, 4], [128, 64, 32], [255, 255, 255]]], np.uint8)
GRAY = np.array([[0, 1, 128, 255], [64, 0, 200, 2]], np.uint8)
ALPHA = np.array([[0, 255, 128, 255], [255, 0, 255, 1]], np.uint8)    # 0: fully transparent
WIDE = np.array([[0, 1, 128 * 257, 65535], [64 * 257, 0, 2571, 514]], np.uint16)
DARK_WIDE = np.array([[0, 1, 128, 255], [64, 0, 200, 2]], np.uint16)  # 16-bit, values <= 255


def gray3(gray):
    return np.repeat(gray[..., None], 3, axis=2)


def ceil_257(wide):
    return ((wide.astype(np.int64) + 256) // 257).astype(np.uint8)


def palette_image():
    im = Image.new("P", (4, 2))
    im.putpalette(COLOURS.reshape(-1).tolist())
    im.putdata(list(range(8)))
    return im


def old_pillow_16_bit(monkeypatch):
    """Open 16-bit gray PNGs as older Pillow did (setup.cfg allows pillow>=9.0): mode I, 32-bit."""
    monkeypatch.setitem(PngImagePlugin._MODES, (16, 0), ("I", "I;16B"))


# name: (save(path), expected RGB (2, 4, 3), expected mask (2, 4) of 0/1, patch(monkeypatch))
MODES = {
    "RGB": (lambda p: Image.fromarray(COLOURS).save(p), COLOURS, COLOURS.max(2) > 0, None),
    "L": (lambda p: Image.fromarray(GRAY).save(p), gray3(GRAY), GRAY > 0, None),
    "1": (lambda p: Image.fromarray(GRAY > 100).save(p), gray3(255 * (GRAY > 100)), GRAY > 100, None),
    "P": (lambda p: palette_image().save(p), COLOURS, COLOURS.max(2) > 0, None),
    "P with a transparency table": (lambda p: palette_image().save(p, transparency=ALPHA.tobytes()),
                                    COLOURS, COLOURS.max(2) > 0, None),
    "P with one transparent entry": (lambda p: palette_image().save(p, transparency=5),
                                     COLOURS, COLOURS.max(2) > 0, None),
    "LA": (lambda p: Image.fromarray(np.dstack([GRAY, ALPHA])).save(p), gray3(GRAY), GRAY > 0, None),
    "RGBA": (lambda p: Image.fromarray(np.dstack([COLOURS, ALPHA])).save(p), COLOURS, COLOURS.max(2) > 0,
             None),
    "I;16": (lambda p: Image.fromarray(WIDE).save(p), gray3(ceil_257(WIDE)), WIDE > 0, None),
    "I (older Pillow's 16-bit PNG)": (lambda p: Image.fromarray(DARK_WIDE).save(p),
                                      gray3(ceil_257(DARK_WIDE)), DARK_WIDE > 0, old_pillow_16_bit),
}


def folder_of(root, save):
    """root/images/frame.png and root/masks/frame.png, both written by save(path)."""
    for sub in ("images", "masks"):
        (root / sub).mkdir()
        save(root / sub / "frame.png")


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_reads_as_its_rgb_and_its_mask(tmp_path, monkeypatch, mode):
    save, rgb, mask, patch = MODES[mode]
    folder_of(tmp_path, save)
    if patch:
        patch(monkeypatch)
    with Image.open(tmp_path / "images" / "frame.png") as written:
        assert written.mode == mode.split()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = load_folder(tmp_path)
    assert [str(w.message) for w in caught] == []       # Pillow's palette warning went to stderr
    np.testing.assert_array_equal(np.rint(record.images[0] * 255).astype(np.uint8), rgb)
    np.testing.assert_array_equal(record.masks[0, ..., 0], mask)


def test_a_cmyk_jpeg_reads_as_its_rgb(tmp_path):
    """Two flat 16x16 colour blocks (JPEG's largest unit), so its error is small everywhere."""
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, :16], rgb[:, 16:] = (200, 40, 30), (20, 90, 220)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "images" / "f.jpg", quality=95, subsampling=0)
    Image.fromarray(np.full((16, 32), 255, np.uint8)).save(tmp_path / "masks" / "f.png")
    with Image.open(tmp_path / "images" / "f.jpg") as written:
        assert written.mode == "CMYK"
    image = np.rint(load_folder(tmp_path).images[0] * 255)
    assert np.abs(image - rgb).max() <= 4


# -- npcae predict, end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A small CAE's weights.npz (untrained: predict reads its inputs the same; training one
    would cost 2-3 s of the suite's budget)."""
    path = tmp_path_factory.mktemp("tiny") / "weights.npz"
    create("cae", input_size=(32, 16), seed=0, filters=(2, 4, 8)).save(path)
    return path


def predicted(weights, inputs, out):
    assert main(["predict", "--weights", str(weights), str(inputs), "--out", str(out)]) == 0
    outputs = {}
    for path in sorted(out.iterdir()):
        with Image.open(path) as im:
            outputs[path.name] = np.asarray(im)
    return outputs


def test_predict_reads_palette_alpha_and_16_bit_photos_as_their_rgb(tmp_path, tiny_weights):
    """Each mode's file gives byte for byte the outputs of the plain RGB PNG of its pixels."""
    modes, plain = tmp_path / "modes", tmp_path / "plain"
    modes.mkdir()
    plain.mkdir()
    for mode in ("P with a transparency table", "RGBA", "I;16"):
        save, rgb, _, _ = MODES[mode]
        name = mode.split()[0].replace(";", "") + ".png"
        save(modes / name)
        Image.fromarray(rgb).save(plain / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = predicted(tiny_weights, modes, tmp_path / "out-modes")
    assert [str(w.message) for w in caught] == []
    expected = predicted(tiny_weights, plain, tmp_path / "out-plain")
    assert list(got) == list(expected) and len(got) == 9
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_predict_refuses_a_float_tiff_in_one_line(tmp_path, tiny_weights, capsys):
    """Pillow reads 32-bit float TIFFs (mode F) and convert() clips them: a 0..1 image would be
    predicted as black. Its range is not in the file, so it is refused, naming the file."""
    path = tmp_path / "photo.tif"
    Image.fromarray(GRAY.astype(np.float32) / 255).save(path)
    with Image.open(path) as written:
        assert written.mode == "F"
    assert main(["predict", "--weights", str(tiny_weights), str(path), "--out", str(tmp_path / "out")]) == 2
    line = error_line(capsys)
    assert line.startswith("npcae: error: cannot read image file") and str(path) in line
    assert "32-bit floats (mode F)" in line


# -- files that are not weights -----------------------------------------------------------------
@pytest.mark.parametrize("content", ["text", ".npy array", "empty"])
def test_a_file_that_is_not_npz_weights_is_named_as_such(tmp_path, frames, capsys, content):
    path = tmp_path / "notes.txt"
    if content == "text":
        path.write_text("learning rate 5e-4, 300 epochs\n")
    elif content == ".npy array":
        path = tmp_path / "weights.npy"
        np.save(path, np.zeros(3))
    else:
        path.write_bytes(b"")
    for command in (["predict", "--weights", str(path), str(frames / "images"), "--out", str(tmp_path / "o")],
                    ["evaluate", "--weights", str(path), "--data", str(frames)]):
        assert main(command) == 2, command
        line = error_line(capsys)
        assert line.startswith(f"npcae: error: {path} is not a .npz weights file"), line
        assert "pickled" not in line
        assert ("it is empty" in line) == (content == "empty")
    assert not (tmp_path / "o").exists()


# -- npcae fetch-data: a file already there that fails its checksum -----------------------------
DAMAGED = "masks/136_00150.png"


@pytest.fixture
def damaged_cache(tmp_path, tiktok_dir):
    """A complete tiktok-136 folder whose DAMAGED file has been overwritten."""
    dest = tmp_path / "cache"
    for sub in ("images", "masks"):
        shutil.copytree(tiktok_dir / sub, dest / sub)
    (dest / DAMAGED).write_bytes(b"damaged")
    return dest


def test_a_damaged_file_that_cannot_be_downloaded_again_is_named(remote, damaged_cache, capsys,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.setenv("NPCAE_TIKTOK_URL", remote.url)
    remote.shutdown()
    remote.server_close()                              # offline
    assert main(["fetch-data", "tiktok-136", "--dest", str(damaged_cache)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"npcae: error: existing file {damaged_cache / DAMAGED} failed its checksum "
                           f"(expected {SHA256[DAMAGED][:12]}..."), line
    assert "was removed; downloading it again failed: could not download" in line
    assert not (damaged_cache / DAMAGED).exists()       # a file that exists is a verified file


def test_a_damaged_file_whose_download_is_damaged_too_names_both_checksums(remote, damaged_cache,  # noqa: F811
                                                                           capsys, monkeypatch):
    monkeypatch.setenv("NPCAE_TIKTOK_URL", remote.url)
    served = remote.root / "data" / "val_mask" / "136_00150.png"
    served.write_bytes(b"also damaged")
    assert main(["fetch-data", "tiktok-136", "--dest", str(damaged_cache)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"npcae: error: checksum mismatch for {damaged_cache / DAMAGED} downloaded from "
                           f"{remote.url}/data/val_mask/136_00150.png: expected {SHA256[DAMAGED][:12]}..., "
                           f"got {hashlib.sha256(b'also damaged').hexdigest()[:12]}...; not saved"), line
    assert line.endswith("the file there before failed its checksum too and was removed"), line
    assert not (damaged_cache / DAMAGED).exists()
    assert remote.requests == ["/data/val_mask/136_00150.png"]   # the 19 good files were kept
