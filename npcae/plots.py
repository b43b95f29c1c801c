"""The run's figures, as the original drew them (loss, metric, evolution, overlays) plus IoU/Dice
and the gradient flow (per-parameter gradient norms over the epochs).

Uses matplotlib's object API (no pyplot, no global backend), each PNG written atomically.
"""
import io
import os

import numpy as np
from matplotlib import colormaps
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


def gradient_matrix(rows):
    """(names in first-seen order, sorted epochs, norms (names, epochs) with nan where missing)
    from rows of {"epoch", "name", "norm"} as Trainer.gradient_norms holds them."""
    names = list(dict.fromkeys(row["name"] for row in rows))
    epochs = sorted({row["epoch"] for row in rows})
    where = {name: i for i, name in enumerate(names)}, {e: j for j, e in enumerate(epochs)}
    norms = np.full((len(names), len(epochs)), np.nan)
    for row in rows:
        norms[where[0][row["name"]], where[1][row["epoch"]]] = row["norm"]
    return names, epochs, norms


def plot_gradient_flow(rows, path, title="Gradient flow: ||dL/dp|| per parameter"):
    """Left, a heat map of log10 ||dL/dp||, parameters (input at the top) against epochs; right,
    the same norms as one line per epoch (at most 6, first and last included) on a log axis.
    A vanishing gradient is a dark band at the top; an exploding one a bright band.
    """
    names, epochs, norms = gradient_matrix(rows)
    if not names:
        raise ValueError("no gradient norms to plot")
    with np.errstate(divide="ignore"):
        logs = np.log10(norms)                    # an exact zero is -inf: drawn as "bad" below
    shown = np.ma.masked_invalid(logs)
    fig = Figure(figsize=(11, max(3.5, 0.16 * len(names) + 1.5)))
    heat_ax, line_ax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    cmap = colormaps["viridis"].with_extremes(bad="0.6")     # a copy, grey where norm is 0
    image = heat_ax.imshow(shown, aspect="auto", cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=heat_ax, label="log10 ||dL/dp|| (grey: zero)")
    ticks = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), 10)).round().astype(int))
    heat_ax.set_xticks(ticks, [str(epochs[j]) for j in ticks])
    heat_ax.set_yticks(range(len(names)), names, fontsize=7 if len(names) < 50 else 5)
    heat_ax.set_xlabel("epoch")
    heat_ax.set_ylabel("parameter (input first)")
    picked = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), 6)).round().astype(int))
    colors = colormaps["plasma"](np.linspace(0, 0.85, len(picked)))
    for j, color in zip(picked, colors):
        positive = np.where(norms[:, j] > 0, norms[:, j], np.nan)
        line_ax.plot(positive, range(len(names)), marker=".", color=color, label=f"epoch {epochs[j]}")
    line_ax.set_xscale("log")
    line_ax.set_xlabel("||dL/dp||")
    line_ax.grid(alpha=0.3)
    line_ax.legend(fontsize=7)
    fig.suptitle(title)
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
    if trainer.gradient_norms:
        paths["gradient_flow"] = os.path.join(out, "gradient_flow.png")
        plot_gradient_flow(trainer.gradient_norms, paths["gradient_flow"])
    return paths
