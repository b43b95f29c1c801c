"""Tasks: what depends on the kind of target (loss, metrics, prediction, drawing). See base.py.

    task = make_task({"task": "binary", "loss": "dice+focal"})     # or BinaryMask()
"""
from .base import Tally, Task
from .binary import BinaryCounts, BinaryMask
from .image import ImageToImage, SquaredError
from .multiclass import ConfusionTally, MultiClassMask

TASKS = {"binary": BinaryMask, "image": ImageToImage, "multiclass": MultiClassMask}


def make_task(config):
    """A task from its stored config ({"task": name, **its arguments})."""
    config = dict(config)
    name = config.pop("task", "binary")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(sorted(TASKS))}")
    return TASKS[name](**config)


__all__ = ["Task", "Tally", "BinaryMask", "BinaryCounts", "ImageToImage", "SquaredError",
           "ConfusionTally", "MultiClassMask", "TASKS", "make_task"]
