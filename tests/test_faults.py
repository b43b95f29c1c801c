"""Fault injection, end to end through the command line: damaged files, a disk that fills up,
SIGKILL during checkpoint writes, two runs into one folder, a double Ctrl-C, colliding names.

Each test asserts the exit status, that the error is one line naming its cause (no traceback),
and that the files left behind load. (Image modes and damaged data files: test_faults_data.py.)
"""
import errno
import io
import os
import random
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from npcae.train.callbacks import History
from npcae.train.checkpoint import read_checkpoint
from npcae.cli import main
from npcae.predict import load_model
from test_cli import TINY, error_line, history

SMALL = [*TINY, "--filters", "2,4,8"]          # a checkpoint of a few kB


def npy_bytes(array):
    """What np.save writes: an array file, not a .npz archive."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def start(args, **kwargs):
    """`npcae train ARGS` in a child process, with Python's own Ctrl-C handling (a background
    shell job would otherwise start it ignoring SIGINT)."""
    return subprocess.Popen([sys.executable, "-m", "npcae", "train", *args], text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


def finished(run, timeout=120):
    """(exit code, stderr) of a started run, its pipes closed (communicate closes them: a pipe
    left to the garbage collector warns in whichever test happens to be running then)."""
    _, err = run.communicate(timeout=timeout)
    return run.returncode, err


def wait_for(condition, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("the run never got there")
        time.sleep(0.002)


def temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] if folder.exists() else []


def assert_same_weights(a, b):
    wa, wb = np.load(a / "weights.npz"), np.load(b / "weights.npz")
    assert wa.files == wb.files
    for name in wa.files:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 1-epoch run, to damage copies of its files."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--epochs", "1", "--out", str(run), *SMALL]) == 0
    return run


# -- damaged files ----------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated", "empty", "text", "flipped bytes", "an array"])
@pytest.mark.parametrize("name", ["weights.npz", "checkpoint.npz"])
def test_damaged_weights_and_checkpoints_are_one_line(tmp_path, trained, frames, capsys, damage, name):
    run = tmp_path / "run"
    run.mkdir()
    for file in ("weights.npz", "checkpoint.npz"):
        (run / file).write_bytes((trained / file).read_bytes())
    path = run / name
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:       # flip bytes in the first array: the weights
        first = archive.infolist()[0].header_offset + 100
    path.write_bytes({"truncated": data[:len(data) // 2], "empty": b"", "text": b"these are not weights\n",
                      "flipped bytes": data[:first] + bytes(b ^ 0xFF for b in data[first:first + 64])
                      + data[first + 64:], "an array": npy_bytes(np.zeros(3))}[damage])
    capsys.readouterr()
    assert main(["predict", "--weights", str(path), str(frames / "images"),
                 "--out", str(tmp_path / "pred")]) == 2
    assert str(path) in error_line(capsys)
    assert not (tmp_path / "pred").exists()
    assert main(["evaluate", "--weights", str(path), "--data", str(frames)]) == 2
    assert str(path) in error_line(capsys)
    if name == "checkpoint.npz":
        assert main(["train", "--resume", str(run), "--no-progress"]) == 2
        assert str(path) in error_line(capsys)


@pytest.mark.parametrize("damage", ["truncated png", "truncated jpeg", "text as png", "empty mask"])
def test_damaged_images_and_masks_are_named(tmp_path, frames, capsys, damage):
    from PIL import Image
    """Files whose header is broken are named before anything is written; one that breaks only
    when decoded is named when its batch comes, and the run saves its position to resume from
    once the file is fixed."""
    image, mask = frames / "images" / "synth_02.png", frames / "masks" / "synth_02.png"
    original = image.read_bytes()
    if damage == "truncated png":
        image.write_bytes(image.read_bytes()[:200])
        named = image
    elif damage == "truncated jpeg":
        named = image.with_suffix(".jpg")
        Image.open(image).convert("RGB").save(named)
        image.unlink()
        named.write_bytes(named.read_bytes()[:300])
    elif damage == "text as png":
        image.write_text("not a picture")
        named = image
    else:
        mask.write_bytes(b"")
        named = mask
    assert main(["train", "--data", str(frames), "--epochs", "2", "--out", str(tmp_path / "r"), *SMALL]) == 2
    line = error_line(capsys)
    assert str(named) in line
    if damage != "truncated png":
        assert not (tmp_path / "r").exists()
        return
    assert f"npcae train --resume {tmp_path / 'r'}" in line, line
    image.write_bytes(original)
    assert main(["train", "--resume", str(tmp_path / "r"), "--no-progress"]) == 0


# -- a disk that fills up ----------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """(folder, fill, free): a folder on a disk that fill() fills up and free() empties again.

    As root, a real 8 MB tmpfs, filled with a file. Otherwise a patched writer: every new file
    and every allocation fails with ENOSPC from fill() until the run deletes its reserve file
    (which is what gives room back on a real disk) or free() is called.
    """
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if mounted:
        def fill():
            fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, bytes(1 << 16)):
                    pass
            except OSError as error:
                assert error.errno == errno.ENOSPC
            finally:
                os.close(fd)

        yield folder, fill, lambda: os.unlink(folder / "filler")
        subprocess.run(["umount", str(folder)], check=True)
        return
    from npcae.system import reserve
    from npcae.models import io
    full = []
    real_mkstemp, real_allocate, real_drop = io.tempfile.mkstemp, os.posix_fallocate, reserve.DiskReserve.drop

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.tempfile, "mkstemp", lambda *a, **k: (no_space if full else real_mkstemp)(*a, **k))
    monkeypatch.setattr(os, "posix_fallocate", lambda *a: (no_space if full else real_allocate)(*a))
    monkeypatch.setattr(reserve.DiskReserve, "drop", lambda self: (full.clear(), real_drop(self)))
    yield folder, lambda: full.append(True), full.clear


def test_a_disk_that_fills_up_costs_no_epochs(tmp_path, small_disk, monkeypatch, capsys):
    """The disk fills at the end of epoch 3, with no checkpoint written yet (--checkpoint-every
    100): the run still saves epoch 3 into the room its reserve kept, ends in one line with
    exit status 4, and once space is freed resumes to the weights of a run never interrupted."""
    disk, fill, free = small_disk
    out, common = disk / "run", ["--epochs", "5", "--checkpoint-every", "100", "--seed", "4", *SMALL]
    real = History.on_epoch_end

    def filling_at_epoch_3(self, trainer, logs):
        if trainer.epoch == 3 and self.path.startswith(str(disk)):
            fill()
        real(self, trainer, logs)

    monkeypatch.setattr(History, "on_epoch_end", filling_at_epoch_3)
    assert main(["train", *common, "--out", str(out)]) == 4
    line = error_line(capsys)
    assert "history.csv" in line and "No space left on device" in line, line
    assert "(epoch 3)" in line and f"npcae train --resume {out}" in line, line
    assert read_checkpoint(out / "checkpoint.npz")["epoch"] == 3
    assert not temporaries(out)
    free()
    monkeypatch.setattr(History, "on_epoch_end", real)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert [int(row["epoch"]) for row in history(out)] == [1, 2, 3, 4, 5]
    assert main(["train", *common, "--out", str(tmp_path / "straight")]) == 0
    assert_same_weights(out, tmp_path / "straight")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []     # lock removed


def test_a_full_disk_at_the_first_write_is_one_line(tmp_path, small_disk, capsys):
    """Full before anything could be saved: one line, status 4, and nothing half-written."""
    disk, fill, _ = small_disk
    fill()
    assert main(["train", "--epochs", "2", "--out", str(disk / "run"), *SMALL]) == 4
    line = error_line(capsys)
    assert "No space left on device" in line and "No checkpoint had been written yet" in line, line
    assert not temporaries(disk / "run")


# -- processes killed, interrupted, or running side by side -------------------------------------
def test_sigkill_during_checkpoint_writes_then_resume_ends_identical(tmp_path):
    """SIGKILL twice at a random moment while checkpoint.npz is being written (the CAE's
    default filters make it 25 MB, so a write lasts long enough to be hit); each time the
    checkpoint on disk loads, and the resumed run ends with the weights of an unbroken one."""
    common = ["--epochs", "6", "--checkpoint-every", "1", "--val-every", "3", "--seed", "9", *TINY]
    straight = start([*common, "--out", str(tmp_path / "straight")], stderr=subprocess.DEVNULL)
    out, chance = tmp_path / "killed", random.Random(2026)
    for _ in range(2):
        resume = ["--resume", str(out), "--no-progress"] if (out / "checkpoint.npz").exists() else []
        run = start(resume or [*common, "--out", str(out)], stderr=subprocess.DEVNULL)
        wait_for(lambda: run.poll() is not None or (out / "checkpoint.npz").exists() and any(
            p.startswith(".checkpoint.npz.") for p in temporaries(out)))     # over an older one
        time.sleep(chance.uniform(0, 0.03))
        run.send_signal(signal.SIGKILL)
        assert run.wait(60) in (-signal.SIGKILL, 0)
        if (out / "checkpoint.npz").exists():
            read_checkpoint(out / "checkpoint.npz")              # whole, whatever the moment
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert straight.wait(120) == 0
    assert_same_weights(out, tmp_path / "straight")
    assert not temporaries(out)


def test_two_runs_into_one_folder_one_is_refused(tmp_path):
    out = tmp_path / "run"
    runs = [start(["--epochs", "2", "--seed", str(seed), "--out", str(out), *SMALL],
                  stderr=subprocess.PIPE) for seed in (1, 2)]
    results = sorted(finished(run) for run in runs)
    assert [code for code, _ in results] == [0, 2]
    refused = results[1][1].strip().splitlines()
    assert "Traceback" not in results[1][1]
    assert refused[-1].startswith("npcae: error:")
    assert "in use by another npcae process" in refused[-1] or "already holds a run" in refused[-1]
    assert [int(row["epoch"]) for row in history(out)] == [1, 2]
    assert read_checkpoint(out / "checkpoint.npz")["epoch"] == 2
    load_model(out / "weights.npz")


def test_a_second_ctrl_c_during_the_stop_checkpoint_waits_for_it(tmp_path):
    out = tmp_path / "run"
    run = start(["--epochs", "50", "--checkpoint-every", "0", "--out", str(out), *TINY],
                stderr=subprocess.PIPE)
    wait_for(lambda: (out / "history.csv").exists())
    run.send_signal(signal.SIGINT)
    wait_for(lambda: run.poll() is not None or any(
        p.startswith(".checkpoint.npz.") for p in temporaries(out)))
    run.send_signal(signal.SIGINT)                  # while the stop checkpoint is written
    code, err = finished(run)
    assert code == 0
    assert "Traceback" not in err and "writing the checkpoint first" in err, err
    assert "resume with: npcae train --resume" in err, err
    stopped = read_checkpoint(out / "checkpoint.npz")
    assert 1 <= stopped["epoch"] < 50
    assert not temporaries(out)


# -- names that collide -----------------------------------------------------------------------
def test_predict_refuses_inputs_whose_outputs_would_collide(tmp_path, trained, frames, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "synth_00.jpg").write_bytes((frames / "images" / "synth_00.png").read_bytes())
    capsys.readouterr()
    assert main(["predict", "--weights", str(trained), str(frames / "images"), str(other),
                 "--out", str(tmp_path / "pred")]) == 2
    assert "would write the same outputs (synth_00_*.png)" in error_line(capsys)
    assert not (tmp_path / "pred").exists()


def test_a_frame_named_twice_in_train_names_is_refused(tmp_path, frames, capsys):
    assert main(["train", "--data", str(frames), "--train-names", "synth_00,synth_01,synth_00",
                 "--out", str(tmp_path / "r"), *SMALL]) == 2
    assert "synth_00" in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_a_busy_run_folder_is_refused_and_stale_temporaries_are_removed(tmp_path, capsys):
    from npcae.system.runlock import RunLock
    out = tmp_path / "run"
    out.mkdir()
    (out / ".checkpoint.npz.abc123.tmp").write_bytes(b"half a checkpoint of a killed run")
    with RunLock(out):                                    # another process writing here
        assert main(["train", "--epochs", "1", "--out", str(out), *SMALL]) == 2
        assert f"in use by another npcae process (pid {os.getpid()})" in error_line(capsys)
    assert main(["train", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    assert not temporaries(out)


# -- folders that cannot be written, and Ctrl-C outside the training loop ---------------------
@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written into: a read-only tmpfs as root (root ignores file
    modes), else a folder without write permission."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("root without the right to mount: no folder root cannot write to")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_folders_that_cannot_be_written_are_named_before_any_work(tmp_path, trained, frames,
                                                                 read_only, monkeypatch, capsys):
    monkeypatch.setenv("NPCAE_TIKTOK_URL", "http://127.0.0.1:9/never-asked")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    # A --dest that is a file is a wrong option (2); a folder the disk refuses is the disk's (4).
    for argv, phrase, status in [
            (["fetch-data", "tiktok-136", "--dest", str(a_file)], f"{a_file} is a file", 2),
            (["fetch-data", "tiktok-136", "--dest", str(read_only / "cache")], "Read-only file system", 4),
            (["train", "--out", str(read_only / "run"), *SMALL], "Read-only file system", 4),
            (["predict", "--weights", str(trained), str(frames / "images"),
              "--out", str(read_only / "masks")], "Read-only file system", 4)]:
        if os.geteuid() != 0:
            phrase = "Permission denied" if "Read-only" in phrase else phrase
        assert main(argv) == status, argv
        line = error_line(capsys)
        assert phrase in line, line


def test_ctrl_c_during_the_final_plots_is_one_line_and_resume_draws_them(tmp_path, monkeypatch, capsys):
    from npcae.train import report as plots
    real, out = plots.write_figures, tmp_path / "run"

    def interrupted(exp):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_figures", interrupted)
    assert main(["train", "--epochs", "2", "--out", str(out), *SMALL]) == 130
    assert "interrupted" in error_line(capsys)
    assert read_checkpoint(out / "checkpoint.npz")["epoch"] == 2
    load_model(out / "weights.npz")
    monkeypatch.setattr(plots, "write_figures", real)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "loss.png").stat().st_size > 0 and (out / "metrics.json").exists()


def test_ctrl_c_during_start_up_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys):
    from npcae.train import experiment

    def interrupted(run):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "open_data", interrupted)
    assert main(["train", "--out", str(tmp_path / "run"), *SMALL]) == 130
    assert "interrupted" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_evaluate_at_a_size_the_model_cannot_take_is_one_line(trained, frames, capsys):
    assert main(["evaluate", "--weights", str(trained), "--data", str(frames), "--size", "60x30"]) == 2
    assert "size 60x30 does not fit the model" in error_line(capsys)


def test_predict_skips_the_resource_files_macos_leaves(tmp_path, trained, frames, capsys):
    (frames / "images" / "._synth_00.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    assert main(["predict", "--weights", str(trained), str(frames / "images"),
                 "--out", str(tmp_path / "pred")]) == 0
    assert "for 6 images" in capsys.readouterr().out
    assert not list((tmp_path / "pred").glob("._*"))


def test_a_finished_run_leaves_no_lock_file_and_the_lock_still_excludes(tmp_path):
    """A run that ends removes .npcae.lock; a lock taken on a file its owner then removed does
    not count (the lock is taken again on the file at the path)."""
    from npcae.system.runlock import LOCK_FILE, RunFolderBusy, RunLock
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    assert not (out / LOCK_FILE).exists()
    with RunLock(out):
        assert (out / LOCK_FILE).exists()
        with pytest.raises(RunFolderBusy):
            RunLock(out).__enter__()
    assert not (out / LOCK_FILE).exists()
    stale = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT)     # opened by a late comer ...
    (out / LOCK_FILE).unlink()                                   # ... as its owner removed it
    import fcntl
    fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)            # it locks a file gone from the folder
    with RunLock(out):                                           # which does not keep a new run out
        assert (out / LOCK_FILE).exists()
    os.close(stale)


def test_sigterm_stops_after_the_batch_with_a_checkpoint_and_exit_143(tmp_path):
    """What `timeout`, `kill` and schedulers send: the run saves its position as for Ctrl-C,
    and exits 143 (128 + SIGTERM) so the sender sees it did not finish; it resumes."""
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "npcae", "train", "--epochs", "400",
                                "--checkpoint-every", "1000", "--out", str(out), *SMALL],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "history.csv").exists() and history(out)):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    code, err = finished(process)
    assert code == 143
    assert "terminated (SIGTERM)" in err and f"resume with: npcae train --resume {out}" in err, err
    epoch = read_checkpoint(out / "checkpoint.npz")["epoch"]
    assert 1 <= epoch < 400
    assert main(["train", "--resume", str(out), "--epochs", str(epoch + 1), "--no-progress"]) == 0


def test_a_closed_pipe_is_not_a_disk_fault():
    """`npcae gradcheck | head -1`: the reader stops reading; npcae ends quietly with 141
    (128 + SIGPIPE, as a C tool killed by it), not "disk" 4 with a Broken pipe traceback."""
    # `true` reads nothing and is gone long before npcae's first line (after its imports), so
    # the pipe is surely closed when npcae writes, as it is for `head` once it has its lines.
    done = subprocess.run(f"{sys.executable} -m npcae gradcheck --layer relu | true; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 141 and done.stderr == "", done.stderr
