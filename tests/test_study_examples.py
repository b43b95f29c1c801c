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
