"""The multi-class task (tasks/multiclass.py), its Dice term, and the Numba softmax kernels
(kernels/softmax.py) against the NumPy reference of losses_multiclass.py."""
import numba
import numpy as np
import pytest
from PIL import Image

from npcae.data.palette import CITYSCAPES_19, colourise
from npcae.losses.multiclass import IGNORE, MultiClassDice, SoftmaxCrossEntropy, multiclass_loss
from npcae.metrics.multiclass import confusion_matrix
from npcae.tasks import ConfusionTally, MultiClassMask, make_task
from npcae.predict import PngFolder

NAMES, COLOURS = ("road", "car", "sky"), [(128, 64, 128), (0, 0, 142), (70, 130, 180)]


def batch(rng, shape=(2, 6, 5, 3), ignored=0.2):
    logits = 2 * rng.standard_normal(shape)
    ids = rng.integers(0, shape[-1], shape[:-1])
    ids[rng.random(shape[:-1]) < ignored] = IGNORE
    return logits, ids[..., None].astype(np.float32)


def test_the_tally_pools_batches_exactly_and_survives_a_checkpoint(rng):
    logits, ids = batch(rng, (4, 5, 6, 3))
    whole = ConfusionTally(NAMES).update(logits, ids)
    parts = ConfusionTally(NAMES).update(logits[:1], ids[:1]) + ConfusionTally(NAMES).update(logits[1:], ids[1:])
    assert np.array_equal(whole.matrix, parts.matrix)
    assert whole.matrix.sum() == np.count_nonzero(ids != IGNORE)
    again = ConfusionTally(NAMES)
    again.load_state_dict(whole.state_dict())
    assert again.result() == pytest.approx(whole.result(), nan_ok=True)
    expected = confusion_matrix(np.argmax(logits, -1), ids[..., 0], 3)
    assert np.array_equal(whole.matrix, expected)


def test_result_names_each_class_and_means_over_defined_ones():
    tally = ConfusionTally(NAMES, [[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    result = tally.result()
    assert result["iou_road"] == pytest.approx(3 / 4) and result["iou_car"] == pytest.approx(2 / 3)
    assert np.isnan(result["iou_sky"])                           # neither true nor predicted
    assert result["miou"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert result["pixel_accuracy"] == pytest.approx(5 / 6)
    assert result["class_accuracy"] == pytest.approx((3 / 4 + 1) / 2)


def test_the_task_config_rebuilds_the_same_task():
    task = MultiClassMask(NAMES, COLOURS, loss="ce+dice", class_weights=[1, 2, 0.5])
    twin = make_task(task.config)
    assert twin.config == task.config and twin.classes == 3
    with pytest.raises(ValueError, match="2 class weights for 3 classes"):
        MultiClassMask(NAMES, COLOURS, class_weights=[1, 2])
    with pytest.raises(ValueError, match="unknown multi-class loss 'bce'"):
        MultiClassMask(NAMES, COLOURS, loss="ce+bce")


def test_predictions_are_written_at_the_photos_size(tmp_path, rng):
    task = MultiClassMask(NAMES, COLOURS)
    photo = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    logits = np.zeros((15, 20, 3), np.float32)
    logits[:, :10, 1] = 5                                         # left half: car
    logits[:, 10:, 2] = 5                                         # right half: sky
    files = PngFolder(tmp_path).open().write("p", task.render(photo, logits))
    assert files == ["p_classes.png", "p_colour.png", "p_overlay.png"]
    ids = np.asarray(Image.open(tmp_path / "p_classes.png"))
    assert ids.shape == (30, 40) and set(np.unique(ids)) == {1, 2}
    assert (ids[:, :19] == 1).all() and (ids[:, 21:] == 2).all()
    colour = np.asarray(Image.open(tmp_path / "p_colour.png"))
    assert np.array_equal(colour, colourise(ids, task.palette))
    overlay = np.asarray(Image.open(tmp_path / "p_overlay.png")).astype(int)
    assert np.abs(overlay - (np.asarray(photo).astype(int) + colour + 1) // 2).max() == 0


def test_draw_and_the_table(rng):
    task = MultiClassMask(NAMES, COLOURS)
    logits, ids = batch(rng, (1, 6, 5, 3), ignored=0.0)
    image = rng.random((6, 5, 3))
    assert task.draw(image, ids[0], logits[0]).shape == (6, 15, 3)
    assert task.draw(image, ids[0], None).shape == (6, 10, 3)
    tally = task.tally().update(logits, ids)
    lines = task.table(tally, {"a": {}})
    assert lines[0].split() == ["class", "pixels", "accuracy", "IoU"] and len(lines) == 5
    assert f"mIoU {tally.result()['miou']:.4f}" in lines[-1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [lambda fast: SoftmaxCrossEntropy(None, fast=fast),
                                  lambda fast: SoftmaxCrossEntropy([0.5, 2, 1, 0, 3], fast=fast),
                                  lambda fast: MultiClassDice(fast=fast)],
                         ids=["ce", "weighted ce", "dice"])
def test_the_kernels_match_the_numpy_reference(rng, make, dtype):
    logits, ids = batch(rng, (2, 9, 7, 5))
    logits = logits.astype(dtype)
    fast, reference = make(True), make(False)
    assert fast.forward(logits, ids) == pytest.approx(reference.forward(logits, ids), rel=1e-13)
    got, want = fast.backward(), reference.backward()
    assert got.dtype == want.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-6,
                               atol=1e-15 if dtype == np.float64 else 1e-9)


def test_the_parallel_and_serial_twins_give_the_same_bits(rng):
    from npcae.kernels import softmax
    logits, ids = batch(rng, (1, 300, 200, 19))                 # above SERIAL_BELOW
    z, y = logits.reshape(-1, 19), ids.reshape(-1).astype(np.int64)
    weights = rng.uniform(0.1, 3, 19)
    results = []
    for kernel in (softmax._softmax_ce_parallel, softmax._softmax_ce_serial):
        p, partial = np.empty(z.shape), np.zeros((softmax.LOSS_BLOCKS, 2))
        kernel(z, y, weights, IGNORE, p, partial)
        results.append((p, partial))
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])


def test_the_kernels_do_not_depend_on_the_thread_count(rng):
    logits, ids = batch(rng, (2, 120, 240, 19))                  # above SERIAL_BELOW: in parallel
    loss = multiclass_loss("ce+dice", class_weights=rng.uniform(0.1, 3, 19))
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        results.append((loss.forward(logits, ids), loss.backward()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert results[0][0] == results[1][0] and np.array_equal(results[0][1], results[1][1])


def test_nothing_labelled_is_a_zero_loss_not_nan(rng):
    logits = rng.standard_normal((1, 3, 3, 4))
    ids = np.full((1, 3, 3), IGNORE)
    for spec in ("ce", "dice", "ce+dice"):
        loss = multiclass_loss(spec)
        value = loss.forward(logits, ids)
        assert np.isfinite(value) and not loss.backward().any()


def test_the_cityscapes_palette_is_the_default_of_class_ids():
    task = make_task({"task": "multiclass", "names": list(CITYSCAPES_19.names),
                      "colours": CITYSCAPES_19.colours.tolist()})
    assert task.classes == 19 and task.loss_spec == "ce" and task.mask_fill == IGNORE
