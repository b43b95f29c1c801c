"""Gradient norms recorded during training, kept across resume, drawn; and the example script."""
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npcae.models.containers import display_name
from npcae.train.callbacks import GradientNorms
from npcae.train.checkpoint import read_checkpoint, restore_trainer
from npcae.train.experiment import assemble
from npcae.plots.figures import gradient_matrix, plot_gradient_flow
from npcae.train.report import write_figures

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY_RUN = dict(data="synthetic", size=[16, 8], n_train=2, model_args={"filters": [2, 3, 4]},
                val_every=100, snapshot_every=0, checkpoint_every=100, seed=2)
GRADIENT_NORMS = GradientNorms.FILE


def experiment(out, resume=False, **run):
    exp = assemble({**TINY_RUN, **run}, out, progress=False, log=lambda *a: None)
    if resume:
        restore_trainer(read_checkpoint(out / "checkpoint.npz"), exp.trainer)
    return exp


def read_norms(out):
    with open(out / GRADIENT_NORMS, newline="") as f:
        return [(int(r["epoch"]), r["name"], float(r["norm"])) for r in csv.DictReader(f)]


def test_two_epochs_write_every_parameters_norm_and_the_plot(tmp_path):
    exp = experiment(tmp_path, epochs=2)             # grad_every defaults to 10: epochs 1 and 2
    exp.trainer.fit()
    rows = read_norms(tmp_path)
    model = exp.trainer.model
    names = [display_name(model, name) for name, _, _ in model.named_parameters()]
    assert names[:2] == ["enc1.conv1.W", "enc1.conv1.b"]      # stored as 0.W, 0.b
    assert [(e, n) for e, n, _ in rows] == [(e, n) for e in (1, 2) for n in names]
    # Adam does not touch the gradients: the model still holds epoch 2's.
    for (_, name, norm), (_, _, grad) in zip(rows[len(names):], exp.trainer.model.named_parameters()):
        assert norm == pytest.approx(np.linalg.norm(grad.astype(np.float64)), rel=1e-7), name
    assert all(norm > 0 for _, _, norm in rows)
    paths = write_figures(exp)
    assert Path(paths["gradient_flow"]) == tmp_path / "gradient_flow.png"
    assert (tmp_path / "gradient_flow.png").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_recorded_epochs_follow_grad_every_and_zero_disables(tmp_path):
    experiment(tmp_path / "a", epochs=7, grad_every=3).trainer.fit()
    assert sorted({e for e, _, _ in read_norms(tmp_path / "a")}) == [1, 3, 6, 7]
    exp = experiment(tmp_path / "b", epochs=2, grad_every=0)
    exp.trainer.fit()
    assert not (tmp_path / "b" / GRADIENT_NORMS).exists()
    assert exp.trainer.callback(GradientNorms).rows == []
    assert "gradient_flow" not in write_figures(exp)


def test_resume_keeps_the_rows_consistent(tmp_path):
    """A straight 6-epoch run against one resumed from an epoch-2 checkpoint after the CSV
    had already run on to epoch 4 (a crash between checkpoints): the same CSV, row for row."""
    experiment(tmp_path / "straight", epochs=6, grad_every=1).trainer.fit()
    out = tmp_path / "resumed"
    experiment(out, epochs=2, grad_every=1).trainer.fit()
    shutil.copy(out / "checkpoint.npz", tmp_path / "epoch2.npz")
    experiment(out, resume=True, epochs=4, grad_every=1).trainer.fit()
    assert max(e for e, _, _ in read_norms(out)) == 4
    shutil.copy(tmp_path / "epoch2.npz", out / "checkpoint.npz")
    resumed = experiment(out, resume=True, epochs=6, grad_every=1)
    assert {row["epoch"] for row in resumed.trainer.callback(GradientNorms).rows} == {1, 2}
    resumed.trainer.fit()
    assert (out / GRADIENT_NORMS).read_text() == (tmp_path / "straight" / GRADIENT_NORMS).read_text()


def test_unet_rows_are_named_by_place_and_an_older_checkpoint_resumes_into_those_names(tmp_path):
    """A U-Net's rows read "down1.conv1.W", not "6.0.7.W". A checkpoint written before the
    names existed (its rows under the stored names, as are its weights and Adam's slots, then
    and now) resumes into the same CSV as a straight run, each parameter once per epoch."""
    unet = dict(model="unet", model_args={"filters": [2, 3, 4]}, grad_every=1)
    straight = experiment(tmp_path / "straight", epochs=3, **unet)
    straight.trainer.fit()
    model = straight.trainer.model
    stored = [name for name, _, _ in model.named_parameters()]
    shown = [display_name(model, name) for name in stored]
    rows = read_norms(tmp_path / "straight")
    assert [(e, n) for e, n, _ in rows] == [(e, n) for e in (1, 2, 3) for n in shown]
    assert shown[0] == "down1.conv1.W" and "6.0.1.W" in stored and "down2.conv1.W" in shown
    assert {"bottom.bn2.gamma", "up1.upconv.b", "head.conv.b"} <= set(shown)

    out = tmp_path / "resumed"
    experiment(out, epochs=1, **unet).trainer.fit()
    with np.load(out / "checkpoint.npz") as data:
        arrays = {name: data[name] for name in data.files}
    assert {f"model/{n}" for n in stored} | {f"optim/m/{n}" for n in stored} <= set(arrays)
    callbacks = json.loads(str(arrays["__callbacks__"]))
    old = dict(zip(shown, stored))
    callbacks["gradient_norms"]["rows"] = [{**row, "name": old[row["name"]]}
                                           for row in callbacks["gradient_norms"]["rows"]]
    arrays["__callbacks__"] = np.array(json.dumps(callbacks))
    np.savez(out / "checkpoint.npz", **arrays)              # as npcae wrote it before the names
    resumed = experiment(out, resume=True, epochs=3, **unet)
    assert {row["name"] for row in resumed.trainer.callback(GradientNorms).rows} == set(stored)
    resumed.trainer.fit()
    assert (out / GRADIENT_NORMS).read_text() == (tmp_path / "straight" / GRADIENT_NORMS).read_text()


def test_gradient_matrix_and_plot_with_gaps_and_zeros(tmp_path):
    rows = [{"epoch": 5, "name": "0.W", "norm": 1e-3}, {"epoch": 1, "name": "0.W", "norm": 0.0},
            {"epoch": 1, "name": "3.W", "norm": 2.0}]
    names, epochs, norms = gradient_matrix(rows)
    assert names == ["0.W", "3.W"] and epochs == [1, 5]
    np.testing.assert_array_equal(norms, [[0.0, 1e-3], [2.0, np.nan]])
    plot_gradient_flow(rows, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no gradient norms"):
        plot_gradient_flow([], tmp_path / "empty.png")


def run_example(*args, cwd):
    return subprocess.run([sys.executable, str(EXAMPLES / "gradient_flow.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_example_shows_sigmoids_vanishing_gradient(tmp_path):
    done = run_example("--size", "16x8", "--filters", "2,4,8", "--epochs", "3", "--every", "2",
                       "--out", "flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    ratios = dict(re.findall(r"(\w+): .*first/last ([0-9.e+-]+) \(geometric mean over 3 epochs\)",
                             done.stdout))
    assert set(ratios) == {"swish", "relu", "sigmoid"}, done.stdout
    ratios = {name: float(value) for name, value in ratios.items()}
    # 12 sigmoid derivatives (each at most 1/4) between the first layer and the head.
    assert ratios["sigmoid"] < 1e-4 < min(ratios["swish"], ratios["relu"])
    for suffix in ("", "_swish", "_relu", "_sigmoid"):
        assert (tmp_path / "flow" / f"gradient_flow{suffix}.png").stat().st_size > 0


def test_example_refuses_bad_input_in_one_line(tmp_path):
    for args, phrase in ((["--size", "20x8"], "divisible by 8"),
                         (["--activations", "swish,gelu"], "unknown activation 'gelu'")):
        done = run_example(*args, cwd=tmp_path)
        assert done.returncode == 2 and phrase in done.stderr.strip().splitlines()[-1]
        assert "Traceback" not in done.stderr
