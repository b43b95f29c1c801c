"""A training run from its settings: the parts put together, and what is written at the end.

    run = settings({"data": "synthetic", "epochs": 500})   # DEFAULTS filled in, checked
    exp = assemble(run, "runs/demo")                         # data, model, task, Adam, callbacks
    exp.trainer.fit();  finish(exp)                          # train; figures and metrics.json

`npcae train` is this with settings from its options; a run's settings are stored in its
checkpoint, so `--resume` assembles exactly the same parts again. Nothing is written to the
run folder until fit() starts, so bad settings leave nothing behind.
"""
import inspect
import math
import os
from dataclasses import dataclass

from ..errors import InputError
from .. import models
from ..diagnostics import memory
from .callbacks import (SCHEDULES, Checkpoint, GradientNorms, History, LearningRateSchedule, ProgressBar,
                        Snapshots, StopOnInterrupt, TraceFirstStep, Validation)
from ..data import Augmenter, BatchLoader, dataset_defaults, open_frames, split_frames
from .defaults import DEFAULTS, MODEL_DEFAULTS
from ..optim import Adam
from ..data.labels import median_frequency_weights
from .task_settings import TaskSettingsError, data_options, model_args, resolve_task, task_config
from ..tasks import TASKS, make_task
from .trainer import Trainer

# Validating the training frames costs an inference pass over all of them; "auto" does it (and
# reports the original's all-frames figures) for training sets up to this many frames.
TRAIN_EVAL_LIMIT = 64


class SettingsError(InputError):
    """A run setting that cannot be used; the message names it."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def settings(given, name=str):
    """DEFAULTS updated with `given` (None values count as not given), checked. Messages call a
    setting name(key): the command line passes its option's spelling (--grad-every)."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"unknown run setting {unknown[0]!r}")
    given = {k: v for k, v in given.items() if v is not None}
    run = {**DEFAULTS, **model_and_data_defaults(given), **given}
    for key in ("epochs", "val_every", "eval_batch"):
        if not (_is_int(run[key]) and run[key] >= 1):
            raise SettingsError(f"{name(key)} must be an integer of at least 1, got {run[key]!r}")
    for key in ("checkpoint_every", "snapshot_every", "grad_every", "cache_mb", "seed"):
        if not (_is_int(run[key]) and run[key] >= 0):
            raise SettingsError(f"{name(key)} must be 0 or a positive integer, got {run[key]!r}")
    if run["batch_size"] is not None and not (_is_int(run["batch_size"]) and run["batch_size"] >= 1):
        raise SettingsError(f"{name('batch_size')} must be a positive integer, got {run['batch_size']!r}")
    if not (isinstance(run["lr"], (int, float)) and 0 < run["lr"] < math.inf):
        raise SettingsError(f"{name('lr')} must be a positive number, got {run['lr']!r}")
    if run["lr_schedule"] not in SCHEDULES:
        raise SettingsError(f"{name('lr_schedule')} must be one of {', '.join(SCHEDULES)}, "
                            f"got {run['lr_schedule']!r}")
    if run["n_train"] is not None and not (_is_int(run["n_train"]) and run["n_train"] >= 1):
        raise SettingsError(f"{name('n_train')} must be a positive integer, got {run['n_train']!r}")
    if run["val_split"] is not None and not (isinstance(run["val_split"], (int, float))
                                             and 0 < run["val_split"] < 1):
        raise SettingsError(f"{name('val_split')} must be a fraction between 0 and 1, got {run['val_split']!r}")
    names = run["train_names"] or []
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SettingsError(f"{name('train_names')} names {twice[0]!r} twice")
    amounts = set(inspect.signature(Augmenter).parameters) - {"seed", "mask_fill"}
    if not (isinstance(run["augment_args"], dict) and set(run["augment_args"]) <= amounts):
        raise SettingsError(f"{name('augment_args')} must be a dict of Augmenter amounts "
                            f"({', '.join(sorted(amounts))}), got {run['augment_args']!r}")
    for key in ("shuffle", "augment"):
        if not isinstance(run[key], bool):
            raise SettingsError(f"{name(key)} must be true or false, got {run[key]!r}")
    if run["train_eval"] not in ("auto", True, False):
        raise SettingsError(f"{name('train_eval')} must be 'auto', true or false, got {run['train_eval']!r}")
    if run["task"] is not None and run["task"] not in TASKS:
        raise SettingsError(f"unknown task {run['task']!r}; choose from {', '.join(sorted(TASKS))}")
    try:
        run = resolve_task(run, name)
    except TaskSettingsError as error:
        raise SettingsError(str(error)) from None
    try:
        make_task(task_config(run))
    except ValueError as error:
        raise SettingsError(f"{name('loss')}: {error}") from None
    return run


def model_and_data_defaults(given):
    """The defaults that the model and the data set change (npcae.train.defaults.MODEL_DEFAULTS, a
    registered set's run_defaults), the data set's winning: the model's defaults choose the
    data when it is not given (the U-Net: synthetic-people), and the data's choose the model
    when that is not given (cityscapes-pix2pix: the U-Net; a folder of class ids too)."""
    model = given.get("model")
    data = given.get("data") or MODEL_DEFAULTS.get(model or DEFAULTS["model"], {}).get("data") or DEFAULTS["data"]
    data_defaults = dict(dataset_defaults(data).run_defaults)
    class_ids = (given.get("classes") is not None or given.get("palette") is not None
                 or given.get("task") == "multiclass")
    model = model or data_defaults.get("model") or ("unet" if class_ids else DEFAULTS["model"])
    return {**MODEL_DEFAULTS.get(model, {}), **data_defaults, "model": model, "data": data}


@dataclass
class Experiment:
    run: dict
    out_dir: str
    trainer: Trainer
    train: object            # Frames
    heldout: object          # Frames
    notes: list              # one-line remarks about the data, for the log


def open_data(run):
    """(train Frames, held-out Frames, notes) as the run's settings choose them."""
    defaults = dataset_defaults(run["data"])
    size = tuple(run["size"]) if run["size"] else defaults.size
    if size is None:
        raise SettingsError(f"{run['data']} needs a size (e.g. --size 256x256)")
    options = data_options(run)
    frames = open_frames(run["data"], size, cache_mb=run["cache_mb"], **options)
    how = {k: run[k] for k in ("train_names", "n_train", "val_split") if run[k] is not None}
    if run["val_data"] is not None:
        how["val_frames"] = open_frames(run["val_data"], size, cache_mb=run["cache_mb"], **options)
    if not how and defaults.parts:
        # A set split by its publisher (cityscapes-pix2pix: train/ and val/) holds out its part.
        how["val_frames"] = open_frames(run["data"], size, cache_mb=run["cache_mb"], part=1, **options)
    if not how:
        # A named set has its own split (tiktok-136: the original's 3 frames); a folder holds
        # out a tenth of its frames, chosen by the seed.
        how = dict(defaults.split) or {"val_split": 0.1}
    train, heldout = split_frames(frames, seed=run["seed"], **how)
    notes = list(frames.notes) + (list(how["val_frames"].notes) if "val_frames" in how else [])
    return train, heldout, notes


def check_fits(run, size, batch):
    """Refuse (SettingsError) a size the model cannot take, or a training step of `batch`
    frames that needs more memory than the machine has, on a shape-only sketch of the model:
    a refused run has allocated nothing."""
    try:
        outline = memory.sketch(run["model"], model_args(run), size)
    except models.UnknownModel as error:
        if run["task"] == "multiclass" and "classes" in str(error):
            raise SettingsError(f"--model {run['model']} predicts one mask; class ids need a model "
                                f"with one output per class (--model unet)") from None
        raise
    try:
        outline.output_shape((1, *size, 3))
    except ValueError as error:
        raise SettingsError(f"size {size[0]}x{size[1]} does not fit the model: {error}") from None
    try:
        memory.check_training(outline, size, batch, eval_batch=run["eval_batch"])
    except memory.MemoryTooSmall as error:
        raise SettingsError(str(error)) from None


def build_model(run, size, frames):
    """The run's model at `size` (H, W) once check_fits passes for its batches: batch_size
    frames, or all `frames` (the training set's count) when batch_size is None."""
    check_fits(run, size, min(run["batch_size"] or frames, frames))     # as BatchLoader caps it
    return models.create(run["model"], input_size=size, seed=run["seed"], **model_args(run))


def assemble(run, out_dir, *, progress=True, trace=False, log=print):
    """The trainer of a run, with its data, model, task, optimiser and callbacks."""
    run = settings(run)
    out_dir = os.fspath(out_dir)
    if run["size"]:               # before frames are read, or rendered, at a size that cannot fit
        check_fits(run, tuple(run["size"]), run["batch_size"] or 1)
    train, heldout, notes = open_data(run)
    model = build_model(run, train.size, len(train))
    if run["class_weights"] == "auto":           # computed once; the stored run keeps the numbers
        run["class_weights"] = auto_class_weights(train, run["classes"])
        notes.append("class weights (median frequency): "
                     + ", ".join(f"{w:.2f}" for w in run["class_weights"]))
    task = make_task(task_config(run))
    model.config["task"] = task.config           # how `npcae predict` reads its outputs
    optimizer = Adam(model.named_parameters(), lr=run["lr"])
    augmenter = (Augmenter(seed=run["seed"], mask_fill=getattr(task, "mask_fill", 0), **run["augment_args"])
                 if run["augment"] else None)
    loader = BatchLoader(train, run["batch_size"], shuffle=run["shuffle"], seed=run["seed"],
                         augmenter=augmenter)
    eval_train = (len(train) <= TRAIN_EVAL_LIMIT if run["train_eval"] == "auto"
                  else run["train_eval"])
    callbacks = [LearningRateSchedule(run["lr_schedule"], run["lr"]),
                 Validation(heldout, train if eval_train else None, period=run["val_every"],
                            batch_size=run["eval_batch"]),
                 Snapshots(train, period=run["snapshot_every"], batch_size=run["eval_batch"]),
                 GradientNorms(out_dir, period=run["grad_every"]),
                 History(out_dir),
                 Checkpoint(out_dir, period=run["checkpoint_every"], run=run)]
    callbacks += [TraceFirstStep(out_dir)] if trace else []
    callbacks += [ProgressBar()] if progress else []
    callbacks += [StopOnInterrupt()]
    trainer = Trainer(model, task, optimizer, loader, epochs=run["epochs"], callbacks=callbacks,
                      log=log)
    return Experiment(run, out_dir, trainer, train, heldout, notes)


def auto_class_weights(frames, classes, batch=64):
    """Median-frequency class weights of the training masks (read once, `batch` at a time)."""
    def masks():
        for start in range(0, len(frames), batch):
            yield from frames.read(list(range(start, min(start + batch, len(frames)))))[1][..., 0]
    return [round(float(w), 6) for w in median_frequency_weights(masks(), classes)]


__all__ = ["DEFAULTS", "settings", "assemble", "Experiment", "SettingsError"]
