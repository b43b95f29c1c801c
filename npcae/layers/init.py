"""Weight initialisers, drawn from a numpy Generator so that every model is reproducible.

Each wears @shape_only_aware: under `placeholder.shapes_only()` it returns the kernel's shape
without drawing it (npcae.diagnostics.memory sizes models too large to build that way).
"""
import numpy as np

from .placeholder import shape_only_aware

# Standard deviation of a unit normal truncated to [-2, 2]; Keras divides by it so that the
# truncated draws end up with the standard deviation asked for.
TRUNCATED_NORMAL_STD = 0.87962566103423978


@shape_only_aware
def truncated_normal(rng, shape, stddev, dtype=np.float32):
    """Normal(0, stddev) redrawn until every value lies within two standard deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return (values * stddev).astype(dtype)


@shape_only_aware
def he_normal(rng, shape, dtype=np.float32, fan_in=None):
    """Keras he_normal for a (KH, KW, C_in, C_out) kernel: std sqrt(2 / fan_in), fan_in = KH*KW*C_in
    unless given (a depthwise filter sees KH*KW inputs)."""
    fan_in = int(np.prod(shape[:-1])) if fan_in is None else int(fan_in)
    return truncated_normal(rng, shape, np.sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STD, dtype)
