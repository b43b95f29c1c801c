"""A model for inference: batch norm folded into the convolution before it, and the bias and
activation that follow applied in one pass.

    fast, count = inference_copy(model)     # a copy: count BatchNormalization layers gone
    fast.forward(x)                          # == model.forward(x) to float32 rounding

At inference a batch norm is a fixed affine map of each channel, with the moving statistics:

    BN(y) = gamma (y - mean) / sqrt(var + eps) + beta = s y + (beta - s mean),  s = gamma / sqrt(var + eps)

and a convolution is linear in its weights, so BN(conv(x; W, b)) = conv(x; s W, 0) + s (b - mean) + beta:
each output channel's weights scaled by its s, and one bias left. That bias, and a ReLU or ReLU6
that follows, are then one in-place pass over the convolution's own output (ConvEpilogue:
kernels/elementwise.py: bias_clamp, on every core), where the model as trained made three (the
batch norm's, numpy's bias add on one core, the activation's into a new array). A convolution
followed by an activation without a batch norm is fused the same way, Swish included (the
CAE's: bias_swish), a Dropout between them being the identity at inference. The scaled weights are
computed in float64 and stored in the layer's dtype; the outputs differ from the unfolded
model's by float32 rounding only (tests/test_folding.py). The copy is for inference only: its
batch norms are gone and its weights are not the trained ones (save the original).

Only what follows a convolution in a chain (a Sequential, where each layer's output is the next
one's input) is folded: a batch norm after a join (Add, Concatenate) or opening a branch has no
single convolution to go into and stays.
"""
import copy

import numpy as np

from ..kernels.elementwise import bias_clamp, bias_swish
from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, DepthwiseConv2D, Dropout, Identity,
                      ReLU, ReLU6, Swish, UpConv2D)
from .containers import Sequential

FOLDABLE = (Conv2D, DepthwiseConv2D, Conv2DTranspose, UpConv2D)
# The activations an epilogue applies: a clamp (lower, upper), or Swish.
ACTIVATIONS = {ReLU: (0.0, np.inf), ReLU6: (0.0, 6.0), Swish: "swish"}
PASSING = (Identity, Dropout)          # layers that pass x through at inference


def _output_axis_scale(layer, scale):
    """scale (F,) shaped to multiply W along its output channels:
    Conv2D (KH, KW, C_in, C_out): the last axis; DepthwiseConv2D (KH, KW, C, M): output
    c*M + m, so (C, M); Conv2DTranspose (KH, KW, C_out, C_in), as Keras: axis 2."""
    weights = layer.params["W"]
    if isinstance(layer, DepthwiseConv2D):
        return scale.reshape(weights.shape[2], weights.shape[3])
    if isinstance(layer, Conv2DTranspose):
        return scale[:, None]
    return scale                # Conv2D, and UpConv2D, whose W is its Conv2D's


class ConvEpilogue(Sequential):
    """A convolution (without its bias) and what follows it at inference: y = act(conv(x) +
    bias), act a clamp to [lower, upper] (none, ReLU, ReLU6) or Swish, written over the
    convolution's own output in one pass."""

    def __init__(self, conv, bias, lower=-np.inf, upper=np.inf, swish=False):
        super().__init__([conv], names=["conv"])
        self.bias, self.lower, self.upper, self.swish = bias, lower, upper, swish

    def forward(self, x, training=False):
        if training:
            raise RuntimeError("a folded convolution is for inference (models/folding.py)")
        y = self.layers[0].forward(x)
        bias = self.bias.astype(y.dtype, copy=False)
        if self.swish:
            return bias_swish(y, bias)
        return bias_clamp(y, bias, self.lower, self.upper)

    def __repr__(self):
        then = (", swish" if self.swish else "" if self.lower == -np.inf
                else f", clamp [{self.lower:g}, {self.upper:g}]")
        return f"ConvEpilogue({self.layers[0]!r}, + bias{then})"


def _take_bias(conv):
    """The convolution's bias as float64 (zeros if it has none), removed from the layer."""
    if "b" not in conv.params:
        return np.zeros(conv.out_channels)
    bias = conv.params.pop("b").astype(np.float64)
    conv.grads.pop("b", None)
    return bias


def _next(layers, k, passing=(Identity,)):
    """The index of the first layer after k that is not one of `passing` (len(layers) if none)."""
    k += 1
    while k < len(layers) and type(layers[k]) in passing:
        k += 1
    return k


def _fold(container):
    """Fold in place; returns how many batch norms were folded."""
    count = 0
    layers = container.layers
    for k, layer in enumerate(layers):
        if hasattr(layer, "layers"):
            count += _fold(layer)
            continue
        if not (container.chained and isinstance(layer, FOLDABLE)):
            continue
        j = _next(layers, k, PASSING)
        norm = layers[j] if j < len(layers) else None
        folds = isinstance(norm, BatchNormalization) and norm.channels == layer.out_channels
        after = _next(layers, j, PASSING) if folds else j
        activation = ACTIVATIONS.get(type(layers[after])) if after < len(layers) else None
        if not folds and activation is None:
            continue
        bias = _take_bias(layer)
        if folds:
            scale = (norm.params["gamma"].astype(np.float64)
                     / np.sqrt(norm.state["moving_variance"].astype(np.float64) + norm.epsilon))
            weights = layer.params["W"]
            weights[...] = (weights.astype(np.float64) * _output_axis_scale(layer, scale)).astype(weights.dtype)
            bias = scale * (bias - norm.state["moving_mean"].astype(np.float64)) + norm.params["beta"]
            layers[j] = Identity()
            count += 1
        swish = activation == "swish"
        lower, upper = (-np.inf, np.inf) if activation in (None, "swish") else activation
        if activation is not None:
            layers[after] = Identity()
        layers[k] = ConvEpilogue(layer, bias.astype(layer.params["W"].dtype), lower, upper, swish)
    return count


def _freeze(layer):
    """Tell every convolution its weights are final (Conv2D.freeze): Winograd's filter transform
    and the sub-pixel phase weights are then made once, and the choice by shape counts them free."""
    if hasattr(layer, "freeze"):
        layer.freeze()
    for child in layer.sublayers():
        _freeze(child)


def inference_copy(model):
    """(a copy of `model` for inference, with every foldable batch norm folded, each
    convolution's bias and ReLU, ReLU6 or Swish applied in its epilogue and its weights frozen;
    how many batch norms were folded)."""
    folded = copy.deepcopy(model)
    count = _fold(folded) if hasattr(folded, "layers") else 0
    _freeze(folded)
    return folded, count
