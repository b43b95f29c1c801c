"""Convolution kernels: Numba im2col/col2im (fast) beside a loop-based reference (plain).

    from npcae.kernels import conv_geometry, im2col, col2im      # the building blocks
    from npcae.kernels import columns_matmul, columns_t_matmul   # im2col @ W, block by block
    from npcae.kernels import reference                          # what the tests trust
    from npcae.kernels import pooling                            # max pooling and its gradient
"""
import os

import numba

# Numba's default OpenMP pool keeps its threads spinning after each parallel loop. With as many
# threads as cores, that spinning starves the BLAS threads of the matrix multiply that comes
# next: measured here, every small kernel cost one 8 ms scheduler slice. The workqueue pool
# sleeps between loops. It must be chosen before the first parallel launch; an explicit
# NUMBA_THREADING_LAYER in the environment still wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

from . import depthwise, pooling  # noqa: E402
from . import reference  # noqa: E402
from .geometry import ConvGeometry, conv_geometry, padding_1d  # noqa: E402
from .im2col import (col2im, columns_matmul, columns_t_matmul, im2col,  # noqa: E402
                     im2col_blocks, im2col_shared, is_pointwise)

__all__ = ["ConvGeometry", "conv_geometry", "padding_1d", "im2col", "im2col_blocks",
           "im2col_shared", "col2im", "columns_matmul", "columns_t_matmul",
           "is_pointwise", "reference", "pooling"]
