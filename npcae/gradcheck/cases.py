"""The catalogue of gradient checks: every layer, every loss and small CAEs, each in the
configurations that matter (CASES). npcae/gradcheck/suite.py runs them: `npcae gradcheck` prints
the table, tests/test_gradcheck.py asserts that each passes.

A case is a layer (or loss) in one configuration, built from a generator seeded with SEED, with
inputs that keep clear of kinks (ReLU at 0, the losses' clip at 1e-7) by more than the
stencil's 2h. A new layer adds its cases to CASES and nowhere else.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..layers import (BatchNormalization, Conv2D, Conv2DTranspose, DepthwiseConv2D, Dropout,
                     Identity, Layer, LeakyReLU, MaxPool2D, ReLU, ReLU6, Sigmoid, Swish, Tanh,
                     UpConv2D, UpSampling2D)
from . import core as gradcheck
from ..kernels import direct
from ..losses.binary import BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, LovaszLoss, MSELoss
from ..losses.multiclass import IGNORE, SoftmaxCrossEntropy, multiclass_loss
from ..models import Add, Concatenate, Sequential, cae, mobilenet_unet, unet

SEED = 0


@dataclass(frozen=True)
class Case:
    """One layer (or loss) in one configuration.

    `build(rng)` returns (layer, x) for a layer or a model, or (loss, (pred, target)) for a
    loss; parameters may be float32, the runner casts them.
    """

    layer: str               # the name --layer selects by (case-insensitive)
    configuration: str
    build: Callable
    kind: str = "layer"      # "layer", "loss" or "model": which of STEPS it uses
    step: float = None       # instead of STEPS[kind] (a model with max pooling: see unet_case)
    sample: tuple = None     # (arrays, entries): check_layer's sample, for a deep model


# -- the cases ------------------------------------------------------------------------------
def away_from_zero(rng, shape, margin=0.1):
    """Normal samples pushed at least `margin` from 0, clear of the kinks of ReLU-like layers."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin


def probabilities(rng, shape):
    """Predictions in [0.05, 0.95]: further than 2h from 0 and 1, where log p is steep."""
    return rng.uniform(0.05, 0.95, shape)


def dims(shape):
    return "x".join(map(str, shape))


def conv_case(c_in, c_out, kernel, stride, padding, nhw, fast=True, keep_columns=None, algo=None):
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    n, h, w = nhw
    how = ", loops" if not fast else ", shared columns" if keep_columns is False else ""
    if fast and direct.takes(c_out, np.float64) and (kh, kw, stride) != (1, 1, 1):
        how = ", direct"                       # kernels/direct.py: no columns to keep or share
    if algo is not None:
        how = f", {algo}"
    configuration = f"{kh}x{kw} s{stride} {padding}, {c_in}->{c_out} ch, x {n}x{h}x{w}x{c_in}{how}"

    def build(rng):
        conv = Conv2D(c_in, c_out, (kh, kw), stride, padding, rng=rng, fast=fast,
                      keep_columns=keep_columns, algo=algo)
        conv.params["b"][...] = rng.standard_normal(c_out)        # a zero bias hides nothing
        return conv, rng.standard_normal((n, h, w, c_in))
    return Case("Conv2D", configuration, build)


def conv_cases(c_in, c_out, kernel, stride, padding, nhw):
    """The configuration with its columns kept from forward to backward (a thin layer's
    default) and built again in backward; a 1x1 stride-1 conv has no columns to keep."""
    yield conv_case(c_in, c_out, kernel, stride, padding, nhw)
    if not (kernel == 1 and stride == 1):
        yield conv_case(c_in, c_out, kernel, stride, padding, nhw, keep_columns=False)


def depthwise_case(channels, kernel, stride, padding, nhw, multiplier=1, fast=True):
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    n, h, w = nhw
    configuration = (f"{kh}x{kw} s{stride} {padding}, {channels} ch x{multiplier}, "
                     f"x {n}x{h}x{w}x{channels}{'' if fast else ', numpy'}")

    def build(rng):
        layer = DepthwiseConv2D(channels, (kh, kw), stride, padding, multiplier, rng=rng, fast=fast)
        layer.params["b"][...] = rng.standard_normal(channels * multiplier)
        return layer, rng.standard_normal((n, h, w, channels))
    return Case("DepthwiseConv2D", configuration, build)


def relu6_case(shape):
    """Inputs away from both kinks, 0 and 6, and on both sides of each."""
    def build(rng):
        x = 4 * away_from_zero(rng, shape) + 3          # centred on 3: below 0, inside, above 6
        return ReLU6(), np.where(np.abs(x - 6) < 0.2, x + 0.4, x)
    return Case("ReLU6", f"x {dims(shape)}, |x| and |x - 6| >= 0.2", build)


def transpose_case(c_in, c_out, kernel, stride, padding, nhw):
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    n, h, w = nhw

    def build(rng):
        layer = Conv2DTranspose(c_in, c_out, (kh, kw), stride, padding, rng=rng)
        layer.params["b"][...] = rng.standard_normal(c_out)
        return layer, rng.standard_normal((n, h, w, c_in))
    how = ", direct" if direct.takes(c_out, np.float64) and kh <= stride and kw <= stride else ""
    return Case("Conv2DTranspose", f"{kh}x{kw} s{stride} {padding}, {c_in}->{c_out} ch, "
                                   f"x {n}x{h}x{w}x{c_in}{how}", build)


def upsampling_case(size, interpolation, shape):
    return Case("UpSampling2D", f"x{size} {interpolation}, x {dims(shape)}",
                lambda rng: (UpSampling2D(size, interpolation), rng.standard_normal(shape)))


def upconv_case(interpolation, fast, shape, c_out=3, keep_columns=None):
    n, h, w, c = shape

    def build(rng):
        conv = Conv2D(c, c_out, 3, 1, "same", rng=rng, keep_columns=keep_columns)
        conv.params["b"][...] = rng.standard_normal(c_out)
        layer = UpConv2D(UpSampling2D(2, interpolation), conv, fast=fast)
        return layer, rng.standard_normal(shape)
    how = "fused" if fast and interpolation == "nearest" else "unfused"
    how += ", shared columns" if keep_columns is False else ""
    how += ", dx by im2col (4F < C)" if how.startswith("fused") and 4 * c_out < c else ""
    return Case("UpConv2D", f"x2 {interpolation} + 3x3 {c}->{c_out}, {how}, x {dims(shape)}",
                build)


def activation_cases(name, make, note=""):
    # Scaled by 2 so sigmoid-like layers are tested into their curved tails too.
    for shape in [(2, 3, 5, 2), (3, 5, 2, 3)]:
        yield Case(name, f"{note}x {dims(shape)}, |x| >= 0.2",
                   lambda rng, shape=shape: (make(), 2 * away_from_zero(rng, shape)))


def dropout_case(rate, shape=(3, 4, 5, 2)):
    return Case("Dropout", f"rate {rate}, one fixed mask, x {dims(shape)}",
                lambda rng: (Dropout(rate, rng=SEED), rng.standard_normal(shape)))


def well_separated(rng, shape, gap=0.05):
    """0, gap, 2 gap, ... in a random order: any two entries differ by at least `gap`, far more
    than the stencil's 2h, so no perturbation changes which entry of a window is its maximum."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * gap - size * gap / 2).reshape(shape)


def maxpool_case(pool, strides, padding, shape, fast=True):
    layer = MaxPool2D(pool, strides, padding)
    (sh, sw), how = layer.strides, "" if fast else ", NumPy reference"
    return Case("MaxPool2D", f"{dims(layer.pool_size)} s{sh if sh == sw else dims((sh, sw))} "
                             f"{padding}, x {dims(shape)}{how}",
                lambda rng: (MaxPool2D(pool, strides, padding, fast=fast),
                             well_separated(rng, shape)))


def batchnorm_case(shape, frozen=False, offset=0.0, scale=1.0, fast=True):
    """gamma, beta and the moving statistics drawn away from their initial 1, 0, 0, 1."""
    channels = shape[-1]

    def build(rng):
        layer = BatchNormalization(channels, frozen=frozen, fast=fast)
        layer.params["gamma"][...] = rng.uniform(0.5, 2.0, channels)
        layer.params["beta"][...] = rng.standard_normal(channels)
        layer.state["moving_mean"][...] = offset + rng.standard_normal(channels)
        layer.state["moving_variance"][...] = scale ** 2 * rng.uniform(0.5, 2.0, channels)
        return layer, offset + scale * rng.standard_normal(shape)
    statistics = ("moving statistics (frozen: inference's function)" if frozen
                  else "batch statistics (training)")
    shift = f", x ~ {offset:g} + {scale:g} N(0, 1)" if offset or scale != 1 else ""
    how = "" if fast else ", numpy"
    return Case("BatchNormalization", f"{statistics}, x {dims(shape)}{shift}{how}", build)


def batchnorm_relu_case(shape, frozen=False):
    """Batch norm then ReLU in a Sequential, which runs the two as one (layers/fused.py): the
    ReLU's mask recomputed in backward. Each channel's beta is moved to where its normalised
    values keep 0.1 from the kink, some on each side, so the differences never cross it."""
    def build(rng):
        bn, x = batchnorm_case(shape, frozen=frozen).build(rng)
        bn.astype(np.float64)
        y = np.copy(bn.forward(x, training=False) if frozen else bn.forward(x, training=True))
        unshifted = (y - bn.params["beta"]).reshape(-1, shape[-1])       # independent of beta
        for c in range(shape[-1]):
            betas = np.linspace(-1, 1, 401)
            margins = np.abs(unshifted[:, c][:, None] + betas).min(axis=0)
            mixed = [(unshifted[:, c] + b > 0).any() and (unshifted[:, c] + b < 0).any() for b in betas]
            bn.params["beta"][c] = betas[np.flatnonzero((margins > 0.1) & np.array(mixed))[0]]
        return Sequential(bn, ReLU()), x
    statistics = "moving statistics" if frozen else "batch statistics"
    return Case("BatchNormalization+ReLU", f"fused by Sequential, {statistics}, x {dims(shape)}",
                build)


def _conv(rng, c_in, c_out, stride=1):
    layer = Conv2D(c_in, c_out, 3, stride, rng=rng)
    layer.params["b"][...] = rng.standard_normal(c_out)
    return layer


def residual_block(rng):
    """conv, then x + conv(swish(conv(x))): Add with an Identity branch."""
    model = Sequential(_conv(rng, 3, 4),
                       Add(Identity(), Sequential(_conv(rng, 4, 4), Swish(), _conv(rng, 4, 4))))
    return model, rng.standard_normal((2, 6, 4, 3))


def unet_level(rng):
    """conv, then [x, up(swish(conv_s2(x)))] on channels, conv, sigmoid: a U-Net skip."""
    inner = Sequential(_conv(rng, 2, 3, stride=2), Swish(), UpSampling2D(2))
    model = Sequential(_conv(rng, 3, 2), Concatenate(Identity(), inner), _conv(rng, 5, 1),
                       Sigmoid())
    return model, rng.standard_normal((2, 6, 4, 3))


def loss_cases(name, make, note="", shapes=((2, 4, 3, 1), (3, 5, 6, 1))):
    for shape in shapes:
        def build(rng, shape=shape):
            target = (rng.random(shape) > 0.6).astype(np.float64)
            return make(), (probabilities(rng, shape), target)
        yield Case(name, f"{note}p {dims(shape)} in [0.05, 0.95]", build, kind="loss")


def lovasz_cases(shapes=((2, 4, 3, 1), (3, 5, 6, 1), (2, 3, 4, 2))):
    """The Lovasz loss is piecewise linear, with kinks where two errors |t - p| tie: its errors
    are drawn apart (a shuffled even grid in [0.05, 0.95]) so no finite-difference step crosses one."""
    for shape in shapes:
        def build(rng, shape=shape):
            target = (rng.random(shape) > 0.6).astype(np.float64)
            errors = rng.permutation(np.linspace(0.05, 0.95, int(np.prod(shape)))).reshape(shape)
            return LovaszLoss(), (np.where(target > 0.5, 1 - errors, errors), target)
        yield Case("LovaszLoss", f"p {dims(shape)}, errors apart", build, kind="loss")


def softmax_ce_case(shape, weighted):
    """Logits ~ N(0, 2), ids in 0..K-1 with about a fifth of the pixels ignored (255)."""
    def build(rng):
        ids = rng.integers(0, shape[-1], shape[:-1])
        ids[rng.random(shape[:-1]) < 0.2] = IGNORE
        weights = rng.uniform(0.2, 3.0, shape[-1]) if weighted else None
        return SoftmaxCrossEntropy(weights), (2 * rng.standard_normal(shape), ids)
    how = "class weights, " if weighted else ""
    return Case("SoftmaxCrossEntropy", f"{how}logits {dims(shape)}, ~20% ignored", build,
                kind="loss")


def multiclass_dice_case(shape, spec="dice"):
    """Logits ~ N(0, 2), ids in 0..K-1 with about a fifth ignored; spec "dice" or "ce+dice"."""
    def build(rng):
        ids = rng.integers(0, shape[-1], shape[:-1])
        ids[rng.random(shape[:-1]) < 0.2] = IGNORE
        return multiclass_loss(spec), (2 * rng.standard_normal(shape), ids)
    name = "MultiClassDice" if spec == "dice" else "CE+Dice"
    return Case(name, f"logits {dims(shape)}, ~20% ignored", build, kind="loss")


# A whole model's check differences every array (the input and each parameter) at 16 entries
# drawn by the seed, not at all of them: each layer's own case above differences every entry,
# and what a model case adds is the chain through them. (Every entry of the CAE's took 21 s of
# the suite, each U-Net's 16.)
WHOLE_MODEL_SAMPLE = (1000, 16)


def small_cae(rng):
    """The CAE at filters (2, 3, 4): every layer type of the real one, 13 convolutions."""
    model = cae(filters=(2, 3, 4), seed=SEED)
    for _, param, _ in model.named_parameters():
        if param.ndim == 1:
            param[...] = 0.1 * rng.standard_normal(param.shape)        # non-zero biases
    return model, rng.random((2, 16, 8, 3))


class LossOf(Layer):
    """y = loss(model(x), target), a 0-d array: a model and its loss as one layer, so that
    check_layer differentiates the loss through the model, as a training step does:
    dx = model.backward(dy * loss.backward()). Parameters and state keep the model's names."""

    def __init__(self, model, loss, target):
        super().__init__()
        self.model, self.loss, self.target = model, loss, target

    def sublayers(self):
        return [self.model]

    def named_parameters(self, prefix=""):
        return self.model.named_parameters(prefix)

    def named_state(self, prefix=""):
        return self.model.named_state(prefix)

    def output_shape(self, input_shape):
        return ()

    def forward(self, x, training=False):
        pred = self.model.forward(x, training)
        return np.asarray(self.loss.forward(pred, self.target), dtype=pred.dtype)

    def backward(self, grad_out):
        return self.model.backward(grad_out * self.loss.backward())

    def __repr__(self):
        return f"LossOf({self.loss!r})"


def cae_through_the_loss(rng):
    """The one-level CAE (5 convolutions, every kind of layer) under the original's Dice +
    focal, differentiated end to end as a training step is.

    One level, not small_cae's three: it checks the same kinds of layers at a tenth of the cost
    (measured: 2 s against 25 s); what it adds is the loss's gradient fed into the model's.
    """
    model = cae(filters=(2,), seed=SEED)
    for _, param, _ in model.named_parameters():
        if param.ndim == 1:
            param[...] = 0.1 * rng.standard_normal(param.shape)
    x = rng.random((2, 4, 6, 3))
    target = (rng.random((2, 4, 6, 1)) > 0.7).astype(np.float64)
    return LossOf(model, DiceFocalLoss(), target), x


def pool_margin(model, x):
    """The smallest gap, over every MaxPool2D window of a training forward, between the
    window's largest and second-largest input (windows of 2x2, stride 2, valid)."""
    gaps = []

    def record(layer, pool_in, pool_out):
        n, h, w, c = pool_in.shape
        windows = pool_in[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
        top2 = np.sort(windows.transpose(0, 1, 3, 5, 2, 4).reshape(-1, 4), axis=1)[:, -2:]
        gaps.append((top2[:, 1] - top2[:, 0]).min())
    handles = [layer.register_forward_hook(record) for layer in model.walk()
               if isinstance(layer, MaxPool2D)]
    with gradcheck.fixed_state(model):
        model.forward(x, training=True)
    for handle in handles:
        handle.remove()
    return min(gaps)


def unet_case(upsampling, shape, dropout=0.0):
    """A one-pooling U-Net with batch norm, swish (smooth, unlike ReLU), a size that is padded.

    Max pooling is not differentiable where a window's two largest inputs tie, and a random
    network has near-ties: the input is redrawn until every window's gap is 40 steps wide,
    and the step is 1e-4 (the stencil reaches 2h). Batch norm keeps the gaps wide enough that
    a few draws do."""
    def build(rng):
        model = unet(filters=(2, 3), upsampling=upsampling, activation="swish", dropout=dropout,
                     seed=SEED).astype(np.float64)
        x = rng.random(shape)
        while pool_margin(model, x) < 4e-3:
            x = rng.random(shape)
        return model, x
    how = f", dropout {dropout}" if dropout else ""
    return Case("unet", f"filters 2,3, batch norm, {upsampling}{how}, x {dims(shape)}", build,
                kind="model", step=1e-4, sample=WHOLE_MODEL_SAMPLE)


def mobilenet_unet_case(shape=(2, 64, 64, 3)):
    """The MobileNetV2 U-Net whole (17 blocks, residual Adds, five taps, the pix2pix decoder),
    tiny: widths rounded to 1 instead of 8, decoder filters 2, swish for its smooth kinks. A
    sample of its parameters (6 arrays, 4 entries each) and of the input is differenced, at
    64x64: at 32x32 the last map is 1x1 and its batch norm sees two values, which it maps to
    -1 and 1 whatever they are (a function too flat and too steep for differences)."""
    def build(rng):
        model = mobilenet_unet(alpha=0.35, divisor=1, decoder=(2, 2, 2, 2), activation="swish",
                               seed=SEED).astype(np.float64)
        return model, rng.standard_normal(shape)
    return Case("mobilenet_unet", f"alpha 0.35, widths to 1, decoder 2,2,2,2, swish, x {dims(shape)}",
                build, kind="model", step=1e-4, sample=(6, 4))


# The catalogue: every finite-difference check npcae has. `npcae gradcheck` prints them and
# tests/test_gradcheck.py asserts each one passes (float64, tolerance 1e-6). A new layer adds
# its cases here, in a section of its own, and nowhere else:
#     Case("MyLayer", "what varies, x NxHxWxC", lambda rng: (MyLayer(...), rng.standard_normal(s)))
# build(rng) gets a generator seeded with SEED and returns (layer, x); a loss returns
# (loss, (pred, target)) with kind="loss". Keep inputs small: each entry costs 4 forwards.
CASES = [
    # Conv2D: odd and even sizes, H != W, KH != KW, strides 1 and 2, both paddings, batch > 1
    *conv_cases(3, 4, 3, 1, "same", (2, 7, 6)),
    *conv_cases(3, 4, 3, 2, "same", (2, 7, 6)),
    *conv_cases(2, 3, 3, 2, "same", (2, 8, 8)),
    *conv_cases(2, 3, (2, 3), 2, "same", (2, 6, 7)),
    *conv_cases(2, 3, 4, 2, "same", (2, 8, 6)),
    *conv_cases(2, 3, (3, 2), 2, "valid", (2, 7, 8)),
    *conv_cases(2, 2, 2, 1, "same", (3, 5, 4)),
    *conv_cases(3, 2, 3, 1, "valid", (2, 6, 5)),
    *conv_cases(4, 2, 1, 1, "same", (2, 3, 5)),
    *conv_cases(3, 2, 1, 2, "same", (2, 5, 4)),
    conv_case(3, 4, (3, 2), 2, "same", (2, 5, 4), fast=False),
    # the direct roads (8 float64 lanes): pixels in blocks of eight and alone at the edges
    conv_case(8, 8, 3, 1, "same", (2, 4, 11)),
    conv_case(3, 16, (3, 2), 2, "same", (2, 5, 19)),
    conv_case(2, 8, (2, 3), 1, "valid", (1, 4, 12)),
    conv_case(8, 8, 2, 2, "same", (2, 4, 18)),         # windows that do not overlap: scatter dx
    conv_case(8, 8, 2, 2, "same", (1, 5, 7)),          # ... except into the padding: col2im
    # Winograd F(2x2,3x3) and F(4x4,3x3): tiles cut at the edges, "same" and "valid"
    conv_case(3, 4, 3, 1, "same", (2, 7, 6), algo="winograd2"),
    conv_case(3, 4, 3, 1, "same", (2, 7, 6), algo="winograd4"),
    conv_case(2, 3, 3, 1, "valid", (1, 9, 7), algo="winograd4"),
    # DepthwiseConv2D: MobileNetV2's 3x3 s1 and s2 (same: Keras's pad then valid), valid,
    # a depth multiplier, a non-square kernel, the numpy reference
    depthwise_case(3, 3, 1, "same", (2, 7, 6)),
    depthwise_case(4, 3, 2, "same", (2, 8, 8)),
    depthwise_case(3, 3, 2, "same", (2, 7, 5)),
    depthwise_case(2, 3, 2, "valid", (2, 7, 8), multiplier=2),
    depthwise_case(2, (3, 2), 1, "same", (1, 5, 6), multiplier=3),
    depthwise_case(3, 3, 2, "same", (2, 7, 6), multiplier=2, fast=False),
    # UpSampling2D, UpConv2D
    upsampling_case(2, "nearest", (2, 3, 5, 2)),
    upsampling_case(2, "bilinear", (2, 3, 5, 2)),
    upsampling_case(2, "nearest", (2, 4, 4, 3)),
    upsampling_case(2, "bilinear", (2, 4, 4, 3)),
    upsampling_case(3, "nearest", (2, 3, 2, 1)),
    upsampling_case(3, "bilinear", (2, 3, 2, 1)),
    upconv_case("nearest", True, (2, 3, 5, 2)),
    upconv_case("nearest", True, (2, 3, 5, 2), keep_columns=False),
    upconv_case("nearest", True, (2, 1, 3, 3)),
    upconv_case("nearest", True, (1, 2, 3, 13)),
    upconv_case("nearest", True, (1, 2, 3, 13), keep_columns=False),
    upconv_case("nearest", False, (2, 3, 5, 2)),
    upconv_case("bilinear", True, (2, 3, 4, 2)),
    # Conv2DTranspose: the U-Net's 2x2 s2, overlapping 3x3 s2, stride 1 (flipped kernel), valid
    transpose_case(3, 2, 2, 2, "same", (2, 3, 4)),
    transpose_case(2, 3, 3, 2, "same", (2, 3, 2)),
    transpose_case(2, 3, (3, 2), 2, "valid", (2, 2, 3)),
    transpose_case(3, 2, 3, 1, "same", (2, 4, 3)),
    transpose_case(2, 2, 1, 3, "valid", (1, 2, 2)),
    transpose_case(16, 8, 2, 2, "same", (2, 3, 9)),          # the direct roads, all three
    # activations, Identity, Dropout
    *activation_cases("Swish", Swish, "Numba, "),
    *activation_cases("Swish", lambda: Swish(fast=False), "numpy, "),
    *activation_cases("Sigmoid", Sigmoid),
    *activation_cases("Tanh", Tanh),
    *activation_cases("ReLU", ReLU, "Numba, "),
    *activation_cases("ReLU", lambda: ReLU(fast=False), "numpy, "),
    relu6_case((2, 3, 5, 2)),
    relu6_case((3, 5, 2, 3)),
    *activation_cases("LeakyReLU", LeakyReLU, "alpha 0.3, "),
    *activation_cases("LeakyReLU", lambda: LeakyReLU(0.01), "alpha 0.01, "),
    *activation_cases("Identity", Identity, "dx = dy, "),
    dropout_case(0.1),
    dropout_case(0.5),
    # MaxPool2D: even and odd sizes, both paddings, stride 2 and overlapping windows (stride 1,
    # 3x3 stride 2), a non-square window; inputs well separated (see well_separated)
    maxpool_case(2, None, "valid", (2, 4, 6, 3)),
    maxpool_case(2, None, "valid", (2, 5, 7, 2)),
    maxpool_case(2, None, "same", (2, 5, 7, 2)),
    maxpool_case(3, 1, "same", (2, 5, 4, 2)),
    maxpool_case(3, 2, "same", (1, 7, 6, 2)),
    maxpool_case((3, 2), (2, 1), "valid", (2, 7, 5, 2)),
    maxpool_case(3, 1, "same", (1, 4, 5, 2), fast=False),
    # BatchNormalization: training (through the batch mean and variance) and frozen
    batchnorm_case((2, 3, 4, 3)),
    batchnorm_case((3, 2, 5, 2), offset=5.0, scale=3.0),
    batchnorm_case((1, 4, 3, 2)),
    batchnorm_case((2, 3, 4, 3), frozen=True),
    batchnorm_case((2, 3, 4, 3), fast=False),
    batchnorm_case((2, 3, 4, 3), frozen=True, fast=False),
    batchnorm_relu_case((2, 3, 4, 3)),
    batchnorm_relu_case((2, 3, 4, 3), frozen=True),
    # containers: skip connections
    Case("Add", "residual x + conv(swish(conv(x))), x 2x6x4x3", residual_block),
    Case("Concatenate", "U-Net skip [x, up(swish(conv_s2(x)))], x 2x6x4x3", unet_level),
    # losses
    *loss_cases("DiceLoss", DiceLoss),
    *loss_cases("DiceLoss", DiceLoss, "3 channels, ", shapes=[(2, 3, 4, 3)]),
    *loss_cases("FocalLoss", FocalLoss, "alpha 0.25 gamma 2, "),
    *loss_cases("BinaryFocalLoss", BinaryFocalLoss, "alpha 0.25 gamma 2, "),
    *loss_cases("BCELoss", BCELoss),
    *loss_cases("MSELoss", MSELoss),
    *loss_cases("DiceFocalLoss", DiceFocalLoss, "the original's loss, "),
    *lovasz_cases(),
    softmax_ce_case((2, 3, 4, 5), weighted=False),
    softmax_ce_case((2, 3, 4, 5), weighted=True),
    softmax_ce_case((1, 4, 3, 19), weighted=True),     # Cityscapes' 19 classes
    multiclass_dice_case((2, 3, 4, 5)),
    multiclass_dice_case((1, 4, 3, 19), "ce+dice"),
    *loss_cases("SumLoss", lambda: 0.5 * BCELoss() + 2 * DiceLoss(), "0.5 BCE + 2 Dice, "),
    # models
    Case("cae", "filters 2,3,4, dropout on, x 2x16x8x3", small_cae, kind="model",
         sample=WHOLE_MODEL_SAMPLE),
    Case("cae+loss", "filters 2, Dice + focal, dropout on, x 2x4x6x3", cae_through_the_loss,
         kind="model"),
    unet_case("transpose", (2, 6, 5, 3), dropout=0.5),
    unet_case("nearest", (2, 7, 6, 3)),
    mobilenet_unet_case(),
]
