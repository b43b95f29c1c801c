"""U-Net (Ronneberger, Fischer and Brox, 2015), built as nested skip connections.

    unet(filters=(16, 32, 64, 128, 256))      # 4 poolings; the small U-Net
    unet(filters=(64, 128, 256, 512, 1024))   # Ronneberger's

A level of depth d is  double_conv(f_d) -> [skip | up(pool -> level d+1)] -> double_conv(f_d),
the bracket one Concatenate of two branches: the skip branch (Identity) hands the level's
feature map across, and the other goes down and comes back up to the same size. So the
whole network is one Sequential of nested Concatenates, and backward needs nothing new:
Concatenate splits dy by channels and adds the two branches' dx (models/containers.py).

    double_conv(f):  [Conv 3x3 "same" -> BatchNorm -> ReLU] x 2     (the conv has no bias: the
                     batch norm's beta is one; without batch norm it has)
    down:            MaxPool2D(2)
    up:              Conv2DTranspose(f_d, 2x2, stride 2), or UpSampling2D(2) + Conv 3x3
    head:            Conv 1x1 -> classes; Sigmoid when classes == 1 (a mask), logits otherwise
    dropout:         after the bottom level's double conv (as the Keras versions do), if > 0

Any input size works: the input is padded with zeros to a multiple of 2**depth (bottom and
right, so the photo keeps its pixel grid) and the output cropped back; backward crops dx.

The layers are shown (gradient_flow.png, the step trace) by where they sit in the U, levels
counted from 1 at the input; the weights keep their stored names ("6.0.7.W", containers.py):

    down1.conv1 .bn1 .act1 .conv2 .bn2 .act2          the first level's double conv
    down2.pool  down2.conv1 ... down2.act2            each level below pools first
    bottom.pool bottom.conv1 ... bottom.dropout       the last level
    up4.upconv  skip4                                 back up to level 4 (after up4.upsample
                                                      when nearest), and level 4's skip
    up4.conv1 ... up4.act2   ...   up1.conv1 ... up1.act2
    head.conv  head.sigmoid
"""
import numpy as np

from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dropout, Identity, MaxPool2D,
                      Sigmoid, UpSampling2D, get_activation)
from ..layers.base import BadInput, model_input
from .arguments import positive_int, positive_ints, rate
from .containers import Concatenate, Sequential

UPSAMPLING = ("transpose", "nearest")


def double_conv(in_channels, filters, batch_norm, activation, rng, bn_momentum=0.9, name=""):
    """[(name.conv1, Conv2D), (name.bn1, BatchNormalization), (name.act1, activation), ...2]"""
    layers = []
    for n, channels in enumerate((in_channels, filters), start=1):
        layers.append((f"{name}.conv{n}", Conv2D(channels, filters, 3, 1, "same", rng=rng,
                                                 use_bias=not batch_norm)))
        if batch_norm:
            layers.append((f"{name}.bn{n}", BatchNormalization(filters, momentum=bn_momentum)))
        layers.append((f"{name}.act{n}", get_activation(activation)))
    return layers


def up(in_channels, filters, how, rng, name=""):
    """[(name.upconv, Conv2DTranspose)], or [(name.upsample, UpSampling2D), (name.upconv, Conv2D)]"""
    if how == "transpose":
        return [(f"{name}.upconv", Conv2DTranspose(in_channels, filters, 2, 2, "same", rng=rng))]
    return [(f"{name}.upsample", UpSampling2D(2, "nearest")),
            (f"{name}.upconv", Conv2D(in_channels, filters, 3, 1, "same", rng=rng))]


def named(container, pairs, **kwargs):
    """container([layer, ...], names=[name, ...], **kwargs) from [(name, layer), ...]."""
    return container([layer for _, layer in pairs], names=[name for name, _ in pairs], **kwargs)


# The U-Net removes backgrounds: it trains on photos of people (offline, the rendered
# synthetic-people) in mini-batches, too many frames for one batch, and validates more often
# than the CAE's 3-frame run needs to. Measured on human-seg-290 (250 photos to train, 40 held
# out, 128x128):
#   * without augmentation it reached training IoU 0.87 but held-out 0.64 by epoch 26;
#   * with the CAE's light augmentation, Adam 5e-4 constant: held-out 0.72 after 60 epochs,
#     jumping by up to 0.2 between validations (batch norm momentum 0.99, see models/unet.py);
#   * the same with Adam 1e-3 decayed by a cosine over 120 epochs: held-out 0.795 (training
#     0.896), a plateau from epoch 80 on: it had learned its 250 photos, not people;
#   * stronger augmentation (zoom 0.7-1.3, shifts of 15%, brightness and contrast 30%) over 140
#     epochs, below: held-out 0.807 (training 0.889) in 48.8 min, the README's figure.
RUN_DEFAULTS = dict(data="synthetic-people", batch_size=8, epochs=140, lr=1e-3,
                    lr_schedule="cosine", augment=True,
                    augment_args=dict(scale=0.3, shift=0.15, brightness=0.3, contrast=0.3),
                    val_every=2, checkpoint_every=2, snapshot_every=10, grad_every=5)


def unet(filters=(16, 32, 64, 128, 256), batch_norm=True, upsampling="transpose", dropout=0.0,
         classes=1, activation="relu", in_channels=3, bn_momentum=0.9, seed=None):
    """A U-Net: (N, H, W, in_channels) -> (N, H, W, classes), H and W any size.

    bn_momentum 0.9 (PyTorch's default) rather than Keras's 0.99: with ~30 steps per epoch, 0.99
    averages the batch statistics of the last ~3 epochs (1 / (1 - 0.99) = 100 steps) while the
    weights move under them, and the held-out figures, which use the moving statistics, jumped
    by up to 0.2 IoU between validations on human-seg-290.

    filters, classes and in_channels are whole numbers (16.0 passes, 4.5 and True do not), two
    levels at least; a bad one raises BadInput naming it (models/arguments.py).
    """
    filters = positive_ints("unet", "filters", filters, at_least=2)
    classes = positive_int("unet", "classes", classes)
    in_channels = positive_int("unet", "in_channels", in_channels)
    dropout = rate("unet", "dropout", dropout)
    if upsampling not in UPSAMPLING:
        raise BadInput(f"unet: upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    seeds = np.random.SeedSequence(seed)
    init_seed, dropout_seed = seeds.spawn(2)
    rng = np.random.default_rng(init_seed)

    def level(depth, in_channels):
        """[(name, layer), ...] of the level at `depth` (0 at the input) and all below it."""
        f, bottom = filters[depth], depth == len(filters) - 1
        down = "bottom" if bottom else f"down{depth + 1}"
        layers = double_conv(in_channels, f, batch_norm, activation, rng, bn_momentum, down)
        if bottom:
            if dropout:
                dropout_rng = np.random.default_rng(dropout_seed)
                layers.append(("bottom.dropout", Dropout(dropout, rng=dropout_rng)))
            return layers
        below = "bottom" if depth + 2 == len(filters) else f"down{depth + 2}"
        deeper = named(Sequential, [(f"{below}.pool", MaxPool2D(2)), *level(depth + 1, f),
                                    *up(filters[depth + 1], f, upsampling, rng, f"up{depth + 1}")])
        # [up, skip], as Keras's; neither container adds to the names (named "")
        layers.append(("", Concatenate([deeper, Identity()], names=["", f"skip{depth + 1}"])))
        layers += double_conv(2 * f, f, batch_norm, activation, rng, bn_momentum, f"up{depth + 1}")
        return layers

    layers = level(0, in_channels)
    layers.append(("head.conv", Conv2D(filters[0], classes, 1, 1, "same", rng=rng)))
    if classes == 1:
        layers.append(("head.sigmoid", Sigmoid()))
    model = named(UNet, layers, factor=2 ** (len(filters) - 1))
    model.input_shape = (256, 256, in_channels)
    return model


class UNet(Sequential):
    """A Sequential that pads its input to a multiple of `factor` and crops its output back."""

    caches_forward = True        # its own backward reads the size forward saw

    def __init__(self, layers, factor, names=None):
        super().__init__(layers, names=names)
        self.factor = factor

    def padding(self, height, width):
        return -height % self.factor, -width % self.factor

    def forward(self, x, training=False):
        x = model_input(x, training, "the U-Net")       # an array (a list read), NHWC, finite
        n, height, width, channels = x.shape
        pad_h, pad_w = self.padding(height, width)
        self._size = (height, width)
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
        y = super().forward(x, training)
        return np.ascontiguousarray(y[:, :height, :width]) if pad_h or pad_w else y

    def backward(self, grad_out):
        height, width = self._size
        n, _, _, channels = grad_out.shape
        pad_h, pad_w = self.padding(height, width)
        if pad_h or pad_w:                       # the cropped border had no effect on the loss
            padded = np.zeros((n, height + pad_h, width + pad_w, channels), grad_out.dtype)
            padded[:, :height, :width] = grad_out
            grad_out = padded
        dx = super().backward(grad_out)
        return np.ascontiguousarray(dx[:, :height, :width]) if pad_h or pad_w else dx

    def output_shape(self, input_shape):
        n, height, width, channels = input_shape
        pad_h, pad_w = self.padding(height, width)
        out = super().output_shape((n, height + pad_h, width + pad_w, channels))
        return (n, height, width, out[-1])

    def forward_macs(self, input_shape):
        n, height, width, channels = input_shape
        pad_h, pad_w = self.padding(height, width)
        return super().forward_macs((n, height + pad_h, width + pad_w, channels))
