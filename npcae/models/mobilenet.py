"""MobileNetV2 (Sandler et al. 2018) as an encoder, and the TensorFlow segmentation tutorial's
U-Net on it: a pix2pix decoder joined to five of its feature maps.

    encoder = mobilenet_v2_encoder(alpha=0.5)       # x -> [1/2, 1/4, 1/8, 1/16, 1/32 maps]
    model = mobilenet_unet(classes=1, alpha=1.0)    # x -> (N, H, W, classes)

The encoder, Keras's `MobileNetV2(include_top=False)` up to block_16_project:

    stem:     Conv 3x3 s2, make_divisible(32 alpha) filters, no bias -> BN -> ReLU6
    block k:  [Conv 1x1 to t * C_in (no bias) -> BN -> ReLU6]      (the expansion; not in block 0)
              DepthwiseConv 3x3 stride s (no bias) -> BN -> ReLU6
              Conv 1x1 to make_divisible(c alpha) (no bias) -> BN   (the linear projection)
              + x when s == 1 and C_in == C_out                     (the residual)
    (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1):
    blocks 0..16, the first of each group with stride s, the others 1.

Its feature maps, the tutorial's taps (channels at alpha 1): block_1_expand_relu (1/2, 96),
block_3_expand_relu (1/4, 144), block_6_expand_relu (1/8, 192), block_13_expand_relu (1/16,
576), block_16_project (1/32, 320, the projection before its batch norm). Every tap sits inside
a block of stride 2 or changing width, which has no residual, so the encoder is five plain
segments, each ending at a tap.

The decoder, pix2pix's `upsample(f, 3)` four times (f = 512, 256, 128, 64), each joined to the
tap of its size, then a last transposed convolution to the classes:

    up:    Conv2DTranspose 3x3 s2 "same", no bias -> BN -> ReLU      (-> Dropout when dropout > 0)
    join:  concatenate [up, tap]                                     (the tutorial's order)
    head:  Conv2DTranspose 3x3 s2 "same" to `classes` (bias) -> Sigmoid for one class, logits else

As a network: segment_1, then [up_1(segment_2, [up_2(... segment_5 ...), tap_4] ...), tap_1],
nested Concatenates as the U-Net's (unet.py), so backward, memory estimates, the trace and
summary() need nothing new; the input is padded to a multiple of 32 and cropped back (UNet).

Batch norm: epsilon 1e-3 as Keras; momentum 0.9, not Keras's 0.999: a PyTorch twin trained
from scratch for 30 minutes with 0.999 predicted nothing at inference (IoU 0), its moving
statistics lagging the weights; with 0.9 it trained (the U-Net's finding too, unet.py).
No ImageNet weights: npcae trains it from scratch.
"""
import numpy as np

from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, DepthwiseConv2D, Dropout,
                      Identity, ReLU, ReLU6, Sigmoid, get_activation)
from ..layers.base import BadInput
from .arguments import positive_int, positive_ints, rate
from .containers import Add, Concatenate, Container, Sequential
from .unet import UNet, named

# (expansion t, channels c, repeats n, stride s) of Sandler et al.'s Table 2
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))
TAPS = ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
        "block_13_expand_relu", "block_16_project")
DECODER = (512, 256, 128, 64)
ALPHAS = (0.35, 0.5, 0.75, 1.0)
BN = dict(momentum=0.9, epsilon=1e-3)
# What `npcae train --model mobilenet_unet` changes when not given: the U-Net's recipe for
# people (unet.py) at the tutorial's 224x224. Measured with it (README, 2026-12-02): 43 epochs
# of 290 photos in 30 idle minutes at alpha 1.0, 60 at 0.5, 66 at 0.35, and the IoU of the U-Net
# trained the same way; not tuned further (issue 24 compares recipes).
RUN_DEFAULTS = dict(data="synthetic-people", size=[224, 224], batch_size=8, epochs=60, lr=1e-3,
                    lr_schedule="cosine", augment=True,
                    augment_args=dict(scale=0.3, shift=0.15, brightness=0.3, contrast=0.3),
                    val_every=2, checkpoint_every=2, snapshot_every=10, grad_every=5)


def make_divisible(value, divisor=8):
    """Keras's _make_divisible: the nearest multiple of 8, at least 8, never 10% below value."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def block_layers(k, in_channels, t, out_channels, stride, rng, act):
    """[(name, layer), ...] of inverted residual block k, Keras's names (block_k_expand, ...)."""
    name, layers, channels = f"block_{k}", [], in_channels
    if t != 1:
        channels = t * in_channels
        layers += [(f"{name}_expand", Conv2D(in_channels, channels, 1, 1, "same", rng=rng, use_bias=False)),
                   (f"{name}_expand_BN", BatchNormalization(channels, **BN)),
                   (f"{name}_expand_relu", act())]
    layers += [(f"{name}_depthwise", DepthwiseConv2D(channels, 3, stride, "same", use_bias=False, rng=rng)),
               (f"{name}_depthwise_BN", BatchNormalization(channels, **BN)),
               (f"{name}_depthwise_relu", act()),
               (f"{name}_project", Conv2D(channels, out_channels, 1, 1, "same", rng=rng, use_bias=False)),
               (f"{name}_project_BN", BatchNormalization(out_channels, **BN))]
    return layers


def encoder_layers(alpha, in_channels, rng, divisor=8, act=ReLU6):
    """[(name, layer), ...] from the input to block_16_project_BN, residual blocks as one Add."""
    first = make_divisible(32 * alpha, divisor)
    layers = [("Conv1", Conv2D(in_channels, first, 3, 2, "same", rng=rng, use_bias=False)),
              ("bn_Conv1", BatchNormalization(first, **BN)), ("Conv1_relu", act())]
    channels, k = first, 0
    for t, c, n, s in SETTINGS:
        out = make_divisible(c * alpha, divisor)
        for repeat in range(n):
            stride = s if repeat == 0 else 1
            block = block_layers(k, channels, t, out, stride, rng, act)
            if stride == 1 and channels == out:
                layers.append(("", Add([named(Sequential, block), Identity()], names=["", f"block_{k}_add"])))
            else:
                layers += block
            channels, k = out, k + 1
    return layers


def segments(layers):
    """The encoder's layers cut after each tap: five lists of (name, layer)."""
    cut, parts = 0, []
    for tap in TAPS:
        end = next(i for i, (name, _) in enumerate(layers) if name == tap) + 1
        parts.append(layers[cut:end])
        cut = end
    return parts


class Encoder(Container):
    """The encoder alone: x -> [its five feature maps, 1/2 ... 1/32]; backward takes one
    gradient per map (None: the map was not used) and returns dx. For another decoder."""

    chained = False

    def __init__(self, parts, alpha):
        super().__init__(*[named(Sequential, part) for part in parts], names=[f"to_{tap}" for tap in TAPS])
        self.alpha = alpha

    def forward(self, x, training=False):
        maps = []
        for segment in self.layers:
            x = segment.forward(x, training)
            maps.append(x)
        return maps

    def backward(self, grads):
        grad = None
        for segment, upstream in zip(reversed(self.layers), reversed(list(grads))):
            if upstream is not None:
                grad = upstream if grad is None else grad + upstream
            grad = segment.backward(grad)
        return grad

    def output_shape(self, input_shape):
        shapes = []
        for segment in self.layers:
            input_shape = segment.output_shape(input_shape)
            shapes.append(input_shape)
        return shapes

    def forward_macs(self, input_shape):
        return Sequential.forward_macs(self, input_shape)      # the segments run as a chain


def check_alpha(builder, alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 4:
        raise BadInput(f"{builder}: alpha must be a width multiplier in (0, 4] (Keras: "
                       f"{', '.join(map(str, ALPHAS))}), got {alpha!r}")
    return float(alpha)


def mobilenet_v2_encoder(alpha=1.0, in_channels=3, seed=None):
    """Keras's MobileNetV2 without its top, as an Encoder of its five feature maps."""
    alpha = check_alpha("mobilenet_v2_encoder", alpha)
    in_channels = positive_int("mobilenet_v2_encoder", "in_channels", in_channels)
    rng = np.random.default_rng(seed)
    encoder = Encoder(segments(encoder_layers(alpha, in_channels, rng)), alpha)
    encoder.input_shape = (224, 224, in_channels)
    return encoder


def mobilenet_unet(classes=1, alpha=1.0, dropout=0.0, in_channels=3, decoder=DECODER, divisor=8,
                   activation=None, seed=None):
    """The tutorial's MobileNetV2 U-Net: (N, H, W, in_channels) -> (N, H, W, classes), any H, W.

    decoder: the filters of the four upsampling blocks (pix2pix's 512, 256, 128, 64); divisor:
    make_divisible's rounding of the widths (Keras's 8); activation: None for the paper's
    (ReLU6 in the encoder, ReLU in the decoder), or one name for both. The last three exist
    for the gradient check's tiny, smooth twin (gradcheck/cases.py)."""
    classes = positive_int("mobilenet_unet", "classes", classes)
    divisor = positive_int("mobilenet_unet", "divisor", divisor)
    decoder = positive_ints("mobilenet_unet", "decoder", decoder, at_least=4)
    if len(decoder) != 4:
        raise BadInput(f"mobilenet_unet: decoder must be 4 filter counts, got {decoder!r}")
    encoder_act = ReLU6 if activation is None else (lambda: get_activation(activation))
    decoder_act = ReLU if activation is None else (lambda: get_activation(activation))
    alpha = check_alpha("mobilenet_unet", alpha)
    in_channels = positive_int("mobilenet_unet", "in_channels", in_channels)
    dropout = rate("mobilenet_unet", "dropout", dropout)
    init_seed, dropout_seed = np.random.SeedSequence(seed).spawn(2)
    rng, dropout_rngs = np.random.default_rng(init_seed), np.random.default_rng(dropout_seed)
    parts = segments(encoder_layers(alpha, in_channels, rng, divisor, encoder_act))
    widths = [next(layer.out_channels for _, layer in reversed(part) if hasattr(layer, "out_channels"))
              for part in parts]                           # each tap's channels

    def up(level, in_channels):
        """pix2pix's upsample to the size of tap `level` (0: 1/2 ... 3: 1/16)."""
        filters, name = decoder[3 - level], f"up_{TAPS[level]}"
        layers = [(f"{name}.convT", Conv2DTranspose(in_channels, filters, 3, 2, "same", rng=rng,
                                                    use_bias=False)),
                  (f"{name}.bn", BatchNormalization(filters, **BN))]
        if dropout:
            layers.append((f"{name}.dropout", Dropout(dropout, rng=dropout_rngs)))
        return layers + [(f"{name}.relu", decoder_act())]

    def level(k):
        """segment k, then (below the last) [up(segment k+1 ...), tap k]."""
        layers = list(parts[k])
        if k == len(parts) - 1:
            return layers
        below = widths[k + 1] if k + 1 == len(parts) - 1 else decoder[2 - k] + widths[k + 1]
        deeper = named(Sequential, [*level(k + 1), *up(k, below)])     # below: what level k+1 gives
        layers.append(("", Concatenate([deeper, Identity()], names=["", f"skip_{TAPS[k]}"])))
        return layers

    layers = level(0)
    joined = decoder[-1] + widths[0]
    layers.append(("head.convT", Conv2DTranspose(joined, classes, 3, 2, "same", rng=rng)))
    if classes == 1:
        layers.append(("head.sigmoid", Sigmoid()))
    model = named(UNet, layers, factor=32)
    model.input_shape = (224, 224, in_channels)
    return model
