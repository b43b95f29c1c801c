"""The run's figures, as the original drew them (loss, metric, evolution, overlays) plus IoU/Dice.

Uses matplotlib's object API (no pyplot, no global backend), each PNG written atomically.
"""
import io
import os

import numpy as np
from matplotlib.figure import Figure

from .models import atomic_write

OVERLAY_TRUE = np.array([0.1, 0.8, 0.2])      # green: the true mask
OVERLAY_PRED = np.array([0.9, 0.1, 0.6])      # magenta: the prediction


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _series(history, key):
    rows = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    return ([e for e, _ in rows], [v for _, v in rows]) if rows else ([], [])


def _curves(history, keys, ylabel, title, path):
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for key, label in keys:
        epochs, values = _series(history, key)
        if epochs:
            ax.plot(epochs, values, label=label, marker="." if len(epochs) < 30 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def plot_loss(history, path):
    _curves(history, [("train_loss", "train (3 frames, dropout on)"),
                      ("heldout_loss", "held out")], "Dice + focal loss", "Loss per epoch", path)


def plot_accuracy(history, path):
    _curves(history, [("train_accuracy", "train (dropout on)"), ("heldout_accuracy", "held out"),
                      ("all_accuracy", "all frames (the original's figure)")],
            "pixel accuracy", "Accuracy per epoch", path)


def plot_iou_dice(history, path):
    _curves(history, [("heldout_iou", "held-out IoU"), ("heldout_dice", "held-out Dice"),
                      ("train_eval_iou", "train IoU"), ("all_iou", "all-frames IoU")],
            "score", "IoU and Dice per epoch", path)


def overlay(image, mask, color, alpha=0.5):
    """image (H, W, 3) in [0, 1] with `mask` (H, W) painted in `color`."""
    mask = mask.astype(bool)[..., None]
    return np.where(mask, (1 - alpha) * image + alpha * color, image)


def plot_evolution(snapshots, record, path):
    """Predictions on the training frames at each snapshot epoch: a row per epoch."""
    epochs = sorted(snapshots)
    n = len(record.names)
    fig = Figure(figsize=(1.6 * n + 0.5, 2.9 * (len(epochs) + 1) * record.images.shape[1]
                          / record.images.shape[2] / 2))
    axes = fig.subplots(len(epochs) + 1, n, squeeze=False)
    for j in range(n):
        axes[0, j].imshow(overlay(record.images[j], record.masks[j, ..., 0], OVERLAY_TRUE))
        axes[0, j].set_title(record.names[j], fontsize=8)
        for i, epoch in enumerate(epochs, start=1):
            axes[i, j].imshow(snapshots[epoch][j, ..., 0], cmap="gray", vmin=0, vmax=1)
            if j == 0:
                axes[i, j].set_ylabel(f"epoch {epoch}", fontsize=8)
    axes[0, 0].set_ylabel("truth", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Evolution of the predictions on the training frames")
    save_figure(fig, path)


def plot_overlays(images, masks, preds, names, heldout_names, path):
    """True (green) vs predicted (magenta) mask for every frame; held-out frames marked."""
    n = len(names)
    cols = min(n, 5)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.2 * cols, 2.2 * rows * images.shape[1] / images.shape[2] / 1.1))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, name in enumerate(names):
        ax = axes.flat[k]
        shown = overlay(images[k], masks[k, ..., 0], OVERLAY_TRUE, 0.45)
        shown = overlay(shown, preds[k, ..., 0] > 0.5, OVERLAY_PRED, 0.45)
        ax.imshow(np.clip(shown, 0, 1))
        ax.set_title(f"{name}{' (held out)' if name in heldout_names else ' (train)'}", fontsize=7)
    fig.suptitle("True (green) vs predicted (magenta) masks")
    save_figure(fig, path)


def write_all(trainer, records):
    """Every figure of a run into its folder; returns the paths written."""
    out, history = trainer.out_dir, trainer.history
    paths = {name: os.path.join(out, f"{name}.png") for name in
             ("loss", "accuracy", "iou_dice", "evolution", "overlays")}
    plot_loss(history, paths["loss"])
    plot_accuracy(history, paths["accuracy"])
    plot_iou_dice(history, paths["iou_dice"])
    plot_evolution(trainer.snapshots, trainer.train, paths["evolution"])
    images = np.concatenate([r.images for r in records])
    masks = np.concatenate([r.masks for r in records])
    names = [n for r in records for n in r.names]
    from .training import predict
    preds = predict(trainer.model, images, trainer.run["eval_batch"])
    plot_overlays(images, masks, preds, names, set(trainer.heldout.names), paths["overlays"])
    return paths
