"""A run's settings: each option declared once (options.py) and read by the parser, DEFAULTS
and the resume policy; a fresh `npcae train` checks its settings, builds its task and reads
its palette file once; the resume policy answers from Python as from the command line."""
import pytest

from npcae.cli import build_parser, main
from npcae.train import OPTIONS, RESUMABLE, SettingsError, resume, settings
from npcae.train.options import MODEL_OPTIONS
from npcae.train import run_settings as settings_module
from npcae.train.run_settings import amounts_over_recipe
from npcae.train import task_settings
from test_cli import TINY
from test_multiclass_cli import SMALL, composites


def counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def test_every_command_line_option_of_a_run_is_one_declaration():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {flag for action in train._actions for flag in action.option_strings}
    declared = {option.spelling for option in [*OPTIONS, *MODEL_OPTIONS] if option.help is not None}
    assert declared <= flags
    assert flags - declared == {"-h", "--help", "--trace", "--out", "--resume", "--no-progress",
                                "--no-augment", "--no-keep-empty"}   # the run's folder and how it is shown; negations
    assert set(RESUMABLE) == {option.key for option in OPTIONS if option.resumable}
    assert set(RESUMABLE) <= {option.key for option in OPTIONS}


def test_a_fresh_run_checks_its_settings_builds_its_task_and_reads_its_palette_once(
        tmp_path, monkeypatch):
    checks = counting(monkeypatch, settings_module, "check_combinations")
    tasks = counting(monkeypatch, settings_module, "make_task")
    palettes = counting(monkeypatch, task_settings, "palette_file")
    palette = tmp_path / "palette.txt"
    palette.write_text("road, 128, 64, 128\nsky, 70, 130, 180\ncar, 0, 0, 142\n")
    folder = composites(tmp_path / "streets", count=4)
    assert main(["train", "--data", str(folder), "--palette", str(palette), "--val-split",
                 "0.25", "--out", str(tmp_path / "run"), *SMALL]) == 0
    assert (len(checks), len(tasks), len(palettes)) == (1, 1, 1)


def test_settings_of_settings_are_the_same_object():
    run = settings({"epochs": 3})
    assert settings(run) is run and run["epochs"] == 3 and run.task.name == "binary"


def test_the_resume_policy_from_python(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(out), *TINY]) == 0
    exp = resume(out, epochs=4, progress=False)
    assert exp.trainer.epoch == 2 and exp.trainer.epochs == 4
    with pytest.raises(SettingsError, match="lr cannot change when a run is resumed"):
        resume(out, lr=1e-2)
    with pytest.raises(SettingsError, match="epochs 1 is fewer than the 2 epochs"):
        resume(out, epochs=1)
    with pytest.raises(SettingsError, match="data folder /no/such/folder is gone"):
        resume(out, data="/no/such/folder")


def test_augmentation_amounts_replace_the_recipes_one_by_one():
    args = build_parser().parse_args(["train", "--model", "unet", "--augment-amounts",
                                      "scale=0.5,jpeg=30"])
    assert args.augment_args == {"scale": 0.5, "jpeg": 30}
    run = settings(amounts_over_recipe({"model": "unet", "augment_args": args.augment_args}))
    assert run["augment"] is True
    assert run["augment_args"] == {"scale": 0.5, "shift": 0.15, "brightness": 0.3,
                                   "contrast": 0.3, "jpeg": 30}     # the U-Net's, but two
    cae_run = settings(amounts_over_recipe({"augment_args": {"blur": 1.0}}))  # the CAE: off
    assert cae_run["augment"] is True and cae_run["augment_args"] == {"blur": 1.0}
    # From Python the dict is the whole of the amounts (a stored run resumes as it was)
    assert settings({"model": "unet", "augment_args": {"scale": 0.5}})["augment_args"] == {"scale": 0.5}


@pytest.mark.parametrize("text, problem", [("zoom=0.5", "NAME=VALUE of scale"),
                                           ("scale=big", "scale needs a number"),
                                           ("scale=1.5", "scale must be in [0, 1)")])
def test_a_bad_augmentation_amount_is_one_clear_line(text, problem, capsys):
    assert main(["train", "--augment-amounts", text]) == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
