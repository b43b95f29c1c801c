"""Models: containers that compose layers, and the original CAE as one call."""
from .cae import CAE, build, cae, conv_block
from .containers import Add, Concatenate, Container, Sequential
from .io import WeightsMismatch, atomic_write, load_weights, read_config, save_weights

__all__ = ["Sequential", "Add", "Concatenate", "Container", "cae", "CAE", "conv_block", "build",
           "save_weights", "load_weights", "read_config", "atomic_write", "WeightsMismatch"]
