"""MaxPool2D and BatchNormalization beyond their gradient checks (those are rows of
npcae/gradcheck/cases.py: CASES): Keras's output sizes and values, the tie rule, the Numba
kernels against the NumPy reference, moving statistics by hand, state through save/load, and
the memory rules against the arrays the layers really hold."""
import itertools

import numpy as np
import pytest

from npcae.diagnostics.footprints import footprint
from npcae.gradcheck.core import check_layer
from npcae.kernels import pooling, reference
from npcae.layers import BatchNormalization, MaxPool2D, ReLU, Sigmoid
from npcae.layers.base import BackwardOrderError
from npcae.models import Sequential


def image(rows):
    """A (1, H, W, 1) float64 image from a list of rows."""
    return np.array(rows, np.float64)[None, :, :, None]


# -- MaxPool2D: sizes and values as Keras --------------------------------------------------
@pytest.mark.parametrize("pool, strides, padding, hw, out", [
    (2, None, "valid", (7, 5), (3, 2)),      # floor((H - P) / S) + 1, strides = pool
    (2, None, "same", (7, 5), (4, 3)),       # ceil(H / S)
    (3, 2, "same", (7, 6), (4, 3)),
    (3, 1, "same", (5, 4), (5, 4)),
    ((3, 2), (2, 1), "valid", (7, 5), (3, 4)),
    (2, 2, "valid", (256, 256), (128, 128)),
])
def test_maxpool_output_sizes_match_keras(pool, strides, padding, hw, out):
    layer = MaxPool2D(pool, strides, padding)
    assert layer.output_shape((2, *hw, 3)) == (2, *out, 3)
    assert layer.forward(np.zeros((2, *hw, 3), np.float32)).shape == (2, *out, 3)


def test_maxpool_gives_the_keras_documentation_examples():
    """The examples of Keras's MaxPooling2D documentation, same numbers."""
    x = image([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert MaxPool2D(2, 1, "valid").forward(x)[0, :, :, 0].tolist() == [[5, 6], [8, 9]]
    assert MaxPool2D(2, 1, "same").forward(x)[0, :, :, 0].tolist() == [[5, 6, 6], [8, 9, 9],
                                                                       [8, 9, 9]]
    x = image([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    assert MaxPool2D(2, 2, "valid").forward(x)[0, :, :, 0].tolist() == [[6, 8]]


def test_maxpool_same_padding_never_wins():
    """Padded with -inf, not 0: an all-negative image keeps its values at the borders."""
    y = MaxPool2D(3, 2, "same").forward(np.full((1, 5, 4, 2), -5.0))
    assert y.shape == (1, 3, 2, 2) and np.all(y == -5.0)


def test_maxpool_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match="smaller than the pool 3x3"):
        MaxPool2D(3).forward(np.zeros((1, 2, 5, 1)))
    with pytest.raises(ValueError, match="padding"):
        MaxPool2D(2, padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match="more than 256 positions"):
        MaxPool2D(17, 1, "same").forward(np.zeros((1, 4, 4, 1)))
    with pytest.raises(TypeError, match="float32 or float64"):
        MaxPool2D(2).forward(np.zeros((1, 4, 4, 1), np.int32))


# -- MaxPool2D: the tie rule ---------------------------------------------------------------
def test_a_tie_goes_to_the_first_maximum_in_row_major_order():
    layer = MaxPool2D(2)
    x = image([[3, 5, 1, 7], [5, 1, 7, 7]])       # windows: 5 at (0,1) and (1,0); 7 three times
    layer.forward(x, training=True)
    dx = layer.backward(np.array([10.0, 20.0]).reshape(1, 1, 2, 1))
    assert dx[0, :, :, 0].tolist() == [[0, 10, 0, 20], [0, 0, 0, 0]]


def test_all_equal_windows_send_everything_to_their_first_pixel():
    """2x2 stride 2: each window's top-left pixel. 3x3 stride 1 "same" (overlapping): the
    first real pixel of window (oh, ow) is (max(oh - 1, 0), max(ow - 1, 0)), so the gradients
    of several windows add up there."""
    dy = np.arange(1.0, 13.0).reshape(1, 3, 4, 1)
    layer = MaxPool2D(2)
    layer.forward(np.ones((1, 6, 8, 1)), training=True)
    dx = layer.backward(dy)
    expected = np.zeros((6, 8))
    expected[::2, ::2] = dy[0, :, :, 0]
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)

    layer = MaxPool2D(3, 1, "same")
    layer.forward(np.ones((1, 3, 4, 1)), training=True)
    dx = layer.backward(dy)
    expected = np.zeros((3, 4))
    for oh, ow in itertools.product(range(3), range(4)):
        expected[max(oh - 1, 0), max(ow - 1, 0)] += dy[0, oh, ow, 0]
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_a_nan_is_never_chosen_over_a_number_before_it():
    """TensorFlow's comparison (best < v): a NaN after a number loses, a NaN first stays."""
    x = image([[1, np.nan, np.nan, 1], [3, 2, 2, 3]])
    y = MaxPool2D(2).forward(x)
    assert y[0, 0, 0, 0] == 3 and np.isnan(y[0, 0, 1, 0])
    y_reference, _ = reference.max_pool_forward(x, MaxPool2D(2).geometry(x.shape))
    np.testing.assert_array_equal(y, y_reference)


# -- MaxPool2D: the Numba kernels are the reference, bit for bit ---------------------------
CONFIGS = [(2, None, "valid", (2, 6, 8, 3)), (2, None, "valid", (2, 5, 7, 2)),
           (2, None, "same", (1, 5, 7, 2)), (3, 1, "same", (2, 5, 4, 3)),
           (3, 2, "same", (1, 7, 6, 2)), ((3, 2), (2, 1), "valid", (2, 7, 5, 2)),
           (3, 1, "valid", (1, 6, 5, 2)), (1, 2, "same", (1, 5, 5, 1)),
           ((16, 1), 1, "same", (1, 17, 3, 1))]


# The parallel road in float32 only (what training runs): each kernel signature costs ~2 s
# of compiling on a fresh clone.
@pytest.mark.parametrize("road, dtype", [("serial", np.float32), ("serial", np.float64),
                                         ("parallel", np.float32)])
def test_fast_max_pool_equals_the_reference_exactly(road, dtype, monkeypatch):
    """Random inputs and inputs full of ties (a few integer values), in both dtypes, through
    both roads of the kernels: the same maxima, offsets and gradients, bit for bit (overlapping
    windows add their gradients in the reference's order)."""
    monkeypatch.setattr(pooling, "SERIAL_BELOW", 10 ** 9 if road == "serial" else 0)
    rng = np.random.default_rng(7)
    for pool, strides, padding, shape in CONFIGS:
        layer = MaxPool2D(pool, strides, padding)
        geom = layer.geometry(shape)
        for x in (rng.standard_normal(shape), rng.integers(0, 3, shape)):
            x = x.astype(dtype)
            y, index = pooling.max_pool(x, geom)
            y_ref, index_ref = reference.max_pool_forward(x, geom)
            dy = rng.standard_normal(y.shape).astype(dtype)
            dx = pooling.max_pool_backward(dy, index, x.shape, geom)
            dx_ref = reference.max_pool_backward(dy, index_ref, x.shape, geom)
            where = f"{layer!r} on {shape}"
            assert index.dtype == index_ref.dtype == np.uint8, where
            np.testing.assert_array_equal(y, y_ref, err_msg=where)
            np.testing.assert_array_equal(index, index_ref, err_msg=where)
            np.testing.assert_array_equal(dx, dx_ref, err_msg=where)
            assert dx.dtype == dtype


def test_maxpool_keeps_the_offsets_not_the_input():
    """backward sends dy by the offsets the training forward found: changing x afterwards
    changes nothing, and the layer holds one byte an output element."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 4, 3)).astype(np.float32)
    layer = MaxPool2D(2)
    layer.forward(x, training=True)
    dy = rng.standard_normal((2, 3, 2, 3)).astype(np.float32)
    expected = layer.backward(dy)
    x[...] = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dy), expected)
    assert layer._index.dtype == np.uint8 and layer._index.shape == dy.shape
    assert np.count_nonzero(expected) == dy.size and expected.dtype == np.float32
    layer.forward(x)                                    # inference: nothing kept
    assert layer._index is None
    with pytest.raises(BackwardOrderError):
        layer.backward(dy)


# -- BatchNormalization --------------------------------------------------------------------
def batch_statistics(x):
    """Per-channel mean and biased variance over N, H, W, in float64."""
    x = np.asarray(x, np.float64)
    return x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_moving_statistics_after_k_steps_are_the_hand_computed_averages(dtype):
    """moving = momentum * moving + (1 - momentum) * batch, from (0, 1), over k = 4 batches,
    with the biased variance (Keras 3); inference then normalises with them."""
    rng = np.random.default_rng(3)
    layer = BatchNormalization(3, momentum=0.9).astype(dtype)
    mean, variance = np.zeros(3), np.ones(3)
    for step in range(4):
        x = (2.0 + step + (1 + step) * rng.standard_normal((2, 5, 4, 3))).astype(dtype)
        layer.forward(x, training=True)
        batch_mean, batch_variance = batch_statistics(x)
        mean = 0.9 * mean + 0.1 * batch_mean
        variance = 0.9 * variance + 0.1 * batch_variance
    tolerance = 1e-14 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(layer.state["moving_mean"], mean, rtol=tolerance)
    np.testing.assert_allclose(layer.state["moving_variance"], variance, rtol=tolerance)
    assert layer.state["moving_mean"].dtype == dtype

    layer.params["gamma"][...] = [0.5, 1.0, 2.0]
    layer.params["beta"][...] = [0.0, -1.0, 3.0]
    x = rng.standard_normal((1, 3, 2, 3)).astype(dtype)
    y = layer.forward(x)
    moving_mean = layer.state["moving_mean"].astype(np.float64)
    moving_variance = layer.state["moving_variance"].astype(np.float64)
    by_hand = (np.array([0.5, 1.0, 2.0]) * (x - moving_mean) / np.sqrt(moving_variance + 1e-3)
               + np.array([0.0, -1.0, 3.0]))
    np.testing.assert_allclose(y, by_hand, rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=1e-6 if dtype == np.float32 else 0)
    np.testing.assert_array_equal(layer.state["moving_mean"], moving_mean.astype(dtype))


def test_training_normalises_with_the_batch_statistics():
    rng = np.random.default_rng(4)
    x = 5.0 + 3.0 * rng.standard_normal((4, 6, 5, 2))
    layer = BatchNormalization(2, epsilon=1e-3)
    y = layer.forward(x, training=True)
    mean, variance = batch_statistics(x)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(variance + 1e-3), rtol=1e-12, atol=1e-12)
    assert layer.forward(x).std() > 2              # inference: the moving statistics, far off


def test_float32_statistics_are_accumulated_in_float64():
    """momentum 0 stores the batch's statistics as they are: for a float32 input of 131,072
    values a channel, within one float32 rounding of the float64 statistics."""
    rng = np.random.default_rng(5)
    x = (3.0 + 2.0 * rng.standard_normal((8, 128, 128, 2))).astype(np.float32)
    layer = BatchNormalization(2, momentum=0.0)
    layer.forward(x, training=True)
    mean, variance = batch_statistics(x)
    np.testing.assert_allclose(layer.state["moving_mean"], mean, rtol=6e-8)
    np.testing.assert_allclose(layer.state["moving_variance"], variance, rtol=6e-8)


def test_a_gradient_check_leaves_the_moving_statistics_as_they_were():
    """fixed_state puts the arrays back before every forward and at the end: the thousands of
    training forwards of the check do not move them."""
    layer = BatchNormalization(2).astype(np.float64)
    layer.state["moving_mean"][...] = [0.5, -0.5]
    report = check_layer(layer, np.random.default_rng(11).standard_normal((2, 3, 2, 2)))
    assert report.passed(1e-6)
    np.testing.assert_array_equal(layer.state["moving_mean"], [0.5, -0.5])
    np.testing.assert_array_equal(layer.state["moving_variance"], [1.0, 1.0])


def test_frozen_batchnorm_trains_as_its_inference_function():
    rng = np.random.default_rng(6)
    layer = BatchNormalization(3, frozen=True)
    layer.state["moving_mean"][...] = [1.0, -1.0, 0.5]
    layer.state["moving_variance"][...] = [4.0, 0.25, 1.0]
    before = layer.state_arrays()
    x = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x))
    after = layer.state_arrays()
    assert all(np.array_equal(before[name], after[name]) for name in before)
    assert "frozen=True" in repr(layer)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_keeps_the_dtype_and_leaves_dy_alone(dtype):
    rng = np.random.default_rng(8)
    layer = BatchNormalization(3)
    x = rng.standard_normal((2, 4, 3, 3)).astype(dtype)
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy_before = dy.copy()
    dx = layer.backward(dy)
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dy, dy_before)
    np.testing.assert_allclose(dx.sum(axis=(0, 1, 2)), 0, atol=1e-4)   # sum(dx) = 0 per channel
    with pytest.raises(ValueError, match="expects 3 channels, got 2"):
        layer.forward(x[..., :2])


# -- state through save and load, and memory -----------------------------------------------
def down_block(seed=0):
    """BN, ReLU, 2x2 max pool, BN, 3x3 stride-1 max pool, sigmoid: only layers that keep
    something a memory rule must count."""
    rng = np.random.default_rng(seed)
    first, second = BatchNormalization(3), BatchNormalization(3, momentum=0.5)
    for layer in (first, second):
        layer.params["gamma"][...] = rng.uniform(0.5, 2.0, 3)
        layer.params["beta"][...] = rng.standard_normal(3)
    return Sequential(first, ReLU(), MaxPool2D(2), second, MaxPool2D(3, 1, "same"), Sigmoid())


def test_moving_statistics_save_load_and_resume_exactly(tmp_path):
    rng = np.random.default_rng(9)
    batches = [rng.standard_normal((2, 8, 6, 3)).astype(np.float32) for _ in range(3)]
    model = down_block()
    for x in batches[:2]:
        model.forward(x, training=True)
    model.save(tmp_path / "weights.npz")
    loaded = down_block(seed=1).load(tmp_path / "weights.npz")
    saved = model.state_arrays()
    assert sorted(saved) == ["0.moving_mean", "0.moving_variance", "3.moving_mean",
                             "3.moving_variance"]
    assert not np.array_equal(saved["0.moving_mean"], 0)
    for name, value in loaded.state_arrays().items():
        np.testing.assert_array_equal(value, saved[name])
    np.testing.assert_array_equal(loaded.forward(batches[2]), model.forward(batches[2]))
    np.testing.assert_array_equal(loaded.forward(batches[2], training=True),
                                  model.forward(batches[2], training=True))
    for name, value in loaded.state_arrays().items():           # and on from there
        np.testing.assert_array_equal(value, model.state_arrays()[name])


def held_bytes(model):
    """Bytes of the distinct arrays the layers hold between calls (their caches)."""
    owners = {}
    for layer in model.walk():
        for value in vars(layer).values():
            if isinstance(value, np.ndarray):
                while isinstance(value.base, np.ndarray):
                    value = value.base
                owners[id(value)] = value.nbytes
    return sum(owners.values())


@pytest.mark.parametrize("training", [True, False])
def test_the_memory_rules_count_exactly_what_the_layers_hold(training):
    model = down_block()
    x = np.random.default_rng(10).standard_normal((2, 8, 6, 3)).astype(np.float32)
    y = model.forward(x, training=training)
    if training:
        model.backward(np.ones_like(y))
    rule = footprint(model, x.shape, 4, training=training)
    outer = (x.nbytes if rule.keeps_input else 0) + (y.nbytes if rule.keeps_output else 0)
    assert held_bytes(model) == rule.kept + outer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 5, 4, 3), (8, 128, 64, 16)],      # serial and parallel roads
                         ids=["serial", "parallel"])
@pytest.mark.parametrize("mode", ["training", "inference", "frozen"])
def test_the_numba_batchnorm_matches_the_numpy_reference(shape, dtype, mode):
    """Same y, dx, dgamma, dbeta and moving statistics as fast=False: the statistics to
    float64's last digits (sums of 131,072 values a channel in another order: up to ~1e-13
    relatively), so y and dx to an ulp or two of float32."""
    rng = np.random.default_rng(12)
    x = (2.0 + 3.0 * rng.standard_normal(shape)).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    outputs = []
    for fast in (True, False):
        layer = BatchNormalization(shape[-1], momentum=0.5, frozen=mode == "frozen",
                                   fast=fast).astype(dtype)
        layer.params["gamma"][...] = np.linspace(0.5, 2.0, shape[-1])
        layer.params["beta"][...] = np.linspace(-1.0, 1.0, shape[-1])
        layer.state["moving_mean"][...] = 1.5
        y = layer.forward(x, training=mode != "inference")
        dx = layer.backward(dy) if mode != "inference" else np.zeros(0)
        outputs.append((y, dx, layer.grads["gamma"].copy(), layer.grads["beta"].copy(),
                        layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()))
        assert y.dtype == dtype and dx.dtype == (dtype if mode != "inference" else np.float64)
    ulp = 1e-6 if dtype == np.float32 else 1e-12
    for fast_array, reference_array in zip(*outputs):
        np.testing.assert_allclose(fast_array, reference_array, rtol=ulp,
                                   atol=ulp * (np.abs(reference_array).max(initial=0) + 1))


@pytest.mark.parametrize("offset", [0.0, 1e3, -5e4])
@pytest.mark.parametrize("size", [(3, 4, 5, 6), (8, 64, 64, 16)], ids=["serial", "parallel"])
def test_the_one_sweep_moments_keep_the_two_sweep_accuracy_far_from_zero(offset, size):
    """kernels.batchnorm.moments sums about each channel's first value: a channel whose mean is
    far from 0, or whose first value is 4 standard deviations from the mean, keeps the variance
    to float64's rounding (the naive E[x^2] - E[x]^2 about 0 would lose it at 5e4)."""
    from npcae.kernels.batchnorm import moments
    rng = np.random.default_rng(3)
    x = (offset + rng.standard_normal(size)).astype(np.float32)
    x.reshape(-1, size[-1])[0] = offset + 4.0                  # an unlucky first value
    mean, variance = moments(x)
    exact = x.astype(np.float64).reshape(-1, size[-1])
    np.testing.assert_allclose(mean, exact.mean(axis=0), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(variance, exact.var(axis=0), rtol=1e-10)
