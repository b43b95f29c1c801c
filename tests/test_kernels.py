"""Fast kernels against the loop-based reference, on random shapes, float32 and float64."""
import numpy as np
import pytest

from npcae.kernels import col2im, conv_geometry, im2col, im2col_blocks, padding_1d, reference
from npcae.layers import Conv2D

# (N, H, W, C_in, C_out, KH, KW, stride, padding): odd/even sizes, H != W, KH != KW, both strides
SHAPES = [
    (2, 7, 6, 3, 4, 3, 3, 2, "same"),
    (2, 8, 8, 3, 4, 3, 3, 2, "same"),
    (1, 9, 5, 2, 3, 3, 3, 1, "same"),
    (3, 6, 9, 4, 2, 2, 3, 2, "same"),
    (2, 8, 7, 3, 5, 4, 4, 2, "same"),
    (2, 5, 8, 2, 3, 2, 2, 1, "same"),
    (2, 9, 9, 3, 2, 3, 2, 1, "valid"),
    (2, 10, 7, 2, 3, 4, 3, 2, "valid"),
    (1, 6, 6, 5, 1, 5, 5, 2, "valid"),
    (2, 5, 4, 3, 2, 1, 1, 1, "same"),
    (2, 6, 5, 3, 2, 1, 1, 2, "same"),
]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def ids(shape):
    return "N{}_{}x{}x{}_to{}_k{}x{}_s{}_{}".format(*shape)


@pytest.mark.parametrize("n, height, k, s, out, before", [
    (8, 8, 3, 2, 4, 0),      # even size, stride 2: total 1, all of it at the bottom
    (7, 7, 3, 2, 4, 1),      # odd size: total 2, split evenly
    (6, 6, 4, 2, 3, 1),      # even kernel: total 2
    (5, 5, 2, 1, 5, 0),      # even kernel, stride 1: total 1 at the bottom
    (1024, 1024, 3, 2, 512, 0),
    (4, 4, 1, 1, 4, 0),
])
def test_same_padding_follows_tensorflow(n, height, k, s, out, before):
    assert padding_1d(height, k, s, "same") == (out, before)


def test_valid_padding_and_bad_padding():
    assert padding_1d(9, 3, 2, "valid") == (4, 0)
    with pytest.raises(ValueError, match="padding"):
        padding_1d(9, 3, 2, "full")
    with pytest.raises(ValueError, match="smaller than the kernel"):
        padding_1d(2, 3, 1, "valid")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_im2col_and_col2im_match_loops(shape, dtype, rng):
    n, height, width, c_in, _, kh, kw, stride, padding = shape
    geom = conv_geometry(height, width, kh, kw, stride, padding)
    x = rng.standard_normal((n, height, width, c_in)).astype(dtype)
    cols = im2col(x, geom)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, reference.im2col_loops(x, geom))
    d_cols = rng.standard_normal(cols.shape).astype(dtype)
    dx = col2im(d_cols, x.shape, geom)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, reference.col2im_loops(d_cols, x.shape, geom), **TOL[dtype])
    # The pure-NumPy versions the kernel benchmark compares against agree too.
    np.testing.assert_array_equal(reference.im2col_strided(x, geom), cols)
    np.testing.assert_allclose(reference.col2im_strided(d_cols, x.shape, geom), dx, **TOL[dtype])


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_col2im_is_the_adjoint_of_im2col(shape, rng):
    """<im2col(x), c> == <x, col2im(c)>: catches index bugs square images never reveal."""
    n, height, width, c_in, _, kh, kw, stride, padding = shape
    geom = conv_geometry(height, width, kh, kw, stride, padding)
    x = rng.standard_normal((n, height, width, c_in))
    c = rng.standard_normal(im2col(x, geom).shape)
    lhs = np.sum(im2col(x, geom) * c)
    rhs = np.sum(x * col2im(c, x.shape, geom))
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0)


def test_col2im_is_deterministic_with_overlaps(rng):
    """Overlapping windows (3x3, stride 1) summed twice give the same bits."""
    geom = conv_geometry(33, 17, 3, 3, 1, "same")
    c = rng.standard_normal((4 * 33 * 17, 9 * 8)).astype(np.float32)
    first = col2im(c, (4, 33, 17, 8), geom)
    for _ in range(3):
        np.testing.assert_array_equal(col2im(c, (4, 33, 17, 8), geom), first)


def test_im2col_writes_into_a_given_buffer_and_checks_it(rng):
    geom = conv_geometry(6, 5, 3, 3, 1, "same")
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    buffer = np.full((60, 27), np.nan, dtype=np.float32)
    assert im2col(x, geom, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, reference.im2col_loops(x, geom))
    with pytest.raises(ValueError, match="buffer"):
        im2col(x, geom, out=np.empty((60, 27), dtype=np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_fast_conv_matches_reference_forward_and_backward(shape, dtype, rng):
    n, height, width, c_in, c_out, kh, kw, stride, padding = shape
    x = rng.standard_normal((n, height, width, c_in)).astype(dtype)
    conv = Conv2D(c_in, c_out, (kh, kw), stride, padding, rng=rng)
    conv.params["b"][...] = rng.standard_normal(c_out)
    conv.astype(dtype)
    weights, bias = conv.params["W"], conv.params["b"]

    y = conv.forward(x, training=True)
    y_ref = reference.conv2d_forward(x, weights, bias, stride, padding)
    assert y.dtype == dtype and y.shape == conv.output_shape(x.shape)
    np.testing.assert_allclose(y, y_ref, **TOL[dtype])

    g = rng.standard_normal(y.shape).astype(dtype)
    dx = conv.backward(g)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(g, x, weights, stride, padding)
    assert dx.dtype == dtype and conv.grads["W"].dtype == dtype
    np.testing.assert_allclose(dx, dx_ref, **TOL[dtype])
    np.testing.assert_allclose(conv.grads["W"], dw_ref, **TOL[dtype])
    np.testing.assert_allclose(conv.grads["b"], db_ref, **TOL[dtype])


def test_plain_path_is_the_reference(rng):
    """Conv2D(fast=False) runs the loop reference and gives the same gradients as the fast path."""
    x = rng.standard_normal((2, 7, 6, 3))
    fast = Conv2D(3, 4, 3, 2, rng=np.random.default_rng(0)).astype(np.float64)
    plain = Conv2D(3, 4, 3, 2, rng=np.random.default_rng(0), fast=False).astype(np.float64)
    np.testing.assert_allclose(plain.forward(x, training=True), fast.forward(x, training=True),
                               rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(fast.output_shape(x.shape))
    np.testing.assert_allclose(plain.backward(g), fast.backward(g), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plain.grads["W"], fast.grads["W"], rtol=1e-12, atol=1e-12)


def test_im2col_blocks_into_a_wider_buffer_fill_only_its_leading_columns(rng):
    x = rng.standard_normal((2, 7, 5, 3)).astype(np.float32)
    geom = conv_geometry(7, 5, 3, 2, 2, "same")
    cols = im2col(x, geom)
    wide = np.full((cols.shape[0], cols.shape[1] + 3), 7.0, np.float32)
    blocks = list(im2col_blocks(x, geom, max_bytes=1, into=wide))    # one image row each
    assert len(blocks) == 2 * geom.out_h
    assert all(np.shares_memory(block, wide) for _, block in blocks)
    np.testing.assert_array_equal(wide[:, :cols.shape[1]], cols)
    assert (wide[:, cols.shape[1]:] == 7).all()
    for bad in (wide[:, :-4], np.empty((cols.shape[0] + 1, 30), np.float32), wide[:, ::2]):
        with pytest.raises(ValueError, match="im2col buffer"):
            list(im2col_blocks(x, geom, into=bad))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_concat_channels_is_numpys_concatenate(dtype, parallel, rng, monkeypatch):
    from npcae.kernels import channels
    monkeypatch.setattr(channels, "SERIAL_BELOW", 0 if parallel else 1 << 60)
    a = rng.standard_normal((2, 5, 7, 3)).astype(dtype)
    b = rng.standard_normal((2, 5, 7, 16)).astype(dtype)[..., ::2]      # a strided view too
    assert np.array_equal(channels.concat_channels(a, b), np.concatenate([a, b], axis=-1))
    with pytest.raises(ValueError, match="one shape but the channels"):
        channels.concat_channels(a, b[:, :4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_split_channels_and_add_are_numpys(dtype, parallel, rng, monkeypatch):
    """Concatenate's backward: the split into contiguous halves, and the sum of the branches'
    gradients into a new array (never into one a branch may own)."""
    from npcae.kernels import channels
    monkeypatch.setattr(channels, "SERIAL_BELOW", 0 if parallel else 1 << 60)
    x = rng.standard_normal((2, 5, 7, 19)).astype(dtype)
    a, b = channels.split_channels(x, 3)
    assert a.flags.c_contiguous and b.flags.c_contiguous
    assert np.array_equal(a, x[..., :3]) and np.array_equal(b, x[..., 3:])
    with pytest.raises(ValueError, match="cuts 19 channels into two"):
        channels.split_channels(x, 19)
    view = x[..., ::2]                                            # a strided operand too
    other = rng.standard_normal(view.shape).astype(dtype)
    total = channels.add(view, other)
    assert np.array_equal(total, view + other)
    assert not np.shares_memory(total, view) and not np.shares_memory(total, other)
