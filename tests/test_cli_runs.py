"""The command line around the trainer: real photos in mini-batches, held-out sets, resume
rules, bad settings in one line (faults of files, disks and processes: test_faults.py)."""
import json

import numpy as np
import pytest

from npcae.cli import main
from npcae.data import save_record, synthetic_record
from test_cli import TINY, error_line, history


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
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--model", "resnet"], "unknown model 'resnet'"),
    (["--n-train", "10"], "nothing"),
    (["--n-train", "0"], "--n-train must be a positive integer, got 0"),
    (["--val-split", "1.5"], "--val-split must be a fraction between 0 and 1"),
    (["--lr", "nan"], "--lr must be a positive number"),
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


def test_a_run_on_a_moved_folder_resumes_with_its_new_place(tmp_path, frames, monkeypatch, capsys):
    """A relative --data is stored whole, so a run resumes from any folder; a moved data folder
    is given with --data on resume, and must hold the run's frames."""
    monkeypatch.chdir(frames.parent)
    out = tmp_path / "run"
    assert main(["train", "--data", "frames", "--epochs", "1", "--out", str(out), *TINY,
                 "--filters", "2,4,8"]) == 0
    monkeypatch.chdir(tmp_path.parent)
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    moved = frames.rename(tmp_path / "moved")
    assert main(["train", "--resume", str(out), "--epochs", "3", "--no-progress"]) == 2
    assert "folder" in (line := error_line(capsys)) and "--data NEW_PLACE" in line, line
    (moved / "images" / "synth_05.png").rename(moved / "images" / "synth_99.png")
    (moved / "masks" / "synth_05.png").rename(moved / "masks" / "synth_99.png")
    assert main(["train", "--resume", str(out), "--data", str(moved), "--epochs", "3",
                 "--no-progress"]) == 2
    assert "not the run's" in (line := error_line(capsys)) and "'synth_05' is missing" in line, line
    (moved / "images" / "synth_99.png").rename(moved / "images" / "synth_05.png")
    (moved / "masks" / "synth_99.png").rename(moved / "masks" / "synth_05.png")
    assert main(["train", "--resume", str(out), "--data", str(moved), "--epochs", "3",
                 "--no-progress"]) == 0
    assert len(history(out)) == 3
