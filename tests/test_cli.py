"""The npcae command end to end: train, resume, predict, evaluate, and every bad input."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from npcae.cli import main

TINY = ["--size", "32x16", "--no-progress"]


def history(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "expected an error line on stderr"
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_train_writes_history_checkpoints_and_plots(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "4", "--val-every", "2", "--checkpoint-every", "2",
                 "--grad-every", "3", "--trace", "--out", str(out), *TINY]) == 0
    rows = history(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert rows[0]["heldout_iou"] == "" and rows[1]["heldout_iou"] != ""
    with open(out / "gradient_norms.csv") as f:
        norms = list(csv.DictReader(f))
    assert sorted({int(r["epoch"]) for r in norms}) == [1, 3, 4]     # first, every 3rd, last
    assert {r["name"] for r in norms} >= {"enc1.conv1.W", "enc1.conv1.b", "head.conv.W"} and min(float(r["norm"]) for r in norms) >= 0
    trace = json.loads((out / "trace.json").read_text())
    assert trace and "Conv2D" in (out / "trace.txt").read_text()
    for name in ("checkpoint.npz", "weights.npz", "loss.png", "accuracy.png", "iou_dice.png",
                 "evolution.png", "overlays.png", "metrics.json", "gradient_flow.png",
                 "trace.csv"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["heldout_per_image"]) == 7 and 0 <= report["all_iou"] <= 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _run(args, **kwargs):
    # A shell that starts a job in the background without job control makes it ignore SIGINT,
    # and Python then never installs its Ctrl-C handler: give the run a default SIGINT.
    return subprocess.Popen([sys.executable, "-m", "npcae", "train", *args],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


@pytest.mark.parametrize("options", [[], ["--augment"],
                                     ["--batch-size", "4", "--n-train", "7", "--augment"]],
                         ids=["plain", "augment", "mini-batches"])
def test_interrupted_and_resumed_run_ends_bit_for_bit_identical(tmp_path, options):
    """Ctrl-C in the middle, then --resume: the same final weights as an uninterrupted run
    (mini-batches: 7 frames in shuffled batches of 4 and 3, so the stop may fall mid-epoch)."""
    common = ["--epochs", "10", "--checkpoint-every", "100", "--val-every", "3", "--seed", "7",
              *TINY, *options]
    straight = _run([*common, "--out", str(tmp_path / "a")], stderr=subprocess.DEVNULL)
    interrupted = _run([*common, "--out", str(tmp_path / "b")], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        path = tmp_path / "b" / "history.csv"
        if path.exists() and len(history(tmp_path / "b")) >= 2:
            break
        time.sleep(0.05)
    interrupted.send_signal(signal.SIGINT)
    assert interrupted.wait(120) == 0 and straight.wait(120) == 0
    stopped_at = len(history(tmp_path / "b"))
    assert 2 <= stopped_at < 10, "the interrupt came too late to test anything"
    assert not (tmp_path / "b" / "weights.npz").exists()
    assert main(["train", "--resume", str(tmp_path / "b"), "--epochs", "10", "--no-progress"]) == 0
    with np.load(tmp_path / "a" / "weights.npz") as a, np.load(tmp_path / "b" / "weights.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    losses = lambda run: [r["train_loss"] for r in history(tmp_path / run)]
    assert losses("a") == losses("b")


def test_predict_writes_mask_overlay_and_cutout(tmp_path, frames):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(run), *TINY]) == 0
    out = tmp_path / "pred"
    assert main(["predict", "--weights", str(run), str(frames / "images"), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 18 and "synth_00_cutout.png" in names
    cutout = np.asarray(Image.open(out / "synth_00_cutout.png"))
    mask = np.asarray(Image.open(out / "synth_00_mask.png"))
    assert cutout.shape == (64, 32, 4) and mask.shape == (64, 32)
    # the cut-out's alpha is the soft mask, round(255 p); the mask is p > 0.5 (tests/test_predict.py)
    np.testing.assert_array_equal(cutout[..., 3] > 127, mask == 255)
    assert set(np.unique(mask)) <= {0, 255}


def test_evaluate_prints_per_image_and_total(tmp_path, frames, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(run / "weights.npz"), "--data", str(frames)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["image", "accuracy", "IoU", "Dice"]
    assert len(lines) == 1 + 6 + 2 and lines[-2].startswith("total")
    values = [float(v) for v in lines[-2].split()[1:]]
    assert all(0 <= v <= 1 for v in values)
    # the last row: each metric averaged over the 6 images, every image counting the same
    per_image = np.array([[float(v) for v in line.split()[1:]] for line in lines[1:7]])
    assert lines[-1].startswith("mean per image")
    np.testing.assert_allclose([float(v) for v in lines[-1].split()[3:]], per_image.mean(0), atol=5e-5)


# -- bad input: one line, non-zero exit, nothing half-written ------------------------------------

def test_missing_mask_is_named(tmp_path, frames, capsys):
    (frames / "masks" / "synth_03.png").unlink()
    assert main(["train", "--data", str(frames), "--n-train", "2", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "synth_03" in error_line(capsys)


def test_truncated_png_is_named(tmp_path, frames, capsys):
    path = frames / "images" / "synth_02.png"
    path.write_bytes(path.read_bytes()[:200])
    assert main(["train", "--data", str(frames), "--n-train", "2", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "synth_02.png" in error_line(capsys)


def test_negative_grad_every(tmp_path, capsys):
    assert main(["train", "--grad-every", "-1", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "--grad-every" in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    assert main(["train", "--data", str(tmp_path / "empty"), "--n-train", "1",
                 "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "empty" in error_line(capsys)


def test_mismatched_image_and_mask_sizes(tmp_path, frames, capsys):
    Image.new("L", (20, 20)).save(frames / "masks" / "synth_01.png")
    assert main(["train", "--data", str(frames), "--n-train", "2", "--out", str(tmp_path / "r"), *TINY]) == 2
    line = error_line(capsys)
    assert "synth_01" in line and "64x32" in line and "20x20" in line


def test_size_not_divisible_by_8(tmp_path, capsys):
    assert main(["train", "--size", "36x16", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    line = error_line(capsys)
    assert "36x16" in line and "divisible by 8" in line
    assert not (tmp_path / "r").exists()


def test_weights_of_another_architecture(tmp_path, capsys):
    from npcae.models import cae
    model = cae(filters=(2, 3, 4))
    model.config = {**model.config, "filters": [4, 32, 256]}    # a config that lies about its arrays
    model.save(tmp_path / "w.npz")
    assert main(["predict", "--weights", str(tmp_path / "w.npz"), str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "different architecture" in error_line(capsys)


def test_resume_from_a_missing_or_foreign_checkpoint(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    assert "no checkpoint" in error_line(capsys)
    from npcae.models import cae
    cae(filters=(2, 3, 4)).save(tmp_path / "checkpoint.npz")
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2
    assert "not a training checkpoint" in error_line(capsys)


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["train", "--out", str(blocker / "run"), *TINY]) == 4     # the disk's, as README says
    assert "cannot write to output folder" in error_line(capsys)
    if os.geteuid() != 0:                                  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["train", "--out", str(locked), *TINY]) == 4
        assert "cannot write to output folder" in error_line(capsys)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")   # the point of it
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--epochs", "30", "--lr", "1e30", "--checkpoint-every", "1",
                 "--out", str(out), *TINY])
    assert code == 3
    line = error_line(capsys)
    assert "loss became nan" in line and "last good checkpoint" in line
    from npcae.train.checkpoint import read_checkpoint
    state = read_checkpoint(out / "checkpoint.npz")
    assert all(np.isfinite(v).all() for v in state["model"].values())
    assert not (out / "weights.npz").exists()


def test_short_run_on_the_shared_frames_learns(tmp_path, tiktok_dir, monkeypatch):
    """A few epochs on the real tiktok-136 frames at 64x32: the training loss falls."""
    monkeypatch.setenv("NPCAE_TIKTOK_DIR", str(tiktok_dir))
    out = tmp_path / "run"
    assert main(["train", "--data", "tiktok-136", "--size", "64x32", "--epochs", "24", "--lr", "2e-3",
                 "--val-every", "8", "--out", str(out), "--no-progress"]) == 0
    losses = [float(r["train_loss"]) for r in history(out)]
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.02
    report = json.loads((out / "metrics.json").read_text())
    assert sorted(report["train_per_image"]) == ["136_00090", "136_00210", "136_00420"]
    assert len(report["heldout_per_image"]) == 7

