"""--init-from: a run that starts from another run's weights, at another size or on other data;
another architecture is refused in one line before a run folder exists."""
import os
import re
import shutil

import numpy as np
import pytest

from npcae.cli import main
from npcae.train import experiment
from npcae.train.experiment import assemble
from npcae.train.run_settings import SettingsError, settings
from npcae.models import create
from npcae.models.io import read_checkpoint_arrays
from npcae.predict import load_model
from npcae.train.checkpoint import read_checkpoint
from test_cli import error_line
from test_unet import UNET_RUN

RUN = {**UNET_RUN, "model_args": {"filters": [2, 3, 4]}}      # no dropout: as the CLI builds it
QUIET = dict(progress=False, log=lambda *_: None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    assert assemble(RUN, out, **QUIET).trainer.fit() == "finished"
    return out


def arrays(model):
    return {name: value.copy() for name, value, _ in model.named_parameters()}


def test_every_parameter_and_moving_statistic_is_the_trained_runs_at_another_size(trained, tmp_path):
    stored, state = read_checkpoint_arrays(trained / "checkpoint.npz")
    fresh = assemble({**RUN, "size": [32, 28], "seed": 5}, tmp_path / "a", **QUIET)
    started = assemble({**RUN, "size": [32, 28], "seed": 5, "init_from": str(trained)},
                       tmp_path / "b", **QUIET)
    ours, untouched = arrays(started.trainer.model), arrays(fresh.trainer.model)
    assert ours.keys() == stored.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], stored[name], err_msg=name)
    assert any(not np.array_equal(ours[n], untouched[n]) for n in ours)   # not the seed's weights
    moving = {n: v for n, v in started.trainer.model.state_arrays().items() if "moving" in n}
    assert moving and all(np.array_equal(v, state[n]) for n, v in moving.items())
    assert started.notes[-1] == f"starting from the weights in {trained / 'weights.npz'}"
    assert started.trainer.fit() == "finished"


def test_dropout_draws_from_the_new_runs_seed_and_its_rate_may_change(tmp_path):
    dropout = {**UNET_RUN, "model_args": {"filters": [2, 3, 4], "dropout": 0.2}}
    assert assemble(dropout, tmp_path / "small", **QUIET).trainer.fit() == "finished"
    _, stored_state = read_checkpoint_arrays(tmp_path / "small" / "checkpoint.npz")
    again = {**dropout, "model_args": {"filters": [2, 3, 4], "dropout": 0.3}, "seed": 5}
    started = assemble({**again, "init_from": str(tmp_path / "small")}, tmp_path / "b", **QUIET)
    fresh = assemble(again, tmp_path / "c", **QUIET)
    ours, theirs = started.trainer.model.state_arrays(), fresh.trainer.model.state_arrays()
    generators = [name for name in ours if name.endswith("rng")]
    assert generators and all(ours[n] == theirs[n] for n in generators)      # the seed's
    assert not any(ours[n] == stored_state[n] for n in generators)           # not the file's
    moving = [name for name in ours if "moving" in name]
    assert moving and all(np.array_equal(ours[n], stored_state[n]) for n in moving)


def test_a_resumed_run_continues_from_its_checkpoint_without_the_init_file(trained, tmp_path):
    init = tmp_path / "init.npz"
    shutil.copy(trained / "weights.npz", init)
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--filters", "2,3,4", "--data", "synthetic", "--size",
                 "24x20", "--n-train", "7", "--batch-size", "4", "--val-every", "1",
                 "--no-progress", "--init-from", str(init), "--out", str(out), "--epochs", "1"]) == 0
    after_one, _ = read_checkpoint_arrays(out / "checkpoint.npz")
    assert read_checkpoint(out / "checkpoint.npz")["run"]["init_from"] == str(init)
    init.unlink()                                  # a resumed run reads only its checkpoint
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    assert read_checkpoint(out / "checkpoint.npz")["epoch"] == 2


@pytest.mark.parametrize("change, phrase", [
    (dict(model_args={"filters": [2, 3, 5]}),
     "was trained with another unet: --filters 2,3,4 (this run --filters 2,3,5)"),
    (dict(model_args={"filters": [2, 3, 4], "dropout": 0.2}),
     "was trained with another unet: dropout 0.0 (this run dropout 0.2)"),
    (dict(data="synthetic-streets", model_args={"filters": [2, 3, 4]}, size=[24, 32], n_train=None),
     "predicts one mask; this run predicts 19 classes"),
    (dict(model="cae", model_args={}, size=[24, 16]), "holds a unet model; this run trains a cae"),
])
def test_another_architecture_is_refused_by_name_before_any_data_is_read(
        trained, tmp_path, change, phrase, monkeypatch):
    def no_data(run):     # a large COCO file would be parsed here before the refusal
        raise AssertionError("data opened before the init file was checked")
    monkeypatch.setattr(experiment, "open_data", no_data)
    with pytest.raises(SettingsError, match=re.escape(phrase)):
        assemble({**RUN, **change, "init_from": str(trained)}, tmp_path / "x", **QUIET)


def test_on_the_command_line_a_refusal_is_one_line_and_leaves_no_folder(trained, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--filters", "2,3,5", "--size", "24x20", "--epochs",
                 "1", "--init-from", str(trained), "--out", str(out), "--no-progress"]) == 2
    assert "(this run --filters 2,3,5)" in error_line(capsys)
    assert not out.exists()


def test_a_path_object_from_python_is_refused_as_a_setting(trained):
    with pytest.raises(SettingsError, match="init_from must be a path as text"):
        settings({**RUN, "init_from": trained})


def test_a_missing_or_broken_init_file_is_one_line(tmp_path, capsys):
    broken = tmp_path / "weights.npz"
    broken.write_text("not weights")
    for given, phrase in ((tmp_path / "nowhere", "weights file not found"),
                          (broken, "is not a .npz weights file")):
        assert main(["train", "--model", "unet", "--init-from", str(given), "--epochs", "1",
                     "--out", str(tmp_path / "run"), "--no-progress"]) == 2
        line = error_line(capsys)
        assert line.startswith("npcae: error: --init-from: ") and phrase in line, line
        assert not (tmp_path / "run").exists()


def test_a_run_folder_gives_its_newer_weights_file(trained, tmp_path):
    """A finished run resumed for more epochs and stopped: its checkpoint is newer than its
    weights.npz, and the folder means the checkpoint (here: another model in weights.npz)."""
    folder = tmp_path / "resumed"
    shutil.copytree(trained, folder)
    other = create("unet", input_size=tuple(RUN["size"]), seed=7, **RUN["model_args"])
    other.save(folder / "weights.npz")
    checkpoint, _ = read_checkpoint_arrays(folder / "checkpoint.npz")
    first = next(iter(checkpoint))
    assert not np.array_equal(checkpoint[first], arrays(other)[first])
    for newer, older, expected in (("checkpoint.npz", "weights.npz", checkpoint[first]),
                                   ("weights.npz", "checkpoint.npz", arrays(other)[first])):
        os.utime(folder / older, ns=(1, 10 ** 18))
        os.utime(folder / newer, ns=(1, 2 * 10 ** 18))
        loaded = load_model(folder)
        assert loaded.path.name == newer
        np.testing.assert_array_equal(arrays(loaded.model)[first], expected)
