"""Metrics: binary.py scores masks (accuracy, IoU, Dice at a threshold); multiclass.py scores
class ids through a confusion matrix (per-class IoU, mIoU, accuracy)."""
from .binary import dice, iou, per_image, pixel_accuracy
from .multiclass import confusion_matrix, predicted_ids, scores

__all__ = ["pixel_accuracy", "iou", "dice", "per_image", "predicted_ids", "confusion_matrix",
           "scores"]
