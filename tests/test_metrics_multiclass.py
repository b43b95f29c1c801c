"""Multi-class metrics (metrics_multiclass.py): a confusion matrix counted by hand, the ignore
label, pooling over batches, and classes that never occur."""
import numpy as np
import pytest

from npcae.data.labels import IGNORE
from npcae.metrics.multiclass import confusion_matrix, predicted_ids, scores


def test_a_small_case_by_hand():
    truth = np.array([[0, 0, 1, 1], [2, 2, IGNORE, 1]])
    predicted = np.array([[0, 1, 1, 1], [2, 0, 2, 1]])
    cm = confusion_matrix(predicted, truth, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 3, 0], [1, 0, 1]]       # the ignored pixel counts nowhere
    s = scores(cm)
    assert s["pixel_accuracy"] == pytest.approx(5 / 7)
    assert s["class_accuracy"].tolist() == pytest.approx([1 / 2, 1, 1 / 2])
    assert s["iou"].tolist() == pytest.approx([1 / 3, 3 / 4, 1 / 2])
    assert s["miou"] == pytest.approx((1 / 3 + 3 / 4 + 1 / 2) / 3)
    assert s["mean_class_accuracy"] == pytest.approx(2 / 3)


def test_batches_pool_and_absent_classes_are_left_out(rng):
    truth = rng.integers(0, 3, (4, 5, 6))                    # class 3 never true; 4 never anything
    truth[rng.random(truth.shape) < 0.1] = IGNORE
    logits = rng.standard_normal((4, 5, 6, 5))
    logits[..., 4] = -10
    predicted = predicted_ids(logits)
    whole = confusion_matrix(predicted, truth[..., None], 5)
    assert np.array_equal(whole, confusion_matrix(predicted[:2], truth[:2], 5)
                          + confusion_matrix(predicted[2:], truth[2:], 5))
    s = scores(whole)
    assert np.isnan(s["class_accuracy"][3]) and s["iou"][3] == 0      # predicted, never true
    assert np.isnan(s["iou"][4]) and np.isnan(s["class_accuracy"][4])
    assert s["miou"] == pytest.approx(np.mean(s["iou"][:4]))
    assert s["pixel_accuracy"] == pytest.approx(np.mean(predicted[truth != IGNORE]
                                                        == truth[truth != IGNORE]))


def test_ids_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="differ"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 3)
