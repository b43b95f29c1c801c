"""Every fast path against the plain path it replaces. Their gradient checks (fused UpConv2D with
kept and shared columns, Numba swish, ...) are cases of npcae/gradcheck/cases.py: CASES."""
import importlib

import numpy as np
import pytest

from npcae.gradcheck.core import check_layer
from npcae.kernels import subpixel
from npcae.kernels.elementwise import scale_mask
from npcae.kernels.launch import SERIAL_BELOW
from npcae.layers import Conv2D, Swish, UpConv2D, UpSampling2D
from npcae.models import cae

im2col_module = importlib.import_module("npcae.kernels.im2col")    # not the function of that name

TOLERANCE = 1e-6


def upconv(c_in, c_out, rng, kernel=3, interpolation="nearest", size=2, fast=True,
           keep_columns=None):
    conv = Conv2D(c_in, c_out, kernel, rng=rng, keep_columns=keep_columns)
    conv.params["b"][...] = rng.standard_normal(c_out)
    return UpConv2D(UpSampling2D(size, interpolation), conv, fast=fast)


def run(layer, x, dy):
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    return y, dx, {k: v.copy() for k, v in layer.grads.items()}


def assert_same_results(one, other, atol=1e-12, grads_atol=None):
    """Two run() results agree: y and dx to atol, every gradient to grads_atol (default atol)."""
    for a, b in zip(one[:2], other[:2]):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    for name in one[2]:
        np.testing.assert_allclose(one[2][name], other[2][name], rtol=0, atol=grads_atol or atol)


# C = 5 and 9 with 1 filter take backward_data's im2col road (4F < C); the rest col2im.
@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (1, 1, 1, 3), (3, 5, 2, 1), (2, 6, 6, 5),
                                   (2, 3, 5, 9)])
@pytest.mark.parametrize("filters", [1, 3])
@pytest.mark.parametrize("keep_columns", [True, False], ids=["kept-columns", "shared-columns"])
def test_subpixel_upconv_equals_upsample_then_conv(shape, filters, keep_columns, rng):
    layer = upconv(shape[-1], filters, rng, keep_columns=keep_columns).astype(np.float64)
    assert layer.fused
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(layer.output_shape(shape))
    fast = run(layer, x, dy)
    layer.fast = False
    plain = run(layer, x, dy)
    assert_same_results(fast, plain, grads_atol=1e-11)


def test_subpixel_float32_stays_float32_and_close(rng):
    layer = upconv(8, 6, rng)
    x = rng.standard_normal((2, 5, 4, 8)).astype(np.float32)
    dy = rng.standard_normal((2, 10, 8, 6)).astype(np.float32)
    fast = run(layer, x, dy)
    layer.fast = False
    plain = run(layer, x, dy)
    assert all(a.dtype == np.float32 for a in fast[:2])
    for a, b in zip(fast[:2], plain[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(kernel=1), dict(kernel=5), dict(interpolation="bilinear"),
                                    dict(size=3)], ids=str)
def test_unfusable_pairs_fall_back_to_the_plain_path(kwargs, rng):
    layer = upconv(2, 3, rng, **kwargs).astype(np.float64)
    assert not layer.fused
    x = rng.standard_normal((2, 3, 4, 2))
    y = layer.forward(x)
    expected = layer.conv.forward(layer.upsample.forward(x))
    np.testing.assert_array_equal(y, expected)
    assert check_layer(layer, x).passed(TOLERANCE)


def test_phase_weights_grad_is_the_adjoint_of_phase_weights(rng):
    w, d = rng.standard_normal((3, 3, 4, 5)), rng.standard_normal((16, 20))
    lhs = np.sum(subpixel.phase_weights(w) * d)
    rhs = np.sum(w * subpixel.phase_weights_grad(d, 4, 5))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_fast_and_plain_cae_agree_through_a_training_step(rng):
    x = rng.random((2, 16, 8, 3))
    dy = rng.standard_normal((2, 16, 8, 1))
    results = []
    for fast in (True, False):
        model = cae((2, 3, 4), seed=3, fast=fast).astype(np.float64)
        results.append((model.forward(x, training=True), model.backward(dy),
                        [g.copy() for _, _, g in model.named_parameters()]))
    (y1, dx1, g1), (y2, dx2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx1, dx2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [998, SERIAL_BELOW + 2])  # the serial loop; the parallel one
def test_numba_swish_equals_the_numpy_formula(dtype, size, rng):
    x = np.concatenate([rng.standard_normal(size) * 6, [0.0, -0.0, 88.0, -88.0, 1e4, -1e4]])
    x = x.astype(dtype).reshape(2, 1, -1, 2)
    dy = rng.standard_normal(x.shape).astype(dtype)
    fast, plain = Swish(fast=True), Swish(fast=False)
    y1, y2 = fast.forward(x, training=True), plain.forward(x, training=True)
    dx1, dx2 = fast.backward(dy), plain.backward(dy)
    assert y1.dtype == dx1.dtype == dtype and np.isfinite(y1).all() and np.isfinite(dx1).all()
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(y1, y2, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx1, dx2, rtol=tol, atol=tol)


@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), ((2, 3), 1), (1, 1)])
def test_kept_columns_equal_shared_columns(kernel, stride, rng):
    layer = Conv2D(3, 4, kernel, stride, rng=rng, keep_columns=True).astype(np.float64)
    layer.params["b"][...] = rng.standard_normal(4)
    x = rng.standard_normal((2, 7, 6, 3))
    dy = rng.standard_normal(layer.output_shape(x.shape))
    kept = run(layer, x, dy)
    layer.keep_columns = False
    shared = run(layer, x, dy)
    assert_same_results(kept, shared)


def test_a_backward_after_an_inference_forward_is_refused(rng):
    """Validation between a training forward and its backward would make the backward compute
    the gradient at the validation input (a conv's columns, an activation's cache): refused."""
    from npcae.layers.base import BackwardOrderError
    layer = Conv2D(3, 4, 3, rng=rng).astype(np.float64)
    assert layer.keep_columns                                 # 4 filters: a thin layer
    x, other = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((2, 5, 4, 3))
    dy = rng.standard_normal(layer.output_shape(x.shape))
    with pytest.raises(BackwardOrderError, match="there was no forward"):
        layer.backward(dy)
    layer.forward(x, training=True)
    layer.forward(other, training=False)
    with pytest.raises(BackwardOrderError, match="inference forward"):
        layer.backward(dy)
    _, dx, _ = run(layer, x, dy)                              # a training forward again: fine
    np.testing.assert_array_equal(dx, run(layer, x, dy)[1])


@pytest.mark.parametrize("make", [lambda rng: Conv2D(5, 3, 3, rng=rng, keep_columns=False),
                                  lambda rng: upconv(9, 2, rng, keep_columns=False),
                                  lambda rng: upconv(3, 4, rng, keep_columns=False)],
                         ids=["conv", "upconv-im2col-road", "upconv-col2im-road"])
def test_workspace_blocks_give_the_unblocked_result(make, rng, monkeypatch):
    layer = make(rng).astype(np.float64)
    x = rng.standard_normal((2, 6, 4, layer.params["W"].shape[2]))
    dy = rng.standard_normal(layer.output_shape(x.shape))
    whole = run(layer, x, dy)
    blocks = []
    original = im2col_module.im2col_blocks

    def counted(*args, **kwargs):
        for block in original(*args, **kwargs):
            blocks.append(block[0])
            yield block
    monkeypatch.setattr(im2col_module, "BLOCK_BYTES", 1)             # one image row per block
    monkeypatch.setattr(im2col_module, "im2col_blocks", counted)
    blocked = run(layer, x, dy)
    assert len(blocks) >= 2 * 6
    assert_same_results(whole, blocked)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_relu_equals_the_numpy_formula(dtype, rng):
    from npcae.layers import ReLU
    x = rng.standard_normal((2, 40, 30, 3)).astype(dtype)
    x[0, 0, 0, :2] = (0.0, -0.0)                         # the kink: both give +0 and no gradient
    dy = rng.standard_normal(x.shape).astype(dtype)
    fast, plain = ReLU(), ReLU(fast=False)
    np.testing.assert_array_equal(fast.forward(x, training=True), plain.forward(x, training=True))
    np.testing.assert_array_equal(fast.backward(dy), plain.backward(dy))
    assert fast.forward(x, training=True).dtype == dtype and not np.signbit(fast.forward(x)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phase_weights_are_the_einsum_definition_bit_for_bit(dtype, rng):
    """subpixel.phase_weights and its adjoint add the kernel taps in the order the einsum of
    their definition does: the same bits (a trained run's figures do not move)."""
    m = subpixel.PHASE_TAPS.astype(dtype)
    weights = rng.standard_normal((3, 3, 7, 5)).astype(dtype)
    expected = np.einsum("auy,bvx,yxcf->uvcabf", m, m, weights).reshape(28, 20)
    assert np.array_equal(subpixel.phase_weights(weights), expected)
    d_sub = rng.standard_normal((28, 20)).astype(dtype)
    expected = np.einsum("auy,bvx,uvcabf->yxcf", m, m, d_sub.reshape(2, 2, 7, 2, 2, 5))
    assert np.array_equal(subpixel.phase_weights_grad(d_sub, 7, 5), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1000, SERIAL_BELOW])  # numpy's two passes; the Numba one
def test_dropout_mask_pass_equals_numpy_bit_for_bit(dtype, size, rng):
    a = rng.standard_normal(size).astype(dtype)
    a[:4] = [-0.0, np.nan, np.inf, -np.inf]
    keep = rng.random(size) >= 0.3
    with np.errstate(invalid="ignore"):                # inf * 0, dropped: NaN, as numpy's
        expected = a * dtype(1 / 0.7) * keep
        got = scale_mask(a, keep, 1 / 0.7)
    assert got.dtype == dtype
    assert np.array_equal(got.view(np.uint8), expected.view(np.uint8))   # signed zeros, NaNs
