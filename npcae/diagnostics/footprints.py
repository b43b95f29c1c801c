"""What each layer holds in memory over a training step, by shape alone: the rules npcae.diagnostics.memory
adds up.

    footprint(layer, (N, H, W, C), itemsize=4, training=True) -> Footprint

A rule reads the layer's code paths (which convolutions keep their columns, which backward takes
the im2col road) from the same attributes the layer uses, and counts bytes; nothing is computed
or allocated, so it works on a model built under layers.placeholder.shapes_only(). Containers
are added up from their children; a leaf layer without a rule gets a generous guess (it keeps
its input and its output). A new layer's rule goes here, under `@rule(NewLayer)`, and
tests/test_memory.py fails until every layer npcae.layers exports has one.

Words, as a step's arrays live (see layers/base.py, kernels/workspace.py):
  kept       held from a training forward until the layer's next forward (caches for backward,
             a thin convolution's own columns); all of them are alive at once, at the end of
             forward and through backward.
  buffers    the part of `kept` that a layer allocates once and keeps in inference too
             (workspace.KeptColumns).
  forward    alive only during the layer's forward: its fresh output and temporaries.
  backward   alive only during its backward: dy, dx and temporaries.
  workspace  the shared im2col buffer it asks for; the buffer grows to the largest request
             and stays, so a model holds the largest of these, once.
The input and output arrays themselves are counted by whoever keeps them: `keeps_input`,
`keeps_output`, `passes_input` (the output is the input array, e.g. Identity) tell a
container which arrays between its children stay alive.
"""
from dataclasses import dataclass

import numpy as np

from ..kernels.im2col import BLOCK_BYTES
from ..kernels.pooling import INDEX_DTYPE
from ..kernels.subpixel import window_geometry
from ..kernels.direct_weights import WEIGHT_BLOCKS
from ..kernels.winograd import tile_blocks
from ..layers.conv_functions import (COL2IM, COLUMN_BLOCKS, DIRECT, FLIPPED_DIRECT, FLIPPED_KERNEL,
                                    KEPT_COLUMNS, SCATTER_DIRECT, WHOLE_COLUMNS, WINOGRAD)
from ..layers import (Conv2D, Conv2DTranspose, Dropout, Identity, LeakyReLU, ReLU, Sigmoid, Swish, Tanh, UpConv2D,
                     UpSampling2D)
from ..layers import BatchNormalization, DepthwiseConv2D, MaxPool2D, ReLU6
from ..models.containers import Add, Concatenate, Container
from ..models.unet import UNet

RULES = {}


@dataclass(frozen=True)
class Footprint:
    kept: int = 0
    buffers: int = 0
    forward: int = 0
    backward: int = 0
    workspace: int = 0
    keeps_input: bool = False
    keeps_output: bool = False
    passes_input: bool = False


def rule(*classes):
    """Register fn(layer, input_shape, itemsize, training) -> Footprint for these classes."""
    def register(fn):
        for cls in classes:
            RULES[cls] = fn
        return fn
    return register


def nbytes(shape, itemsize):
    size = itemsize
    for d in shape:
        size *= int(d)
    return size


def footprint(layer, shape, itemsize=4, training=True):
    """The Footprint of `layer` for an input of `shape` (N, H, W, C)."""
    shape = tuple(int(d) for d in shape)
    for cls in type(layer).__mro__:
        if cls in RULES:
            return RULES[cls](layer, shape, itemsize, training)
    if isinstance(layer, Container) and layer.chained:
        return chain(layer.layers, shape, itemsize, training)
    x, y = nbytes(shape, itemsize), nbytes(layer.output_shape(shape), itemsize)
    return Footprint(forward=2 * y, backward=2 * (x + y), keeps_input=True, keeps_output=True)


def chain(layers, shape, itemsize, training):
    """Layers applied in order (Sequential): each array between two of them is kept once if
    either neighbour keeps it; one a layer passes on unchanged is the same array."""
    prints, sizes = [], [nbytes(shape, itemsize)]
    for layer in layers:
        prints.append(footprint(layer, shape, itemsize, training))
        shape = layer.output_shape(shape)
        sizes.append(nbytes(shape, itemsize))
    group = [0]                              # group[k]: which array the k-th boundary is
    for k, fp in enumerate(prints):
        group.append(group[k] if fp.passes_input else k + 1)
    kept_groups = set()
    for k, fp in enumerate(prints):
        if fp.keeps_input:
            kept_groups.add(group[k])
        if fp.keeps_output:
            kept_groups.add(group[k + 1])
    first, last = group[0], group[-1]
    inner = sum(sizes[g] for g in kept_groups - {first, last})
    # While a layer runs forward, its input is alive even if nobody keeps it.
    forward = max((fp.forward + (0 if group[k] in kept_groups else sizes[k])
                   for k, fp in enumerate(prints)), default=0)
    return Footprint(kept=inner + sum(fp.kept for fp in prints),
                     buffers=sum(fp.buffers for fp in prints),
                     forward=forward, backward=max((fp.backward for fp in prints), default=0),
                     workspace=max((fp.workspace for fp in prints), default=0),
                     keeps_input=first in kept_groups, keeps_output=last in kept_groups,
                     passes_input=first == last)


@rule(UNet)
def unet(layer, shape, itemsize, training):
    """Its layers at the padded size, plus the padded copy of x and the padded dy."""
    n, height, width, channels = shape
    pad_h, pad_w = layer.padding(height, width)
    padded = (n, height + pad_h, width + pad_w, channels)
    inner = chain(layer.layers, padded, itemsize, training)
    if not (pad_h or pad_w):
        return inner
    extra = nbytes(padded, itemsize) + nbytes(layer.output_shape(padded), itemsize)
    return Footprint(kept=inner.kept + nbytes(padded, itemsize), buffers=inner.buffers,
                     forward=inner.forward + extra, backward=inner.backward + extra,
                     workspace=inner.workspace, keeps_input=inner.keeps_input,
                     keeps_output=inner.keeps_output)


@rule(Add, Concatenate)
def branches(layer, shape, itemsize, training):
    """Every branch sees the input; the branch outputs are alive together while they are summed
    or concatenated into a fresh output, and backward adds the branches' dx into a copy."""
    prints = [footprint(branch, shape, itemsize, training) for branch in layer.layers]
    outs = [nbytes(branch.output_shape(shape), itemsize) for branch in layer.layers]
    x, y = nbytes(shape, itemsize), nbytes(layer.output_shape(shape), itemsize)
    held = sum(out for fp, out in zip(prints, outs) if fp.keeps_output and not fp.passes_input)
    return Footprint(kept=held + sum(fp.kept for fp in prints),
                     buffers=sum(fp.buffers for fp in prints),
                     forward=max(fp.forward for fp in prints) + sum(outs) + y,
                     backward=max(fp.backward for fp in prints) + y + 2 * x,
                     workspace=max(fp.workspace for fp in prints),
                     keeps_input=any(fp.keeps_input for fp in prints))


@rule(Identity)
def identity(layer, shape, itemsize, training):
    return Footprint(passes_input=True)


def block_bytes(image_rows, row_bytes):
    """The workspace im2col_blocks asks for: as many image rows as fit BLOCK_BYTES, at least
    one, at most all."""
    return min(image_rows, max(1, BLOCK_BYTES // row_bytes)) * row_bytes


@rule(Conv2D)
def conv(layer, shape, itemsize, training):
    """Keeps x; a thin layer in training also its [cols | 1] (kept columns). The roads are the
    layer's own plan (layers/conv_functions.py): the column roads build im2col in workspace
    blocks (whole for col2im's buffer), the direct roads none, the direct weight gradient
    one partial dW per block of rows."""
    n, _, _, channels = shape
    geom = layer.geometry(shape)
    kh, kw = layer.kernel_size
    image_rows, rows = n * geom.out_h, n * geom.out_h * geom.out_w
    x, y = nbytes(shape, itemsize), rows * layer.out_channels * itemsize
    weights = kh * kw * channels * layer.out_channels * itemsize
    if not layer.fast:          # kernels/reference.py: padded copies of x, W-sized products
        return Footprint(forward=y + 2 * x, backward=y + 4 * x + 3 * weights, keeps_input=True)
    x_row = geom.out_w * kh * kw * channels * itemsize      # one image row of im2col(x)
    whole = rows * kh * kw * channels * itemsize
    plan = layer.plan(training, np.float64 if itemsize == 8 else np.float32, shape)
    if plan.forward in WINOGRAD:
        return winograd_conv(layer, shape, geom, WINOGRAD[plan.forward], itemsize, training, x, y, weights)
    keep = plan.forward == KEPT_COLUMNS
    forward_space = block_bytes(image_rows, x_row) if plan.forward == COLUMN_BLOCKS else 0
    if not training:
        return Footprint(forward=y, workspace=forward_space, keeps_input=True)
    weights_space = {COLUMN_BLOCKS: block_bytes(image_rows, x_row), WHOLE_COLUMNS: whole}
    dy_row = geom.out_w * kh * kw * layer.out_channels * itemsize
    data_space = {FLIPPED_KERNEL: block_bytes(image_rows, dy_row), COL2IM: whole}
    backward_space = max(weights_space.get(plan.weights, 0), data_space.get(plan.data, 0))
    kept = rows * (kh * kw * channels + 1) * itemsize if keep else 0
    # Weight-sized temporaries, which rule when the filters are wide and the image small:
    # [W; b] stacked for the kept columns; dW summed over blocks (part + total), rot180(W).
    weight_temporaries = 2 * weights if layer.centred and not keep else weights
    if plan.weights == DIRECT:  # kernels/direct_weights.py: one partial dW per block of rows
        weight_temporaries += min(WEIGHT_BLOCKS, image_rows) * weights
    return Footprint(kept=kept, buffers=kept, forward=y + (weights if keep else 0),
                     backward=x + y + weight_temporaries,
                     workspace=max(forward_space, backward_space), keeps_input=True)


def winograd_conv(layer, shape, geom, m, itemsize, training, x, y, weights):
    """kernels/winograd.py: a block of tiles' V and M (or dM) at a time, the filter transform
    U (alpha^2 C F), and in backward dU, its float64 adjoint and the rotated kernel's U."""
    n, _, _, channels = shape
    alpha2, filters = (m + 2) ** 2, layer.out_channels
    widest = max(channels, filters)
    count = tile_blocks(n * -(-geom.out_h // m) * -(-geom.out_w // m), alpha2, widest, itemsize)[0][1]
    blocks = alpha2 * count * (channels + filters) * itemsize
    transform = alpha2 * channels * filters * itemsize
    if not training:
        return Footprint(forward=y + transform + blocks, keeps_input=True)
    return Footprint(forward=y + transform + blocks,
                     backward=x + y + blocks + 2 * transform + 3 * 2 * weights, keeps_input=True)


@rule(Conv2DTranspose)
def conv_transpose(layer, shape, itemsize, training):
    """Keeps x. Forward is C's backward-data: dcols = x @ W.T in the workspace (col2im road),
    or im2col of x in blocks (flipped kernel), then y. Backward: dW = im2col(dy).T @ x (whole
    columns, or blocks beside a flipped-kernel dx) and dx = im2col(dy) @ W in blocks."""
    n, height, width, channels = shape
    kh, kw = layer.kernel_size
    out_h, out_w = layer.output_size(height, width)
    x, y = nbytes(shape, itemsize), n * out_h * out_w * layer.out_channels * itemsize
    weights = kh * kw * channels * layer.out_channels * itemsize
    col_row = width * kh * kw * layer.out_channels * itemsize     # one input row's columns
    plan = layer.plan(training, np.float64 if itemsize == 8 else np.float32)
    if plan.forward == COL2IM:
        forward_space = n * height * col_row
    elif plan.forward in (SCATTER_DIRECT, FLIPPED_DIRECT):      # kernels/direct*.py: no columns
        forward_space = 0
    else:
        forward_space = block_bytes(n * height, width * kh * kw * channels * itemsize)
    if not training:
        return Footprint(forward=y + weights, workspace=forward_space, keeps_input=True)
    weights_space = {WHOLE_COLUMNS: n * height * col_row,
                     COLUMN_BLOCKS: block_bytes(n * height, col_row)}.get(plan.weights, 0)
    temporaries = 2 * weights
    if plan.weights == DIRECT:      # kernels/direct_weights.py: one partial dW per block of rows
        temporaries += min(WEIGHT_BLOCKS, n * height) * weights
    return Footprint(forward=y + weights, backward=x + y + temporaries,
                     workspace=max(forward_space, weights_space), keeps_input=True)


@rule(UpConv2D)
def upconv(layer, shape, itemsize, training):
    """Fused: keeps x (a thin one also its [cols | 1]); the (N*(H+1)*(W+1), 4F) phases live
    beside the output in forward, and beside dy and dx in backward."""
    if not layer.fused:
        return chain(layer.sublayers(), shape, itemsize, training)
    n, height, width, channels = shape
    filters = layer.conv.out_channels
    rows = n * (height + 1) * (width + 1)
    x, y = nbytes(shape, itemsize), n * 4 * height * width * filters * itemsize
    phases = rows * 4 * filters * itemsize
    w_sub = 16 * channels * filters * itemsize        # the (4C, 4F) phase matrix, 16/9 of W
    keep = training and layer.conv.keep_columns and 4 * filters <= Conv2D.THIN_FILTERS
    geom = window_geometry(height, width)
    x_row = geom.out_w * 4 * channels * itemsize            # one window row of im2col_2x2(x)
    forward_space = 0 if keep else block_bytes(n * geom.out_h, x_row)
    forward = phases + y + (2 if keep else 1) * w_sub       # kept: W_sub stacked with b too
    if not training:
        return Footprint(forward=forward, workspace=forward_space, keeps_input=True)
    if layer._data_by_im2col():     # dx = im2col_2x2(dY) @ rot180(W_sub), in blocks
        dy_row = width * 16 * filters * itemsize
        backward_space = max(forward_space, block_bytes(n * height, dy_row))
    else:                           # col2im's road: the whole columns
        backward_space = rows * 4 * channels * itemsize
    kept = rows * (4 * channels + 1) * itemsize if keep else 0
    # dW_sub (summed over blocks: part + total), or W_sub and its rotation for dx.
    return Footprint(kept=kept, buffers=kept, forward=forward,
                     backward=y + phases + x + 2 * w_sub,
                     workspace=max(forward_space, backward_space), keeps_input=True)


@rule(UpSampling2D)
def upsampling(layer, shape, itemsize, training):
    """Keeps nothing but shapes (bilinear: two small matrices); bilinear's einsums make one
    half-upsampled intermediate each way."""
    x, y = nbytes(shape, itemsize), nbytes(layer.output_shape(shape), itemsize)
    half = y // layer.size if layer.interpolation == "bilinear" else 0
    return Footprint(forward=y + half, backward=y + half + x)


@rule(Dropout)
def dropout(layer, shape, itemsize, training):
    """Training: keeps the mask m as booleans; draws float32 uniforms to make it, then y.
    Inference (or rate 0): y is x itself."""
    if not training or layer.rate == 0.0:
        return Footprint(passes_input=True)
    elements = nbytes(shape, 1)
    x = elements * itemsize
    draw = elements * (4 + 1)                       # uniforms, then the mask u >= rate
    return Footprint(kept=elements, forward=max(draw, x), backward=2 * x)


@rule(Swish)
def swish(layer, shape, itemsize, training):
    """Keeps x; the fast kernels make only y (dx); the numpy form a few temporaries."""
    x = nbytes(shape, itemsize)
    extra = 0 if layer.fast else 4 * x
    return Footprint(forward=x + extra, backward=2 * x + extra, keeps_input=True)


@rule(Sigmoid, Tanh)
def keeps_y(layer, shape, itemsize, training):
    """Keeps y; numpy temporaries (|x|, exp, 1 + e; y (1 - y)) of x's size."""
    x = nbytes(shape, itemsize)
    return Footprint(forward=4 * x, backward=4 * x, keeps_output=True)


@rule(ReLU, LeakyReLU)
def relu(layer, shape, itemsize, training):
    """Keeps the boolean mask x > 0 (one byte an element); the fast ReLU keeps its output y
    instead, and makes no temporaries."""
    x = nbytes(shape, itemsize)
    if getattr(layer, "fast", False):
        return Footprint(forward=x, backward=2 * x, keeps_output=True)
    return Footprint(kept=nbytes(shape, 1), forward=x, backward=3 * x)


@rule(ReLU6)
def relu6(layer, shape, itemsize, training):
    """Keeps the boolean mask 0 < x < 6; forward makes the two comparisons and y."""
    x = nbytes(shape, itemsize)
    return Footprint(kept=nbytes(shape, 1), forward=x + 3 * nbytes(shape, 1), backward=3 * x)


@rule(DepthwiseConv2D)
def depthwise(layer, shape, itemsize, training):
    """Keeps x. Forward makes y; backward dx and the fixed blocks of partial dW (16 kernels,
    small). The numpy reference (fast=False) pads x and works on (N, OH, OW, C, M) arrays."""
    x, y = nbytes(shape, itemsize), nbytes(layer.output_shape(shape), itemsize)
    extra = 0 if layer.fast else 2 * x + 2 * y
    return Footprint(forward=y + extra, backward=x + y + extra, keeps_input=True)


@rule(MaxPool2D)
def maxpool(layer, shape, itemsize, training):
    """Training keeps the window offsets of the maxima (one byte an output element), not x.
    Forward makes y and those offsets (inference drops them); backward dx from dy. The NumPy
    reference (fast=False) pads x with -inf, a boolean mask beside it, and selects with
    where(): int64 offsets and a few output-sized temporaries."""
    y_shape = layer.output_shape(shape)
    x, y = nbytes(shape, itemsize), nbytes(y_shape, itemsize)
    index = nbytes(y_shape, np.dtype(INDEX_DTYPE).itemsize)
    kept = index if training else 0
    if not layer.fast:
        elements = nbytes(y_shape, 1)
        return Footprint(kept=kept, forward=x + x // itemsize + 3 * y + 3 * 8 * elements,
                         backward=3 * x + 2 * y + elements)
    return Footprint(kept=kept, forward=y + index, backward=x + y)


@rule(BatchNormalization)
def batchnorm(layer, shape, itemsize, training):
    """Training keeps x itself and mu, 1 / sigma (C float64 each); inference keeps nothing.
    Forward: y, the centred x scaled in place (the float64 sums are buffered). Backward: dy,
    the centred x again, dx."""
    x = nbytes(shape, itemsize)
    if not training:
        return Footprint(forward=x)
    return Footprint(kept=2 * 8 * layer.channels, forward=x, backward=3 * x, keeps_input=True)


__all__ = ["Footprint", "footprint", "rule", "RULES", "chain", "nbytes", "block_bytes"]
