"""The original work's convolutional autoencoder, as one call."""
import numpy as np

from ..layers import Conv2D, Dropout, Sigmoid, UpConv2D, UpSampling2D, get_activation
from ..layers.base import BadInput, model_input
from .arguments import kernel_size as checked_kernel_size
from .arguments import positive_int, positive_ints, rate_pair
from .containers import Sequential


BLOCK_PARTS = ("conv1", "act1", "drop1", "conv2", "act2", "drop2")     # conv_block's layers, named


def conv_block(in_channels, out_channels, kernel_size, first_stride, dropout, activation,
               init_rng, dropout_rngs, fast=True):
    """Conv(stride) -> act -> Dropout(d0) -> Conv -> act -> Dropout(d1): one block of the CAE."""
    return [
        Conv2D(in_channels, out_channels, kernel_size, first_stride, "same", rng=init_rng,
               fast=fast),
        get_activation(activation, fast=fast),
        Dropout(dropout[0], rng=next(dropout_rngs)),
        Conv2D(out_channels, out_channels, kernel_size, 1, "same", rng=init_rng, fast=fast),
        get_activation(activation, fast=fast),
        Dropout(dropout[1], rng=next(dropout_rngs)),
    ]


def cae(filters=(4, 32, 256), kernel_size=3, dropout=(0.1, 0.25), activation="swish",
        in_channels=3, seed=None, fast=True):
    """The original CAE: (N, H, W, in_channels) -> (N, H, W, 1) mask probabilities.

    encoder: for f in filters:            Conv(f, stride 2) act Drop Conv(f) act Drop
    decoder: for f in reversed(filters):  UpSampling2D(2) Conv(f) act Drop Conv(f) act Drop
             (UpSampling2D(2) + Conv(f) is one UpConv2D layer: sub-pixel form when fast)
    head:    Conv2D 1x1 -> 1 channel, Sigmoid

    H and W must be multiples of 2**len(filters) (8 for the original). `seed` fixes both the
    weights (Keras he_normal, zero bias) and every dropout mask, so a run repeats exactly.
    filters and in_channels are whole numbers (16.0 passes, 4.5 and True do not); a bad
    argument raises BadInput naming it (models/arguments.py).
    """
    filters = positive_ints("cae", "filters", filters, at_least=1)
    kernel_size = checked_kernel_size("cae", kernel_size)
    dropout = rate_pair("cae", "dropout", dropout)
    in_channels = positive_int("cae", "in_channels", in_channels)
    seeds = np.random.SeedSequence(seed)
    init_seed, dropout_seed = seeds.spawn(2)
    init_rng = np.random.default_rng(init_seed)
    dropout_rngs = iter(np.random.default_rng(s) for s in dropout_seed.spawn(4 * len(filters)))
    block = dict(kernel_size=kernel_size, dropout=dropout, activation=activation,
                 init_rng=init_rng, dropout_rngs=dropout_rngs, fast=fast)
    layers, names, channels = [], [], in_channels
    for level, f in enumerate(filters, 1):
        layers += conv_block(channels, f, first_stride=2, **block)
        names += [f"enc{level}.{part}" for part in BLOCK_PARTS]
        channels = f
    for level, f in zip(range(len(filters), 0, -1), reversed(filters)):
        first_conv, *rest = conv_block(channels, f, first_stride=1, **block)
        layers += [UpConv2D(UpSampling2D(2, "nearest"), first_conv, fast=fast), *rest]
        names += [f"dec{level}.{part}" for part in ("upconv1", *BLOCK_PARTS[1:])]
        channels = f
    layers += [Conv2D(channels, 1, 1, 1, "same", rng=init_rng, fast=fast), Sigmoid()]
    names += ["head.conv", "head.sigmoid"]
    model = CAE(layers, factor=2 ** len(filters), names=names)
    model.input_shape = (1024, 512, in_channels)
    model.config = {"builder": "cae", "filters": list(filters), "kernel_size": kernel_size,
                    "dropout": list(dropout), "activation": activation, "in_channels": in_channels}
    return model


class CAE(Sequential):
    """A Sequential that checks its input size divides by the total downsampling factor."""

    def __init__(self, layers, factor, names=None):
        super().__init__(*layers, names=names)
        self.factor = factor

    def check_input(self, shape):
        if len(shape) != 4:
            raise BadInput(f"the CAE takes NHWC input (N, H, W, C), got shape {tuple(shape)}")
        _, height, width, _ = shape
        if height % self.factor or width % self.factor:
            raise BadInput(f"the CAE needs height and width divisible by {self.factor}, "
                             f"got {height}x{width}")

    def forward(self, x, training=False):
        x = model_input(x, training, "the CAE")         # an array (a list read), NHWC, finite
        self.check_input(x.shape)
        return super().forward(x, training)

    def output_shape(self, input_shape):
        self.check_input(input_shape)
        return super().output_shape(input_shape)

