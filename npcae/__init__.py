"""npcae: a from-scratch NumPy convolutional autoencoder for binary segmentation masks."""
from .allocator import retain_freed_memory

MALLOC_TUNED = retain_freed_memory()          # before the first large array: see allocator.py

from . import gradcheck, kernels, layers, losses, metrics, models, optim  # noqa: E402

__version__ = "0.1.0"
__all__ = ["kernels", "layers", "losses", "optim", "metrics", "models", "gradcheck"]
