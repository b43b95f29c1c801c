"""The flat modules of npcae 0.1 (before issue 20 gave each concern its folder), kept importable
for a while: `import npcae.experiment` still works and warns once, naming the new place.

    npcae.experiment -> npcae.train.experiment  (DeprecationWarning on first import)

A name renamed in the move is still found under its old name in the old module. Installed by
npcae/__init__.py as a finder at the end of sys.meta_path, so it only sees names no real
module has.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED = {
    "allocator": "system.allocator", "blas_threads": "system.blas_threads",
    "reserve": "system.reserve", "runlock": "system.runlock", "hooks": "layers.hooks",
    "losses_multiclass": "losses.multiclass", "metrics_multiclass": "metrics.multiclass",
    "plots_multiclass": "plots.classes", "gradcheck_cases": "gradcheck.cases",
    "gradcheck_suite": "gradcheck.suite", "memory": "diagnostics.memory",
    "footprints": "diagnostics.footprints", "trace": "diagnostics.trace",
    "training": "train.trainer", "experiment": "train.experiment",
    "task_settings": "train.task_settings", "checkpoint": "train.checkpoint",
    "evaluation": "train.evaluation", "defaults": "train.options", "callbacks": "train.callbacks",
}
# (old module, old name) -> (new module, new name), for names that changed in the move
RENAMED = {
    ("evaluation", "predict"): ("train.evaluation", "forward_batches"),
    ("checkpoint", "restore"): ("train.checkpoint", "restore_trainer"),
    ("checkpoint", "read_model_arrays"): ("models.io", "read_checkpoint_arrays"),
    ("checkpoint", "Checkpoint"): ("train.callbacks", "Checkpoint"),
    ("experiment", "report"): ("train.report", "write_metrics"),
    ("experiment", "finish"): ("train.report", "finish"),
    ("losses_multiclass", "IGNORE"): ("data.labels", "IGNORE"),
    ("losses_multiclass", "median_frequency_weights"): ("data.labels", "median_frequency_weights"),
    ("defaults", "MODEL_DEFAULTS"): ("models", "RUN_DEFAULTS"),
    ("experiment", "settings"): ("train.run_settings", "settings"),
    ("experiment", "SettingsError"): ("train.run_settings", "SettingsError"),
    ("experiment", "DEFAULTS"): ("train.options", "DEFAULTS"),
}


def _new(path):
    return importlib.import_module(f"npcae.{path}")


class _Shim(types.ModuleType):
    """The old module: every attribute is the new module's, renamed ones under their old name."""

    def __getattr__(self, name):
        old = self.__name__.rpartition(".")[2]
        if (old, name) in RENAMED:
            module, new_name = RENAMED[old, name]
            return getattr(_new(module), new_name)
        return getattr(_new(MOVED[old]), name)


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.rpartition(".")
        if package == "npcae" and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return _Shim(spec.name)

    def exec_module(self, module):
        old = module.__name__.rpartition(".")[2]
        warnings.warn(f"npcae.{old} moved to npcae.{MOVED[old]}; the old name will go in npcae 0.3",
                      DeprecationWarning, stacklevel=3)
        module.__doc__ = f"Moved to npcae.{MOVED[old]}."
        module.__path__ = _new(MOVED[old]).__dict__.get("__path__", [])  # a moved package stays one


def install():
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
