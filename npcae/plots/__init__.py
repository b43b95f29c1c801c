"""Figures, written atomically as PNG: figures.py draws curves, evolutions, overlays and the
gradient flow; classes.py the per-class IoU bars and the confusion matrix. Plotting only: what a
run writes at its end is decided in npcae.train.report."""
from .classes import plot_class_iou, plot_confusion
from .figures import (gradient_matrix, plot_curves, plot_evolution, plot_gradient_flow, plot_loss,
                      plot_overlays, save_figure)

__all__ = ["save_figure", "plot_curves", "plot_loss", "plot_evolution", "plot_overlays",
           "gradient_matrix", "plot_gradient_flow", "plot_class_iou", "plot_confusion"]
