"""What a run's task makes of its other settings: the loss it defaults to, the palette and class
count of multi-class data, the options its frames are opened with, and the model's outputs.

    run, palette = resolve_task(run) # task, loss, classes filled in and checked; the data's Palette
    task_config(run, palette)        # make_task's config: {"task": "multiclass", "names": ...}
    data_options(run, palette)       # open_frames options: {"palette": ..., "classes": 19}
    evaluation_options(task, data)   # the same for a trained model's task (npcae evaluate)
    model_args(run)                  # the builder's arguments, with classes=K for class ids

A data set says what its masks hold (Dataset.task); a folder holds binary masks unless the
run gives --classes or --palette. Multi-class data takes its set's palette (a folder: Cityscapes') unless a
--palette file names the classes and colours; --classes 7 groups Cityscapes' 19 classes into
its 7 categories.
"""
import numpy as np

from ..errors import InputError
from ..data.palette import (CITYSCAPES_7, CITYSCAPES_19, Palette, fits, palette_file,
                            predicted_palette)
from ..data.coco import coco_path
from ..data.registry import DATASETS
from .options import data_specs

DEFAULT_LOSS = {"binary": "dice+focal", "image": "mse", "multiclass": "ce"}


class TaskSettingsError(InputError):
    """A task setting that cannot be used (experiment.settings raises it as a SettingsError)."""


# A folder of colour labels that names no --palette is taken as Cityscapes' (pix2pix's
# composites, the one such format npcae reads); a named set says its own (Dataset.palette).
FOLDER_PALETTE = CITYSCAPES_19


def data_palette(run):
    """The Palette that the run's label colours are snapped to: the --palette file's (as the
    run stored it, once read: a run resumes without the file, and an edited file cannot
    change it), else the named set's own, else FOLDER_PALETTE."""
    if run["palette"] is None:
        entry = DATASETS.get(data_specs(run["data"])[0])
        return entry.palette if entry is not None and entry.palette is not None else FOLDER_PALETTE
    if run.get("palette_table"):
        return palette_from_table(run["palette_table"])
    try:
        return palette_file(run["palette"])
    except ValueError as error:
        raise TaskSettingsError(str(error)) from None


def palette_table(palette):
    """A Palette as the run stores it (JSON)."""
    return {"names": list(palette.names), "colours": palette.colours.tolist(),
            "void": palette.void.tolist()}


def palette_from_table(table):
    return Palette(tuple(table["names"]), np.array(table["colours"], np.uint8).reshape(-1, 3),
                   np.array(table["void"], np.uint8).reshape(-1, 3))


def resolve_task(run, name=str):
    """(run with "task", "loss" and (multi-class) "classes" filled in, the Palette its labels
    are snapped to or None); TaskSettingsError when they do not fit the data or each other.
    The palette file is read here, once."""
    run = dict(run)
    specs = data_specs(run["data"]) + ([run["val_data"]] if run["val_data"] is not None else [])
    coco = [spec for spec in specs if coco_path(spec) is not None]
    if coco and run["category"] is None:
        raise TaskSettingsError(f"{name('category')} is needed for COCO data ({coco[0]}): a "
                                "category name or id, e.g. person")
    for key in ("category", "images", "keep_empty"):
        if run[key] not in (None, False) and not coco:
            raise TaskSettingsError(f"{name(key)} is for COCO data (--data coco:FILE.json), "
                                    f"not {', '.join(specs)}")
    class_ids = run["classes"] is not None or run["palette"] is not None
    kinds = {}
    for spec in data_specs(run["data"]):
        entry = DATASETS.get(spec)
        kinds.setdefault(entry.task if entry else ("multiclass" if class_ids else "binary"), spec)
    if len(kinds) > 1:
        (one, first), (other, second) = list(kinds.items())[:2]
        raise TaskSettingsError(f"{first} holds {one} masks and {second} {other} masks; the sets "
                                f"of one run must hold the same kind")
    data_task = next(iter(kinds))
    run["task"] = run["task"] or data_task
    run["loss"] = run["loss"] or DEFAULT_LOSS.get(run["task"], "dice+focal")
    if run["task"] != "multiclass":
        for key in ("classes", "palette", "class_weights"):
            if run[key] is not None:
                raise TaskSettingsError(f"{name(key)} is for multi-class masks, but "
                                        f"{' + '.join(data_specs(run['data']))} holds {run['task']} masks")
        return run, None
    if data_task != "multiclass":
        raise TaskSettingsError(f"{' + '.join(data_specs(run['data']))} holds binary masks, "
                                f"not class ids; a multi-class run needs multi-class data (cityscapes-pix2pix, synthetic-streets)")
    palette = data_palette(run)
    classes = run["classes"] if run["classes"] is not None else len(palette.names)
    if isinstance(classes, bool) or not isinstance(classes, int) or not fits(palette, classes):
        allowed = "19 or 7 (its categories)" if palette is CITYSCAPES_19 else str(len(palette.names))
        raise TaskSettingsError(f"{name('classes')} {classes!r} does not match the palette: "
                                f"{allowed} for {'Cityscapes' if palette is CITYSCAPES_19 else run['palette']}")
    run["classes"] = classes
    if run["palette"] is not None:
        run["palette_table"] = palette_table(palette)
    weights = run["class_weights"]
    if weights is not None and weights != "auto":
        problem = class_weights_problem(weights, classes)
        if problem:
            raise TaskSettingsError(f"{name('class_weights')} {problem}, got {weights!r}")
    return run, palette


# The loss divides by the weights' sum over a batch's pixels, so only their ratios count;
# beyond this, a weight times 10^6 pixels nears float64's range.
MAX_CLASS_WEIGHT = 1e6


def class_weights_problem(weights, classes):
    """What is wrong with explicit class weights ("must ..."), or None."""
    if not (isinstance(weights, (list, tuple)) and len(weights) == classes
            and all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)):
        return f"must be 'auto' or {classes} numbers, one per class"
    if not all(0 <= w <= MAX_CLASS_WEIGHT for w in weights):          # NaN fails too
        return (f"must be numbers from 0 to {MAX_CLASS_WEIGHT:g} (only their ratios count: "
                "1,1,10 weighs the third class ten times the others)")
    if not any(w > 0 for w in weights):
        return "must give at least one class a positive weight (all 0 would learn nothing)"
    return None


def task_config(run, palette):
    """The config make_task builds the run's task from ("auto" weights count as none until
    computed from the training masks); `palette` the data's (resolve_task's)."""
    if run["task"] != "multiclass":
        return {"task": run["task"], "loss": run["loss"]}
    palette = predicted_palette(palette, run["classes"])     # the 7 categories for --classes 7
    weights = run["class_weights"]
    return {"task": "multiclass", "loss": run["loss"], "names": list(palette.names),
            "colours": palette.colours.tolist(), "void": palette.void.tolist(),
            "class_weights": None if weights in (None, "auto") else list(weights)}


def data_options(run, palette, spec=None):
    """The options the frames of `spec` (default: the run's data) open with
    (open_frames(spec, ..., **options)): a COCO file's category, multi-class data's palette."""
    spec = data_specs(run["data"])[0] if spec is None else spec
    options = {}
    if coco_path(spec) is not None:
        options = {"category": run["category"], "keep_empty": run["keep_empty"]}
        if run["images"] is not None and spec in data_specs(run["data"]):   # not --val-data's
            options["image_dir"] = run["images"]
    if run["task"] != "multiclass":
        return options
    return {**options, "palette": palette, "classes": run["classes"]}


def model_args(run):
    """The model builder's arguments: the run's, plus one output per class for class ids."""
    args = dict(run["model_args"])
    if run["task"] == "multiclass":
        args["classes"] = run["classes"]
    return args


def evaluation_options(task, data, palette=None, weights="the model"):
    """The options that `data` opens with to evaluate a trained model's `task`: the palette its
    labels are snapped to (a palette file, else the model's own, Cityscapes' 19 for its 7
    categories) and the class count. TaskSettingsError when the data's masks are not the kind
    the model predicts (a binary model and class ids, or the reverse)."""
    entry = DATASETS.get(data)
    data_task = entry.task if entry else ("multiclass" if palette else None)
    if task.name != "multiclass":
        if data_task == "multiclass":
            raise TaskSettingsError(f"{weights} predicts {task.name} masks, not classes: a multi-class "
                                    f"evaluation of {data} needs a model trained with classes "
                                    f"(npcae train --data {data})")
        return {}
    if data_task not in (None, "multiclass"):
        raise TaskSettingsError(f"{weights} is a multi-class model ({task.classes} classes) but "
                                f"{data} holds binary masks")
    if palette:
        try:
            labels = palette_file(palette)
        except ValueError as error:
            raise TaskSettingsError(str(error)) from None
        if not fits(labels, task.classes):
            raise TaskSettingsError(f"--palette {palette} names {len(labels.names)} classes, but "
                                    f"{weights} predicts {task.classes}; give the palette it "
                                    "was trained with")
    elif task.palette.names in (CITYSCAPES_19.names, CITYSCAPES_7.names):
        labels = CITYSCAPES_19                  # the 7 categories: snapped to the 19, then grouped
    else:
        labels = task.palette
    return {"palette": labels, "classes": task.classes}
