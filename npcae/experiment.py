"""A training run from its settings: the one set of defaults, and the parts put together.

    run = settings({"data": "synthetic", "epochs": 500})   # DEFAULTS filled in, checked
    exp = assemble(run, "runs/demo")                         # data, model, task, Adam, callbacks
    exp.trainer.fit();  finish(exp)                          # train; figures and metrics.json

`npcae train` is this with settings from its options; a run's settings are stored in its
checkpoint, so `--resume` assembles exactly the same parts again. Nothing is written to the
run folder until fit() starts, so bad settings leave nothing behind.
"""
import json
import os
from dataclasses import dataclass

from . import models
from .callbacks import (GradientNorms, History, ProgressBar, Snapshots, StopOnInterrupt,
                        TraceFirstStep, Validation)
from .checkpoint import Checkpoint
from .data import Augmenter, BatchLoader, DataError, dataset_defaults, open_frames, split_frames
from .evaluation import evaluate
from .models.io import atomic_write
from .optim import Adam
from .tasks import make_task
from .training import Trainer

# The one set of defaults: `npcae train` shows them in its help, and a stored run holds them.
DEFAULTS = dict(
    data="synthetic", size=None,            # size None: the data set's default (HxW)
    model="cae", model_args={},             # the builder's own defaults (the original CAE)
    task="binary", loss="dice+focal",
    epochs=500, lr=5e-4, batch_size=None,   # batch_size None: every training frame in one batch
    shuffle=True, seed=0, augment=False,
    train_names=None, n_train=None, val_split=None, val_data=None,   # None: the data set's split
    val_every=10, checkpoint_every=50, snapshot_every=50, grad_every=10,
    eval_batch=3, train_eval="auto", cache_mb=256,
)
# Validating the training frames costs an inference pass over all of them; "auto" does it (and
# reports the original's all-frames figures) for training sets up to this many frames.
TRAIN_EVAL_LIMIT = 64


class SettingsError(ValueError):
    """A run setting that cannot be used; the message names it."""


def settings(given, name=str):
    """DEFAULTS updated with `given` (None values count as not given), checked. Messages call a
    setting name(key): the command line passes its option's spelling (--grad-every)."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"unknown run setting {unknown[0]!r}")
    run = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    for key in ("epochs", "val_every", "eval_batch"):
        if not (isinstance(run[key], int) and run[key] >= 1):
            raise SettingsError(f"{name(key)} must be an integer of at least 1, got {run[key]!r}")
    for key in ("checkpoint_every", "snapshot_every", "grad_every", "cache_mb"):
        if not (isinstance(run[key], int) and run[key] >= 0):
            raise SettingsError(f"{name(key)} must be 0 (off) or a positive integer, got {run[key]!r}")
    if run["batch_size"] is not None and not (isinstance(run["batch_size"], int) and run["batch_size"] >= 1):
        raise SettingsError(f"{name('batch_size')} must be a positive integer, got {run['batch_size']!r}")
    if not run["lr"] > 0 or run["lr"] == float("inf"):
        raise SettingsError(f"{name('lr')} must be a positive number, got {run['lr']!r}")
    return run


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
    frames = open_frames(run["data"], size, cache_mb=run["cache_mb"])
    how = {k: run[k] for k in ("train_names", "n_train", "val_split") if run[k] is not None}
    if run["val_data"] is not None:
        how["val_frames"] = open_frames(run["val_data"], size, cache_mb=run["cache_mb"])
    if not how:
        # A named set has its own split (tiktok-136: the original's 3 frames); a folder holds
        # out a tenth of its frames, chosen by the seed.
        how = dict(defaults.split) or {"val_split": 0.1}
    train, heldout = split_frames(frames, seed=run["seed"], **how)
    notes = list(getattr(frames, "notes", [])) + list(getattr(how.get("val_frames"), "notes", []))
    return train, heldout, notes


def build_model(run, size):
    model = models.create(run["model"], input_size=size, seed=run["seed"], **run["model_args"])
    try:
        model.output_shape((1, *size, 3))
    except ValueError as error:
        raise SettingsError(f"size {size[0]}x{size[1]} does not fit the model: {error}") from None
    return model


def assemble(run, out_dir, *, progress=True, trace=False, log=print):
    """The trainer of a run, with its data, model, task, optimiser and callbacks."""
    run = settings(run)
    out_dir = os.fspath(out_dir)
    train, heldout, notes = open_data(run)
    model = build_model(run, train.size)
    task = make_task({"task": run["task"], "loss": run["loss"]})
    model.config["task"] = task.config           # how `npcae predict` reads its outputs
    optimizer = Adam(model.named_parameters(), lr=run["lr"])
    augmenter = Augmenter(seed=run["seed"]) if run["augment"] else None
    loader = BatchLoader(train, run["batch_size"], shuffle=run["shuffle"], seed=run["seed"],
                         augmenter=augmenter)
    eval_train = (len(train) <= TRAIN_EVAL_LIMIT if run["train_eval"] == "auto"
                  else bool(run["train_eval"]))
    callbacks = [Validation(heldout, train if eval_train else None, run["val_every"], run["eval_batch"]),
                 Snapshots(train, run["snapshot_every"], batch=run["eval_batch"]),
                 GradientNorms(out_dir, run["grad_every"]),
                 History(out_dir),
                 Checkpoint(out_dir, run["checkpoint_every"], run)]
    callbacks += [TraceFirstStep(out_dir)] if trace else []
    callbacks += [ProgressBar()] if progress else []
    callbacks += [StopOnInterrupt()]       # last: Ctrl-C stays handled while the others finish
    trainer = Trainer(model, task, optimizer, loader, epochs=run["epochs"], callbacks=callbacks,
                      log=log)
    return Experiment(run, out_dir, trainer, train, heldout, notes)


def report(exp):
    """metrics.json: the final figures of every set, and per image; returns the dict."""
    trainer = exp.trainer
    validation = trainer.callback(Validation)
    result = {"epoch": trainer.epoch, **validation.evaluate(trainer.model, trainer.task)}
    sets = [("heldout", exp.heldout)] + ([("train", exp.train)] if validation.train is not None else [])
    for name, frames in sets:
        *_, per_image = evaluate(trainer.model, trainer.task, frames, validation.batch, per_image=True)
        result[f"{name}_per_image"] = per_image
    text = json.dumps(result, indent=2)
    atomic_write(os.path.join(exp.out_dir, "metrics.json"), lambda f: f.write(text.encode()))
    return result


def finish(exp):
    """The run's figures and metrics.json, after fit(); returns the report."""
    from .plots import write_all
    write_all(exp)
    return report(exp)


__all__ = ["DEFAULTS", "settings", "assemble", "finish", "report", "Experiment", "SettingsError",
           "DataError"]
