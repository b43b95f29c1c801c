import numpy as np
import pytest

from npcae.metrics.binary import dice, iou, per_image, pixel_accuracy


def test_metrics_by_hand():
    pred = np.array([0.9, 0.6, 0.4, 0.1, 0.7, 0.2])     # thresholded: 1 1 0 0 1 0
    target = np.array([1, 0, 1, 0, 1, 0])
    assert pixel_accuracy(pred, target) == pytest.approx(4 / 6)
    assert iou(pred, target) == pytest.approx(2 / 4)       # |P&T| = 2, |P|T| = 4
    assert dice(pred, target) == pytest.approx(2 * 2 / 6)


def test_empty_masks_score_perfectly_and_threshold_is_strict():
    zeros = np.zeros((2, 4, 4, 1))
    assert iou(zeros, zeros) == 1.0 and dice(zeros, zeros) == 1.0
    assert pixel_accuracy(np.full(3, 0.5), np.zeros(3)) == 1.0     # 0.5 is not above 0.5


def test_per_image():
    pred = np.stack([np.ones((2, 2, 1)), np.zeros((2, 2, 1))])
    target = np.ones((2, 2, 2, 1))
    assert per_image(iou, pred, target) == [1.0, 0.0]
    with pytest.raises(ValueError, match="differ in shape"):
        iou(pred, target[:1])
