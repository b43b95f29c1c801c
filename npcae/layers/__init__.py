"""Layers with hand-written forward and backward passes (NHWC, float32 or float64).

Every layer follows the contract in `base.Layer`: forward(x, training), backward(dy) -> dx,
`params` and `grads` dicts with the same keys, and `state` for what it keeps but does not train.
"""
from .activations import (ACTIVATIONS, LeakyReLU, ReLU, ReLU6, Sigmoid, Swish, Tanh, get_activation,
                          sigmoid)
from .base import Layer
from .batchnorm import BatchNormalization
from .conv import Conv2D
from .depthwise import DepthwiseConv2D
from .dropout import Dropout
from .identity import Identity
from .init import he_normal, truncated_normal
from .pooling import MaxPool2D
from .transpose import Conv2DTranspose
from .upconv import UpConv2D
from .upsampling import UpSampling2D

__all__ = ["Layer", "Identity", "Conv2D", "DepthwiseConv2D", "Conv2DTranspose", "UpSampling2D",
           "UpConv2D", "Dropout", "Swish", "ReLU", "ReLU6", "LeakyReLU",
           "Sigmoid", "Tanh", "ACTIVATIONS", "get_activation", "sigmoid", "he_normal",
           "truncated_normal", "MaxPool2D", "BatchNormalization"]
