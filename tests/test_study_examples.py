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
