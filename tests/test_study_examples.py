"""The study examples run end to end at a tiny size and show what they claim to show."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, cwd, ok=True):
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)
    assert (done.returncode == 0) == ok, done.stderr[-2000:]
    return done.stdout if ok else done.stderr


def png(path):
    """The image at path as an array; it must be a real PNG file."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return np.asarray(Image.open(path))


def test_backprop_by_hand_three_gradients_agree(tmp_path):
    # KH != KW, H != W, stride 1, batch 2: the shapes that hide index bugs when square.
    out = run_example("backprop_by_hand.py", "--size", "5x4", "--kernel", "3x2", "--stride", "1",
                      "--channels", "2", "--filters", "3", "--out", "bp", cwd=tmp_path)
    errors = {name: (float(im2col), float(finite)) for name, im2col, finite in re.findall(
        r"max rel err (dW|db|dx): im2col (\S+), finite differences (\S+)", out)}
    assert set(errors) == {"dW", "db", "dx"}, out
    for name, (im2col, finite) in errors.items():
        assert im2col < 1e-12 and finite < 1e-6, (name, im2col, finite)
    # Every printed entry shows the same value three times, to the 8 digits finite
    # differences keep.
    rows = re.findall(r"^(d[Wbx]\[[\d, ]+\])\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert len(rows) == 9, out
    for label, *values in rows:
        assert np.allclose([float(v) for v in values], float(values[0]), rtol=1e-8, atol=1e-10), label
    image = png(tmp_path / "bp" / "backprop_by_hand.png")
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300


def test_backprop_by_hand_rejects_bad_arguments(tmp_path):
    for args, message in ((["--size", "2x2", "--padding", "valid"], "smaller than the kernel"),
                          (["--stride", "0"], "--stride must be a positive integer"),
                          (["--kernel", "3"], "size must look like HxW")):
        err = run_example("backprop_by_hand.py", *args, cwd=tmp_path, ok=False)
        assert len(err.strip().splitlines()) == 1 and message in err, err


def test_im2col_explained_matrix_product_is_the_convolution(tmp_path):
    out = run_example("im2col_explained.py", "--size", "6x5", "--kernel", "3x2", "--stride", "2",
                      "--batch", "2", "--out", "ic", cwd=tmp_path)
    # 'same' on 6x5 with a 3x2 kernel at stride 2: 3x3 outputs per frame, 3*2*3 columns.
    assert "cols = im2col(x): (18, 18)" in out, out
    assert re.search(r"im2col_loops\(x\)\| = 0\.0e\+00", out), out            # bit for bit
    assert "that row equals its 3x2x3 patch flattened: True" in out
    differences = [float(v) for v in re.findall(r"max \|conv - im2col@W\|, [\w.]+:\s+(\S+)", out)]
    assert len(differences) == 2 and max(differences) < 1e-10, out
    left, right = (float(v) for v in re.search(
        r"<im2col\(x\), c> = (\S+),  <x, col2im\(c\)> = (\S+)", out).groups())
    assert abs(left - right) < 1e-9 * max(1.0, abs(left))
    image = png(tmp_path / "ic" / "im2col_explained.png")
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    err = run_example("im2col_explained.py", "--size", "2x3", "--padding", "valid", cwd=tmp_path,
                      ok=False)
    assert err.strip() == "im2col_explained.py: error: input size 2 is smaller than the kernel 3 " \
                          "with padding 'valid'"
    err = run_example("im2col_explained.py", "--size", "64x64", cwd=tmp_path, ok=False)
    assert len(err.strip().splitlines()) == 1 and "would be 4096 x 27" in err, err


def grid_shape(tiles, frame=(32, 16), per_row=8, gap=2):
    """Pixel shape of feature_maps.py's tile grid: tiles of the frame's size, `gap` apart."""
    rows, columns = -(-tiles // per_row), min(tiles, per_row)
    return rows * (frame[0] + gap) - gap, columns * (frame[1] + gap) - gap, 3


def test_feature_maps_trains_then_draws_every_encoder_block(tmp_path):
    out = run_example("feature_maps.py", "--size", "32x16", "--epochs", "2", "--tiles", "12",
                      "--out", "fm", cwd=tmp_path)
    assert "trained 2 epochs at 32x16" in out
    assert "layer by layer = model.forward: max difference 0.0e+00" in out
    # (4, 32, 256) filters: all 4, then 12 of 32, then 12 of the 256 latent channels.
    assert re.findall(r"(\d+) channels at (\d+x\d+); .*drawn: (\d+) tiles", out) == [
        ("4", "16x8", "4"), ("32", "8x4", "12"), ("256", "4x2", "12")], out
    for block, tiles in ((1, 4), (2, 12), (3, 12)):
        grid = png(tmp_path / "fm" / f"block{block}.png")
        assert grid.shape == grid_shape(tiles), (block, grid.shape)
    assert not (tmp_path / "fm" / "block4.png").exists()
    tiles = png(tmp_path / "fm" / "block1.png")[:, :16]          # the strongest channel
    assert tiles.reshape(-1, 3).std(axis=0).max() > 10            # a picture, not a flat tile
    assert png(tmp_path / "fm" / "feature_maps.png").shape[1] > 500


def test_feature_maps_reads_a_saved_model_of_any_depth(tmp_path):
    from npcae.models import cae
    model = cae(filters=(3, 8), seed=0)               # two blocks: the latent is block 2
    model.config["input_size"] = [32, 16]
    model.save(tmp_path / "w.npz")
    out = run_example("feature_maps.py", "--weights", "w.npz", "--tiles", "5", "--frame", "synth_02",
                      "--out", "fm", cwd=tmp_path)
    assert "trained at 32x16" in out and "trained 2 epochs" not in out
    assert re.findall(r"(\d+) channels at (\d+x\d+); .*drawn: (\d+) tiles", out) == [
        ("3", "16x8", "3"), ("8", "8x4", "5")], out
    assert "latent space: 8 channels" in out
    assert png(tmp_path / "fm" / "block2.png").shape == grid_shape(5)
    assert not (tmp_path / "fm" / "block3.png").exists()
    for args, message in ((["--weights", "missing.npz"], "weights file not found"),
                          (["--weights", "w.npz", "--size", "32x16"], "--size is for training"),
                          (["--size", "30x16"], "must be divisible by 8"),
                          (["--weights", "w.npz", "--frame", "synth_99"], "'synth_99' is not in")):
        err = run_example("feature_maps.py", *args, cwd=tmp_path, ok=False)
        assert len(err.strip().splitlines()) == 1 and message in err, err


def test_denoising_autoencoder_beats_the_noise(tmp_path):
    out = run_example("denoising_autoencoder.py", "--size", "32x16", "--frames", "8", "--epochs", "60",
                      "--sigma", "0.2", "--out", "dn", cwd=tmp_path)
    assert "6 training frames, 2 held out (synth_03, synth_07)" in out
    check = float(re.search(r"MSELoss gradient check .*max rel err (\S+)", out).group(1))
    assert check < 1e-6
    psnr = {name: float(value) for name, value in re.findall(
        r"PSNR (noisy|3x3 mean filter|denoised) +([0-9.]+) dB", out)}
    assert set(psnr) == {"noisy", "3x3 mean filter", "denoised"}, out
    assert 12 < psnr["noisy"] < 17                     # sigma 0.2, clipped: ~14.4 dB
    assert psnr["denoised"] > psnr["noisy"] + 3, psnr
    held_out = [float(v) for v in re.findall(r"held-out MSE ([0-9.]+)", out)]
    assert len(held_out) == 2 and held_out[1] < held_out[0]     # epochs 50 and 60
    image = png(tmp_path / "dn" / "denoising_autoencoder.png")
    assert image.ndim == 3 and image.shape[0] > image.shape[1]     # 3 rows of tall frames, 2 columns
    err = run_example("denoising_autoencoder.py", "--size", "30x16", cwd=tmp_path, ok=False)
    assert err.strip() == "denoising_autoencoder.py: error: --size 30x16 must be divisible by 4 " \
                          "(two stride-2 convs)"


def test_depthwise_by_hand_agrees_with_the_library_and_finite_differences(tmp_path):
    out = run_example("depthwise_by_hand.py", "--size", "6", "--channels", "2", "--multiplier", "2",
                      "--stride", "2", "--expansion", "3", "--out", "dw", cwd=tmp_path)
    library = {name: float(v) for name, v in re.findall(
        r"(dW|db|dx): library vs loops, max relative error (\S+)", out)}
    assert set(library) == {"dW", "db", "dx"} and max(library.values()) < 1e-12, out
    assert float(re.search(r"dW: finite differences vs loops, max relative error (\S+)", out)[1]) < 1e-6
    block = re.search(r"dx library vs by hand (\S+), finite differences vs by hand (\S+)", out)
    assert float(block[1]) < 1e-12 and float(block[2]) < 1e-5, out
    assert png(tmp_path / "dw" / "depthwise_by_hand.png").ndim == 3
