"""What a run leaves when fit() ends: its figures and, once finished, metrics.json.

    paths = write_figures(exp)   # loss, the task's curves, evolution, overlays, gradient flow
    write_metrics(exp)           # metrics.json: every set's figures and per image
"""
import json
import os

import numpy as np

from ..data import Record
from ..plots.figures import plot_curves, plot_evolution, plot_gradient_flow, plot_loss, plot_overlays
from ..system.files import atomic_write
from .callbacks import GradientNorms, History, Snapshots, Validation
from .evaluation import forward_batches


# The overlay figure shows every frame of a small set (the original's 3 + 7) and, of a larger
# one, the first few of each side.
OVERLAY_FRAMES = 10


def _first(frames, count):
    """(images, targets, names) of the first `count` frames."""
    images, targets = frames.read(list(range(min(count, len(frames)))))
    return images, targets, frames.names[:len(images)]


def write_figures(exp):
    """Every figure of a run (an npcae.train.experiment.Experiment) into its folder; returns the paths."""
    trainer, out, task = exp.trainer, exp.out_dir, exp.trainer.task
    history = trainer.callback(History).rows
    paths = {"loss": os.path.join(out, "loss.png")}
    plot_loss(history, paths["loss"], ylabel=f"{task.loss_spec} loss")
    for stem, keys, ylabel, title in task.figures:
        paths[stem] = os.path.join(out, f"{stem}.png")
        plot_curves(history, keys, ylabel, title, paths[stem])
    snapshots = trainer.callback(Snapshots)
    if snapshots is not None and snapshots.pictures:
        paths["evolution"] = os.path.join(out, "evolution.png")
        shown = _first(exp.train, len(next(iter(snapshots.pictures.values()))))
        plot_evolution(snapshots.pictures, Record(*shown), paths["evolution"], draw=task.draw)
    n_train = min(len(exp.train), max(3, OVERLAY_FRAMES - len(exp.heldout)))
    train, held = _first(exp.train, n_train), _first(exp.heldout, OVERLAY_FRAMES - n_train)
    images, targets = np.concatenate([train[0], held[0]]), np.concatenate([train[1], held[1]])
    preds = forward_batches(trainer.eval_model, images, trainer.callback(Validation).batch_size)
    paths["overlays"] = os.path.join(out, "overlays.png")
    flags = [False] * len(train[2]) + [True] * len(held[2])
    plot_overlays(images, targets, preds, train[2] + held[2], flags, paths["overlays"],
                  draw=task.draw, title=task.caption, legend=getattr(task, "legend", None))
    tallies = trainer.callback(Validation).last_tallies
    if hasattr(task, "write_figures") and "heldout" in tallies:
        epoch, tally = tallies["heldout"]
        paths.update(task.write_figures(tally, out, f"held out, epoch {epoch}"))
    norms = trainer.callback(GradientNorms)
    if norms is not None and norms.rows:
        paths["gradient_flow"] = os.path.join(out, "gradient_flow.png")
        plot_gradient_flow(norms.rows, paths["gradient_flow"])
    return paths



def write_metrics(exp):
    """metrics.json: the figures of every set (held-out; training and all when the run validates
    its training frames), and per image; one inference pass per set. Returns the dict."""
    trainer = exp.trainer
    validation = trainer.callback(Validation)
    row, per_image = validation.evaluate(trainer.eval_model, trainer.task, per_image=True,
                                         epoch=trainer.epoch)
    result = {"epoch": trainer.epoch, **row, **per_image}
    text = json.dumps(result, indent=2)
    atomic_write(os.path.join(exp.out_dir, "metrics.json"), lambda f: f.write(text.encode()))
    return result


def finish(exp):
    """After fit(): metrics.json when the run is finished (a stopped run is reported when it
    ends, not at every Ctrl-C), then the run's figures. Returns the report, or None.

    The report's pass over the held-out frames comes first: the per-class figures are drawn
    from it, so a finished run resumed after its figures failed (a full disk) draws them all,
    though its validation's own tallies were never saved."""
    report = write_metrics(exp) if exp.trainer.status == "finished" else None
    write_figures(exp)
    return report
