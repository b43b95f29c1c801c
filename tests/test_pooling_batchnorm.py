"""MaxPool2D beyond its gradient checks (those are rows of npcae/gradcheck_cases.py: CASES):
Keras's output sizes and values, the tie rule, the Numba kernels against the NumPy reference."""
import itertools

import numpy as np
import pytest

from npcae.kernels import pooling, reference
from npcae.layers import MaxPool2D
from npcae.layers.base import BackwardOrderError


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
