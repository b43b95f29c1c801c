"""Loss values against hand-computed closed forms."""
import numpy as np
import pytest

from npcae.losses.binary import (BCELoss, BinaryFocalLoss, DiceFocalLoss, DiceLoss, FocalLoss, MSELoss,
                          SumLoss, get_loss)

PRED = np.array([0.5, 1.0, 0.0, 0.25]).reshape(1, 2, 2, 1)
TARGET = np.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 2, 2, 1)


def test_dice_by_hand():
    # tp = 1.5, sum(t) = 2, sum(p) = 1.75  ->  1 - (3 + s) / (3.75 + s)
    s = 1e-5
    assert DiceLoss().forward(PRED, TARGET) == pytest.approx(1 - (3 + s) / (3.75 + s), rel=1e-12)
    assert DiceLoss().forward(TARGET, TARGET) == pytest.approx(0.0, abs=1e-12)


def test_focal_by_hand():
    p = np.clip(PRED, 1e-7, 1 - 1e-7)
    expected = np.mean(-TARGET * 0.25 * (1 - p) ** 2 * np.log(p))
    assert FocalLoss().forward(PRED, TARGET) == pytest.approx(expected, rel=1e-12)
    assert FocalLoss().forward(PRED, TARGET) == pytest.approx(0.25 * 0.25 * np.log(2) / 4, rel=1e-5)


def test_binary_focal_and_bce_by_hand():
    pred = np.array([0.8, 0.3]).reshape(1, 1, 2, 1)
    target = np.array([1.0, 0.0]).reshape(1, 1, 2, 1)
    bce = -(np.log(0.8) + np.log(0.7)) / 2
    assert BCELoss().forward(pred, target) == pytest.approx(bce, rel=1e-12)
    focal = (-0.25 * 0.2 ** 2 * np.log(0.8) - 0.75 * 0.3 ** 2 * np.log(0.7)) / 2
    assert BinaryFocalLoss().forward(pred, target) == pytest.approx(focal, rel=1e-12)


def test_mse_by_hand():
    pred = np.array([0.8, 0.3, 0.5]).reshape(1, 1, 3, 1)
    target = np.array([1.0, 0.0, 0.5]).reshape(1, 1, 3, 1)
    loss = MSELoss()
    assert loss.forward(pred, target) == pytest.approx((0.04 + 0.09) / 3, rel=1e-12)
    np.testing.assert_allclose(loss.backward().ravel(), [2 * -0.2 / 3, 2 * 0.3 / 3, 0], atol=1e-15)
    assert repr(get_loss("mse")) == "MSELoss()"


def test_losses_stay_finite_at_saturated_predictions():
    pred = np.array([0.0, 1.0]).reshape(1, 1, 2, 1).astype(np.float32)
    target = np.array([1.0, 0.0]).reshape(1, 1, 2, 1).astype(np.float32)
    for loss in (DiceLoss(), FocalLoss(), BinaryFocalLoss(), BCELoss()):
        with np.errstate(all="raise"):
            value = loss.forward(pred, target)
            grad = loss.backward()
        assert np.isfinite(value) and np.isfinite(grad).all() and grad.dtype == np.float32


def test_composition():
    combined = DiceFocalLoss()
    assert isinstance(combined, SumLoss)
    total = DiceLoss().forward(PRED, TARGET) + FocalLoss().forward(PRED, TARGET)
    assert combined.forward(PRED, TARGET) == pytest.approx(total, rel=1e-12)
    weighted = 0.5 * BCELoss() + DiceLoss()
    pred = np.clip(PRED, 0.1, 0.9)
    expected = 0.5 * BCELoss().forward(pred, TARGET) + DiceLoss().forward(pred, TARGET)
    assert weighted.forward(pred, TARGET) == pytest.approx(expected, rel=1e-12)
    assert repr(get_loss("dice+focal")) == repr(combined)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("dice+hinge")
    with pytest.raises(ValueError, match="differ in shape"):
        DiceLoss().forward(PRED, TARGET[..., :1, :])


def test_lovasz_is_one_minus_iou_for_hard_predictions_and_lower_for_better_ones(rng):
    """At p in {0, 1} the Lovasz extension is the Jaccard loss itself, per image, averaged."""
    from npcae.losses.binary import LovaszLoss, get_loss
    target = (rng.random((3, 6, 5, 1)) > 0.5).astype(np.float64)
    hard = (rng.random((3, 6, 5, 1)) > 0.5).astype(np.float64)
    ious = [(t * p).sum() / np.maximum(t, p).sum() for t, p in zip(target, hard)]
    assert LovaszLoss().forward(hard, target) == pytest.approx(1 - np.mean(ious), abs=1e-12)
    assert LovaszLoss().forward(target, target) == pytest.approx(0, abs=1e-12)
    soft = np.clip(target + rng.normal(0, 0.2, target.shape), 0, 1)
    assert LovaszLoss().forward(soft, target) < LovaszLoss().forward(1 - target, target)
    assert repr(get_loss("dice+lovasz")) == "DiceLoss() + LovaszLoss()"
