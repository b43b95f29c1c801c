"""Losses: a forward that returns a scalar and a backward that returns dL/dpred.

binary.py holds the losses of one-channel masks and images (sigmoid outputs); multiclass.py
those of class ids (logits, a softmax inside). `get_loss("dice+focal")` and
`multiclass_loss("ce+dice", class_weights=...)` build them from the names the CLI takes.
"""
from ..data.labels import IGNORE
from .binary import (EPSILON, LOSSES, BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss,
                     Loss, MSELoss, NonFinitePrediction, SumLoss, get_loss)
from .multiclass import (MULTICLASS_LOSSES, MultiClassDice, SoftmaxCrossEntropy, class_ids,
                         multiclass_loss)

__all__ = ["Loss", "SumLoss", "DiceLoss", "FocalLoss", "BinaryFocalLoss", "BCELoss", "MSELoss",
           "DiceFocalLoss", "LOSSES", "get_loss", "EPSILON", "SoftmaxCrossEntropy", "MultiClassDice",
           "MULTICLASS_LOSSES", "multiclass_loss", "class_ids", "IGNORE", "NonFinitePrediction"]
