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
from npcae.data import save_record, synthetic_record

TINY = ["--size", "32x16", "--no-progress"]


def history(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "expected an error line on stderr"
    assert "Traceback" not in "\n".join(err)
    return err[-1]


@pytest.fixture
def frames(tmp_path):
    """A folder of 6 synthetic frames on disk, as a user would have them."""
    folder = tmp_path / "frames"
    save_record(synthetic_record(n_frames=6, size=(64, 32), seed=1), folder)
    return folder


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
    assert {r["name"] for r in norms} >= {"0.W", "0.b", "36.W"} and min(float(r["norm"]) for r in norms) >= 0
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
    np.testing.assert_array_equal(cutout[..., 3], mask)            # transparent where background
    assert set(np.unique(mask)) <= {0, 255}


def test_evaluate_prints_per_image_and_total(tmp_path, frames, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(run / "weights.npz"), "--data", str(frames)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["image", "accuracy", "IoU", "Dice"]
    assert len(lines) == 1 + 6 + 1 and lines[-1].startswith("total")
    values = [float(v) for v in lines[-1].split()[1:]]
    assert all(0 <= v <= 1 for v in values)


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
    assert main(["train", "--out", str(blocker / "run"), *TINY]) == 2
    assert "cannot write to output folder" in error_line(capsys)
    if os.geteuid() != 0:                                  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["train", "--out", str(locked), *TINY]) == 2
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
    from npcae.checkpoint import read_checkpoint
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


# -- the new trainer from the command line ---------------------------------------------------------

def test_real_photos_train_in_mini_batches_with_a_validation_split(tmp_path, human_seg_dir, capsys):
    """The CAE on the 290 real photos (198 masks at a smaller preview size), batches of 8."""
    out = tmp_path / "run"
    assert main(["train", "--data", str(human_seg_dir), "--val-split", "0.2", "--batch-size", "8",
                 "--size", "32x32", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.count("198 of 290 masks") == 1, err            # said once per data set
    assert "232 frames" in err and "58 held out" in err
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["heldout_per_image"]) == 58 and 0 <= report["heldout_iou"] <= 1
    for name in ("history.csv", "checkpoint.npz", "weights.npz", "loss.png", "overlays.png",
                 "evolution.png", "iou_dice.png"):
        assert (out / name).stat().st_size > 0, name


def test_resume_changes_only_the_options_given(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--val-every", "1", "--out", str(out), *TINY]) == 0
    # No --epochs: the run keeps its own target (3), it does not become a 500-epoch run.
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert len(history(out)) == 3
    assert main(["train", "--resume", str(out), "--epochs", "5", "--no-progress"]) == 0
    assert [int(r["epoch"]) for r in history(out)] == [1, 2, 3, 4, 5]
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--lr", "0.1", "--no-progress"]) == 2
    assert "--lr cannot change when a run is resumed" in error_line(capsys)
    # The same value again is no change; fewer epochs than done, another --out, a new run
    # over this one are refused.
    assert main(["train", "--resume", str(out), "--lr", "5e-4", "--no-progress"]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "4", "--no-progress"]) == 2
    assert "fewer than the 5 epochs" in error_line(capsys)
    assert main(["train", "--resume", str(out), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "stays in its folder" in error_line(capsys)
    assert main(["train", "--out", str(out), *TINY]) == 2
    assert "already holds a run" in error_line(capsys)


def test_held_out_frames_from_a_second_folder(tmp_path, frames, capsys):
    other = tmp_path / "other"
    save_record(synthetic_record(n_frames=2, size=(64, 32), seed=5), other)
    out = tmp_path / "run"
    assert main(["train", "--data", str(frames), "--val-data", str(other), "--epochs", "1",
                 "--out", str(out), *TINY]) == 0
    assert "6 frames" in capsys.readouterr().err
    assert len(json.loads((out / "metrics.json").read_text())["heldout_per_image"]) == 2


@pytest.mark.parametrize("args, phrase", [
    (["--batch-size", "0"], "--batch-size must be a positive integer"),
    (["--epochs", "0"], "--epochs must be an integer of at least 1"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--model", "resnet"], "unknown model 'resnet'"),
    (["--n-train", "10"], "nothing"),
    (["--seed", "-1"], "--seed must be 0 or a positive integer"),
    (["--loss", "bogus"], "unknown loss 'bogus'"),
])
def test_bad_run_settings_are_one_line_and_leave_no_folder(tmp_path, capsys, args, phrase):
    assert main(["train", *args, "--out", str(tmp_path / "r"), *TINY]) == 2
    assert phrase in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_weights_of_npcae_0_1_checkpoints_still_predict(tmp_path, frames):
    """A 0.1 checkpoint ("model/<name>" arrays, a flat config, no state) cannot be resumed,
    but its weights load into predict, as they did."""
    from npcae.models import cae
    model = cae(filters=(2, 3, 4), seed=0)
    arrays = {f"model/{name}": value for name, value, _ in model.named_parameters()}
    arrays["__config__"] = np.array(json.dumps({**model.config, "input_size": [64, 32]}))
    arrays["__run__"] = np.array(json.dumps({"epochs": 2}))
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    assert main(["predict", "--weights", str(tmp_path), str(frames / "images" / "synth_00.png"),
                 "--out", str(tmp_path / "pred")]) == 0
    assert (tmp_path / "pred" / "synth_00_mask.png").exists()
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2


def test_predict_refuses_inputs_whose_outputs_would_collide(tmp_path, frames, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(run), *TINY]) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "synth_00.jpg").write_bytes((frames / "images" / "synth_00.png").read_bytes())
    capsys.readouterr()
    assert main(["predict", "--weights", str(run), str(frames / "images"), str(other),
                 "--out", str(tmp_path / "pred")]) == 2
    assert "would write the same outputs (synth_00_*.png)" in error_line(capsys)
    assert not (tmp_path / "pred").exists()


@pytest.mark.parametrize("argv, phrase", [
    (["train", "--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["train", "--size", "big"], "size must look like HxW"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_command_line_errors_are_one_line_too(argv, phrase, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("npcae: error:") and err.count("\n") == 1, err     # no usage block
    assert phrase in err


@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_damaged_weights_and_checkpoints_are_one_line(tmp_path, frames, capsys, damage):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(run), *TINY]) == 0
    for name in ("weights.npz", "checkpoint.npz"):
        path = run / name
        data = path.read_bytes()
        path.write_bytes({"truncated": data[:len(data) // 2], "empty": b"",
                          "text": b"these are not weights\n"}[damage])
        capsys.readouterr()
        assert main(["predict", "--weights", str(path), str(frames / "images"),
                     "--out", str(tmp_path / "pred")]) == 2, name
        assert str(path) in error_line(capsys)
        assert main(["evaluate", "--weights", str(path), "--data", str(frames)]) == 2, name
        assert str(path) in error_line(capsys)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    assert "checkpoint.npz" in error_line(capsys)


def test_a_full_disk_is_one_line_with_exit_status_4(tmp_path, monkeypatch, capsys):
    """Every file goes through models.io.atomic_write's temporary file: fail its write as a full
    disk would, after the first checkpoint. The run ends in one line, and what is on disk loads."""
    import errno

    from npcae.checkpoint import read_checkpoint
    from npcae.models import io
    real, out = io.tempfile.mkstemp, tmp_path / "run"

    def full_after_the_first_checkpoint(*args, **kwargs):
        if (out / "checkpoint.npz").exists():
            raise OSError(errno.ENOSPC, "No space left on device", kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(io.tempfile, "mkstemp", full_after_the_first_checkpoint)
    code = main(["train", "--epochs", "4", "--checkpoint-every", "1", "--out", str(out), *TINY])
    assert code == 4
    line = error_line(capsys)
    assert "No space left on device" in line and str(out) in line
    assert read_checkpoint(out / "checkpoint.npz")["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_busy_run_folder_is_refused_and_stale_temporaries_are_removed(tmp_path, capsys):
    from npcae.runlock import RunLock
    out = tmp_path / "run"
    out.mkdir()
    (out / ".checkpoint.npz.abc123.tmp").write_bytes(b"half a checkpoint of a killed run")
    with RunLock(out):                                    # another process writing here
        assert main(["train", "--epochs", "1", "--out", str(out), *TINY]) == 2
        assert f"in use by another npcae process (pid {os.getpid()})" in error_line(capsys)
    assert main(["train", "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
