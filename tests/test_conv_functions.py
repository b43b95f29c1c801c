"""The convolution's functional core (layers/conv_functions.py): each road against the loops of
kernels/reference.py, and the plan a layer shows in repr, summary() and the trace."""
import numpy as np
import pytest

from npcae.kernels import conv_geometry, direct, direct_data, direct_weights, reference
from npcae.kernels.workspace import KeptColumns
from npcae.layers import Conv2D
from npcae.layers.conv_functions import (COL2IM, COLUMN_BLOCKS, DIRECT, FLIPPED_DIRECT,
                                         FLIPPED_KERNEL, KEPT_COLUMNS, POINTWISE,
                                         WHOLE_COLUMNS, conv_backward_data,
                                         conv_backward_weights, conv_forward, conv_plan,
                                         flipped_kernel)


@pytest.mark.parametrize("kernel, stride, padding, keep, flip", [
    (3, 1, "same", True, True), (3, 1, "same", False, True), (3, 2, "same", False, False),
    (3, 2, "same", True, False), (2, 2, "valid", False, False), (1, 1, "same", False, False)])
def test_every_road_computes_the_reference(kernel, stride, padding, keep, flip, rng):
    x = rng.standard_normal((2, 7, 6, 3))
    weights, bias = rng.standard_normal((kernel, kernel, 3, 4)), rng.standard_normal(4)
    geom = conv_geometry(7, 6, kernel, kernel, stride, padding)
    plan = conv_plan(geom, keep=keep, flip_data=flip)
    kept, w = KeptColumns(), weights.reshape(-1, 4)
    y = conv_forward(x, geom, w, bias, plan, kept).reshape(2, geom.out_h, geom.out_w, 4)
    np.testing.assert_allclose(y, reference.conv2d_forward(x, weights, bias, stride, padding),
                               rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(dy, x, weights, stride, padding)
    dw, db, cols = conv_backward_weights(x, geom, dy.reshape(-1, 4), plan, kept)
    flipped = (dy, geom, flipped_kernel(weights)) if plan.data == FLIPPED_KERNEL else None
    dx = conv_backward_data(dy.reshape(-1, 4), geom, w, x.shape, plan, cols, flipped)
    for got, expected in ((dw.reshape(weights.shape), dw_ref), (db, db_ref), (dx, dx_ref)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_a_layer_shows_the_roads_it_takes(rng):
    thin, wide = Conv2D(3, 4, 3, rng=rng), Conv2D(3, 128, 3, 2, rng=rng)
    assert thin.plan() == (KEPT_COLUMNS, KEPT_COLUMNS, FLIPPED_KERNEL)
    assert thin.plan(training=False).forward != KEPT_COLUMNS
    assert wide.plan() == ("column blocks", WHOLE_COLUMNS, COL2IM)
    assert Conv2D(3, 4, 1, rng=rng).plan() == (POINTWISE,) * 3
    assert "[kept columns / kept columns / flipped kernel]" in repr(thin)
    x = rng.standard_normal((1, 8, 6, 3)).astype(np.float32)
    wide.forward(x, training=True)
    assert wide.last_plan == wide.plan()
    from npcae.layers import Sigmoid
    from npcae.losses.binary import MSELoss
    from npcae.models import Sequential
    from npcae.optim import Adam
    from npcae.diagnostics.trace import trace_step
    model = Sequential(Conv2D(3, 1, 3, rng=rng), Sigmoid())
    trace = trace_step(model, MSELoss(), Adam(model.named_parameters()), x, np.zeros((1, 8, 6, 1), np.float32))
    assert trace.layers[0].plan == "kept columns / kept columns / flipped kernel"
    assert "kept columns / kept columns / flipped kernel" in trace.table()


DIRECT_SHAPES = [      # (N, H, W, C, F, KH, KW, stride, padding): edges, widths below 8, strides
    (2, 7, 11, 3, 16, 3, 3, 1, "same"), (1, 9, 20, 5, 32, 3, 5, 2, "same"),
    (2, 13, 17, 4, 16, 2, 2, 2, "valid"), (1, 5, 3, 2, 16, 3, 3, 1, "same"),
    (1, 6, 30, 3, 48, 5, 5, 3, "valid"), (1, 4, 40, 8, 16, 1, 3, 1, "same"),
    (1, 3, 9, 2, 16, 4, 4, 1, "same")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", DIRECT_SHAPES)
@pytest.mark.parametrize("parallel", [False, True])
def test_the_direct_road_computes_the_reference(shape, dtype, parallel, rng, monkeypatch):
    n, h, w, c, f, kh, kw, stride, padding = shape
    f = f if dtype == np.float32 else f // 2                   # 16 or 8 lanes
    monkeypatch.setattr(direct, "SERIAL_BELOW_MACS", 0 if parallel else 1 << 60)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    weights = rng.standard_normal((kh, kw, c, f)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    geom = conv_geometry(h, w, kh, kw, stride, padding)
    y = direct.direct_conv(x, geom, weights.reshape(-1, f), bias)
    expected = reference.conv2d_forward(x, weights, bias, stride, padding).reshape(y.shape)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y, expected, rtol=0, atol=tolerance * np.abs(expected).max(),
                               err_msg=f"{shape} {dtype.__name__}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", DIRECT_SHAPES)
@pytest.mark.parametrize("parallel", [False, True])
def test_the_direct_weight_gradient_computes_the_reference(shape, dtype, parallel, rng,
                                                           monkeypatch):
    n, h, w, c, f, kh, kw, stride, padding = shape
    f = f if dtype == np.float32 else f // 2
    monkeypatch.setattr(direct_weights, "SERIAL_BELOW_MACS", 0 if parallel else 1 << 60)
    x = rng.standard_normal((n, h, w, c + 7)).astype(dtype)       # 8 channels at once and the rest
    weights = rng.standard_normal((kh, kw, c + 7, f)).astype(dtype)
    geom = conv_geometry(h, w, kh, kw, stride, padding)
    dy = rng.standard_normal((n, geom.out_h, geom.out_w, f)).astype(dtype)
    dw = direct_weights.direct_weights_grad(x, geom, dy.reshape(-1, f))
    expected = reference.conv2d_backward(dy, x, weights, stride, padding)[1].reshape(dw.shape)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(dw, expected, rtol=0, atol=tolerance * np.abs(expected).max(),
                               err_msg=f"{shape} {dtype.__name__}")


def test_the_direct_weight_gradient_does_not_depend_on_the_thread_count(rng, monkeypatch):
    import numba
    monkeypatch.setattr(direct_weights, "SERIAL_BELOW_MACS", 0)      # the parallel kernel
    x = rng.standard_normal((3, 20, 9, 11)).astype(np.float32)
    dy = rng.standard_normal((3 * 20 * 9, 16)).astype(np.float32)
    geom = conv_geometry(20, 9, 3, 3, 1, "same")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = direct_weights.direct_weights_grad(x, geom, dy)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(one_thread, direct_weights.direct_weights_grad(x, geom, dy))


def test_a_pixel_sums_the_same_whichever_road_takes_it(rng, monkeypatch):
    """In a wide image most pixels go eight at a time; in a narrow crop the same windows go one
    at a time (_one). Same additions, same order: the same bits, at any thread count."""
    import numba
    monkeypatch.setattr(direct, "SERIAL_BELOW_MACS", 0)              # the parallel kernel
    x = rng.standard_normal((2, 6, 24, 5)).astype(np.float32)
    weights = rng.standard_normal((45, 32)).astype(np.float32)
    wide = direct.direct_conv(x, conv_geometry(6, 24, 3, 3, 1, "valid"), weights)
    wide = wide.reshape(2, 4, 22, 32)
    narrow = direct.direct_conv(x[:, :, 7:13], conv_geometry(6, 6, 3, 3, 1, "valid"), weights)
    assert np.array_equal(narrow.reshape(2, 4, 4, 32), wide[:, :, 7:11])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = direct.direct_conv(x, conv_geometry(6, 24, 3, 3, 1, "same"), weights)
    finally:
        numba.set_num_threads(threads)
    two_threads = direct.direct_conv(x, conv_geometry(6, 24, 3, 3, 1, "same"), weights)
    assert np.array_equal(one_thread, two_threads)


def test_the_direct_road_takes_few_filters_in_whole_vectors(rng):
    assert Conv2D(16, 16, 3, rng=rng).plan() == (DIRECT, DIRECT, FLIPPED_DIRECT)
    # 3 channels: dx by im2col (3 is no whole vector); dW direct at stride 1, by im2col's one
    # thin GEMM at stride 2 (DIRECT_WEIGHTS_MIN_CHANNELS), unless forced
    assert Conv2D(3, 32, 3, rng=rng).plan() == (DIRECT, DIRECT, FLIPPED_KERNEL)
    assert Conv2D(3, 32, 3, 2, rng=rng).plan() == (DIRECT, COLUMN_BLOCKS, COL2IM)
    assert Conv2D(3, 32, 3, 2, rng=rng, algo="direct").plan() == (DIRECT, DIRECT, COL2IM)
    assert Conv2D(16, 32, 3, 2, rng=rng).plan() == (DIRECT, DIRECT, COL2IM)
    assert Conv2D(16, 12, 3, rng=rng).plan().forward == KEPT_COLUMNS          # not whole vectors
    assert Conv2D(128, 128, 3, rng=rng).plan() == ("column blocks", COLUMN_BLOCKS, FLIPPED_KERNEL)
    assert Conv2D(64, 128, 3, rng=rng).plan() == ("column blocks", COLUMN_BLOCKS, FLIPPED_DIRECT)
    layer = Conv2D(8, 8, 3, rng=rng)                    # 8 filters: whole float64 vectors only
    assert layer.plan().forward == KEPT_COLUMNS
    layer.astype(np.float64).forward(rng.standard_normal((1, 5, 9, 8)), training=True)
    assert layer.last_plan == (DIRECT, DIRECT, FLIPPED_DIRECT)
    with pytest.raises(ValueError, match="do not fit"):
        direct.direct_conv(np.zeros((1, 4, 4, 2), np.float32), conv_geometry(4, 4, 3, 3, 1, "same"),
                           np.zeros((18, 12), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 8, 22, 16, 5, 2, 2, "same"), (1, 9, 20, 32, 7, 2, 3, "valid"),
                                   (2, 6, 17, 16, 3, 1, 2, "same"), (1, 12, 12, 48, 4, 3, 3, "valid")])
@pytest.mark.parametrize("parallel", [False, True])
def test_the_direct_scatter_computes_the_reference(shape, dtype, parallel, rng, monkeypatch):
    """dx of windows that do not overlap (some pixels in none: bias alone), plus a bias."""
    n, h, w, c, f, k, stride, padding = shape
    c = c if dtype == np.float32 else c // 2
    monkeypatch.setattr(direct_data, "SERIAL_BELOW_MACS", 0 if parallel else 1 << 60)
    geom = conv_geometry(h, w, k, k, stride, padding)
    assert direct_data.overlap_free(geom, h, w)
    x = np.zeros((n, h, w, c), dtype)
    weights, bias = rng.standard_normal((k, k, c, f)).astype(dtype), rng.standard_normal(c).astype(dtype)
    dy = rng.standard_normal((n, geom.out_h, geom.out_w, f)).astype(dtype)
    dx = direct_data.direct_scatter(dy.reshape(-1, f), geom, weights.reshape(-1, f), x.shape, bias)
    expected = reference.conv2d_backward(dy, x, weights, stride, padding)[0] + bias
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(dx, expected, rtol=0, atol=tolerance * np.abs(expected).max())
    with pytest.raises(ValueError, match="overlap-free"):
        direct_data.direct_scatter(dy.reshape(-1, f), conv_geometry(h, w, 3, 3, 2, "same"),
                                   np.zeros((9 * c, f), dtype), x.shape)


@pytest.mark.parametrize("kernel, stride, hw", [(2, 2, (5, 7)), (3, 3, (4, 4)), (2, 2, (6, 8)),
                                               (1, 2, (5, 5))])
def test_windows_that_reach_the_padding_are_not_scattered(kernel, stride, hw, rng):
    """"same" pads the bottom and right of an odd size (and the top when KH = s > 1 leaves a
    remainder): those windows overlap the padding, so dx is not a plain scatter there. The
    layer plans from its real input and takes col2im; every gradient matches the loops."""
    layer = Conv2D(16, 16, kernel, stride, "same", rng=rng)
    x = rng.standard_normal((2, *hw, 16)).astype(np.float32)
    geom = layer.geometry(x.shape)
    scatter = direct_data.overlap_free(geom, *hw)
    y = layer.forward(x, training=True)
    assert (layer.last_plan.data == "scatter, direct") == scatter
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    weights = layer.params["W"]
    dx_ref, dw_ref, _ = reference.conv2d_backward(dy, x, weights, stride, "same")
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-4 * np.abs(dx_ref).max())
    np.testing.assert_allclose(layer.grads["W"], dw_ref, rtol=0, atol=1e-4 * np.abs(dw_ref).max())


def test_a_bias_of_the_wrong_length_is_refused(rng):
    x = rng.standard_normal((1, 4, 4, 16)).astype(np.float32)
    w = np.zeros((9 * 16, 16), np.float32)
    for bias in (np.float32(1), np.ones(1, np.float32), np.ones(32, np.float32)):
        with pytest.raises(ValueError, match="do not fit"):
            direct.direct_conv(x, conv_geometry(4, 4, 3, 3, 1, "same"), w, bias)
    geom = conv_geometry(8, 8, 2, 2, 2, "same")
    with pytest.raises(ValueError, match="do not fit"):
        direct_data.direct_scatter(np.zeros((16, 16), np.float32), geom,
                                   np.zeros((64, 16), np.float32), (1, 8, 8, 16), np.ones(3))
    with pytest.raises(ValueError, match="do not fit"):          # float64 kernel, float32 dy
        direct_data.direct_scatter(np.zeros((16, 16), np.float32), geom,
                                   np.zeros((64, 16)), (1, 8, 8, 16))
