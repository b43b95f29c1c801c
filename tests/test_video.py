"""`npcae predict --video`: a folder of frames, an MP4 and an animated GIF in; an MP4, a GIF, a
WebP or a folder of PNGs out, frame by frame; the frames-per-second and stability lines; --truth
(IoU and dtSSD), --smooth, --frames; a broken frame or a cut-off file is one line, exit 2, and
no output at all; an MP4 without the [video] extra names the extra.

Two untrained models, as in test_predict.py: the tiny CAE (run at its trained size, 32x16),
and a 1x1 convolution whose soft mask is the frame's red channel / 255, known exactly.
"""
import re
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data
from npcae.cli import main
from npcae.layers import Conv2D
from npcae.models import Sequential, create
from npcae.predict import load
from npcae.tasks import BinaryMask

iio = pytest.importorskip("imageio.v3", reason='the [video] extra: pip install -e ".[video]"')

SIZE = (32, 16)                                 # the tiny CAE's trained size (H, W)
HW = (40, 24)                                   # the synthetic frames' size (H, W)
N = 5
STATS = re.compile(r"wrote (\d+) frames to .*: [\d.]+ frames per second .*\n"
                   r"temporal stability: mean IoU of consecutive masks ([\d.]+)\n")
TRUTH = re.compile(r"against the truth: mean IoU ([\d.]+), dtSSD ([\d.]+) \(x100")


@pytest.fixture(scope="module")
def cae_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("cae") / "weights.npz"
    create("cae", input_size=SIZE, seed=0, filters=(2, 4, 8)).save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The same N frames (a bright square moving right over noise) as a folder, a GIF, an MP4."""
    root = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(0)
    frames = []
    for t in range(N):
        frame = rng.integers(0, 120, (*HW, 3), dtype=np.uint8)
        frame[10:30, 3 + 3 * t:13 + 3 * t] = 255
        frames.append(frame)
    (root / "frames").mkdir()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "frames" / f"{t:05d}.png")
    images = [Image.fromarray(f) for f in frames]
    images[0].save(root / "clip.gif", save_all=True, append_images=images[1:], duration=100, loop=0)
    iio.imwrite(root / "clip.mp4", np.stack(frames), fps=10, macro_block_size=1)
    return root


def run(weights, video, out, *options):
    return main(["predict", "--video", str(video), "--weights", str(weights), "--out", str(out),
                 *map(str, options)])


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("npcae: error: "), err
    return err[0]


def stats(capsys):
    text = capsys.readouterr().out
    found = STATS.search(text)
    assert found, text
    return int(found[1]), float(found[2]), text


def frames_of(path):
    """The frames of an output, (N, H, W, C)."""
    if path.suffix == ".mp4":
        return iio.imread(path)
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGBA")))
    return np.stack(out)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- inputs and outputs ------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["frames", "clip.gif", "clip.mp4"])
def test_every_input_kind_becomes_a_video_of_every_frame_at_its_size(tmp_path, cae_weights, clip,
                                                                     source, capsys):
    out = tmp_path / "cut.mp4"
    assert run(cae_weights, clip / source, out) == 0
    count, stability, _ = stats(capsys)
    assert count == N and 0 <= stability <= 1
    video = frames_of(out)
    assert video.shape == (N, *HW, 3)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["cut.gif", "cut.webp", "cut.apng"])
def test_an_animated_image_out_has_every_frame(tmp_path, cae_weights, clip, name, capsys):
    assert run(cae_weights, clip / "frames", tmp_path / name, "--background", "#00ff00") == 0
    assert stats(capsys)[0] == N
    assert frames_of(tmp_path / name).shape == (N, *HW, 4)


def test_a_folder_out_holds_the_pictures_of_every_frame(tmp_path, cae_weights, clip, capsys):
    out = tmp_path / "pngs"
    assert run(cae_weights, clip / "clip.gif", out, "--frames", 3) == 0
    assert stats(capsys)[0] == 3
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{t:05d}_{kind}.png" for t in range(3)
                           for kind in ("mask", "cutout", "overlay"))
    with Image.open(out / "00002_cutout.png") as im:
        assert im.mode == "RGBA" and im.size == HW[::-1]
    assert leftovers(tmp_path) == []


def test_a_gif_without_background_is_transparent_outside_the_mask(tmp_path, cae_weights, clip,
                                                                  capsys):
    assert run(cae_weights, clip / "frames", tmp_path / "pngs") == 0
    assert run(cae_weights, clip / "frames", tmp_path / "cut.gif") == 0
    gif = frames_of(tmp_path / "cut.gif")
    for t in range(N):
        mask = np.asarray(Image.open(tmp_path / "pngs" / f"{t:05d}_mask.png")) > 0
        np.testing.assert_array_equal(gif[t, ..., 3] == 255, mask)


# -- the figures -------------------------------------------------------------------------------
def test_truth_equal_to_the_models_own_masks_scores_iou_one(tmp_path, cae_weights, clip, capsys):
    assert run(cae_weights, clip / "frames", tmp_path / "pngs") == 0
    capsys.readouterr()
    truth = tmp_path / "truth"
    truth.mkdir()
    for t in range(N):
        (tmp_path / "pngs" / f"{t:05d}_mask.png").rename(truth / f"{t:05d}.png")
    assert run(cae_weights, clip / "frames", tmp_path / "cut.mp4", "--truth", truth) == 0
    text = capsys.readouterr().out
    assert TRUTH.search(text) and float(TRUTH.search(text)[1]) == 1.0, text


@pytest.fixture
def red_model(monkeypatch):
    """--weights ANYTHING loads a model whose soft mask is the frame's red channel / 255."""
    conv = Conv2D(3, 1, 1, rng=np.random.default_rng(0), fast=False)
    conv.params["W"][...] = np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1)
    conv.params["b"][...] = 0.0
    model = Sequential([conv])
    monkeypatch.setattr(load, "load_model", lambda weights: load.TrainedModel(model, HW, BinaryMask()))


def red_frames(folder, reds):
    """Frames whose red channel is reds[t] (H, W) uint8; green and blue noise."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    for t, red in enumerate(reds):
        frame = rng.integers(0, 256, (*HW, 3), dtype=np.uint8)
        frame[..., 0] = red
        Image.fromarray(frame).save(folder / f"{t:05d}.png")
    return folder


def test_a_perfect_alpha_has_iou_one_and_dtssd_zero_and_a_wrong_one_does_not(tmp_path, red_model,
                                                                              capsys):
    rng = np.random.default_rng(4)
    reds = [np.where(rng.random(HW) < 0.4, 255, 0).astype(np.uint8) for _ in range(4)]
    frames = red_frames(tmp_path / "frames", reds)
    truth = tmp_path / "truth"
    truth.mkdir()
    for t, red in enumerate(reds):
        Image.fromarray(red).save(truth / f"{t:05d}.png")
    assert run("any", frames, tmp_path / "a.mp4", "--truth", truth) == 0
    found = TRUTH.search(capsys.readouterr().out)
    assert (float(found[1]), float(found[2])) == (1.0, 0.0)
    # the truth one frame late: a_t - a_{t-1} and g_t - g_{t-1} no longer cancel
    for t in range(4):
        Image.fromarray(reds[max(t - 1, 0)]).save(truth / f"{t:05d}.png")
    assert run("any", frames, tmp_path / "b.mp4", "--truth", truth) == 0
    found = TRUTH.search(capsys.readouterr().out)
    assert float(found[1]) < 1 and float(found[2]) > 10


def test_smooth_one_is_no_smoothing_and_a_half_is_the_ema(tmp_path, red_model, capsys):
    reds = [np.full(HW, v, np.uint8) for v in (200, 0, 100, 100)]
    frames = red_frames(tmp_path / "frames", reds)
    for name, options in (("plain", ()), ("one", ("--smooth", 1.0)), ("half", ("--smooth", 0.5))):
        assert run("any", frames, tmp_path / name, *options) == 0
    alpha = {name: [np.asarray(Image.open(tmp_path / name / f"{t:05d}_cutout.png"))[..., 3]
                    for t in range(4)] for name in ("plain", "one", "half")}
    for a, b in zip(alpha["plain"], alpha["one"]):
        np.testing.assert_array_equal(a, b)
    expected, p = [], None                       # p'_t = 0.5 p_t + 0.5 p'_{t-1}
    for v in (200, 0, 100, 100):
        p = v / 255 if p is None else 0.5 * v / 255 + 0.5 * p
        expected.append(round(255 * p))
    assert [int(np.unique(a)[0]) for a in alpha["half"]] == expected     # 200, 100, 100, 100
    assert all(len(np.unique(a)) == 1 for a in alpha["half"])


def test_smooth_outside_zero_to_one_is_refused(tmp_path, cae_weights, clip, capsys):
    assert run(cae_weights, clip / "frames", tmp_path / "cut.mp4", "--smooth", 0) == 2
    assert "--smooth" in one_error_line(capsys)
    assert not (tmp_path / "cut.mp4").exists()


# -- bad input: one line, exit 2, nothing written ------------------------------------------------
def test_a_corrupt_frame_in_the_middle_is_named_and_nothing_is_written(tmp_path, cae_weights, clip,
                                                                      capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for path in sorted((clip / "frames").iterdir()):
        (frames / path.name).write_bytes(path.read_bytes())
    broken = frames / "00002.png"
    broken.write_bytes(broken.read_bytes()[:60])
    for out in (tmp_path / "out" / "cut.mp4", tmp_path / "out" / "cut.gif", tmp_path / "out" / "pngs"):
        assert run(cae_weights, frames, out) == 2
        line = one_error_line(capsys)
        assert "frame 2" in line and "00002.png" in line, line
        assert not out.exists() and leftovers(out.parent) == []


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif"])
def test_a_cut_off_file_is_one_line_and_no_output(tmp_path, cae_weights, clip, name, capsys):
    data = (clip / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[:len(data) * 2 // 3])
    out = tmp_path / "out" / "cut.mp4"
    assert run(cae_weights, cut, out) == 2
    assert name in one_error_line(capsys)
    assert not out.exists() and (not out.parent.exists() or leftovers(out.parent) == [])


def test_an_mp4_without_the_video_extra_names_the_extra(tmp_path, cae_weights, clip, monkeypatch,
                                                        capsys):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)         # import fails
    assert run(cae_weights, clip / "clip.mp4", tmp_path / "cut.gif") == 2
    assert 'pip install -e ".[video]"' in one_error_line(capsys)
    assert run(cae_weights, clip / "frames", tmp_path / "cut.mp4") == 2
    assert 'pip install -e ".[video]"' in one_error_line(capsys)
    assert not (tmp_path / "cut.gif").exists() and not (tmp_path / "cut.mp4").exists()
    assert run(cae_weights, clip / "clip.gif", tmp_path / "cut.gif") == 0     # Pillow alone


def test_photos_still_need_inputs_and_video_options_need_video(tmp_path, cae_weights, capsys):
    assert main(["predict", "--weights", str(cae_weights), "--out", str(tmp_path / "o")]) == 2
    assert "--video" in one_error_line(capsys)
    assert main(["predict", str(tmp_path), "--weights", str(cae_weights), "--out",
                 str(tmp_path / "o"), "--smooth", "0.5"]) == 2
    assert "--smooth" in one_error_line(capsys)


# -- the real clip -------------------------------------------------------------------------------
def test_ten_frames_of_the_davis_clip(tmp_path, cae_weights, capsys):
    clip = shared_data("video-clips", inside="davis-parkour") / "davis-parkour"
    out = tmp_path / "parkour.mp4"
    assert run(cae_weights, clip / "frames", out, "--truth", clip / "masks", "--frames", 10,
               "--smooth", 0.5) == 0
    count, stability, text = stats(capsys)
    assert count == 10 and 0 <= stability <= 1
    iou, dtssd = map(float, TRUTH.search(text).groups())
    assert 0 <= iou <= 1 and dtssd >= 0
    assert frames_of(out).shape == (10, 480, 854, 3)
