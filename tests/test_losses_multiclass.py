"""SoftmaxCrossEntropy (losses_multiclass.py): its value against a pixel-by-pixel loop, the
ignore label and class weights, stability, and bad input. Its gradient check is in the
catalogue (gradcheck_cases.py: softmax_ce_case)."""
import numpy as np
import pytest

from npcae.losses.multiclass import IGNORE, SoftmaxCrossEntropy, class_ids


def loop_loss(logits, ids, weights):
    total = weighted = 0.0
    for index in np.ndindex(ids.shape):
        if ids[index] == IGNORE:
            continue
        z = logits[index].astype(np.float64)
        log_p = z - np.log(np.sum(np.exp(z)))
        w = weights[ids[index]]
        total += w
        weighted += -w * log_p[ids[index]]
    return weighted / total


@pytest.mark.parametrize("weighted", [False, True])
def test_the_value_is_the_weighted_mean_over_the_pixels_that_count(weighted, rng):
    logits = rng.standard_normal((2, 5, 4, 6)).astype(np.float32)
    ids = rng.integers(0, 6, (2, 5, 4))
    ids[rng.random(ids.shape) < 0.3] = IGNORE
    weights = rng.uniform(0.1, 4, 6) if weighted else np.ones(6)
    loss = SoftmaxCrossEntropy(weights if weighted else None)
    assert loss.forward(logits, ids[..., None]) == pytest.approx(loop_loss(logits, ids, weights),
                                                                rel=1e-6)
    grad = loss.backward()
    assert grad.dtype == np.float32 and grad.shape == logits.shape
    assert not grad[ids == IGNORE].any()                       # ignored pixels learn nothing
    p = np.exp(logits[0, 0, 0]) / np.exp(logits[0, 0, 0]).sum()
    if ids[0, 0, 0] != IGNORE:                                 # softmax minus one-hot, scaled
        expected = p - np.eye(6)[ids[0, 0, 0]]
        ratio = grad[0, 0, 0] / expected
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)


def test_huge_logits_do_not_overflow_and_all_ignored_is_zero():
    logits = np.array([[[[1000.0, -1000.0, 0.0]]]], np.float32)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(logits, np.array([[[1]]])) == pytest.approx(2000.0)
    assert np.isfinite(loss.backward()).all()
    assert loss.forward(logits, np.array([[[IGNORE]]])) == 0.0
    assert not loss.backward().any()


def test_bad_ids_shapes_and_weights_are_one_clear_error():
    logits = np.zeros((1, 2, 2, 3))
    with pytest.raises(ValueError, match="outside 0..2"):
        SoftmaxCrossEntropy().forward(logits, np.array([[[0, 3], [1, 2]]]))
    with pytest.raises(ValueError, match="do not match logits"):
        SoftmaxCrossEntropy().forward(logits, np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="whole numbers"):
        class_ids(np.full((1, 2, 2), 0.5), logits.shape)
    with pytest.raises(ValueError, match="2 class weights for 3 classes"):
        SoftmaxCrossEntropy([1, 2]).forward(logits, np.zeros((1, 2, 2), int))
    with pytest.raises(ValueError, match="non-negative"):
        SoftmaxCrossEntropy([1, -2, 1])


def test_median_frequency_weights_by_hand():
    from npcae.data.labels import median_frequency_weights
    masks = [np.array([[0, 0, 0, 1]]), np.array([[0, 0, 2, IGNORE]])]
    # freq: class 0: 5 of the 7 labelled pixels of the images where it occurs; class 1: 1 of 4;
    # class 2: 1 of 3; class 3 never occurs. Median of (5/7, 1/4, 1/3) is 1/3.
    weights = median_frequency_weights(masks, 4)
    assert weights.tolist() == pytest.approx([(1 / 3) / (5 / 7), (1 / 3) / (1 / 4), 1.0, 0.0])
    with pytest.raises(ValueError, match="no labelled pixel"):
        median_frequency_weights([np.full((2, 2), IGNORE)], 4)
