"""Figures of multi-class masks: each class's IoU and accuracy, and the confusion matrix
(matplotlib's object API, written atomically; the palette's legend is plots.plot_overlays')."""
import numpy as np
from matplotlib.figure import Figure

from .figures import save_figure


def plot_class_iou(palette, iou, accuracy, path, title=""):
    """Horizontal bars of each class's IoU (in its colour) with its accuracy as a tick; the
    mean over the defined classes as a dashed line. A class with no IoU is marked "n/a"."""
    iou, accuracy = np.asarray(iou, float), np.asarray(accuracy, float)
    k = len(palette.names)
    fig = Figure(figsize=(7, 0.3 * k + 1.4))
    ax = fig.subplots()
    rows = np.arange(k)
    ax.barh(rows, np.nan_to_num(iou), color=palette.colours / 255, edgecolor="0.3", label="IoU")
    ax.scatter(accuracy, rows, marker="|", s=120, color="black", label="accuracy (recall)")
    for row, value in zip(rows, iou):
        ax.text(0.005 if np.isnan(value) else value + 0.01, row,
                "n/a" if np.isnan(value) else f"{value:.2f}", va="center", fontsize=7)
    mean = np.nanmean(iou) if np.isfinite(iou).any() else np.nan
    if np.isfinite(mean):
        ax.axvline(mean, color="0.3", linestyle="--", label=f"mIoU {mean:.3f}")
    ax.set_yticks(rows, palette.names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("IoU")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "IoU of each class")
    save_figure(fig, path)


def plot_confusion(palette, matrix, path, title=""):
    """The confusion matrix with each row (a true class) divided by its pixels: the diagonal is
    each class's accuracy, a row's other cells where its pixels went. Rows with no pixel are
    empty (grey)."""
    matrix = np.asarray(matrix, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = matrix / matrix.sum(axis=1, keepdims=True)
    k = len(palette.names)
    fig = Figure(figsize=(0.42 * k + 2.5, 0.42 * k + 1.5))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(shares), cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class's pixels")
    for (i, j), share in np.ndenumerate(shares):
        if np.isfinite(share) and share >= 0.01:
            ax.text(j, i, f"{100 * share:.0f}", ha="center", va="center", fontsize=6,
                    color="white" if share > 0.5 else "black")
    ax.set_xticks(range(k), palette.names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), palette.names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix (% of each true class)")
    save_figure(fig, path)
