"""Layer behaviour beyond gradients: dtypes, values, dropout statistics, initialisation."""
import numpy as np
import pytest

from npcae.layers import (Conv2D, Dropout, Identity, Layer, LeakyReLU, ReLU, Sigmoid, Swish, Tanh,
                          UpSampling2D, get_activation, he_normal, sigmoid)
from npcae.layers.init import TRUNCATED_NORMAL_STD

ALL_LAYERS = [lambda: Conv2D(3, 4, 3, 2), lambda: Conv2D(3, 2, 1), Swish, Sigmoid, Tanh, ReLU,
              LeakyReLU, lambda: UpSampling2D(2), lambda: UpSampling2D(2, "bilinear"),
              lambda: Dropout(0.3, rng=0), Identity]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", ALL_LAYERS, ids=lambda m: repr(m()))
def test_layers_keep_the_input_dtype_and_leave_dy_alone(make, dtype, rng):
    layer = make()
    x = rng.standard_normal((2, 6, 4, 3)).astype(dtype)
    y = layer.forward(x, training=True)
    assert y.dtype == dtype and y.shape == layer.output_shape(x.shape)
    g = rng.standard_normal(y.shape).astype(dtype)
    g_before = g.copy()
    dx = layer.backward(g)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(g, g_before)
    for name, grad in layer.grads.items():
        assert grad.shape == layer.params[name].shape


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1e4, -700.0, -100.0, 0.0, 100.0, 700.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(x)
        y = Swish().forward(x.reshape(1, 1, -1, 1))
        Sigmoid().forward(x.astype(np.float32).reshape(1, 1, -1, 1))
    np.testing.assert_allclose(s, [0, np.exp(-700.0), 3.7200759760208356e-44, 0.5, 1, 1, 1], rtol=1e-12, atol=0)
    assert np.isfinite(y).all() and y.ravel()[-1] == 1e4


def test_swish_and_friends_values():
    x = np.array([-2.0, -0.5, 0.5, 3.0]).reshape(1, 1, 4, 1)
    np.testing.assert_allclose(Swish().forward(x), x / (1 + np.exp(-x)))
    np.testing.assert_allclose(ReLU().forward(x), np.maximum(x, 0))
    np.testing.assert_allclose(LeakyReLU(0.3).forward(x), np.where(x > 0, x, 0.3 * x))
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        get_activation("gelu")


def test_conv2d_same_output_sizes_match_keras():
    conv = Conv2D(3, 4, 3, stride=2)
    assert conv.output_shape((3, 1024, 512, 3)) == (3, 512, 256, 4)
    assert conv.output_shape((1, 7, 5, 3)) == (1, 4, 3, 4)
    assert Conv2D(3, 4, 3, padding="valid").output_shape((1, 7, 5, 3)) == (1, 5, 3, 4)
    with pytest.raises(ValueError, match="expects 3 input channels, got 2"):
        conv.forward(np.zeros((1, 8, 8, 2), np.float32))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 4, 3, padding="full")
    with pytest.raises(TypeError, match="float32 or float64"):
        conv.forward(np.zeros((1, 8, 8, 3), np.uint8))


def test_conv2d_computes_a_hand_example():
    """A 3x3 all-ones kernel on a 3x3 ramp, 'same': each output sums its (zero-padded) window."""
    conv = Conv2D(1, 1, 3, rng=np.random.default_rng(0))
    conv.params["W"][...] = 1.0
    conv.params["b"][...] = 0.5
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    expected = np.array([[8, 15, 12], [21, 36, 27], [20, 33, 24]], np.float32) + 0.5
    np.testing.assert_array_equal(conv.forward(x)[0, :, :, 0], expected)


def test_upsampling_values():
    x = np.array([[0.0, 1.0], [2.0, 4.0]]).reshape(1, 2, 2, 1)
    nearest = UpSampling2D(2).forward(x)[0, :, :, 0]
    np.testing.assert_array_equal(nearest, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 4, 4], [2, 2, 4, 4]])
    # TensorFlow half-pixel bilinear: samples at t = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25
    image = UpSampling2D(2, "bilinear").forward(np.array([0.0, 1.0]).reshape(1, 1, 2, 1))
    np.testing.assert_allclose(image[0, :, :, 0], [[0, 0.25, 0.75, 1]] * 2)
    with pytest.raises(ValueError, match="interpolation"):
        UpSampling2D(2, "cubic")


def test_dropout_is_inverted_seeded_and_identity_at_inference(rng):
    x = np.ones((4, 64, 64, 8), np.float32)
    layer = Dropout(0.25, rng=7)
    assert layer.forward(x, training=False) is x
    y = layer.forward(x, training=True)
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.75)                   # inverted: E[y] = x
    np.testing.assert_array_equal(layer.backward(x), y)             # same mask backward
    again = Dropout(0.25, rng=7).forward(x, training=True)
    np.testing.assert_array_equal(again, y)                         # same seed, same mask
    assert not np.array_equal(Dropout(0.25, rng=8).forward(x, training=True), y)
    assert not np.array_equal(layer.forward(x, training=True), y)   # a new mask each step
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_dropout_draws_its_mask_from_float32_uniforms_in_any_dtype(rng):
    """The mask is rng.random(shape, dtype=float32) >= rate, as float32 training always drew it,
    so a float64 twin built from the same seed drops the same units."""
    x = rng.standard_normal((2, 16, 8, 3))
    expected_keep = np.random.default_rng(5).random(x.shape, dtype=np.float32) >= 0.3
    y32 = Dropout(0.3, rng=5).forward(x.astype(np.float32), training=True)
    y64 = Dropout(0.3, rng=5).forward(x, training=True)
    np.testing.assert_array_equal(y32 != 0, expected_keep)
    np.testing.assert_array_equal(y64 != 0, expected_keep)
    np.testing.assert_allclose(y64[expected_keep], x[expected_keep] / 0.7, rtol=1e-15)


def test_a_layer_that_forgets_backward_cannot_be_created():
    class Double(Layer):
        def forward(self, x, training=False):
            return 2 * x

    with pytest.raises(TypeError, match="abstract method 'backward'|abstract method backward"):
        Double()
    with pytest.raises(TypeError, match="abstract"):
        Layer()


def test_layer_options_are_keywords(rng):
    """Options (rng, fast, ...) cannot be passed by position, so a new one cannot shift them."""
    for make in (lambda: Conv2D(3, 4, 3, 1, "same", rng), lambda: Dropout(0.1, 0),
                 lambda: Swish(False), lambda: get_activation("swish", False)):
        with pytest.raises(TypeError, match="positional"):
            make()


def test_identity_passes_both_ways():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    layer = Identity()
    assert layer.forward(x, training=True) is x and layer.backward(x) is x
    assert layer.params == {} and layer.state == {}


def test_he_normal_matches_keras():
    rng = np.random.default_rng(0)
    w = he_normal(rng, (3, 3, 256, 256))
    target = np.sqrt(2.0 / (3 * 3 * 256))
    assert w.dtype == np.float32
    assert w.std() == pytest.approx(target, rel=0.01)
    assert abs(w.mean()) < 0.01 * target
    assert np.abs(w).max() <= 2 * target / TRUNCATED_NORMAL_STD * (1 + 1e-6)   # truncated at 2 sigma
    np.testing.assert_array_equal(he_normal(np.random.default_rng(0), (3, 3, 256, 256)), w)


@pytest.mark.parametrize("dtype", [np.float16, np.int32])
def test_inputs_other_than_float32_or_float64_are_named_before_any_kernel(dtype):
    with pytest.raises(TypeError, match=f"float32 or float64 array, got dtype {np.dtype(dtype)}"):
        Conv2D(3, 2, 3, rng=np.random.default_rng(0)).forward(np.zeros((1, 4, 4, 3), dtype))
