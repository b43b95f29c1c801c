"""DepthwiseConv2D and its kernels (kernels/depthwise.py) against the plain NumPy reference
(kernels/reference.py), Keras's layout and padding, and the same bits at any thread count.
The gradient checks are in the catalogue (gradcheck/cases.py: depthwise_case, relu6_case)."""
import numba
import numpy as np
import pytest

from npcae.kernels import conv_geometry, depthwise, reference
from npcae.layers import DepthwiseConv2D, ReLU6

CONFIGS = [((2, 7, 6, 3), 3, 1, "same", 1), ((2, 8, 8, 5), 3, 2, "same", 2),
           ((1, 9, 7, 4), 3, 2, "valid", 3), ((3, 5, 5, 2), 1, 1, "same", 1),
           ((1, 6, 9, 3), (3, 2), 2, "same", 1), ((2, 33, 17, 16), 5, 2, "same", 1)]


@pytest.mark.parametrize("shape, kernel, stride, padding, multiplier", CONFIGS)
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_kernels_equal_the_reference(rng, monkeypatch, shape, kernel, stride, padding,
                                     multiplier, parallel):
    monkeypatch.setattr(depthwise, "SERIAL_BELOW", 0 if parallel else 1 << 62)
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    x = rng.standard_normal(shape)
    w = rng.standard_normal((kh, kw, shape[-1], multiplier))
    g = conv_geometry(*shape[1:3], kh, kw, stride, padding)
    y = depthwise.depthwise_forward(x, w, g)
    np.testing.assert_allclose(y, reference.depthwise_forward(x, w, g), rtol=1e-13, atol=1e-13)
    dy = rng.standard_normal(y.shape)
    dx, dw = reference.depthwise_backward(x, w, dy, g)
    np.testing.assert_allclose(depthwise.depthwise_backward_data(dy, w, x.shape, g), dx,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(depthwise.depthwise_backward_weights(x, dy, w.shape, g), dw,
                               rtol=1e-12, atol=1e-12)


def test_every_pass_gives_the_same_bits_at_any_thread_count(rng, monkeypatch):
    monkeypatch.setattr(depthwise, "SERIAL_BELOW", 0)                 # the parallel kernels
    x = rng.standard_normal((3, 20, 18, 24)).astype(np.float32)
    w = rng.standard_normal((3, 3, 24, 1)).astype(np.float32)
    g = conv_geometry(20, 18, 3, 3, 2, "same")
    dy = rng.standard_normal((3, g.out_h, g.out_w, 24)).astype(np.float32)

    def passes():
        return (depthwise.depthwise_forward(x, w, g), depthwise.depthwise_backward_data(dy, w, x.shape, g),
                depthwise.depthwise_backward_weights(x, dy, w.shape, g))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = passes()
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(one, passes()):
        assert np.array_equal(a, b)


def test_the_layer_is_keras_s_depthwise_conv(rng):
    """Keras: output channel c*M + m is channel c through filter W[:, :, c, m], plus its bias;
    stride 2 "same" on an even size pads 0 before and 1 after (MobileNetV2's ZeroPadding)."""
    layer = DepthwiseConv2D(2, 3, 2, "same", depth_multiplier=2, rng=rng).astype(np.float64)
    layer.params["b"][...] = [0.5, -1, 2, 3]
    x = rng.standard_normal((1, 6, 6, 2))
    y = layer.forward(x)
    assert y.shape == (1, 3, 3, 4)
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))      # 0 before, 1 after
    w = layer.params["W"]
    for c in range(2):
        for m in range(2):
            expected = [[np.sum(padded[0, 2 * p:2 * p + 3, 2 * q:2 * q + 3, c] * w[:, :, c, m])
                         for q in range(3)] for p in range(3)]
            np.testing.assert_allclose(y[0, ..., 2 * c + m], np.array(expected) + layer.params["b"][2 * c + m])
    assert layer.forward_macs(x.shape) == 3 * 3 * 4 * 9
    assert layer.output_shape(x.shape) == y.shape


@pytest.mark.parametrize("bad", [dict(channels=0), dict(stride=0), dict(depth_multiplier=1.5),
                                 dict(kernel_size=True), dict(padding="full")])
def test_bad_arguments_are_one_message(bad):
    args = {**dict(channels=3, kernel_size=3, stride=1, padding="same", depth_multiplier=1), **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        DepthwiseConv2D(**args)


def test_relu6_clips_at_0_and_6_and_passes_gradient_only_between():
    layer = ReLU6()
    x = np.array([[-1.0, 0.0, 3.0, 6.0, 7.0]])
    np.testing.assert_array_equal(layer.forward(x, training=True), [[0, 0, 3, 6, 6]])
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), [[0, 0, 1, 0, 0]])
