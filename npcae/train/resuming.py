"""A stopped run, picked up where it stopped: the policy of `npcae train --resume`, for Python too.

    exp = resume("runs/demo", epochs=800)       # the stored settings, with the changes allowed
    exp.trainer.fit();  finish(exp)

A resumed run is the same run: only the options declared resumable (options.RESUMABLE: the
epochs target, how often things happen, where the data lives) may change; anything else is
refused by name. A data folder that moved is given again at its new place; restore_trainer
then checks that it holds the frames the run started with.
"""
from pathlib import Path

from ..data import DATASETS
from ..data.coco import coco_path
from .checkpoint import CHECKPOINT, CheckpointError, read_checkpoint, restore_trainer
from .experiment import assemble
from .options import RESUMABLE, data_specs
from ..data.palette import palette_file
from .run_settings import SettingsError, settings
from .task_settings import palette_table


def resume(run_folder, *, progress=True, trace=False, log=print, name=str, **changes):
    """The Experiment of the run in `run_folder`, its trainer restored from checkpoint.npz, with
    `changes` (run settings) applied; SettingsError for a change the policy refuses. `name`
    spells a setting in messages (the command line: --epochs)."""
    folder = Path(run_folder)
    state = read_checkpoint(folder / CHECKPOINT)
    run = resumed_settings(state, changes, folder, name)
    exp = assemble(run, folder, progress=progress, trace=trace, log=log, fresh=False)
    restore_trainer(state, exp.trainer)
    return exp


def resumed_settings(state, changes, folder, name=str):
    """The stored run with `changes` applied, checked against the policy (a Settings)."""
    if not state["run"]:
        raise CheckpointError(f"{folder / CHECKPOINT} was written by a Trainer outside npcae "
                              "train (no run settings in it); resume it in Python with "
                              "restore_trainer()")
    changes = {key: value for key, value in changes.items() if value is not None}
    stored = settings(state["run"], name=name)
    checked = {"palette"} if "palette" in changes else set()
    if checked:
        same_palette(changes, stored, name)      # the same palette at a new place may be given

    if changes.get("class_weights") == "auto" and isinstance(stored["class_weights"], list):
        del changes["class_weights"]                # "auto" is what the stored weights came from
    # Compared with the stored values as settings() filled them in, before the changes are
    # checked together: a changed --classes is named as what it is, not as the class-weights
    # count it would no longer match.
    changed = sorted(key for key, value in changes.items()
                     if key not in set(RESUMABLE) | checked and key in stored
                     and as_stored(value) != stored[key])
    if changed:
        raise SettingsError(f"{name(changed[0])} cannot change when a run is resumed "
                            f"(only {', '.join(map(name, RESUMABLE))} can)")
    run = settings({**state["run"], **changes}, name=name)
    done = state["epoch"] + (1 if state["trainer"]["batch"] else 0)
    if run["epochs"] < done:
        raise SettingsError(f"{name('epochs')} {run['epochs']} is fewer than the {done} epochs "
                            "this run has already started")
    places = [("data", spec) for spec in data_specs(run["data"])]
    places += [("val_data", run["val_data"])] if run["val_data"] else []
    for key, spec in places:
        coco = coco_path(spec)
        if coco is not None and not coco.is_file():
            raise SettingsError(f"the run's {name(key)} file {coco} is gone; if it moved, give "
                                f"its new place: {name(key)} coco:NEW_PLACE")
        if coco is None and spec not in DATASETS and not Path(spec).is_dir():
            raise SettingsError(f"the run's {name(key)} folder {spec} is gone; if it moved, "
                                f"give its new place: {name(key)} NEW_PLACE")
    return run


def same_palette(changes, stored, name):
    """A --palette given again is the palette moved (allowed) when it holds the same classes
    and colours; another palette is another run (SettingsError). The stored one is used."""
    given = changes.pop("palette")
    if stored["palette"] is None:
        raise SettingsError(f"{name('palette')} cannot change when a run is resumed (this run "
                            "trained with its data set's own palette)")
    try:
        table = palette_table(palette_file(given, name("palette")))
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if table != stored["palette_table"]:
        raise SettingsError(f"{name('palette')} {given} is not the palette this run trained "
                            f"with ({describe_difference(stored['palette_table'], table)}); a run "
                            "keeps its palette (the one it stored is used)")
    changes["palette"] = given


def describe_difference(old, new):
    if old["names"] != new["names"]:
        return f"classes {', '.join(old['names'])} there, {', '.join(new['names'])} here"
    for name, a, b in zip(old["names"], old["colours"], new["colours"]):
        if a != b:
            return f"{name} is {tuple(a)} there, {tuple(b)} here"
    return "other void colours"


def as_stored(value):
    """A value as a stored run holds it (JSON: tuples are lists)."""
    return [as_stored(v) for v in value] if isinstance(value, (list, tuple)) else value
