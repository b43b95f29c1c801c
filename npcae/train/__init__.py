"""A training run: trainer.py is the loop (forward, loss, backward, step), callbacks/ everything
around it, experiment.py assembles a run from its settings, checkpoint.py saves and restores
one, evaluation.py scores a model on frames, report.py writes a finished run's figures and
metrics.json.

    run = settings({"data": "synthetic", "epochs": 500})
    exp = assemble(run, "runs/demo");  exp.trainer.fit();  finish(exp)
"""
from .checkpoint import CheckpointError, read_checkpoint, restore_trainer, save_checkpoint
from .defaults import DEFAULTS, MODEL_DEFAULTS
from .evaluation import evaluate, forward_batches
from .experiment import Experiment, SettingsError, assemble, settings
from .report import finish, write_figures, write_metrics
from .trainer import Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "settings", "assemble", "Experiment", "SettingsError",
           "DEFAULTS", "MODEL_DEFAULTS", "finish", "write_figures", "write_metrics", "evaluate",
           "forward_batches", "save_checkpoint", "read_checkpoint", "restore_trainer",
           "CheckpointError"]
