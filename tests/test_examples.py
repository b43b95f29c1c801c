"""The example scripts run end to end at a small size, so they never rot."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, cwd):
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_train_seed_cae_then_predict_frames(tmp_path):
    out = run_example("train_seed_cae.py", "--data", "synthetic", "--size", "32x16",
                      "--epochs", "12", "--out", "seed", cwd=tmp_path)
    losses = [float(v) for v in re.findall(r"epoch +\d+ +loss ([0-9.]+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0]           # epochs 10 and 12, loss falling
    assert re.search(r"all 10: accuracy 0\.\d{4}  IoU 0\.\d{4}", out)
    for suffix in ("loss.png", "evolution.png", "overlays.png", "weights.npz"):
        assert (tmp_path / "seed" / suffix).stat().st_size > 0

    # predict_frames reads the saved weights (and the size stored in them) and cuts out
    # the synthetic frames rendered at twice that size.
    out = run_example("predict_frames.py", "seed/weights.npz", "--out", "cut", cwd=tmp_path)
    assert "model trained at 32x16" in out
    cutout = np.asarray(Image.open(tmp_path / "cut" / "synth_03_cutout.png"))
    mask = np.asarray(Image.open(tmp_path / "cut" / "synth_03_mask.png"))
    assert cutout.shape == (64, 32, 4) and mask.shape == (64, 32)
    assert np.array_equal(cutout[..., 3] > 127, mask == 255)     # alpha: the soft mask
    sheet = Image.open(tmp_path / "cut" / "contact_sheet.png")
    assert sheet.size == (10 * 32, 64)
