"""Figures of a run's records, as the original drew them (loss, metric, evolution, overlays) plus
IoU/Dice and the gradient flow (per-parameter gradient norms over the epochs). Pictures only:
they take arrays, rows and a `draw(image, target, output)` function (a task's), and know
nothing of tasks or runs; npcae/train/report.py chooses what a run draws.

Uses matplotlib's object API (no pyplot, no global backend), each PNG written atomically.
"""
import io

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..system.files import atomic_write


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def _series(history, key):
    rows = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    return ([e for e, _ in rows], [v for _, v in rows]) if rows else ([], [])


def plot_curves(history, keys, ylabel, title, path):
    """One line per (history key, label) present in the history, against the epoch."""
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


def plot_loss(history, path, ylabel="loss"):
    plot_curves(history, [("train_loss", "train (dropout on)"), ("heldout_loss", "held out")],
                ylabel, "Loss per epoch", path)


def _picture(snapshot):
    """A snapshot as imshow takes it: uint8 pictures scaled to [0, 1], (H, W, 1) as (H, W)."""
    snapshot = np.asarray(snapshot)
    if snapshot.ndim == 3 and snapshot.shape[-1] == 1:
        snapshot = snapshot[..., 0]
    return snapshot / 255.0 if snapshot.dtype == np.uint8 else snapshot


def plot_evolution(snapshots, record, path, *, draw):
    """Predictions on the training frames at each snapshot epoch: a row per epoch.

    snapshots: {epoch: (n, H, W[, C])}, probabilities or uint8 pictures (task.snapshot) of the
    first n frames of `record` (images, masks, names); draw(image, target, None): the truth row.
    """
    epochs = sorted(snapshots)
    n = len(snapshots[epochs[0]]) if epochs else len(record.names)
    fig = Figure(figsize=(1.6 * n + 0.5, 2.9 * (len(epochs) + 1) * record.images.shape[1]
                          / record.images.shape[2] / 2))
    axes = fig.subplots(len(epochs) + 1, n, squeeze=False)
    for j in range(n):
        axes[0, j].imshow(np.clip(draw(record.images[j], record.masks[j], None), 0, 1))
        axes[0, j].set_title(record.names[j], fontsize=8)
        for i, epoch in enumerate(epochs, start=1):
            axes[i, j].imshow(_picture(snapshots[epoch][j]), cmap="gray", vmin=0, vmax=1)
            if j == 0:
                axes[i, j].set_ylabel(f"epoch {epoch}", fontsize=8)
    axes[0, 0].set_ylabel("truth", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Evolution of the predictions on the training frames")
    save_figure(fig, path)


def plot_overlays(images, masks, preds, names, heldout_names, path, *, draw, title="",
                  legend=None):
    """draw(image, target, output) for every frame (by default the true mask in green and the
    predicted one in magenta); held-out frames are marked: heldout_names is a set of names, or
    one flag per frame where the two parts share names (cityscapes-pix2pix: train/1.jpg and
    val/1.jpg). legend: [(name, RGB in [0, 1])], the colours of the pictures (a multi-class
    task's palette), drawn beneath them."""
    n = len(names)
    wide = draw(images[0], masks[0], preds[0]).shape[1] / images.shape[2]    # panels per picture
    cols = max(1, min(n, round(5 / wide)))
    rows = -(-n // cols)
    fig = Figure(figsize=(2.2 * wide * cols, 2.2 * rows * images.shape[1] / images.shape[2] / 1.1))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, name in enumerate(names):
        ax = axes.flat[k]
        ax.imshow(np.clip(draw(images[k], masks[k], preds[k]), 0, 1))
        held = heldout_names[k] if isinstance(heldout_names, (list, tuple)) else name in heldout_names
        ax.set_title(f"{name}{' (held out)' if held else ' (train)'}", fontsize=7)
    if legend:
        from matplotlib.patches import Patch
        fig.legend(handles=[Patch(facecolor=rgb, edgecolor="0.5", label=label) for label, rgb in legend],
                   loc="upper center", ncol=min(len(legend), 7), fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.06))
        fig.subplots_adjust(bottom=0.08)
    fig.suptitle(title)
    save_figure(fig, path)


def gradient_matrix(rows):
    """(names in first-seen order, sorted epochs, norms (names, epochs) with nan where missing)
    from rows of {"epoch", "name", "norm"} as the GradientNorms callback holds them."""
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
