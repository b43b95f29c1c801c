"""The catalogue of gradient checks (CASES): every layer, every loss and small CAEs, checked
by the finite differences of npcae.gradcheck. `npcae gradcheck` prints them as one table;
tests/test_gradcheck.py asserts that each passes.

A case is a layer (or loss) in one configuration, built from a seeded generator with inputs
that keep clear of kinks (ReLU at 0, the losses' clip at 1e-7) by more than the stencil's 2h.
Each case gives one row per checked array: the input, then every parameter (W, b, ...).

    cases = select(layer="conv2d")                  # or select(model="cae"), or CASES
    status = run(cases, dtype="float64")            # prints the table; 0 all passed, 1 not

In float64 the checks are npcae.gradcheck.check_layer and check_loss as they are. In float32
the layer's float32 backward (the code path training takes) is compared with the same stencil
run on a float64 twin, at a looser tolerance (see FLOAT32 for why).
"""
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import gradcheck
from .gradcheck import (ArrayCheck, GradCheckReport, fixed_state, numerical_gradient,
                        relative_error)
from .layers import (Conv2D, Dropout, Identity, Layer, LeakyReLU, ReLU, Sigmoid, Swish, Tanh,
                     UpConv2D, UpSampling2D)
from .losses import BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, MSELoss
from .models import Add, Concatenate, Sequential, cae

SEED = 0
STENCIL = "five-point central differences, error O(h^4) (npcae.gradcheck)"
# The step h by kind of case. Layers: gradcheck's default. Losses: check_loss's default (log p
# is steep near 0, and a loss's round-off is tiny). The CAE: a deep net's forward carries
# ~1e-14 of round-off, which h = 1e-2 keeps below 1e-7 after the division while the O(h^4)
# truncation stays as small.
STEPS = {"layer": gradcheck.DEFAULT_STEP, "loss": 1e-4, "model": 1e-2}


@dataclass(frozen=True)
class Precision:
    """What a check runs in one dtype, and the tolerance that suits it."""

    dtype: type
    tolerance: float
    why: tuple              # header lines: what runs in which dtype, why this tolerance


FLOAT64 = Precision(np.float64, gradcheck.DEFAULT_TOLERANCE,
                    ("float64: layer, loss and differences all in float64",))
# float32 is what training runs, so its backward is what the float32 check tests. The numerical
# side is still float64: a float32 forward carries a round-off of ~1e-7 |<f, g>|, and a
# difference quotient divides that by h. For the small CAE that is ~1e-4 at h = 1e-2, as large
# as its smallest weight gradients (differenced in float32 it "fails" by 100%; no h fixes it).
# So the float32 layer is compared with central differences of a float64 twin: the same case
# built again (same weights, and generators that draw the same dropout masks). What is left is
# the float32 backward's own rounding, ~1e-7 of its largest terms, which the relative error's
# floor (1e-3 of the largest entry) can magnify to ~1e-4 (measured: up to 1.5e-4 in the CAE).
# Hence 1e-3, not 1e-6; a wrong backward (a missing term, a transposed kernel, a factor) is off
# by far more.
FLOAT32 = Precision(np.float32, 1e-3,
                    ("float32: backward in float32 (the training path) against central "
                     "differences of a float64 twin",
                     "float32 rounding (~1e-7), magnified by the 1e-3 floor, needs a looser "
                     "tolerance"))
PRECISIONS = {"float64": FLOAT64, "float32": FLOAT32}


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


@dataclass(frozen=True)
class Row:
    layer: str
    configuration: str
    array: str
    step: float
    max_abs_error: float
    max_rel_error: float
    passed: bool
    error: str = ""          # what went wrong when the check itself could not run


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


def conv_case(c_in, c_out, kernel, stride, padding, nhw, fast=True, keep_columns=None):
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    n, h, w = nhw
    how = ", loops" if not fast else ", shared columns" if keep_columns is False else ""
    configuration = f"{kh}x{kw} s{stride} {padding}, {c_in}->{c_out} ch, x {n}x{h}x{w}x{c_in}{how}"

    def build(rng):
        conv = Conv2D(c_in, c_out, (kh, kw), stride, padding, rng=rng, fast=fast,
                      keep_columns=keep_columns)
        conv.params["b"][...] = rng.standard_normal(c_out)        # a zero bias hides nothing
        return conv, rng.standard_normal((n, h, w, c_in))
    return Case("Conv2D", configuration, build)


def conv_cases(c_in, c_out, kernel, stride, padding, nhw):
    """The configuration with its columns kept from forward to backward (a thin layer's
    default) and built again in backward; a 1x1 stride-1 conv has no columns to keep."""
    yield conv_case(c_in, c_out, kernel, stride, padding, nhw)
    if not (kernel == 1 and stride == 1):
        yield conv_case(c_in, c_out, kernel, stride, padding, nhw, keep_columns=False)


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
    # activations, Identity, Dropout
    *activation_cases("Swish", Swish, "Numba, "),
    *activation_cases("Swish", lambda: Swish(fast=False), "numpy, "),
    *activation_cases("Sigmoid", Sigmoid),
    *activation_cases("Tanh", Tanh),
    *activation_cases("ReLU", ReLU),
    *activation_cases("LeakyReLU", LeakyReLU, "alpha 0.3, "),
    *activation_cases("LeakyReLU", lambda: LeakyReLU(0.01), "alpha 0.01, "),
    *activation_cases("Identity", Identity, "dx = dy, "),
    dropout_case(0.1),
    dropout_case(0.5),
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
    *loss_cases("SumLoss", lambda: 0.5 * BCELoss() + 2 * DiceLoss(), "0.5 BCE + 2 Dice, "),
    # models
    Case("cae", "filters 2,3,4, dropout on, x 2x16x8x3", small_cae, kind="model"),
    Case("cae+loss", "filters 2, Dice + focal, dropout on, x 2x4x6x3", cae_through_the_loss,
         kind="model"),
]


class UnknownCase(ValueError):
    """A --layer or --model name that no case has."""


def names(cases=CASES):
    return list(dict.fromkeys(case.layer for case in cases))


def select(layer=None, model=None, cases=CASES):
    """The cases of one layer (by name, any case) or of one model; all of them by default."""
    wanted = (layer or model or "").lower()
    if not wanted:
        return list(cases)
    kinds = ("model",) if model else ("layer", "loss", "model")
    chosen = [case for case in cases if case.layer.lower() == wanted and case.kind in kinds]
    if not chosen:
        valid = names([case for case in cases if case.kind in kinds])
        raise UnknownCase(f"no gradient check for {layer or model!r}; "
                          f"choose from {', '.join(valid)}")
    return chosen


# -- running them ---------------------------------------------------------------------------
def build(case, dtype):
    """The case built from its seed (so every run and every --layer selection checks the same
    numbers), parameters cast to `dtype`. Returns (layer or loss, inputs)."""
    subject, inputs = case.build(np.random.default_rng(SEED))
    if case.kind != "loss":
        subject.astype(dtype)
    return subject, inputs


def array_names(case):
    if case.kind == "loss":
        return ["prediction"]
    layer, _ = build(case, np.float64)
    return ["input"] + [name for name, _, _ in layer.named_parameters()]


def check_layer_float32(case, step):
    """The float32 layer's backward against central differences of its float64 twin.

    The twin is the same case built again from the same seed: the same weights, and the same
    generators, so its Dropouts draw the float32 layer's masks (they draw float32 uniforms in
    either dtype). The input is rounded to float32 for both. Every forward starts from the
    state its layer was built with (gradcheck.fixed_state), as in check_layer.
    """
    layer, x = build(case, np.float32)
    twin, _ = build(case, np.float64)
    x32 = np.asarray(x, dtype=np.float32)
    x64 = x32.astype(np.float64)
    with fixed_state(layer) as reset, fixed_state(twin) as reset_twin:
        reset()
        y = layer.forward(x32, training=True)
        g = np.random.default_rng(SEED).standard_normal(y.shape).astype(np.float32)
        g_before = g.copy()
        analytic = [layer.backward(g)] + [grad.copy() for _, _, grad in layer.named_parameters()]
        if not np.array_equal(g, g_before):
            raise AssertionError(f"{layer!r}.backward modified its upstream gradient in place")
        arrays = [("input", x64)] + [(name, param) for name, param, _ in twin.named_parameters()]
        g64 = g.astype(np.float64)

        def scalar():
            reset_twin()
            return float(np.sum(twin.forward(x64, training=True) * g64))
        return GradCheckReport(
            ArrayCheck(name, array.shape,
                       *relative_error(a, numerical_gradient(scalar, array, step)))
            for a, (name, array) in zip(analytic, arrays))


def check_loss_float32(case, step):
    """The loss's backward on a float32 prediction against central differences in float64."""
    loss, (pred, target) = build(case, np.float32)
    pred32 = np.asarray(pred, dtype=np.float32)
    pred64 = pred32.astype(np.float64)
    scale = float(np.random.default_rng(SEED).standard_normal())
    loss.forward(pred32, target)
    analytic = scale * loss.backward()
    numeric = numerical_gradient(lambda: scale * loss.forward(pred64, target), pred64, step)
    return GradCheckReport([ArrayCheck("prediction", pred.shape,
                                       *relative_error(analytic, numeric))])


def check(case, precision, tolerance):
    """Run one case's check; yield a Row per array."""
    step = STEPS[case.kind]
    try:
        if precision.dtype == np.float32:
            checker = check_loss_float32 if case.kind == "loss" else check_layer_float32
            report = checker(case, step)
        elif case.kind == "loss":
            loss, (pred, target) = build(case, np.float64)
            report = gradcheck.check_loss(loss, pred, target, seed=SEED, step=step)
        else:
            report = gradcheck.check_layer(*build(case, np.float64), seed=SEED, step=step)
    except Exception as error:
        # A layer under test that raises (a shape error, dy modified in place) is a failed
        # check: it gets its row, and the cases after it still run.
        yield Row(case.layer, case.configuration, "-", step, np.nan, np.nan, False,
                  f"{type(error).__name__}: {error}".splitlines()[0])
        return
    for result in report:
        yield Row(case.layer, case.configuration, result.name, step, result.max_abs_error,
                  result.max_rel_error, result.passed(tolerance))


def run(cases, dtype="float64", tolerance=None, out=None):
    """Check every case, print the table and a summary line; return 0 if all passed, else 1.

    The CLI's `npcae gradcheck` is this function applied to `select(...)`.
    """
    out = out or sys.stdout
    precision = PRECISIONS[dtype]
    tolerance = precision.tolerance if tolerance is None else tolerance
    # Sized before anything is checked, so rows can be printed as each check finishes.
    widths = (max([5] + [len(case.layer) for case in cases]),
              max([13] + [len(case.configuration) for case in cases]),
              max([5] + [len(name) for case in cases for name in array_names(case)]))
    columns = (f"{{:<{widths[0]}}}  {{:<{widths[1]}}}  {{:<{widths[2]}}}  "
               "{:>7}  {:>11}  {:>11}  {}")

    print(f"gradient check: {STENCIL}", file=out)
    for line in precision.why:
        print(f"  {line}", file=out)
    print(f"  random upstream gradient (seed {SEED}); a row passes if max relative error "
          f"< {tolerance:g}", file=out)
    print(f"  relative error per entry: |a - n| / max(|a|, |n|, {gradcheck.FLOOR:g} * max |n|)",
          file=out)
    print(file=out)
    print(columns.format("layer", "configuration", "array", "h", "max abs err", "max rel err",
                         "result"), file=out)
    failed = total = 0
    for case in cases:
        for row in check(case, precision, tolerance):
            total += 1
            failed += not row.passed
            print(columns.format(row.layer, row.configuration, row.array, f"{row.step:.0e}",
                                 f"{row.max_abs_error:.2e}", f"{row.max_rel_error:.2e}",
                                 "pass" if row.passed else f"FAIL {row.error}".rstrip()),
                  file=out, flush=True)
    print(file=out)
    if failed:
        print(f"{failed} of {total} checks failed", file=out)
        return 1
    print(f"{total} checks, all passed", file=out)
    return 0
