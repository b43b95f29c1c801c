"""An exponential moving average of the weights (`--ema DECAY`): the model scored and kept."""
import copy

import numpy as np

from .base import Callback


class WeightAverage(Callback):
    """After every training step, for each parameter and batch-norm moving statistic w:

        avg <- d_t * avg + (1 - d_t) * w,      d_t = min(decay, (1 + t) / (10 + t))

    t the steps averaged so far (TensorFlow's ExponentialMovingAverage with num_updates: the
    ramp lets the average forget the random start within the first hundred steps). The average
    smooths the noise of the last steps out of the weights (Polyak and Juditsky 1992; the "EMA"
    of timm and of YOLO's trainers): decay 0.999 averages over ~1,000 steps.

    The averaged model is trainer.averaged: validation, snapshots, the final figures and
    weights.npz use it; the training steps and checkpoint.npz's model are the live weights,
    and this callback's state (in the checkpoint) the average, so that a resumed run continues
    both. It runs first (order -1), so that the epoch's callbacks see the step's average.
    """

    name = "weight_average"
    order = -1

    def __init__(self, decay):
        if not 0 < decay < 1:
            raise ValueError(f"the weight average's decay must be between 0 and 1, got {decay}")
        self.decay, self.steps = float(decay), 0
        self.stored = {}          # a checkpoint's average, until training begins
        self.average = None       # the averaged model (trainer.averaged)

    def on_train_begin(self, trainer):
        if trainer.averaged is None:
            trainer.averaged = copy.deepcopy(trainer.model)
        self.average = trainer.averaged
        for name, value in averaged_arrays(self.average):
            if name in self.stored:                   # resumed: the average, not the live weights
                value[...] = self.stored[name]
        self.stored = {}

    def on_batch_end(self, trainer, logs):
        self.steps += 1
        keep = min(self.decay, (1 + self.steps) / (10 + self.steps))
        live = dict(averaged_arrays(trainer.model))
        for name, average in averaged_arrays(self.average):
            average *= keep
            average += (1 - keep) * live[name]

    def state_dict(self):
        arrays = (dict(averaged_arrays(self.average)) if self.average is not None
                  else self.stored)
        return {"steps": self.steps, **{name: value.copy() for name, value in arrays.items()}}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])
        self.stored = {name: np.asarray(value) for name, value in state.items() if name != "steps"}


def averaged_arrays(model):
    """(name, array) of every parameter ("param:...") and floating-point state array
    ("state:...": batch norm's moving mean and variance; not dropout's generators)."""
    yield from ((f"param:{name}", value) for name, value, _ in model.named_parameters())
    yield from ((f"state:{name}", value) for name, value in model.named_state()
                if isinstance(value, np.ndarray) and value.dtype.kind == "f")
