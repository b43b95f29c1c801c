"""A training run from its settings: the parts put together, and what is written at the end.

    run = settings({"data": "synthetic", "epochs": 500})   # DEFAULTS filled in, checked (run_settings.py)
    exp = assemble(run, "runs/demo")                         # data, model, task, Adam, callbacks
    exp.trainer.fit();  finish(exp)                          # train; figures and metrics.json (report.py)

`npcae train` is this with settings from its options; a run's settings are stored in its
checkpoint, so `--resume` (resuming.py) assembles exactly the same parts again. Nothing is written to the
run folder until fit() starts, so bad settings leave nothing behind.
"""
import os
from dataclasses import dataclass

from .. import models
from ..data import Augmenter, BatchLoader, dataset_defaults, open_frames, split_frames
from ..data.union import UnionFrames, source_labels
from ..data.labels import median_frequency_weights
from ..diagnostics import memory
from ..optim import Adam
from ..tasks import make_task
from .callbacks import (Checkpoint, GradientNorms, History, LearningRateSchedule, ProgressBar,
                        Snapshots, StopOnInterrupt, TraceFirstStep, Validation, WeightAverage)
from .init_from import start_from
from .options import data_specs
from .run_settings import Settings, SettingsError, settings
from .task_settings import data_options, model_args, task_config
from .trainer import Trainer

# Validating the training frames costs an inference pass over all of them; "auto" does it (and
# reports the original's all-frames figures) for training sets up to this many frames.
TRAIN_EVAL_LIMIT = 64


@dataclass
class Experiment:
    run: dict
    out_dir: str
    trainer: Trainer
    train: object            # Frames
    heldout: object          # Frames
    notes: list              # one-line remarks about the data, for the log


def frame_size(run):
    """(H, W) the run trains at: --size, else its first data set's own size."""
    spec = data_specs(run["data"])[0]
    size = tuple(run["size"]) if run["size"] else dataset_defaults(spec).size
    if size is None:
        raise SettingsError(f"{spec} needs a size (e.g. --size 256x256)")
    return tuple(size)


def open_data(run):
    """(train Frames, held-out Frames, notes) as the run's settings choose them."""
    specs = data_specs(run["data"])
    size = frame_size(run)
    val_frames = None
    if run["val_data"] is not None:
        val_frames = open_frames(run["val_data"], size, cache_mb=run["cache_mb"],
                                 **data_options(run, run.palette, run["val_data"]))
    if len(specs) == 1:
        train, heldout = split_one(run, specs[0], size, val_frames)
    else:
        parts = {label: split_one(run, spec, size, val_frames, union=True)
                 for label, spec in zip(source_labels(specs), specs)}
        train = UnionFrames({label: part[0] for label, part in parts.items()})
        heldout = val_frames or UnionFrames({label: part[1] for label, part in parts.items()})
    notes = list(dict.fromkeys([*train.notes, *heldout.notes]))   # a split's parts share notes
    return train, heldout, notes


def split_one(run, spec, size, val_frames=None, union=False):
    """(train, held-out) Frames of one data spec of the run.

    The held-out frames are `val_frames` (--val-data) when given, else a set's own: the part its
    publisher holds out (cityscapes-pix2pix's val/), its default split (tiktok-136's 7 frames,
    human-seg-290's every 7th photo), else --val-split's fraction (default a tenth, drawn by the
    seed). In a union (several --data) a set with a split of its own keeps its held-out frames
    out of training even when --val-data replaces them as the run's held-out frames, so that
    they stay unseen; a set without one (a folder, a COCO file) then trains whole."""
    defaults = dataset_defaults(spec)
    options = data_options(run, run.palette, spec)
    frames = open_frames(spec, size, cache_mb=run["cache_mb"], **options)
    how = {k: run[k] for k in ("train_names", "n_train", "val_split") if run[k] is not None}
    own = (open_frames(spec, size, cache_mb=run["cache_mb"], part=1, **options) if defaults.parts
           else None)
    if union and val_frames is not None:
        if own is not None:
            return frames, own
        how = how or dict(defaults.split)
        return split_frames(frames, seed=run["seed"], **how) if how else (frames, None)
    if val_frames is not None and not union:
        how["val_frames"] = val_frames
    if not how and own is not None:
        how["val_frames"] = own
    if not how:
        how = dict(defaults.split) or {"val_split": 0.1}
    return split_frames(frames, seed=run["seed"], **how)


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


def build_model(run, size, frames, checked=None, model=None):
    """The run's model at `size` (H, W) once check_fits passes for its batches: batch_size
    frames, or all `frames` (the training set's count) when batch_size is None. `checked`:
    the (size, batch) check_fits already passed, not checked again; `model`: the run's model
    already built (its weights from --init-from), returned once the check passes."""
    batch = min(run["batch_size"] or frames, frames)                    # as BatchLoader caps it
    if checked != (tuple(size), batch):
        check_fits(run, size, batch)
    return model or new_model(run, size)


def new_model(run, size):
    """The run's model at `size`, with fresh weights from its seed."""
    return models.create(run["model"], input_size=size, seed=run["seed"], **model_args(run))


def assemble(run, out_dir, *, progress=True, trace=False, log=print, fresh=True):
    """The trainer of a run, with its data, model, task, optimiser and callbacks. `fresh`:
    a new run, whose model starts from --init-from's weights when given (a resumed run's
    model is restored from its checkpoint instead)."""
    run = settings(run)
    out_dir = os.fspath(out_dir)
    checked = (frame_size(run), run["batch_size"] or 1)
    check_fits(run, *checked)     # before frames are read, or rendered, at a size that cannot fit
    model = started = None
    if fresh and run["init_from"]:  # another architecture is refused before any data is parsed
        model = new_model(run, checked[0])
        started = start_from(model, run["init_from"])
    train, heldout, notes = open_data(run)
    model = build_model(run, train.size, len(train), checked, model)
    if started:
        notes.append(f"starting from the weights in {started}")
    task = run.task
    if run["class_weights"] == "auto":           # computed once; the stored run keeps the numbers
        weights = auto_class_weights(train, run["classes"])
        run = Settings({**run, "class_weights": weights}, run.palette,
                       make_task(task_config({**run, "class_weights": weights}, run.palette)))
        task = run.task
        notes.append("class weights (median frequency): " + ", ".join(f"{w:.2f}" for w in weights))
    model.config["task"] = task.config           # how `npcae predict` reads its outputs
    optimizer = Adam(model.named_parameters(), lr=run["lr"])
    augmenter = (Augmenter(seed=run["seed"], mask_fill=getattr(task, "mask_fill", 0), **run["augment_args"])
                 if run["augment"] else None)
    sources = ([len(part) for part in train.parts.values()]
               if run["balance"] == "sources" and isinstance(train, UnionFrames) else None)
    loader = BatchLoader(train, run["batch_size"], shuffle=run["shuffle"], seed=run["seed"],
                         augmenter=augmenter, sources=sources)
    eval_train = (len(train) <= TRAIN_EVAL_LIMIT if run["train_eval"] == "auto"
                  else run["train_eval"])
    callbacks = [LearningRateSchedule(run["lr_schedule"], run["lr"]),
                 Validation(heldout, train if eval_train else None, period=run["val_every"],
                            batch_size=run["eval_batch"]),
                 Snapshots(train, period=run["snapshot_every"], batch_size=run["eval_batch"]),
                 GradientNorms(out_dir, period=run["grad_every"]),
                 History(out_dir),
                 Checkpoint(out_dir, period=run["checkpoint_every"], run=dict(run))]
    callbacks += [WeightAverage(run["ema"])] if run["ema"] else []
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


__all__ = ["assemble", "Experiment", "open_data", "check_fits", "build_model"]
