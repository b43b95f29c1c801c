"""`npcae gradcheck`: the finite-difference checks of npcae.gradcheck, run on every layer, every
loss and a small CAE, printed as one table.

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
from .gradcheck import (ArrayCheck, GradCheckReport, frozen_dropout, numerical_gradient,
                        relative_error)
from .layers import (Conv2D, Dropout, Identity, LeakyReLU, ReLU, Sigmoid, Swish, Tanh, UpConv2D,
                     UpSampling2D)
from .losses import BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, MSELoss
from .models import Add, Concatenate, Sequential, cae

SEED = 0
STENCIL = "five-point central differences, error O(h^4) (npcae.gradcheck)"
# The step h by kind of case. Layers: gradcheck's default. Losses: check_loss's default (log p
# is steep near 0, and a loss's round-off is tiny). The CAE: a deep net's forward carries
# ~1e-14 of round-off, which h = 1e-2 keeps below 1e-7 after the division while the O(h^4)
# truncation stays as small (tests/test_gradcheck.py checks it the same way).
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
# built again (same weights) with the same dropout masks. What is left is the float32 backward's
# own rounding, ~1e-7 of its largest terms, which the relative error's floor (1e-3 of the
# largest entry) can magnify to ~1e-4 (measured: up to 1.5e-4 in the CAE). Hence 1e-3, not
# 1e-6; a wrong backward (a missing term, a transposed kernel, a factor) is off by far more.
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


def conv_case(c_in, c_out, kernel, stride, padding, nhw, fast=True, note=""):
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    n, h, w = nhw
    configuration = f"{kh}x{kw} s{stride} {padding}, {c_in}->{c_out} ch, x {n}x{h}x{w}x{c_in}{note}"

    def build(rng):
        conv = Conv2D(c_in, c_out, (kh, kw), stride, padding, rng=rng, fast=fast)
        conv.params["b"][...] = rng.standard_normal(c_out)        # a zero bias hides nothing
        return conv, rng.standard_normal((n, h, w, c_in))
    return Case("Conv2D", configuration, build)


def upsampling_case(size, interpolation, shape):
    n, h, w, c = shape
    return Case("UpSampling2D", f"x{size} {interpolation}, x {n}x{h}x{w}x{c}",
                lambda rng: (UpSampling2D(size, interpolation), rng.standard_normal(shape)))


def upconv_case(interpolation, fast, shape, c_out=3):
    n, h, w, c = shape

    def build(rng):
        conv = Conv2D(c, c_out, 3, 1, "same", rng=rng)
        conv.params["b"][...] = rng.standard_normal(c_out)
        layer = UpConv2D(UpSampling2D(2, interpolation), conv, fast=fast)
        return layer, rng.standard_normal(shape)
    how = "fused" if fast and interpolation == "nearest" else "unfused"
    return Case("UpConv2D", f"x2 {interpolation} + 3x3 {c}->{c_out}, {how}, x {n}x{h}x{w}x{c}",
                build)


def activation_case(name, make, note="", shape=(2, 3, 5, 2)):
    # Scaled by 2 so sigmoid-like layers are tested into their curved tails too.
    configuration = f"{note}x {'x'.join(map(str, shape))}, |x| >= 0.2"
    return Case(name, configuration,
                lambda rng: (make(), 2 * away_from_zero(rng, shape)))


def dropout_case(rate, shape=(3, 4, 5, 2)):
    return Case("Dropout", f"rate {rate}, one fixed mask, x {'x'.join(map(str, shape))}",
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


def loss_case(name, make, note="", shape=(2, 4, 3, 1)):
    configuration = f"{note}p {'x'.join(map(str, shape))} in [0.05, 0.95]"

    def build(rng):
        target = (rng.random(shape) > 0.6).astype(np.float64)
        return make(), (probabilities(rng, shape), target)
    return Case(name, configuration, build, kind="loss")


def small_cae(rng):
    """The CAE at filters (2, 3, 4): every layer type of the real one, 13 convolutions."""
    model = cae(filters=(2, 3, 4), seed=SEED)
    for _, param, _ in model.named_parameters():
        if param.ndim == 1:
            param[...] = 0.1 * rng.standard_normal(param.shape)        # non-zero biases
    return model, rng.random((2, 16, 8, 3))


CASES = [
    conv_case(3, 4, 3, 1, "same", (2, 7, 6)),
    conv_case(3, 4, 3, 2, "same", (2, 7, 6)),
    conv_case(2, 3, (2, 3), 2, "same", (2, 6, 7)),
    conv_case(2, 3, (3, 2), 2, "valid", (2, 7, 8)),
    conv_case(2, 2, 2, 1, "same", (3, 5, 4)),
    conv_case(3, 2, 3, 1, "valid", (2, 6, 5)),
    conv_case(4, 2, 1, 1, "same", (2, 3, 5)),
    conv_case(3, 2, 1, 2, "same", (2, 5, 4)),
    conv_case(3, 4, (3, 2), 2, "same", (2, 5, 4), fast=False, note=", loops"),
    upsampling_case(2, "nearest", (2, 3, 5, 2)),
    upsampling_case(2, "bilinear", (2, 3, 5, 2)),
    upsampling_case(3, "nearest", (2, 3, 2, 1)),
    upsampling_case(3, "bilinear", (2, 3, 2, 1)),
    upconv_case("nearest", True, (2, 3, 5, 2)),
    upconv_case("nearest", False, (2, 3, 5, 2)),
    upconv_case("bilinear", True, (2, 3, 4, 2)),
    activation_case("Swish", Swish, "Numba, "),
    activation_case("Swish", lambda: Swish(fast=False), "numpy, "),
    activation_case("Sigmoid", Sigmoid),
    activation_case("Tanh", Tanh),
    activation_case("ReLU", ReLU),
    activation_case("LeakyReLU", LeakyReLU, "alpha 0.3, "),
    activation_case("Identity", Identity, "dx = dy, "),
    dropout_case(0.1),
    dropout_case(0.5),
    Case("Add", "residual x + conv(swish(conv(x))), x 2x6x4x3", residual_block),
    Case("Concatenate", "U-Net skip [x, up(swish(conv_s2(x)))], x 2x6x4x3", unet_level),
    loss_case("DiceLoss", DiceLoss),
    loss_case("DiceLoss", DiceLoss, "3 channels, ", shape=(2, 3, 4, 3)),
    loss_case("FocalLoss", FocalLoss, "alpha 0.25 gamma 2, "),
    loss_case("BinaryFocalLoss", BinaryFocalLoss, "alpha 0.25 gamma 2, "),
    loss_case("BCELoss", BCELoss),
    loss_case("MSELoss", MSELoss),
    loss_case("DiceFocalLoss", DiceFocalLoss, "the original's loss, "),
    Case("cae", "filters 2,3,4, dropout on, x 2x16x8x3", small_cae, kind="model"),
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


def dropouts(layer):
    return [d for d in layer.walk() if isinstance(d, Dropout)]


def check_layer_float32(case, step):
    """The float32 layer's backward against central differences of its float64 twin.

    The twin is the same case built again (same seed, so the same weights; the input is rounded
    to float32 for both) and it runs with the float32 layer's dropout masks.
    """
    layer, x = build(case, np.float32)
    twin, _ = build(case, np.float64)
    x32 = np.asarray(x, dtype=np.float32)
    x64 = x32.astype(np.float64)
    with frozen_dropout(layer), frozen_dropout(twin):
        y = layer.forward(x32, training=True)
        for mine, its in zip(dropouts(layer), dropouts(twin)):
            its._scale = mine._scale.astype(np.float64)       # a frozen Dropout reuses _scale
        g = np.random.default_rng(SEED).standard_normal(y.shape).astype(np.float32)
        g_before = g.copy()
        analytic = [layer.backward(g)] + [grad.copy() for _, _, grad in layer.named_parameters()]
        if not np.array_equal(g, g_before):
            raise AssertionError(f"{layer!r}.backward modified its upstream gradient in place")
        arrays = [("input", x64)] + [(name, param) for name, param, _ in twin.named_parameters()]
        g64 = g.astype(np.float64)

        def scalar():
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
