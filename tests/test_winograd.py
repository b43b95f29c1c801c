"""Winograd convolution F(2x2,3x3) and F(4x4,3x3) (npcae.kernels.winograd): the transforms are
Lavin and Gray's, and forward, backward-data and backward-weights agree with the float64 loop
references on random shapes (odd sizes, tiles cut at the edge, "same" and "valid", one image
and several); the float32 error is measured and bounded."""
import numpy as np
import pytest

from npcae.kernels import reference
from npcae.kernels.winograd import (MATRICES, winograd_backward_data, winograd_backward_weights,
                                    winograd_forward)

PADDING = {1: "same", 0: "valid"}


@pytest.mark.parametrize("m", [2, 4])
def test_the_1d_transforms_compute_a_correlation_exactly(m, rng):
    """A^T [(G g) . (B^T d)] = the m outputs of correlating d (m + 2) with g (3)."""
    mats = MATRICES[m]
    d, g = rng.normal(size=m + 2), rng.normal(size=3)
    expected = np.array([d[i:i + 3] @ g for i in range(m)])
    np.testing.assert_allclose(mats["AT"] @ ((mats["G"] @ g) * (mats["BT"] @ d)), expected,
                               rtol=1e-13, atol=1e-13)


def random_case(rng, n, h, w, c, f, pad):
    x = rng.normal(size=(n, h, w, c))
    weights = rng.normal(size=(3, 3, c, f)) / np.sqrt(9 * c)
    out_h, out_w = h + 2 * pad - 2, w + 2 * pad - 2
    dy = rng.normal(size=(n, out_h, out_w, f))
    return x, weights, dy


SHAPES = [(1, 5, 7, 3, 4, 1), (2, 8, 8, 5, 6, 1), (1, 9, 6, 16, 8, 0), (3, 4, 11, 2, 9, 0),
          (1, 3, 3, 1, 1, 1)]


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("n, h, w, c, f, pad", SHAPES)
def test_every_pass_in_float64_matches_the_loop_references(m, n, h, w, c, f, pad, rng):
    x, weights, dy = random_case(rng, n, h, w, c, f, pad)
    bias = rng.normal(size=f)
    expected = reference.conv2d_forward(x, weights, bias, 1, PADDING[pad])
    np.testing.assert_allclose(winograd_forward(x, weights, m, pad, bias), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(reference.winograd_forward_loops(x, weights, m, pad, MATRICES[m]),
                               expected - bias, rtol=1e-10, atol=1e-10)
    dx, dw, _ = reference.conv2d_backward(dy, x, weights, 1, PADDING[pad])
    np.testing.assert_allclose(winograd_backward_data(dy, weights, m, pad), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(winograd_backward_weights(x, dy, m, pad), dw, rtol=1e-10, atol=1e-10)


def relative_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("m, bound", [(2, 2e-6), (4, 1e-5)])
def test_float32_error_against_float64_is_small_and_larger_for_bigger_tiles(m, bound, rng):
    """Relative L2 error in float32 of each pass on a 32x32x32 -> 32 layer; F(4,3)'s larger
    transform entries cost precision (MKL-DNN reports ~2e-7 for its forward F(4,3))."""
    x, weights, dy = random_case(rng, 2, 32, 32, 32, 32, 1)
    expected = reference.conv2d_forward(x, weights, 0, 1, "same")
    dx, dw, _ = reference.conv2d_backward(dy, x, weights, 1, "same")
    x32, w32, dy32 = (a.astype(np.float32) for a in (x, weights, dy))
    errors = [relative_l2(winograd_forward(x32, w32, m, 1), expected),
              relative_l2(winograd_backward_data(dy32, w32, m, 1), dx),
              relative_l2(winograd_backward_weights(x32, dy32, m, 1), dw)]
    assert max(errors) < bound, errors
    assert min(errors) > 1e-9                    # float32, really: the check can fail


def test_only_3x3_kernels_are_taken(rng):
    with pytest.raises(ValueError, match="3x3 kernels"):
        winograd_forward(rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(5, 5, 2, 2)))
    with pytest.raises(ValueError, match="2x2 or 4x4"):
        winograd_forward(rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(3, 3, 2, 2)), m=3)


@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "im2col", "direct"])
@pytest.mark.parametrize("padding, nhwc, filters", [("same", (2, 9, 10, 5), 8), ("valid", (1, 7, 12, 3), 16)])
def test_conv2d_with_a_forced_algorithm_matches_the_loops(algo, padding, nhwc, filters, rng):
    from npcae.layers import Conv2D
    fast = Conv2D(nhwc[3], filters, 3, 1, padding, rng=np.random.default_rng(1), algo=algo)
    loops = Conv2D(nhwc[3], filters, 3, 1, padding, rng=np.random.default_rng(1), fast=False)
    fast.params["b"][...] = loops.params["b"][...] = rng.normal(size=filters)
    x = rng.normal(size=nhwc)
    y = fast.forward(x, training=True)
    np.testing.assert_allclose(y, loops.forward(x, training=True), rtol=1e-10, atol=1e-10)
    dy = rng.normal(size=y.shape)
    np.testing.assert_allclose(fast.backward(dy), loops.backward(dy), rtol=1e-10, atol=1e-10)
    for name in ("W", "b"):
        np.testing.assert_allclose(fast.grads[name], loops.grads[name], rtol=1e-10, atol=1e-10)
    road = fast.plan(dtype=np.float64, input_shape=x.shape).forward
    assert road == {"winograd2": "winograd F(2x2,3x3)", "winograd4": "winograd F(4x4,3x3)",
                    "direct": "direct"}.get(algo, "kept columns")


def test_an_algorithm_that_cannot_run_the_layer_is_refused(rng):
    from npcae.layers import Conv2D
    with pytest.raises(ValueError, match="3x3 stride-1"):
        Conv2D(2, 4, 3, 2, "same", algo="winograd4").forward(rng.normal(size=(1, 6, 6, 2)))
    with pytest.raises(ValueError, match="direct kernels take up to 64 filters"):
        Conv2D(2, 128, 3, 1, "same", algo="direct").forward(rng.normal(size=(1, 6, 6, 2)))
    with pytest.raises(ValueError, match="algo must be one of"):
        Conv2D(2, 4, 3, algo="fft")
