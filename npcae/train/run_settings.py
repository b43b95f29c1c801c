"""A run's settings, filled in and checked once.

    run = settings({"data": "synthetic", "epochs": 500})    # a Settings: the defaults filled in
    run["epochs"], run.task, run.palette                      # values; the Task and Palette, made once
    settings(run) is run                                      # already checked: nothing is redone

The defaults come in three layers, the later winning: the options' own (options.py), those of
the model (its registry entry, e.g. the U-Net trains on synthetic-people in batches of 8) and of
the data set (cityscapes-pix2pix trains the U-Net with ce+dice), then what was given. Every
message names a setting as the caller spells it (`name`: the command line passes --grad-every).
"""
import inspect
from collections.abc import Mapping

from ..data import Augmenter, dataset_defaults
from ..errors import InputError
from ..models import RUN_DEFAULTS as MODEL_DEFAULTS
from ..tasks import TASKS, make_task
from .options import DEFAULTS, OPTIONS, data_specs
from .task_settings import TaskSettingsError, resolve_task, task_config


class SettingsError(InputError):
    """A run setting that cannot be used; the message names it."""


class Settings(Mapping):
    """The checked settings of a run: read like a dict (run["lr"]), stored as one (dict(run)).
    `palette` is the Palette the data's label colours are snapped to (multi-class runs, else
    None), read from its file once; `task` the run's Task, built once."""

    def __init__(self, values, palette, task):
        self._values, self.palette, self.task = values, palette, task

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Settings({self._values!r})"


def settings(given, name=str):
    """DEFAULTS updated with the model's and data's defaults, then `given` (None values count as
    not given), checked; a Settings is returned as it is."""
    if isinstance(given, Settings):
        return given
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"unknown run setting {unknown[0]!r}")
    given = {k: v for k, v in given.items() if v is not None}
    values = {**DEFAULTS, **model_and_data_defaults(given), **given}
    for option in OPTIONS:
        problem = option.check(values[option.key]) if option.check else None
        if problem:
            raise SettingsError(f"{name(option.key)} {problem}, got {values[option.key]!r}")
    check_combinations(values, name)
    try:
        values, palette = resolve_task(values, name)
        config = task_config(values, palette)
    except TaskSettingsError as error:
        raise SettingsError(str(error)) from None
    try:
        task = make_task(config)
    except ValueError as error:
        raise SettingsError(f"{name('loss')}: {error}") from None
    if values["augment_args"].get("paste") and task.name != "binary":
        raise SettingsError(f"{name('augment_args')}: paste copies people between binary masks; "
                            f"a {task.name} target has none to cut (leave paste at 0)")
    try:                                       # the amounts' ranges, before a run folder exists
        Augmenter(seed=0, mask_fill=getattr(task, "mask_fill", 0), **values["augment_args"])
    except InputError as error:
        raise SettingsError(f"{name('augment_args')}: {error}") from None
    return Settings(values, palette, task)


def check_combinations(values, name):
    """The checks that look at more than one value, or at another part of npcae."""
    data = values["data"]
    specs = data_specs(data) if isinstance(data, (str, list, tuple)) else None
    if not specs or not all(isinstance(spec, str) and spec for spec in specs):
        raise SettingsError(f"{name('data')} must be a data set name, a folder or coco:FILE "
                            f"(or a list of them), got {data!r}")
    twice = sorted({spec for spec in specs if specs.count(spec) > 1})
    if twice:
        raise SettingsError(f"{name('data')} names {twice[0]} twice")
    if values["balance"] == "sources" and len(specs) < 2:
        raise SettingsError(f"{name('balance')} sources draws several data sets equally often; "
                            f"give {name('data')} more than once")
    if len(specs) > 1:
        chosen = [key for key in ("train_names", "n_train") if values[key] is not None]
        if chosen:
            raise SettingsError(f"{name(chosen[0])} chooses frames of one data set; with several "
                                f"{name('data')} each set keeps its own split (or give --val-split "
                                "or --val-data)")
    names = values["train_names"] or []
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SettingsError(f"{name('train_names')} names {twice[0]!r} twice")
    amounts = set(inspect.signature(Augmenter).parameters) - {"seed", "mask_fill"}
    if not (isinstance(values["augment_args"], dict) and set(values["augment_args"]) <= amounts):
        raise SettingsError(f"{name('augment_args')} must be a dict of Augmenter amounts "
                            f"({', '.join(sorted(amounts))}), got {values['augment_args']!r}")
    if values["task"] is not None and values["task"] not in TASKS:
        raise SettingsError(f"unknown task {values['task']!r}; choose from {', '.join(sorted(TASKS))}")


def amounts_over_recipe(given):
    """`given` with its augmentation amounts (--augment-amounts) put over the model's or data's
    one by one, and augmentation on unless --no-augment says otherwise. (From Python, a run's
    augment_args is the whole dict: a stored run resumes with the amounts it had.)"""
    if not given.get("augment_args"):
        return given
    recipe = model_and_data_defaults(given).get("augment_args", {})
    return {**given, "augment_args": {**recipe, **given["augment_args"]},
            "augment": given.get("augment", True)}


def model_and_data_defaults(given):
    """The defaults that the model and the data set change (its registry entry's run_defaults,
    a registered set's run_defaults), the data set's winning: the model's defaults choose the
    data when it is not given (the U-Net: synthetic-people), and the data's choose the model
    when that is not given (cityscapes-pix2pix: the U-Net); else the task does (class ids:
    the model its Task names)."""
    model = given.get("model")
    data = (given.get("data") or MODEL_DEFAULTS.get(model or DEFAULTS["model"], {}).get("data")
            or DEFAULTS["data"])
    # With several sets the first one's defaults (its size, its model) are the run's.
    data_defaults = dict(dataset_defaults(data_specs(data)[0]).run_defaults)
    class_ids = (given.get("classes") is not None or given.get("palette") is not None
                 or given.get("task") == "multiclass")
    model = (model or data_defaults.get("model")
             or (TASKS["multiclass"].default_model if class_ids else DEFAULTS["model"]))
    return {**MODEL_DEFAULTS.get(model, {}), **data_defaults, "model": model, "data": data}
