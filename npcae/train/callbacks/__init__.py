"""Callbacks: everything around the training loop that is not forward, loss, backward, step.
The contract is in base.py; Checkpoint (checkpoint.py) saves a run, npcae.train.checkpoint resumes it."""
from .base import Callback, every
from .checkpoint import Checkpoint
from .console import ProgressBar, StopOnInterrupt, TraceFirstStep
from .records import GradientNorms, History
from .schedule import SCHEDULES, LearningRateSchedule, scheduled_lr
from .validation import Snapshots, Validation
from .averaging import WeightAverage

__all__ = ["Callback", "every", "Checkpoint", "Validation", "Snapshots", "History", "GradientNorms",
           "ProgressBar", "TraceFirstStep", "StopOnInterrupt", "LearningRateSchedule",
           "SCHEDULES", "scheduled_lr", "WeightAverage"]
