"""Conv2DTranspose: Keras's output sizes and weight layout, the loops of kernels/reference.py,
and the adjoint identity <x, C dy> = <C^T x, dy> with the convolution it transposes."""
import numpy as np
import pytest

from npcae.kernels import reference
from npcae.layers import Conv2D, Conv2DTranspose


@pytest.mark.parametrize("kernel, stride, padding, size, expected", [
    (2, 2, "same", (4, 5), (8, 10)), (3, 2, "same", (5, 5), (10, 10)),
    (3, 2, "valid", (5, 4), (11, 9)), (2, 2, "valid", (4, 3), (8, 6)),
    (1, 3, "valid", (2, 2), (6, 6)), (3, 1, "same", (4, 3), (4, 3))])
def test_output_sizes_and_values_are_keras_and_the_loops(kernel, stride, padding, size, expected, rng):
    layer = Conv2DTranspose(3, 2, kernel, stride, padding, rng=rng).astype(np.float64)
    layer.params["b"][...] = rng.standard_normal(2)
    assert layer.params["W"].shape == (kernel, kernel, 2, 3)          # (KH, KW, out, in)
    x = rng.standard_normal((2, *size, 3))
    y = layer.forward(x, training=True)
    assert y.shape == layer.output_shape(x.shape) == (2, *expected, 2)
    np.testing.assert_allclose(y, reference.conv2d_transpose_forward(
        x, layer.params["W"], layer.params["b"], stride, padding), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, "same"), (3, 2, "same"),
                                                     (3, 2, "valid"), (3, 1, "same")])
def test_it_is_the_adjoint_of_the_convolution_with_the_same_kernel(kernel, stride, padding, rng):
    up = Conv2DTranspose(3, 2, kernel, stride, padding, rng=rng).astype(np.float64)
    conv = Conv2D(2, 3, kernel, stride, padding, rng=rng).astype(np.float64)
    conv.params["W"][...] = up.params["W"]                           # C: (KH, KW, 2, 3)
    x = rng.standard_normal((2, 3, 4, 3))
    y = up.forward(x, training=True)                                  # C^T x, b = 0
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(np.sum(conv.forward(dy) * x), np.sum(y * dy), rtol=1e-12)
    np.testing.assert_allclose(up.backward(np.ascontiguousarray(dy)), conv.forward(dy),
                               rtol=0, atol=1e-12)                    # dx = C dy


def test_the_plan_is_the_convolutions_run_the_other_way(rng):
    layer = Conv2DTranspose(8, 4, 2, 2, rng=rng)
    assert layer.plan() == ("col2im", "whole columns", "column blocks")
    assert "[col2im / whole columns / column blocks]" in repr(layer)
