"""Batch norm followed by ReLU, run as one layer each way by the Sequential that holds both.

    if fuses(bn, relu):  z = forward_pair(bn, relu, x, training);  dx = backward_pair(bn, relu, dz)

    forward    z = max(y, 0),  y = (x - mu) * scale + beta     y never written
    backward   dy = dz * [y > 0], y recomputed from x          inside batch norm's two sweeps:
               sums of dy and dy * (x - mu), then dx = dy * scale - c_mean - (x - mu) * c_centred

Apart, the pair sweeps its activation seven times a step (batch norm's forward writes y, the
ReLU reads it and writes z; backward, the ReLU reads z and dz and writes dy, which batch norm
reads twice). Together it sweeps five: the forward writes z alone, and backward recomputes the
ReLU's mask, y > 0, from x inside batch norm's own two passes (kernels/batchnorm.py), by the
operations that made y, so the mask is the forward's and the numbers are those of the two
layers run apart. On the U-Net's training step (18 pairs, 8 x 256x256) the ReLUs' own passes
were 57 ms of 1.3 s.

Both layers stay in the model, with their names, parameters and summary() rows; only the
calls change. A pair is left apart when either layer carries a hook or an instance-level
method (a hook must see the ReLU's input, which the fused forward never writes), or runs on
the NumPy road (fast=False), or the input is not float32/float64.
"""
import numpy as np

from .activations import ReLU
from .base import check_backward, remember_forward
from .batchnorm import BatchNormalization


def _plain(layer):
    """No hook and no method shadowed on the instance (layers/hooks.py shadows them there)."""
    return "forward" not in layer.__dict__ and "backward" not in layer.__dict__


def fuses(first, second):
    """Whether `first` then `second` run as one batch norm + ReLU."""
    return (type(first) is BatchNormalization and type(second) is ReLU and first.fast
            and second.fast and _plain(first) and _plain(second))


def forward_pair(bn, relu, x, training):
    """ReLU(bn(x)); the ReLU keeps z, its output, as its own forward would, and both layers
    record the forward as their guarded forwards do (layers/base.py)."""
    bn._backward_ready = relu._backward_ready = None      # a forward that raises leaves nothing
    z = bn.forward_relu(x, training)
    relu.keep_output(z)
    remember_forward(bn, z, training)
    remember_forward(relu, z, training)
    return z


def backward_pair(bn, relu, dz):
    """dL/dx of the pair, with the checks each layer's own backward makes (the batch norm's in
    backward_relu)."""
    check_backward(relu, dz)
    return bn.backward_relu(dz)


def takes_input(x):
    """Whether the fused kernels take x: float32 or float64 (as_float's other inputs go apart)."""
    return getattr(x, "dtype", None) in (np.float32, np.float64)
