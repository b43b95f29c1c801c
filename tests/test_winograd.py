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


KINDS = [(2, 3), (4, 3), (2, 2)]                  # F(m x m, r x r)


@pytest.mark.parametrize("m, r", KINDS)
def test_the_1d_transforms_compute_a_correlation_exactly(m, r, rng):
    """A^T [(G g) . (B^T d)] = the m outputs of correlating d (m + r - 1) with g (r)."""
    mats = MATRICES[m, r]
    d, g = rng.normal(size=m + r - 1), rng.normal(size=r)
    expected = np.array([d[i:i + r] @ g for i in range(m)])
    np.testing.assert_allclose(mats["AT"] @ ((mats["G"] @ g) * (mats["BT"] @ d)), expected,
                               rtol=1e-13, atol=1e-13)


def random_case(rng, n, h, w, c, f, pad, r=3):
    x = rng.normal(size=(n, h, w, c))
    weights = rng.normal(size=(r, r, c, f)) / np.sqrt(r * r * c)
    out_h, out_w = h + 2 * pad - r + 1, w + 2 * pad - r + 1
    dy = rng.normal(size=(n, out_h, out_w, f))
    return x, weights, dy


def reference_passes(x, weights, dy, pad, bias=0):
    """(y, dx, dw) of the stride-1 convolution padded by `pad` on every side, by the loops."""
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    y = reference.conv2d_forward(padded, weights, bias, 1, "valid")
    d_padded, dw, _ = reference.conv2d_backward(dy, padded, weights, 1, "valid")
    return y, d_padded[:, pad:pad + x.shape[1], pad:pad + x.shape[2]], dw


SHAPES = [(1, 5, 7, 3, 4, 1), (2, 8, 8, 5, 6, 1), (1, 9, 6, 16, 8, 0), (3, 4, 11, 2, 9, 0),
          (1, 3, 3, 1, 1, 1)]


@pytest.mark.parametrize("m, r", KINDS)
@pytest.mark.parametrize("n, h, w, c, f, pad", SHAPES)
def test_every_pass_in_float64_matches_the_loop_references(m, r, n, h, w, c, f, pad, rng):
    x, weights, dy = random_case(rng, n, h, w, c, f, pad, r)
    bias = rng.normal(size=f)
    expected, dx, dw = reference_passes(x, weights, dy, pad, bias)
    np.testing.assert_allclose(winograd_forward(x, weights, m, pad, bias), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(reference.winograd_forward_loops(x, weights, m, pad, MATRICES[m, r]),
                               expected - bias, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(winograd_backward_data(dy, weights, m, pad), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(winograd_backward_weights(x, dy, m, pad, r), dw, rtol=1e-10, atol=1e-10)


def relative_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("m, r, bound", [(2, 3, 2e-6), (4, 3, 1e-5), (2, 2, 2e-6)])
def test_float32_error_against_float64_is_small_and_larger_for_bigger_tiles(m, r, bound, rng):
    """Relative L2 error in float32 of each pass on a 32x32x32 -> 32 layer; F(4,3)'s larger
    transform entries cost precision (MKL-DNN reports ~2e-7 for its forward F(4,3))."""
    x, weights, dy = random_case(rng, 2, 32, 32, 32, 32, 1, r)
    expected, dx, dw = reference_passes(x, weights, dy, 1)
    x32, w32, dy32 = (a.astype(np.float32) for a in (x, weights, dy))
    errors = [relative_l2(winograd_forward(x32, w32, m, 1), expected),
              relative_l2(winograd_backward_data(dy32, w32, m, 1), dx),
              relative_l2(winograd_backward_weights(x32, dy32, m, 1, r), dw)]
    assert max(errors) < bound, errors
    assert min(errors) > 1e-9                    # float32, really: the check can fail


def test_only_3x3_and_2x2_kernels_are_taken(rng):
    with pytest.raises(ValueError, match="3x3 and 2x2 kernels"):
        winograd_forward(rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(5, 5, 2, 2)))
    with pytest.raises(ValueError, match=r"not F\(3x3,3x3\)"):
        winograd_forward(rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(3, 3, 2, 2)), m=3)
    with pytest.raises(ValueError, match=r"not F\(4x4,2x2\)"):
        winograd_forward(rng.normal(size=(1, 5, 5, 2)), rng.normal(size=(2, 2, 2, 2)), m=4)


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


@pytest.mark.parametrize("m", [2, 4])
def test_tiles_in_many_blocks_give_the_one_block_result(m, rng, monkeypatch):
    """The tiles go through in blocks (winograd.BLOCK_BYTES); a block boundary mid-image, mid-row
    and at the last partial block changes nothing beyond float64 rounding."""
    from npcae.kernels import winograd
    x, weights, dy = random_case(rng, 2, 9, 10, 3, 5, 1)
    whole = (winograd_forward(x, weights, m, 1), winograd_backward_weights(x, dy, m, 1))
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)               # 32 tiles a block, the least
    assert len(winograd.tile_blocks(2 * 5 * 5, (m + 2) ** 2, 5, 8)) == 2
    blocked = (winograd_forward(x, weights, m, 1), winograd_backward_weights(x, dy, m, 1))
    for got, expected in zip(blocked, whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(blocked[0], reference.conv2d_forward(x, weights, 0, 1, "same"),
                               rtol=1e-10, atol=1e-10)


F32, F64 = np.float32, np.float64
FUSED_CASES = [   # dtype, (N, H, W, C, F, pad), tiles per task or group: whole vectors of C and F
    (F32, (2, 9, 7, 16, 32, 1), 8), (F64, (2, 9, 7, 16, 32, 1), 8),   # short last task/group
    (F32, (1, 13, 10, 32, 48, 1), 16),     # 48 filters: two vectors and one more
    (F64, (1, 13, 10, 32, 48, 1), 4),      # many short groups (the weight gradient's)
    (F32, (3, 5, 6, 16, 16, 0), 8),        # "valid"; one vector of filters
    (F64, (2, 7, 9, 16, 24, 1), 8)]        # 24 filters: three vectors of float64


@pytest.mark.parametrize("dtype, shape, per_task", [c for c in FUSED_CASES if c[2] % 8 == 0])
def test_the_fused_forward_gives_the_batched_forms_result(dtype, shape, per_task, rng,
                                                          monkeypatch):
    """winograd_fused (transform, GEMM and untransform per group of tiles, in cache) against the
    batched form (BLAS between the passes) and the loops, on shapes it takes."""
    from npcae.kernels import winograd_fused
    n, h, w, c, f, pad = shape
    assert winograd_fused.fits(c, f, dtype)
    x, weights, _ = random_case(rng, n, h, w, c, f, pad)
    x, weights, bias = x.astype(dtype), weights.astype(dtype), rng.normal(size=f).astype(dtype)
    monkeypatch.setattr(winograd_fused, "PER_TASK", per_task)
    fused = winograd_forward(x, weights, 4, pad, bias)
    monkeypatch.setattr(winograd_fused, "fits", lambda *args: False)
    batched = winograd_forward(x, weights, 4, pad, bias)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused, batched, rtol=tolerance, atol=tolerance)
    padded = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    expected = reference.conv2d_forward(padded, weights.astype(np.float64), bias, 1, "valid")
    np.testing.assert_allclose(fused, expected, rtol=10 * tolerance, atol=10 * tolerance)


@pytest.mark.parametrize("dtype, shape, group", FUSED_CASES)
def test_the_fused_weight_gradient_gives_the_batched_forms_result(dtype, shape, group, rng,
                                                                  monkeypatch):
    from npcae.kernels import winograd_fused
    n, h, w, c, f, pad = shape
    assert winograd_fused.fits_weights(c, f, dtype)
    x, weights, dy = random_case(rng, n, h, w, c, f, pad)
    _, _, expected = reference_passes(x, weights, dy, pad)
    x, dy = x.astype(dtype), dy.astype(dtype)
    monkeypatch.setattr(winograd_fused, "WEIGHT_GROUP", group)
    fused = winograd_backward_weights(x, dy, 4, pad)
    monkeypatch.setattr(winograd_fused, "fits_weights", lambda *args: False)
    batched = winograd_backward_weights(x, dy, 4, pad)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    scale = np.abs(expected).max()
    np.testing.assert_allclose(fused, batched, rtol=0, atol=tolerance * scale)
    np.testing.assert_allclose(fused, expected, rtol=0, atol=10 * tolerance * scale)


def test_the_fused_forward_leaves_wide_filters_to_blas():
    from npcae.kernels import winograd_fused
    assert winograd_fused.fits(64, 64, np.float32) and winograd_fused.fits(128, 128, np.float32)
    assert not winograd_fused.fits(256, 128, np.float32)         # U[p] 128 KB: BLAS's batches
    assert not winograd_fused.fits(24, 32, np.float32)           # not whole vectors
    assert not winograd_fused.fits(16, 16, np.int32)
    with pytest.raises(ValueError, match="multiple of 8"):
        winograd_fused.forward(*[None] * 9, per_task=12)
    assert winograd_fused.fits_weights(64, 128, np.float32)
    assert not winograd_fused.fits_weights(128, 128, np.float32)      # dU[p] 64 KB: BLAS's


def test_wide_3x3_layers_choose_winograd_by_shape_and_summary_shows_it(rng):
    """conv_choice's table: F(4x4,3x3) for 3x3 stride-1 layers wide on both sides and big
    enough; from fewer channels once frozen (the filter transform made once); never strided."""
    from npcae.layers import Conv2D
    from npcae.layers.conv_choice import WINOGRAD_CHANNELS as WIDE
    from npcae.layers.conv_choice import WINOGRAD_MIN_PIXELS
    from npcae.layers.conv_functions import WINOGRAD_4
    from npcae.models.containers import Sequential
    conv = Conv2D(WIDE, WIDE, 3, rng=rng)
    big = (8, 16, 16, WIDE)
    assert 8 * 16 * 16 >= WINOGRAD_MIN_PIXELS["training"]
    assert conv.plan(True, input_shape=big).forward == WINOGRAD_4
    assert Conv2D(WIDE // 2, WIDE, 3, rng=rng).plan(True, input_shape=big[:3] + (WIDE // 2,)
                                                   ).forward != WINOGRAD_4       # too narrow
    assert Conv2D(WIDE, WIDE, 3, stride=2, rng=rng).plan(True, input_shape=big).forward != WINOGRAD_4
    small = (1, 16, 16, WIDE)                    # enough pixels only when the filters are free
    assert conv.plan(True, input_shape=small).forward != WINOGRAD_4
    conv.freeze()
    assert conv.plan(False, input_shape=small).forward == WINOGRAD_4
    assert conv.plan(True, input_shape=small).forward != WINOGRAD_4       # training: not counted free
    assert "winograd F(4x4,3x3)" in Sequential(conv).summary(big)


def test_a_frozen_layer_transforms_its_filters_once(rng):
    """freeze(): the filter transform is made on the first forward and reused; the output is
    the unfrozen Winograd layer's, bit for bit, and the loops' to float32 rounding."""
    from npcae.layers import Conv2D
    conv = Conv2D(64, 64, 3, rng=rng, algo="winograd4")
    x = rng.normal(size=(1, 12, 12, 64)).astype(np.float32)
    before = conv.forward(x)
    conv.freeze()
    first, second = conv.forward(x), conv.forward(x)
    assert list(conv._transformed) == [(4, "<f4")]
    np.testing.assert_array_equal(first, before)
    np.testing.assert_array_equal(second, before)
    exact = reference.conv2d_forward(x.astype(np.float64), conv.params["W"].astype(np.float64),
                                     conv.params["b"].astype(np.float64), 1, "same")
    assert np.max(np.abs(first - exact)) / np.max(np.abs(exact)) < 1e-5
