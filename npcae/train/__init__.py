"""A training run: trainer.py is the loop (forward, loss, backward, step), callbacks/ everything
around it; options.py declares every run setting once, run_settings.py fills them in and checks
them; experiment.py assembles a run from its settings, resuming.py picks a stopped one up,
checkpoint.py saves and restores one, evaluation.py scores a model on frames, report.py writes
a finished run's figures and metrics.json.

    run = settings({"data": "synthetic", "epochs": 500})
    exp = assemble(run, "runs/demo");  exp.trainer.fit();  finish(exp)
    exp = resume("runs/demo", epochs=800)              # later: the same run, a new target
"""
from .checkpoint import CheckpointError, read_checkpoint, restore_trainer, save_checkpoint
from .evaluation import evaluate, forward_batches
from .experiment import Experiment, assemble
from .options import DEFAULTS, OPTIONS, RESUMABLE, Option
from .report import finish, write_figures, write_metrics
from .resuming import resume
from .run_settings import Settings, SettingsError, settings
from .trainer import Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "settings", "Settings", "SettingsError", "DEFAULTS",
           "OPTIONS", "Option", "RESUMABLE", "assemble", "Experiment", "resume",
           "finish", "write_figures", "write_metrics", "evaluate", "forward_batches",
           "save_checkpoint", "read_checkpoint", "restore_trainer", "CheckpointError"]
