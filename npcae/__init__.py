"""npcae: a from-scratch NumPy convolutional autoencoder for binary segmentation masks."""
from .allocator import retain_freed_memory
from .blas_threads import let_blas_threads_sleep

MALLOC_TUNED = retain_freed_memory()          # before the first large array: see allocator.py
BLAS_THREADS_SLEEP = let_blas_threads_sleep()  # before numpy loads OpenBLAS: see blas_threads.py

from . import gradcheck, kernels, layers, losses, metrics, models, optim  # noqa: E402

__version__ = "0.1.0"
__all__ = ["kernels", "layers", "losses", "optim", "metrics", "models", "gradcheck"]
