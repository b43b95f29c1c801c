"""Faults of the Python API, each refused where the data enters with one message that names the
culprit: an InputError (so a ValueError too), or BackwardOrderError for a call out of order.

    empty batch in training | loss backward before forward | a softmax over one class
    dy of the wrong shape   | a builder's bad arguments    | an image without pixels
    a list for an array     | NaN predictions in a loss
"""
import time

import numpy as np
import pytest

from npcae.errors import InputError
from npcae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dropout, Identity,
                          MaxPool2D, ReLU, Sigmoid, Swish, UpConv2D, UpSampling2D)
from npcae.layers.base import BackwardOrderError
from npcae.losses import (BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, MSELoss,
                          MultiClassDice, NonFinitePrediction, SoftmaxCrossEntropy)
from npcae.models import Concatenate, cae, create, unet


def moving_statistics(model):
    return [value.copy() for _, value in model.named_state() if isinstance(value, np.ndarray)]


# -- 1. an empty batch ------------------------------------------------------------------------
def test_a_training_forward_refuses_an_empty_batch_and_keeps_the_moving_statistics():
    model = unet(filters=(2, 3), seed=0)
    before = moving_statistics(model)
    with pytest.raises(InputError, match=r"cannot train on an empty batch \(shape \(0, 8, 8, 3\)\)"):
        model.forward(np.zeros((0, 8, 8, 3), np.float32), training=True)
    for old, new in zip(before, moving_statistics(model), strict=True):
        np.testing.assert_array_equal(old, new)
    with pytest.raises(InputError, match="cannot train on an empty batch"):
        cae(filters=(2, 3), seed=0).forward(np.zeros((0, 8, 8, 3), np.float32), training=True)


def test_a_batch_norm_layer_refuses_an_empty_training_batch_on_its_own():
    layer = BatchNormalization(3)
    with pytest.raises(InputError, match=r"BatchNormalization\(3.*an empty batch"):
        layer.forward(np.zeros((0, 4, 4, 3), np.float32), training=True)
    np.testing.assert_array_equal(layer.state["moving_mean"], np.zeros(3))
    np.testing.assert_array_equal(layer.state["moving_variance"], np.ones(3))
    frozen = BatchNormalization(3, frozen=True)      # its statistics are not the batch's
    assert frozen.forward(np.zeros((0, 4, 4, 3), np.float32), training=True).shape == (0, 4, 4, 3)


@pytest.mark.parametrize("model", [unet(filters=(2, 3), classes=3, seed=0), cae(filters=(2, 3), seed=0)],
                         ids=["unet", "cae"])
def test_inference_on_an_empty_batch_is_an_empty_prediction(model):
    before = moving_statistics(model)
    y = model.forward(np.zeros((0, 12, 8, 3), np.float32))
    assert y.shape == model.output_shape((0, 12, 8, 3)) and y.shape[0] == 0
    for old, new in zip(before, moving_statistics(model), strict=True):
        np.testing.assert_array_equal(old, new)


# -- 2. a loss's backward before its forward --------------------------------------------------
LOSSES = {"dice": DiceLoss, "focal": FocalLoss, "binary_focal": BinaryFocalLoss, "bce": BCELoss,
          "mse": MSELoss, "dice+focal": DiceFocalLoss, "0.5*bce": lambda: 0.5 * BCELoss(),
          "ce": SoftmaxCrossEntropy, "ce_reference": lambda: SoftmaxCrossEntropy(fast=False),
          "multiclass_dice": MultiClassDice,
          "multiclass_dice_reference": lambda: MultiClassDice(fast=False),
          "ce+dice": lambda: SoftmaxCrossEntropy() + MultiClassDice()}
MULTICLASS = (SoftmaxCrossEntropy, MultiClassDice)


def is_multiclass(loss):
    return isinstance(loss, MULTICLASS) or any(isinstance(term, MULTICLASS)
                                               for _, term in getattr(loss, "terms", []))


def inputs(loss, rng, shape=(2, 4, 6)):
    if is_multiclass(loss):
        return rng.standard_normal((*shape, 3)), rng.integers(0, 3, shape)
    return rng.random((*shape, 1)), (rng.random((*shape, 1)) > 0.5).astype(np.float64)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_refuses_backward_before_forward_as_the_layers_do(name, rng):
    fresh = LOSSES[name]()
    with pytest.raises(BackwardOrderError, match=r"backward needs forward\(pred, target\) just "
                                                 r"before it; there was no forward before it"):
        fresh.backward()
    pred, target = inputs(fresh, rng)
    fresh.forward(pred, target)
    assert fresh.backward().shape == pred.shape
    with pytest.raises(ValueError):                               # a forward that fails ...
        fresh.forward(pred[:1], target)
    with pytest.raises(BackwardOrderError, match="the last forward failed"):   # ... leaves nothing
        fresh.backward()


# -- 3. a softmax over one class --------------------------------------------------------------
@pytest.mark.parametrize("name", ["ce", "ce_reference", "multiclass_dice",
                                  "multiclass_dice_reference"])
def test_softmax_losses_refuse_fewer_than_two_classes(name):
    loss = LOSSES[name]()
    with pytest.raises(InputError, match=r"needs logits of at least 2 classes on the last axis, "
                                         r"got shape \(1, 4, 4, 1\)"):
        loss.forward(np.zeros((1, 4, 4, 1), np.float32), np.zeros((1, 4, 4), int))


# -- 4. dy of the wrong shape -----------------------------------------------------------------
def rng_of(seed=0):
    return np.random.default_rng(seed)


LAYERS = {
    "Conv2D": lambda: Conv2D(3, 4, 3, rng=rng_of()),
    "Conv2D_reference": lambda: Conv2D(3, 4, 3, rng=rng_of(), fast=False),
    "Conv2DTranspose": lambda: Conv2DTranspose(3, 4, 2, 2, rng=rng_of()),
    "BatchNormalization": lambda: BatchNormalization(3),
    "MaxPool2D": lambda: MaxPool2D(2),
    "UpSampling2D": lambda: UpSampling2D(2),
    "UpConv2D": lambda: UpConv2D(UpSampling2D(2), Conv2D(3, 4, 3, rng=rng_of())),
    "ReLU": ReLU, "Sigmoid": Sigmoid, "Swish": Swish, "Identity": Identity,
    "Dropout": lambda: Dropout(0.5, rng=0),
    "Concatenate": lambda: Concatenate(Identity(), Conv2D(3, 2, 1, rng=rng_of())),
    "UNet": lambda: unet(filters=(2, 3), seed=0),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_names_the_layer_and_both_shapes_for_a_dy_of_the_wrong_shape(name, rng):
    layer = LAYERS[name]()
    x = rng.random((2, 6, 4, 3)).astype(np.float32)
    y = layer.forward(x, training=True)
    wrong = np.zeros(y.shape[:-1] + (y.shape[-1] + 1,), np.float32)
    shown = type(layer).__name__
    with pytest.raises(InputError, match=rf"^{shown}.backward got dy of shape "
                                         rf"{re_shape(wrong.shape)}, but its forward returned "
                                         rf"{re_shape(y.shape)}"):
        layer.backward(wrong)
    with pytest.raises(InputError, match=rf"{shown}.backward takes dy as an array of shape "
                                         rf"{re_shape(y.shape)}, got list"):
        layer.backward(np.zeros(y.shape).tolist())
    assert layer.backward(np.ones_like(y)).shape == x.shape       # and the right one still works


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_a_container_s_dy_is_checked_by_the_layer_that_receives_it(rng):
    model = cae(filters=(2,), seed=0)
    y = model.forward(rng.random((1, 8, 8, 3)).astype(np.float32), training=True)
    with pytest.raises(InputError, match=r"Sigmoid.backward got dy of shape \(1, 8, 8, 2\)"):
        model.backward(np.zeros((1, 8, 8, 2), np.float32))
    assert model.backward(np.ones_like(y)).shape == (1, 8, 8, 3)


def test_the_dy_check_compares_shapes_and_copies_nothing(rng):
    layer = Identity()
    dy = rng.random((64, 64, 64, 8))
    layer.forward(dy, training=True)
    assert layer.backward(dy) is dy                               # no copy, no conversion
    start = time.perf_counter()
    for _ in range(1000):
        layer.backward(dy)
    assert (time.perf_counter() - start) / 1000 < 5e-5            # ~1 us: a shape compare


# -- 5. a builder's arguments -----------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (dict(classes=0), "unet: classes must be a positive integer, got 0"),
    (dict(classes=-2), "unet: classes must be a positive integer, got -2"),
    (dict(classes=2.5), "unet: classes must be a positive integer, got 2.5"),
    (dict(filters=(0, 8)), r"unet: filters must be 2 or more positive integers \(one per level\), got \(0, 8\)"),
    (dict(filters=(4.5, 8)), r"filters must be 2 or more positive integers .*got \(4.5, 8\)"),
    (dict(filters=(True, 8)), r"filters must be 2 or more positive integers .*got \(True, 8\)"),
    (dict(filters=(8,)), r"filters must be 2 or more positive integers .*got \(8,\)"),
    (dict(filters=16), r"filters must be 2 or more positive integers .*got 16"),
    (dict(filters="16"), r"filters must be 2 or more positive integers .*got '16'"),
    (dict(in_channels=0), "unet: in_channels must be a positive integer, got 0"),
    (dict(dropout=1.0), r"unet: dropout must be a rate in \[0, 1\), got 1.0"),
    (dict(dropout=-0.1), r"unet: dropout must be a rate in \[0, 1\), got -0.1"),
    (dict(upsampling="bilinear"), r"unet: upsampling must be one of \('transpose', 'nearest'\)"),
])
def test_unet_refuses_bad_arguments_with_one_message(args, message):
    with pytest.raises(InputError, match=message):
        unet(**args)
    with pytest.raises(InputError, match=message):                # through the registry too
        create("unet", **args)


@pytest.mark.parametrize("args, message", [
    (dict(filters=(0, 8)), r"cae: filters must be 1 or more positive integers \(one per level\), got \(0, 8\)"),
    (dict(filters=(4.5, 8)), r"cae: filters must be 1 or more positive integers .*got \(4.5, 8\)"),
    (dict(filters=(False,)), r"cae: filters must be .*got \(False,\)"),
    (dict(filters=()), r"cae: filters must be 1 or more positive integers .*got \(\)"),
    (dict(kernel_size=0), r"cae: kernel_size must be a positive integer or a pair of them, got 0"),
    (dict(kernel_size=(3, 2.5)), r"cae: kernel_size must be .*got \(3, 2.5\)"),
    (dict(dropout=(0.1,)), r"cae: dropout must be a pair of rates in \[0, 1\), got \(0.1,\)"),
    (dict(dropout=(0.1, 1.5)), r"cae: dropout must be a pair of rates in \[0, 1\), got \(0.1, 1.5\)"),
    (dict(in_channels=-1), "cae: in_channels must be a positive integer, got -1"),
])
def test_cae_refuses_bad_arguments_with_one_message(args, message):
    with pytest.raises(InputError, match=message):
        cae(**args)


def test_whole_numbers_of_any_kind_still_build_the_same_model():
    reference = unet(filters=(2, 3), classes=2, seed=0)
    for filters, classes in (((2.0, 3.0), 2.0), ((np.int64(2), np.int32(3)), np.int64(2)),
                             ([2, 3], 2)):
        twin = unet(filters=filters, classes=classes, seed=0)
        for (na, pa, _), (nb, pb, _) in zip(reference.named_parameters(), twin.named_parameters(),
                                            strict=True):
            assert na == nb and pa.shape == pb.shape
            np.testing.assert_array_equal(pa, pb)
    assert cae(filters=(2.0, np.int16(3)), kernel_size=(3, 3), seed=0).n_params() == \
        cae(filters=(2, 3), seed=0).n_params()


# -- 6. an image without pixels ---------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 0, 0, 3), (1, 0, 5, 3), (2, 5, 0, 3)])
def test_an_image_without_pixels_is_refused_where_it_enters(shape):
    height, width = shape[1:3]
    for layer in (Conv2D(3, 4, 3, rng=rng_of()), MaxPool2D(1), BatchNormalization(3),
                  UpSampling2D(2), Conv2DTranspose(3, 2, 2, 2, rng=rng_of())):
        with pytest.raises(InputError, match=rf"input has no pixels: height and width must be "
                                             rf"at least 1, got {height}x{width}"):
            layer.forward(np.zeros(shape, np.float32))
    for name, model in (("the U-Net", unet(filters=(2, 3), seed=0)), ("the CAE", cae(filters=(2,), seed=0))):
        with pytest.raises(InputError, match=f"{name}'s input has no pixels"):
            model.forward(np.zeros(shape, np.float32))


# -- 7. a list instead of an array ------------------------------------------------------------
@pytest.mark.parametrize("model", [unet(filters=(2, 3), seed=0), cae(filters=(2,), seed=0)],
                         ids=["unet", "cae"])
def test_a_model_takes_a_nested_list_as_numpy_would_read_it(model, rng):
    x = rng.random((1, 8, 6, 3))
    np.testing.assert_array_equal(model.forward(x.tolist()), model.forward(x))
    with pytest.raises(TypeError, match="must be a float32 or float64 array, got dtype int64"):
        model.forward(np.zeros((1, 8, 6, 3), int).tolist())


# -- 8. NaN predictions in a loss -------------------------------------------------------------
# Losses of probabilities: focal and cross-entropy clip an inf to 1 - 1e-7 (see below), and Dice
# with an inf is 1 or NaN by the target's value there; NaN they all see.
CLIPPED = ("focal", "binary_focal", "bce", "dice", "dice+focal", "0.5*bce")


@pytest.mark.filterwarnings("ignore:invalid value encountered")      # NumPy's, on the way
@pytest.mark.parametrize("bad, name", [(np.nan, name) for name in LOSSES]
                         + [(np.inf, name) for name in LOSSES if name not in CLIPPED])
def test_every_loss_refuses_a_prediction_that_makes_it_non_finite(bad, name, rng):
    loss = LOSSES[name]()
    pred, target = inputs(loss, rng)
    pred = pred.astype(np.float32)
    assert np.isfinite(loss.forward(pred, target))
    pred[1, 2, 3, 0] = pred[0, 0, 0, 0] = bad
    with pytest.raises(InputError, match=rf"the prediction holds 2 NaN or infinite values "
                                         rf"\(of {pred.size}\), so the loss is (nan|inf)$") as caught:
        loss.forward(pred, target)
    assert isinstance(caught.value, NonFinitePrediction) and not np.isfinite(caught.value.value)


@pytest.mark.parametrize("name", ["focal", "binary_focal", "bce"])
def test_an_infinite_probability_is_clipped_as_keras_clips_it_and_harms_nothing(name):
    # Only the loss's value is tested on every call; a probability of inf, clipped to 1 - 1e-7,
    # leaves it finite and gets a zero gradient, so it passes (the model's own input is checked).
    loss = LOSSES[name]()
    pred, target = np.full((1, 2, 2, 1), 0.5), np.ones((1, 2, 2, 1))
    pred[0, 0, 0, 0] = np.inf
    assert np.isfinite(loss.forward(pred, target))
    grad = loss.backward()
    assert grad[0, 0, 0, 0] == 0 and np.isfinite(grad).all()


def test_a_nan_target_is_named_too(rng):
    pred, target = rng.random((1, 4, 4, 1)), np.ones((1, 4, 4, 1))
    target[0, 1, 1, 0] = np.nan
    with pytest.raises(InputError, match=r"DiceLoss: the target holds 1 NaN or infinite values") as caught:
        DiceLoss().forward(pred, target)
    assert not isinstance(caught.value, NonFinitePrediction)      # bad data, not a diverged model


def test_a_sum_of_losses_names_the_term_that_saw_the_nan(rng):
    pred, target = rng.random((1, 4, 4, 1)), np.ones((1, 4, 4, 1))
    pred[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"^DiceLoss: the prediction holds 1 NaN"):
        (DiceLoss() + FocalLoss()).forward(pred, target)
