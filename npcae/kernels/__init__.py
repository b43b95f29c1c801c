"""Convolution kernels: Numba im2col/col2im (fast) beside a loop-based reference (plain).

    from npcae.kernels import conv_geometry, im2col, col2im      # what Conv2D uses
    from npcae.kernels import reference                          # what the tests trust
"""
from . import reference
from .geometry import ConvGeometry, conv_geometry, padding_1d
from .im2col import col2im, im2col, is_pointwise

__all__ = ["ConvGeometry", "conv_geometry", "padding_1d", "im2col", "col2im", "is_pointwise",
           "reference"]
