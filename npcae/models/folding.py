"""Batch norm folded into the convolution before it, for inference.

    fast, count = fold_batch_norm(model)     # a copy: count BatchNormalization layers gone
    fast.forward(x)                          # == model.forward(x) to float32 rounding

At inference a batch norm is a fixed affine map of each channel, with the moving statistics:

    BN(y) = gamma (y - mean) / sqrt(var + eps) + beta = s y + (beta - s mean),  s = gamma / sqrt(var + eps)

and a convolution is linear in its weights, so BN(conv(x; W, b)) = conv(x; s W, s (b - mean) + beta):
each output channel's weights scaled by its s. The folded layer does in one pass what took two
(the BN's read and write of the whole activation map: 16% of the MobileNetV2 U-Net's forward at
512x512, measured in benchmarks/). The scaled weights are computed in float64 and stored as the
layer's dtype; the results differ from the unfolded model's by float32 rounding only
(tests/test_folding.py). The copy is for inference only: its batch norms are gone, so it cannot
train, and its weights are no longer the trained ones (save the original).

Only a BatchNormalization that directly follows a convolution in a chain (a Sequential, where
each layer's output is the next one's input) is folded; one after a join (Add, Concatenate) or
at the start of a branch has no single convolution to go into and stays.
"""
import copy

import numpy as np

from ..layers import BatchNormalization, Conv2D, Conv2DTranspose, DepthwiseConv2D, Identity

# Where each convolution keeps its output channels in W (the axis s scales).
#   Conv2D (KH, KW, C_in, C_out); DepthwiseConv2D (KH, KW, C, M): output channel c*M + m, so s
#   reshaped (C, M) scales the last two; Conv2DTranspose (KH, KW, C_out, C_in), as Keras.
def _scale_weights(layer, scale):
    weights = layer.params["W"].astype(np.float64)
    if isinstance(layer, DepthwiseConv2D):
        return weights * scale.reshape(weights.shape[2], weights.shape[3])
    if isinstance(layer, Conv2DTranspose):
        return weights * scale[:, None]
    return weights * scale


FOLDABLE = (Conv2D, DepthwiseConv2D, Conv2DTranspose)


def fold_into(conv, norm):
    """Put `norm` (inference mode) into `conv`'s weights and bias, in place."""
    scale = (norm.params["gamma"].astype(np.float64)
             / np.sqrt(norm.state["moving_variance"].astype(np.float64) + norm.epsilon))
    dtype = conv.params["W"].dtype
    bias = conv.params["b"].astype(np.float64) if "b" in conv.params else 0.0
    folded_bias = scale * (bias - norm.state["moving_mean"].astype(np.float64)) + norm.params["beta"]
    conv.params["W"][...] = _scale_weights(conv, scale).astype(dtype)
    conv.add_param("b", folded_bias.astype(dtype))


def _fold(container):
    count = 0
    layers = container.layers
    for k, layer in enumerate(layers):
        if hasattr(layer, "layers"):
            count += _fold(layer)
        elif (container.chained and k > 0 and isinstance(layer, BatchNormalization)
              and isinstance(layers[k - 1], FOLDABLE) and layers[k - 1].out_channels == layer.channels):
            fold_into(layers[k - 1], layer)
            layers[k] = Identity()
            count += 1
    return count


def fold_batch_norm(model):
    """(a copy of `model` with every foldable batch norm folded, how many were folded)."""
    folded = copy.deepcopy(model)
    return folded, _fold(folded) if hasattr(folded, "layers") else 0
