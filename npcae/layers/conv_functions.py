"""The convolution as three plain functions over arrays, and the plan that names their roads.

    plan = conv_plan(geom, keep=True, flip_data=True)          # which algorithm each one runs
    y      = conv_forward(x, geom, w, b, plan, kept)            # (N*OH*OW, F)
    dw, db, cols = conv_backward_weights(x, geom, dy, plan, kept)
    dx     = conv_backward_data(dy, geom, w, x.shape, plan, cols, flipped)

x is an NHWC image, geom its kernels.ConvGeometry, w the kernel as a (KH*KW*C, F) matrix and
dy the upstream gradient as an (N*OH*OW, F) matrix, the layout im2col gives:

    forward           y  = im2col(x) @ w + b
    backward_weights  dw = im2col(x).T @ dy,  db = sum of dy's rows
    backward_data     dx = col2im(dy @ w.T)

Conv2D is these with w = W.reshape(-1, F); a transposed convolution is the same three run the
other way round (its forward is backward_data, layers/transpose.py); UpConv2D's sub-pixel form
is them with a 2x2 window geometry and phase weights (kernels/subpixel.py). What differs
between layers is only the geometry, the matrix, and the roads below; each road computes the
same numbers (tests/test_fast_paths.py holds them to each other and to kernels/reference.py).

Roads (ConvPlan fields, shown "forward / weights / data"):
  forward   DIRECT         no columns: eight pixels' sums of a few filters held in registers
                           (kernels/direct.py), for layers with few filters, where a GEMM is thin
            COLUMN_BLOCKS  im2col a block of output rows at a time into the shared workspace
                           and multiply it (kernels.columns_matmul): one small buffer per model
            KEPT_COLUMNS   a thin layer keeps its own [cols | 1] for backward, b folded into
                           the GEMM as a last row of w (workspace.KeptColumns)
            POINTWISE      1x1 stride 1: the image itself is the column matrix
  weights   DIRECT         no columns: eight channels' sums held in registers along each output
                           row (kernels/direct_weights.py), beside a direct forward
            KEPT_COLUMNS   [cols | 1].T @ dy: dw and db in one GEMM, no im2col
            COLUMN_BLOCKS  cols.T @ dy summed over workspace blocks (backward_data needs no cols)
            WHOLE_COLUMNS  im2col whole, then handed to backward_data as its buffer
            POINTWISE      x.T @ dy
  data      FLIPPED_KERNEL dx is itself a convolution of dy: im2col(dy) @ the kernel rotated by
                           180 degrees with its channel axes swapped (stride 1, centred "same"
                           padding; or UpConv2D's phases when 4F < C). No scattered writes.
            FLIPPED_DIRECT the same convolution by kernels/direct.py, when x has few channels
            SCATTER_DIRECT windows that do not overlap (KH, KW <= stride, no padding: the U-Net's
                           2x2 stride-2 up-convolution run forward): dy @ w.T written straight
                           to its pixels (kernels/direct_data.py), when x has few channels
            COL2IM         dcols = dy @ w.T, written over cols, scattered back and summed
            POINTWISE      dy @ w.T is dx
  all three WINOGRAD_2, WINOGRAD_4
                           Winograd F(2x2,3x3) or F(4x4,3x3) (kernels/winograd.py), 3x3 stride 1
                           only: fewer multiplies (16 or 36 per tile instead of 36 or 144) for
                           more transform work; chosen by algo= (Conv2D(algo="winograd4"))
  LOOPS on all three: kernels/reference.py's loops (Conv2D(fast=False), for study).

ALGOS names what a layer may force (`algo=`): "im2col" (the column roads, never direct),
"direct" (the direct roads where kernels/direct.py takes the layer), "winograd2", "winograd4";
None chooses by shape as above.
"""
from typing import NamedTuple

import numpy as np

from .. import kernels
from ..kernels import direct, direct_data, winograd
from ..kernels.batchnorm import channel_sums
from ..kernels.direct_weights import direct_weights_grad

DIRECT, COLUMN_BLOCKS, KEPT_COLUMNS = "direct", "column blocks", "kept columns"
WHOLE_COLUMNS, COL2IM, POINTWISE, LOOPS = "whole columns", "col2im", "pointwise", "loops"
FLIPPED_KERNEL, FLIPPED_DIRECT = "flipped kernel", "flipped kernel, direct"
SCATTER_DIRECT = "scatter, direct"
WINOGRAD_2, WINOGRAD_4 = "winograd F(2x2,3x3)", "winograd F(4x4,3x3)"
WINOGRAD = {WINOGRAD_2: 2, WINOGRAD_4: 4}
ALGOS = (None, "im2col", "direct", "winograd2", "winograd4")


def winograd_takes(geom):
    """Winograd F(m x m, 3 x 3) runs a 3x3 stride-1 window, padded alike on every side by 0
    ("valid") or 1 ("same")."""
    return (geom.kh, geom.kw, geom.stride) == (3, 3, 1) and geom.pad_top == geom.pad_left in (0, 1)


class ConvPlan(NamedTuple):
    forward: str
    weights: str
    data: str

    def __str__(self):                      # as repr(Conv2D) and summary() show it
        return f"{self.forward} / {self.weights} / {self.data}"


# Below this many input channels (an image's 3, the CAE's 4) a strided layer's weight gradient
# is im2col's one thin GEMM over the column blocks: the CAE's 4 -> 32 stride 2 took 9 ms direct
# against 4 (benchmarks/README.md), the MobileNetV2 stem's 3 -> 32 stride 2 drew (4.0-12 ms
# against 4.6-8.2 in its training step). A stride-1 layer takes the direct road: the U-Net's
# 3 -> 16 at 8 x 256x256 took 8.6-10.3 ms direct against 16-42 for the column blocks inside
# its training step (2026-12-03, timed per call in 10 steps; the lab's im2col row, 10.7 ms,
# reuses the columns its own forward kept, which the direct forward does not build).
DIRECT_WEIGHTS_MIN_CHANNELS = 8


def conv_plan(geom, *, keep=False, flip_data=False, fast=True, filters=None, channels=None,
              dtype=np.float32, input_size=None, algo=None):
    """The roads for `geom`: keep (a training forward of a thin layer keeps its columns),
    flip_data (backward_data as a convolution of dy), fast (False: the reference loops);
    given the layer's output `filters` and input `channels` and the `dtype` it runs in, the
    direct roads where kernels/direct.py takes them (few filters; channels for dx), and with
    the input's (H, W) the direct scatter where no pixel lies in two windows or the padding.
    `algo` (ALGOS) forces an algorithm; ValueError where it cannot run."""
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {', '.join(map(str, ALGOS))}, got {algo!r}")
    if not fast:
        return ConvPlan(LOOPS, LOOPS, LOOPS)
    if algo in ("winograd2", "winograd4"):
        if not winograd_takes(geom):
            raise ValueError(f"Winograd runs 3x3 stride-1 convolutions padded by 0 or 1, not "
                             f"{geom.kh}x{geom.kw} stride {geom.stride}")
        road = WINOGRAD_2 if algo == "winograd2" else WINOGRAD_4
        return ConvPlan(road, road, road)
    if algo == "direct" and not (filters and direct.takes(filters, dtype)):
        raise ValueError(f"the direct kernels take up to {direct.MAX_FILTERS} filters in whole "
                         f"vectors of {np.dtype(dtype).name}, not {filters}")
    if kernels.is_pointwise(geom):
        return ConvPlan(POINTWISE, POINTWISE, POINTWISE)
    if algo == "im2col":
        filters = channels = input_size = None                  # no direct road
    data = COL2IM
    if (channels and input_size and direct_data.overlap_free(geom, *input_size)
            and direct.takes(channels, dtype)):
        data = SCATTER_DIRECT
    if flip_data:
        data = FLIPPED_DIRECT if channels and direct.takes(channels, dtype) else FLIPPED_KERNEL
    if filters and direct.takes(filters, dtype):       # no columns, to keep or to build
        few = (algo is None and channels is not None and channels < DIRECT_WEIGHTS_MIN_CHANNELS
               and geom.stride > 1)
        return ConvPlan(DIRECT, COLUMN_BLOCKS if few else DIRECT, data)
    if keep:
        return ConvPlan(KEPT_COLUMNS, KEPT_COLUMNS, data)
    # Whole columns only where col2im can reuse them as its buffer.
    return ConvPlan(COLUMN_BLOCKS, WHOLE_COLUMNS if data == COL2IM else COLUMN_BLOCKS, data)


def conv_forward(x, geom, w, bias, plan, kept=None, transformed=None):
    """im2col(x) @ w + b as an (N*OH*OW, F) matrix; bias None adds nothing. KEPT_COLUMNS fills
    `kept` (a workspace.KeptColumns) for backward. `transformed`, a dict a frozen layer keeps
    (Conv2D.freeze), holds Winograd's filter transform per (tile size, dtype) once computed."""
    if kept is not None:
        kept.valid = plan.forward == KEPT_COLUMNS
    if plan.forward in WINOGRAD:
        m, kernel = WINOGRAD[plan.forward], w.reshape(3, 3, x.shape[3], -1)
        U = None
        if transformed is not None:
            key = (m, kernel.dtype.str)
            if key not in transformed:
                transformed[key] = winograd.filter_transform(kernel, m)
            U = transformed[key]
        image = winograd.winograd_forward(x, kernel, m, geom.pad_top, bias, U=U)
        return image.reshape(-1, w.shape[1])
    if plan.forward == DIRECT:
        return direct.direct_conv(x, geom, w, bias)
    if plan.forward == KEPT_COLUMNS:
        w_bias = np.vstack([w, bias if bias is not None else np.zeros(w.shape[1], w.dtype)])
        return kernels.columns_matmul(x, geom, w_bias, into=kept.prepare(x, geom))
    y = kernels.columns_matmul(x, geom, w)
    if bias is not None:
        y += bias
    return y


def bias_gradient(dy):
    """dy (..., F) -> (F,) in dy's dtype: the sum over every pixel, in Numba's parallel blocks
    accumulated in float64 (numpy's sum over the rows runs on one thread: 5% of the U-Net's
    training step)."""
    return channel_sums(dy).astype(dy.dtype, copy=False)


def conv_backward_weights(x, geom, dy, plan, kept=None, bias=True):
    """(dw (KH*KW*C, F), db (F,), cols): cols are the whole columns when backward_data can
    reuse them as its buffer (WHOLE_COLUMNS), else None. bias=False (a layer without one, as
    every convolution before a batch norm) leaves db None instead of summing dy for nothing
    (KEPT_COLUMNS still returns the db its one GEMM makes anyway)."""
    if plan.weights == KEPT_COLUMNS:                  # db comes out of the same GEMM
        dw_db = kept.buffer.T @ dy
        return dw_db[:-1], dw_db[-1], None
    cols = None
    if plan.weights in WINOGRAD:
        dy_image = dy.reshape(x.shape[0], geom.out_h, geom.out_w, dy.shape[1])
        dw = winograd.winograd_backward_weights(x, dy_image, WINOGRAD[plan.weights], geom.pad_top)
        dw = dw.reshape(-1, dy.shape[1])
    elif plan.weights == DIRECT:
        dw = direct_weights_grad(x, geom, dy)
    elif plan.weights == COLUMN_BLOCKS:
        dw = kernels.columns_t_matmul(x, geom, dy)
    else:
        cols = kernels.im2col_shared(x, geom)
        dw = cols.T @ dy
    return dw, bias_gradient(dy) if bias else None, cols


def conv_backward_data(dy, geom, w, x_shape, plan, cols=None, flipped=None, bias=None):
    """dx (x_shape), plus `bias` (C,) when given (a transposed convolution's forward).
    FLIPPED_KERNEL needs `flipped` = (dy as an image, its geometry, the flipped kernel matrix),
    which the layer knows how to make; COL2IM writes dy @ w.T into `cols` when given (the
    columns backward_weights built, no longer needed)."""
    if plan.data == SCATTER_DIRECT:
        return direct_data.direct_scatter(dy, geom, w, x_shape, bias)
    dx = _backward_data(dy, geom, w, x_shape, plan, cols, flipped)
    if bias is not None:
        dx += bias
    return dx


def _backward_data(dy, geom, w, x_shape, plan, cols, flipped):
    if plan.data in WINOGRAD:
        dy_image = dy.reshape(x_shape[0], geom.out_h, geom.out_w, w.shape[1])
        return winograd.winograd_backward_data(dy_image, w.reshape(3, 3, x_shape[3], -1),
                                               WINOGRAD[plan.data], geom.pad_top)
    if plan.data == FLIPPED_DIRECT:
        dy_image, dy_geom, flipped_w = flipped
        return direct.direct_conv(dy_image, dy_geom, flipped_w).reshape(x_shape)
    if plan.data == FLIPPED_KERNEL:
        dy_image, dy_geom, flipped_w = flipped
        return kernels.columns_matmul(dy_image, dy_geom, flipped_w).reshape(x_shape)
    if plan.data == POINTWISE:                     # its cols would be a view of x
        return kernels.col2im(dy @ w.T, x_shape, geom)
    if cols is None:
        cols = kernels.workspace.scratch((dy.shape[0], w.shape[0]), dy.dtype)
    return kernels.col2im(np.matmul(dy, w.T, out=cols), x_shape, geom)


def flipped_kernel(weights):
    """(KH, KW, C, F) -> the (KH*KW*F, C) matrix of the kernel rotated by 180 degrees with its
    channel axes swapped: the kernel that convolves dy into dx (stride 1, centred padding)."""
    rotated = weights[::-1, ::-1].transpose(0, 1, 3, 2)
    return np.ascontiguousarray(rotated).reshape(-1, weights.shape[2])
