"""npcae: a from-scratch NumPy convolutional autoencoder for binary segmentation masks."""
from . import gradcheck, kernels, layers, losses, metrics, models, optim

__version__ = "0.1.0"
__all__ = ["kernels", "layers", "losses", "optim", "metrics", "models", "gradcheck"]
