"""Finite-difference checks (float64, random upstream gradient) for every layer, loss and the CAE."""
import numpy as np
import pytest

from npcae.gradcheck import check_layer, check_loss, numerical_gradient, relative_error
from npcae.layers import (Conv2D, Dropout, LeakyReLU, ReLU, Sigmoid, Swish, Tanh, UpSampling2D)
from npcae.losses import BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, MSELoss
from npcae.models import Add, Concatenate, Sequential, cae
from npcae.layers import Identity

TOLERANCE = 1e-6

# (C_in, C_out, kernel, stride, padding, input (N, H, W)) -- odd and even sizes, batch > 1
CONV_CASES = [
    (3, 4, 3, 1, "same", (2, 7, 6)),
    (3, 4, 3, 2, "same", (2, 7, 6)),
    (2, 3, 3, 2, "same", (2, 8, 8)),
    (2, 3, (2, 3), 2, "same", (2, 6, 7)),
    (2, 3, 4, 2, "same", (2, 8, 6)),
    (2, 2, 2, 1, "same", (3, 5, 4)),
    (3, 2, 3, 1, "valid", (2, 6, 5)),
    (2, 3, (3, 2), 2, "valid", (2, 7, 8)),
    (4, 2, 1, 1, "same", (2, 3, 5)),
    (3, 2, 1, 2, "same", (2, 5, 4)),
]


def assert_passes(report, what):
    assert report.passed(TOLERANCE), f"{what}: gradient check failed\n{report}"


def away_from_zero(rng, shape, margin=0.05):
    """Normal samples pushed at least `margin` from 0, clear of the kinks of ReLU-like layers."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin


@pytest.mark.parametrize("keep_columns", [True, False], ids=["kept-columns", "shared-columns"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}to{c[1]}_k{c[2]}_s{c[3]}_{c[4]}_{c[5]}")
def test_conv2d(case, keep_columns, rng):
    c_in, c_out, kernel, stride, padding, (n, h, w) = case
    conv = Conv2D(c_in, c_out, kernel, stride, padding, rng=rng, keep_columns=keep_columns)
    conv.astype(np.float64)
    conv.params["b"][...] = rng.standard_normal(c_out)
    assert_passes(check_layer(conv, rng.standard_normal((n, h, w, c_in))), repr(conv))


@pytest.mark.parametrize("layer", [Swish(), Sigmoid(), Tanh(), ReLU(), LeakyReLU(), LeakyReLU(0.01)],
                         ids=repr)
@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (3, 5, 2, 3)])
def test_activations(layer, shape, rng):
    assert_passes(check_layer(layer, 2 * away_from_zero(rng, shape)), repr(layer))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("size, shape", [(2, (2, 3, 5, 2)), (2, (2, 4, 4, 3)), (3, (2, 3, 2, 1))])
def test_upsampling(interpolation, size, shape, rng):
    layer = UpSampling2D(size, interpolation)
    assert_passes(check_layer(layer, rng.standard_normal(shape)), repr(layer))


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_under_a_fixed_mask(rate, rng):
    layer = Dropout(rate, rng=0)
    x = rng.standard_normal((3, 4, 5, 2))
    assert_passes(check_layer(layer, x), repr(layer))
    dropped = np.count_nonzero(layer.forward(x, training=True) == 0)
    assert 0 < dropped < x.size                       # the checked layer really drops units


LOSSES = [DiceLoss(), FocalLoss(), BinaryFocalLoss(), BCELoss(), MSELoss(), DiceFocalLoss(),
          0.5 * BCELoss() + 2 * DiceLoss()]


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
@pytest.mark.parametrize("shape", [(2, 4, 3, 1), (3, 5, 6, 1)])
def test_losses(loss, shape, rng):
    pred = rng.uniform(0.02, 0.98, shape)
    target = (rng.random(shape) > 0.6).astype(np.float64)
    assert_passes(check_loss(loss, pred, target), repr(loss))


def test_dice_loss_over_several_channels(rng):
    pred = rng.uniform(0.02, 0.98, (2, 3, 4, 3))
    target = (rng.random(pred.shape) > 0.5).astype(np.float64)
    assert_passes(check_loss(DiceLoss(), pred, target), "DiceLoss on 3 channels")


def test_full_cae_with_dropout_active(rng):
    """The optimiser-free CAE at 16x8, filters (2, 3, 4), batch 2, dropout under a fixed mask.

    A deep narrow net carries ~1e-14 of round-off per forward, so the five-point stencil is run
    at h = 1e-2, where its O(h^4) truncation and the round-off are both below 1e-7 (see
    npcae.gradcheck).
    """
    model = cae(filters=(2, 3, 4), seed=3).astype(np.float64)
    for _, bias, _ in model.named_parameters():
        if bias.ndim == 1:
            bias[...] = 0.1 * rng.standard_normal(bias.shape)       # non-zero biases too
    report = check_layer(model, rng.random((2, 16, 8, 3)), step=1e-2)
    assert len(report) == 1 + 2 * 13                                  # input + W, b of 13 convs
    assert_passes(report, "cae(filters=(2, 3, 4))")


def test_full_cae_through_the_original_loss(rng):
    """d(Dice + focal)/d(every parameter) through the whole CAE, dropout active."""
    model = cae(filters=(2, 3, 4), seed=4).astype(np.float64)
    x = rng.random((2, 16, 8, 3))
    target = (rng.random((2, 16, 8, 1)) > 0.7).astype(np.float64)
    loss = DiceFocalLoss()
    from npcae.gradcheck import frozen_dropout
    with frozen_dropout(model):
        loss.forward(model.forward(x, training=True), target)
        model.backward(loss.backward())
        for name, param, grad in list(model.named_parameters())[:4] + list(model.named_parameters())[-4:]:
            analytic = grad.copy()
            numeric = numerical_gradient(
                lambda: loss.forward(model.forward(x, training=True), target), param, 1e-2)
            _, rel = relative_error(analytic, numeric)
            assert rel < TOLERANCE, f"{name}: relative error {rel:.2e}"


def test_branch_containers(rng):
    """Add and Concatenate (the skip connections of a U-Net) route gradients to every branch."""
    def conv(c_in, c_out):
        layer = Conv2D(c_in, c_out, 3, rng=rng).astype(np.float64)
        layer.params["b"][...] = rng.standard_normal(c_out)
        return layer
    residual = Sequential(conv(3, 4), Add(Identity(), Sequential(conv(4, 4), Swish(), conv(4, 4))))
    unet_level = Sequential(conv(3, 2), Concatenate(
        Identity(), Sequential(Conv2D(2, 3, 3, 2, rng=rng).astype(np.float64), Swish(),
                               UpSampling2D(2))), conv(5, 1), Sigmoid())
    for model in (residual, unet_level):
        assert_passes(check_layer(model, rng.standard_normal((2, 6, 4, 3))), repr(model))


class _WrongConv(Conv2D):
    """A Conv2D whose weight gradient misses the contribution of the last image of the batch."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        partial = grad_out.copy()
        partial[-1] = 0
        super().backward(partial)
        return dx


def test_the_check_catches_a_wrong_backward(rng):
    layer = _WrongConv(2, 3, 3, 2, rng=rng).astype(np.float64)
    report = check_layer(layer, rng.standard_normal((2, 5, 4, 2)))
    by_name = {check.name: check for check in report}
    assert by_name["input"].passed(TOLERANCE)
    assert not by_name["W"].passed(TOLERANCE) and by_name["W"].max_rel_error > 1e-2
    assert not report.passed(TOLERANCE)


def test_the_check_refuses_float32_parameters(rng):
    with pytest.raises(TypeError, match="float64"):
        check_layer(Conv2D(2, 3, 3, rng=rng), rng.standard_normal((1, 4, 4, 2)))


def test_relative_error_definition():
    abs_err, rel = relative_error(np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.2, 0.0]))
    assert abs_err == pytest.approx(0.2) and rel == pytest.approx(0.2 / 2.2)
    assert relative_error(np.zeros(3), np.zeros(3)) == (0.0, 0.0)


@pytest.mark.parametrize("order", [2, 4])
def test_numerical_gradient_of_a_known_function(order):
    z = np.array([0.3, -1.2, 2.0])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(z) * z)), z, 1e-4, order)
    np.testing.assert_allclose(numeric, np.cos(z) * z + np.sin(z), rtol=1e-7)
    np.testing.assert_array_equal(z, [0.3, -1.2, 2.0])      # restored after perturbing
