"""--init-from: a run that starts from another run's weights, at another size or on other data;
another architecture is refused in one line before a run folder exists."""
import shutil

import numpy as np
import pytest

from npcae.cli import main
from npcae.train.experiment import assemble
from npcae.train.run_settings import SettingsError
from npcae.models.io import read_checkpoint_arrays
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
    assert started.trainer.optimizer.iterations == 0 and "starting from the weights" in started.notes[-1]
    assert started.trainer.fit() == "finished"
    assert not (tmp_path / "a").exists()                 # assembling writes nothing


def test_a_resumed_run_continues_from_its_checkpoint_without_the_init_file(trained, tmp_path):
    init = tmp_path / "init.npz"
    shutil.copy(trained / "weights.npz", init)
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--filters", "2,3,4", "--data", "synthetic", "--size",
                 "24x20", "--n-train", "7", "--batch-size", "4", "--val-every", "1",
                 "--no-progress", "--init-from", str(init), "--out", str(out), "--epochs", "1"]) == 0
    after_one, _ = read_checkpoint_arrays(out / "checkpoint.npz")
    init.unlink()                                  # a resumed run reads only its checkpoint
    assert main(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
    after_two, _ = read_checkpoint_arrays(out / "checkpoint.npz")
    assert any(not np.array_equal(after_two[n], after_one[n]) for n in after_one)


@pytest.mark.parametrize("change, phrase", [
    (dict(model_args={"filters": [2, 3, 5]}),
     "was trained with filters [2, 3, 4]; this run's model has filters [2, 3, 5]"),
    (dict(model_args={"filters": [2, 3, 4], "dropout": 0.2}),
     "was trained with dropout 0.0; this run's model has dropout 0.2"),
    (dict(model="cae", model_args={}, size=[24, 16]), "holds a unet model; this run trains a cae"),
])
def test_another_architecture_is_refused_by_name(trained, tmp_path, change, phrase):
    with pytest.raises(SettingsError, match=phrase.replace("[", r"\[").replace("]", r"\]")):
        assemble({**RUN, **change, "init_from": str(trained)}, tmp_path / "x", **QUIET)
    assert not (tmp_path / "x").exists()


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
