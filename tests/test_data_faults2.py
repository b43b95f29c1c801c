"""Issue 21, the data side: what `npcae inspect` and `npcae train` are given and must refuse alike,
in one line that names the file or the option.

Masks with no labelled pixel, a download the server drops, folders the readers refuse and
inspect passed, composites whose label half cannot be colour labels (grayscale, or a photo),
problems that lost their file's name, and the odd width no option fixes."""
import functools
import os
import time

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from npcae.cli import main
from npcae.data.composites import CompositeFrames
from npcae.data.frames import DataError
from npcae.data.labels import IGNORE, median_frequency_weights
from npcae.data.sets.synthetic_streets import render_street, street_composite
from test_cli import error_line
from test_fetch import leftovers, remote  # noqa: F401 (the local HTTP server fixture)

TRAIN = ["--epochs", "1", "--size", "32x32", "--filters", "4,8", "--batch-size", "4",
         "--val-split", "0.25", "--no-progress"]


def streets(folder, count=4, convert=None):
    """`count` rendered street composites (photo | Cityscapes colours, 32x64) in `folder`."""
    folder.mkdir(parents=True)
    for i in range(count):
        picture = Image.fromarray(street_composite(render_street(1, i, (32, 32))))
        (picture.convert(convert) if convert else picture).save(folder / f"{i + 1}.png")
    return folder


def pairs(folder, masks):
    """images/ and masks/ of random photos and the given masks (arrays), NAME 0, 1, ..."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i, mask in enumerate(masks):
        photo = np.random.default_rng(i).integers(0, 256, mask.shape[:2] + (3,), dtype=np.uint8)
        Image.fromarray(photo).save(folder / "images" / f"{i}.png")
        Image.fromarray(mask).save(folder / "masks" / f"{i}.png")
    return folder


def inspected(capsys, *args):
    status = main(["inspect", *map(str, args), "--no-progress"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def trained(tmp_path, capsys, data, *options):
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    status = main(["train", "--data", str(data), *options, *TRAIN, "--out", str(out)])
    return status, (error_line(capsys) if status else "")


# -- 1. masks with no labelled pixel ------------------------------------------------------------

@pytest.mark.parametrize("mask, why", [
    (np.full((8, 8), IGNORE, np.uint8), "every pixel of its 3 masks is the ignore label 255"),
    (np.full((8, 8, 3), (0, 255, 0), np.uint8), "no pixel of its 3 masks is within 40 of a palette colour"),
])
def test_inspect_calls_masks_without_a_labelled_pixel_a_problem(tmp_path, capsys, mask, why):
    """Was "labelled pixels: 0 (0.0%) ... no problems found", exit 0."""
    folder = pairs(tmp_path / "unlabelled", [mask] * 3)
    status, out, _ = inspected(capsys, folder, "--classes", "19")
    assert status == 1, out
    assert f"{folder / 'masks'}: {why}" in out, out


def test_class_weights_of_masks_without_a_labelled_pixel_are_a_data_error():
    """Was a bare ValueError, a traceback from `npcae train --class-weights auto`."""
    with pytest.raises(DataError, match="no labelled pixel in the 2 masks: every pixel is the "
                                        "ignore label 255") as info:
        median_frequency_weights([np.full((2, 2), IGNORE)] * 2, 4)
    assert isinstance(info.value, ValueError) and "class ids 0..3" in str(info.value)
    with pytest.raises(DataError, match="class id 7 in a mask: outside 0..3"):
        median_frequency_weights([np.array([[0, 7]])], 4)


def test_auto_class_weights_of_masks_without_a_labelled_pixel_are_one_line(tmp_path, capsys):
    folder = pairs(tmp_path / "unlabelled", [np.full((8, 8), IGNORE, np.uint8)] * 4)
    status, line = trained(tmp_path, capsys, folder, "--classes", "19", "--class-weights", "auto")
    assert status == 2 and "no labelled pixel in the 3 masks: every pixel is the ignore label" in line, line


# -- 2. a dropped download ------------------------------------------------------------------------

DROPPED = "/data/val_mask/136_00210.png"


def answering(server, answer):
    """Make the fixture's server answer GET DROPPED with answer(handler); others as before."""
    base = server.RequestHandlerClass

    class Handler(base.func):
        def do_GET(self):
            if self.path == DROPPED:
                server.requests.append(self.path)
                return answer(self)
            return super().do_GET()
    server.RequestHandlerClass = functools.partial(Handler, **base.keywords)


def drop_after_1000_of_5000(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "5000")
    handler.end_headers()
    handler.wfile.write(b"x" * 1000)
    handler.wfile.flush()
    handler.close_connection = True


def test_a_dropped_download_is_one_line_and_leaves_nothing(remote, tmp_path, capsys,  # noqa: F811
                                                           monkeypatch):
    """Was a 40-line http.client.IncompleteRead traceback and exit 1."""
    answering(remote, drop_after_1000_of_5000)
    monkeypatch.setenv("NPCAE_TIKTOK_URL", remote.url)
    dest = tmp_path / "tiktok"
    assert main(["fetch-data", "tiktok-136", "--dest", str(dest)]) == 2
    line = error_line(capsys)
    assert line == (f"npcae: error: could not download {remote.url}{DROPPED}: the connection "
                    f"closed after 1000 of 5000 bytes"), line
    assert not (dest / "masks" / "136_00210.png").exists() and leftovers(dest) == []


@pytest.mark.parametrize("answer, reason", [
    (lambda handler: handler.send_error(500), "HTTP 500"),
    (lambda handler: time.sleep(1.5), "timed out"),
    (lambda handler: handler.wfile.write(b"HTTP/1.1 ok\r\n\r\n"), "BadStatusLine"),
])
def test_other_network_failures_are_one_line(remote, tmp_path, capsys, monkeypatch,  # noqa: F811
                                             answer, reason):
    from npcae.data.sets.tiktok_136 import fetch_tiktok136
    answering(remote, answer)
    with pytest.raises(DataError, match=f"could not download {remote.url}{DROPPED}: .*{reason}") as info:
        fetch_tiktok136(tmp_path / "tiktok", base_url=remote.url, timeout=0.5)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "tiktok" / "masks" / "136_00210.png").exists()


def test_a_refused_connection_is_one_line_from_the_command_line(tmp_path, capsys, monkeypatch):
    import socket
    with socket.socket() as unused:                  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("NPCAE_TIKTOK_URL", f"http://127.0.0.1:{port}")
    assert main(["fetch-data", "tiktok-136", "--dest", str(tmp_path / "t")]) == 2
    assert f"could not download http://127.0.0.1:{port}/data/val_image/" in error_line(capsys)


# -- 3. inspect refuses what training refuses -------------------------------------------------------

def empty_pairs(root):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    return root, [], "holds no images (.png/.jpg)"


def symlink_loops(root):
    empty_pairs(root)
    for sub in ("images", "masks"):
        os.symlink("a.png", root / sub / "a.png")            # a link to itself
    return root, [], (f"{root / 'images' / 'a.png'}: cannot be read as an image: Too many levels "
                      f"of symbolic links")


def train_and_val(root):
    streets(root / "train")
    streets(root / "val", count=2)
    return root, ["--classes", "19"], "holds no composite images (its train/ and val/ hold"


@pytest.mark.parametrize("make", [empty_pairs, symlink_loops, train_and_val])
def test_inspect_refuses_what_training_refuses(tmp_path, capsys, make):
    """inspect called these fine ("0 pairs ... no problems found", exit 0); train refused them."""
    folder, options, problem = make(tmp_path / make.__name__)
    status, line = trained(tmp_path, capsys, folder, *options)
    assert status == 2, line
    status, out, _ = inspected(capsys, folder)
    assert status == 1 and problem in out, out
    assert "no problems found" not in out


def test_inspect_names_duplicate_names_as_training_does(tmp_path, capsys):
    folder = pairs(tmp_path / "twice", [np.zeros((8, 8), np.uint8)] * 2)
    Image.new("RGB", (8, 8)).save(folder / "images" / "0.jpg")
    assert "two files named '0'" in trained(tmp_path, capsys, folder)[1]
    status, out, _ = inspected(capsys, folder)
    assert status == 1 and "images/0.png: has the name of another image, 0.jpg" in out, out


# -- 4. composites whose label half cannot be colour labels -----------------------------------------

def photos_side_by_side(folder, count=4, split=False):
    """human-seg-290 photos as composites: two photos side by side, or one photo split in two."""
    source = shared_data("human-seg-290") / "images"
    folder.mkdir(parents=True)
    for i in range(count):
        first = Image.open(source / f"{2 * i + 1}.jpg").convert("RGB").resize((64, 48))
        if split:
            first.save(folder / f"{i + 1}.png")
            continue
        second = Image.open(source / f"{2 * i + 2}.jpg").convert("RGB").resize((64, 48))
        both = Image.new("RGB", (128, 48))
        both.paste(first, (0, 0))
        both.paste(second, (64, 0))
        both.save(folder / f"{i + 1}.png")
    return folder


@pytest.mark.parametrize("make, why", [
    (lambda folder: streets(folder, convert="L"), "its label half is grayscale"),
    (lambda folder: streets(folder, convert="LA"), "its label half is grayscale"),
    (photos_side_by_side, "of its label half's pixels lie within 10 of a palette colour"),
    (functools.partial(photos_side_by_side, split=True), "of its label half's pixels lie within 10"),
])
def test_composites_whose_label_half_is_not_colour_labels_are_refused(tmp_path, capsys, make, why):
    """Trained as composites (exit 0), and inspect read them as 97% building."""
    folder = make(tmp_path / "composites")
    status, line = trained(tmp_path, capsys, folder, "--classes", "19")
    assert status == 2 and why in line and "1.png" in line, line
    status, out, _ = inspected(capsys, folder)
    assert status == 1 and f"{folder / '1.png'}: " in out and why in out, out
    assert "0 composites" in out                          # none of them is counted as labels


def test_the_label_check_passes_real_composites_and_a_palette_of_a_few_of_their_colours(tmp_path):
    folder = shared_data("cityscapes-pix2pix", inside="val") / "val"
    frames = CompositeFrames(folder, (64, 64), cache_mb=0)
    frames.read(range(0, 500, 25))                        # 20 real files, checked as they are read
    palette = tmp_path / "three.txt"                      # road, sky, car: 57-71% of a street
    palette.write_text("road, 128, 64, 128\nsky, 70, 130, 180\ncar, 0, 0, 142\n")
    from npcae.data.palette import read_palette
    three = CompositeFrames(streets(tmp_path / "streets"), (32, 32), read_palette(palette))
    assert three.read([0, 1, 2, 3])[1].shape == (4, 32, 32, 1)


def test_the_label_check_threshold_has_a_margin_on_both_sides():
    """MIN_FIT against the data: real composites' label halves far above, photos far below."""
    from npcae.data.composites import MIN_FIT
    from npcae.data.palette import CITYSCAPES_19, colour_fit
    real = shared_data("cityscapes-pix2pix", inside="train") / "train"
    photos = shared_data("human-seg-290") / "images"
    fits = [colour_fit(np.asarray(Image.open(real / f"{n}.jpg").convert("RGB"))[:, 256:], CITYSCAPES_19)
            for n in range(1, 2975, 300)]
    assert min(fits) > 1.25 * MIN_FIT, fits
    # 46% of its label half is the void colour (81, 0, 81): a measure leaving void out refused it
    assert colour_fit(np.asarray(Image.open(real / "1399.jpg").convert("RGB"))[:, 256:]) > MIN_FIT
    fits = [colour_fit(np.asarray(Image.open(photos / f"{n}.jpg").convert("RGB")), CITYSCAPES_19)
            for n in range(1, 290, 29)]
    assert max(fits) < MIN_FIT / 1.5, fits


# -- 5. problems that lost their file's name -----------------------------------------------------

def test_inspect_problems_name_their_file(tmp_path, capsys):
    """Were "cannot read image file : ...", "mask  is a I;16 image", "Is a directory: ''"."""
    folder = pairs(tmp_path / "wide", [np.full((8, 8), 300, np.uint16)])
    status, out, _ = inspected(capsys, folder, "--classes", "19")
    assert status == 1
    assert f"{folder / 'masks' / '0.png'}: is a I;16 image; class ids need an 8-bit gray" in out, out
    composites = streets(tmp_path / "streets", count=2)
    os.symlink("3.png", composites / "3.png")
    (composites / "4.png").mkdir()                           # a folder in a file's place
    status, out, _ = inspected(capsys, composites)
    assert status == 1 and "2 composites" in out
    assert (f"{composites / '3.png'}: cannot be read as an image: Too many levels of symbolic "
            f"links") in out, out
    assert f"{composites / '4.png'}: cannot be read as an image: Is a directory" in out, out
    assert "''" not in out and "file :" not in out


def test_a_palette_file_that_is_not_utf8_is_named(tmp_path, capsys):
    palette = tmp_path / "latin1.txt"
    palette.write_bytes("stra\xdfe, 128, 64, 128\nsky, 70, 130, 180\n".encode("latin-1"))
    status, _, err = inspected(capsys, streets(tmp_path / "streets", count=1), "--palette", palette)
    assert status == 2
    assert err.splitlines() == [f"npcae: error: --palette {palette}: not UTF-8 text (byte 0xdf at "
                                f"offset 4); a palette file is lines 'name, R, G, B' saved as UTF-8"], err


# -- 6. an odd width ------------------------------------------------------------------------------

def test_an_odd_width_says_what_to_do(tmp_path, capsys):
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.fromarray(street_composite(render_street(1, 0, (32, 32)))[:, :63]).save(folder / "1.png")
    status, line = trained(tmp_path, capsys, folder, "--classes", "19")
    assert status == 2 and "1.png is 63 pixels wide: an odd width has no middle" in line
    assert "crop or pad it to an even width" in line and "give the column" not in line, line
    status, out, _ = inspected(capsys, folder)
    assert status == 1 and "1.png: is 63 pixels wide: an odd width has no middle" in out, out
