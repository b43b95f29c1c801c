"""npcae: from-scratch NumPy convolutional networks that learn segmentation masks (a CAE, U-Nets,
binary and multi-class), with their backward passes written out, gradient-checked and fast."""
from .system.allocator import retain_freed_memory
from .system.blas_threads import let_blas_threads_sleep

MALLOC_TUNED = retain_freed_memory()          # before the first large array: see allocator.py
BLAS_THREADS_SLEEP = let_blas_threads_sleep()  # before numpy loads OpenBLAS: see blas_threads.py

from . import gradcheck, kernels, layers, losses, metrics, models, optim  # noqa: E402
from . import _moved  # noqa: E402
from .predict import load_model  # noqa: E402

_moved.install()                              # npcae 0.1's flat module names, with a warning

__version__ = "0.2.0"
__all__ = ["load_model", "kernels", "layers", "losses", "optim", "metrics", "models", "gradcheck"]
