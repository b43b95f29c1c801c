"""--ema: the weight average follows its formula step by step, is what validation scores and
weights.npz keeps, and a stopped and resumed run ends with the same average as one that ran
straight through."""
import json

import numpy as np
import pytest

from npcae.cli import main
from npcae.predict import load_model
from npcae.train.callbacks import Callback, Validation
from npcae.train.callbacks.averaging import averaged_arrays
from npcae.train.experiment import assemble
from npcae.train.report import finish
from npcae.train.resuming import resume
from npcae.train.run_settings import SettingsError, settings
from test_unet import UNET_RUN

RUN = {**UNET_RUN, "model_args": {"filters": [2, 3, 4]}, "ema": 0.9, "epochs": 3,
       "checkpoint_every": 1}
QUIET = dict(progress=False, log=lambda *_: None)


class LiveWeights(Callback):
    """The live weights after every step (runs after WeightAverage, whose order is -1)."""

    def __init__(self):
        self.steps = []

    def on_batch_end(self, trainer, logs):
        self.steps.append({name: value.astype(np.float64) for name, value in
                           averaged_arrays(trainer.model)})


def test_the_average_follows_its_formula_from_the_initial_weights(tmp_path):
    exp = assemble(RUN, tmp_path / "run", **QUIET)
    start = {name: value.astype(np.float64) for name, value in averaged_arrays(exp.trainer.model)}
    live = LiveWeights()
    exp.trainer.callbacks.append(live)
    assert exp.trainer.fit() == "finished"
    expected = dict(start)
    for t, weights in enumerate(live.steps, start=1):
        keep = min(0.9, (1 + t) / (10 + t))
        expected = {name: keep * expected[name] + (1 - keep) * weights[name] for name in expected}
    assert len(live.steps) == 3 * 2                        # 7 frames in batches of 4, 3 epochs
    got = dict(averaged_arrays(exp.trainer.averaged))
    assert any("moving" in name for name in got)           # batch norm's statistics averaged too
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
        assert not np.allclose(got[name], live.steps[-1][name]) or "moving" in name


def test_validation_and_weights_npz_are_the_averages(tmp_path):
    exp = assemble(RUN, tmp_path / "run", **QUIET)
    assert exp.trainer.fit() == "finished"
    finish(exp)
    saved = dict(averaged_arrays(load_model(tmp_path / "run" / "weights.npz").model))
    for name, value in averaged_arrays(exp.trainer.averaged):
        np.testing.assert_array_equal(saved[name], value, err_msg=name)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    validation = exp.trainer.callback(Validation)
    live_row = validation.evaluate(exp.trainer.model, exp.trainer.task)
    averaged_row = validation.evaluate(exp.trainer.averaged, exp.trainer.task)
    assert metrics["heldout_loss"] == averaged_row["heldout_loss"] != live_row["heldout_loss"]


def test_a_stopped_and_resumed_run_ends_with_the_same_average(tmp_path):
    straight = assemble(RUN, tmp_path / "straight", **QUIET)
    assert straight.trainer.fit() == "finished"
    first = assemble({**RUN, "epochs": 1}, tmp_path / "resumed", **QUIET)
    assert first.trainer.fit() == "finished"
    again = resume(tmp_path / "resumed", epochs=3, progress=False, log=lambda *_: None)
    assert again.trainer.fit() == "finished"
    ours, theirs = (dict(averaged_arrays(e.trainer.averaged)) for e in (again, straight))
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


@pytest.mark.parametrize("decay", [1.0, 1.5, -0.1])
def test_a_decay_outside_0_1_is_refused(decay):
    with pytest.raises(SettingsError, match="ema must be"):
        settings({**RUN, "ema": decay})


def test_without_ema_nothing_is_averaged(tmp_path):
    exp = assemble({**RUN, "ema": 0.0, "epochs": 1}, tmp_path / "run", **QUIET)
    assert exp.trainer.fit() == "finished" and exp.trainer.averaged is None
    assert exp.trainer.eval_model is exp.trainer.model


def test_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--filters", "2,3,4", "--size", "24x20",
                 "--n-train", "7", "--epochs", "1", "--ema", "0.99", "--out", str(out),
                 "--no-progress"]) == 0
    assert (out / "weights.npz").exists()
    assert main(["train", "--ema", "2", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "ema" in capsys.readouterr().err
