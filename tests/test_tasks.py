"""Tasks: tallies pooled over any batching equal the metrics of the whole set; drawing; configs."""
import math

import numpy as np
import pytest

from npcae import metrics
from npcae.losses.binary import DiceLoss, FocalLoss, MSELoss, SumLoss
from npcae.tasks import BinaryMask, ImageToImage, make_task
from npcae.train.trainer import weighted_mean


@pytest.fixture
def masks(rng):
    output = rng.random((7, 6, 5, 1))
    target = (rng.random((7, 6, 5, 1)) > 0.7).astype(np.float32)
    return output, target


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_binary_tally_over_batches_equals_the_metrics_of_the_whole_set(masks, batch):
    output, target = masks
    tally = BinaryMask().tally()
    for start in range(0, len(output), batch):
        tally.update(output[start:start + batch], target[start:start + batch])
    result = tally.result()
    # Exactly equal, not approximately: the counts are integers.
    assert result == {"accuracy": metrics.pixel_accuracy(output, target),
                      "iou": metrics.iou(output, target), "dice": metrics.dice(output, target)}


def test_binary_tallies_add_and_round_trip_their_state(masks):
    output, target = masks
    task = BinaryMask()
    first, second = task.tally().update(output[:3], target[:3]), task.tally().update(output[3:], target[3:])
    assert (first + second).result() == task.tally().update(output, target).result()
    restored = task.tally()
    restored.load_state_dict(first.state_dict())
    assert restored.result() == first.result() and restored.state_dict() == first.state_dict()


def test_binary_tally_of_empty_masks_is_perfect():
    result = BinaryMask().tally().update(np.zeros((1, 2, 2, 1)), np.zeros((1, 2, 2, 1))).result()
    assert result == {"accuracy": 1.0, "iou": 1.0, "dice": 1.0}


def test_image_tally_is_pooled_mse_and_psnr(rng):
    output, target = rng.random((4, 3, 2, 3)), rng.random((4, 3, 2, 3))
    tally = ImageToImage().tally().update(output[:1], target[:1]).update(output[1:], target[1:])
    mse = np.mean((output - target) ** 2)
    assert tally.result()["mse"] == pytest.approx(mse, rel=1e-13)
    assert tally.result()["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-13)


def test_tasks_from_their_configs():
    task = make_task({"task": "binary", "loss": "dice+focal"})
    assert isinstance(task.loss, SumLoss)
    assert [type(loss) for _, loss in task.loss.terms] == [DiceLoss, FocalLoss]
    assert make_task(task.config).config == task.config
    assert isinstance(make_task({"task": "image"}).loss, MSELoss)
    with pytest.raises(ValueError, match="unknown task 'sorting'"):
        make_task({"task": "sorting"})


def test_binary_drawing_and_snapshot(masks):
    output, target = masks
    task = BinaryMask()
    image = np.full((6, 5, 3), 0.5)
    drawn = task.draw(image, target[0], output[0])
    assert drawn.shape == (6, 5, 3) and 0 <= drawn.min() and drawn.max() <= 1
    untouched = (target[0, ..., 0] == 0) & (output[0, ..., 0] <= 0.5)
    np.testing.assert_array_equal(drawn[untouched], image[untouched])
    assert not np.allclose(drawn[~untouched], 0.5)
    np.testing.assert_array_equal(task.snapshot(output[:2]), np.round(255 * output[:2, ..., 0]))


def test_weighted_mean_is_exact_for_one_value_and_weights_by_size():
    assert weighted_mean([[0.1, 3]]) == 0.1                  # not 0.1 * 3 / 3
    assert weighted_mean([[1.0, 3], [4.0, 1]]) == pytest.approx(1.75)
    assert math.isnan(weighted_mean([]))
