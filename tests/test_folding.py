"""Batch norm folded into the convolution before it, and the bias and activation after it in one
epilogue (npcae.models.folding): the folded model's inference equals the original's, for each
kind of convolution and for the whole models; only what follows a convolution in a chain is
folded; the original is left as it was."""
import numpy as np
import pytest

from npcae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, DepthwiseConv2D, Identity, ReLU,
                          ReLU6)
from npcae.models import Concatenate, Sequential, create
from npcae.models.folding import ConvEpilogue, inference_copy


def trained_statistics(model, rng):
    """Give every batch norm moving statistics and an affine part far from the defaults."""
    for layer in walk(model):
        if isinstance(layer, BatchNormalization):
            c = layer.channels
            layer.state["moving_mean"][...] = rng.normal(0, 1, c)
            layer.state["moving_variance"][...] = rng.uniform(0.2, 3, c)
            layer.params["gamma"][...] = rng.normal(1, 0.5, c)
            layer.params["beta"][...] = rng.normal(0, 0.5, c)


def walk(layer):
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from walk(child)


def in_float64(model):
    for layer in walk(model):
        for table in (layer.params, layer.state):
            for name in table:
                table[name] = table[name].astype(np.float64)
    return model


@pytest.mark.parametrize("conv", [
    lambda rng: Conv2D(3, 5, 3, 2, "same", rng=rng, use_bias=True),
    lambda rng: Conv2D(3, 5, 1, 1, "same", rng=rng, use_bias=False),
    lambda rng: DepthwiseConv2D(3, 3, 1, "same", depth_multiplier=2, use_bias=True, rng=rng),
    lambda rng: DepthwiseConv2D(3, 3, 2, "same", use_bias=False, rng=rng),
    lambda rng: Conv2DTranspose(3, 4, 3, 2, "same", rng=rng, use_bias=False),
    lambda rng: Conv2DTranspose(3, 4, 2, 2, "valid", rng=rng),
], ids=["conv-bias", "conv1x1", "depthwise-x2-bias", "depthwise-s2", "transpose", "transpose-bias"])
def test_each_convolution_with_its_batch_norm_folded_gives_the_same_output(conv, rng):
    layer = conv(rng)
    if "b" in layer.params:
        layer.params["b"][...] = rng.normal(0, 1, layer.params["b"].shape)
    model = in_float64(Sequential(layer, BatchNormalization(layer.out_channels), ReLU()))
    trained_statistics(model, rng)
    x = rng.normal(size=(2, 6, 7, 3))
    folded, count = inference_copy(model)
    assert count == 1 and isinstance(folded.layers[0], ConvEpilogue)
    assert [type(layer) for layer in folded.layers[1:]] == [Identity, Identity]
    assert folded.layers[0].lower == 0 and "b" not in folded.layers[0].layers[0].params
    np.testing.assert_allclose(folded.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    assert isinstance(model.layers[1], BatchNormalization)            # the original is untouched
    assert ("b" in model.layers[0].params) == ("b" in conv(rng).params)


def test_an_activation_without_a_batch_norm_and_a_batch_norm_without_one_are_folded_too(rng):
    conv = Conv2D(3, 4, 3, 1, "same", rng=rng)
    conv.params["b"][...] = rng.normal(size=4)
    project = Conv2D(4, 5, 1, 1, "same", rng=rng, use_bias=False)
    model = in_float64(Sequential(conv, ReLU6(), project, BatchNormalization(5)))
    trained_statistics(model, rng)
    folded, count = inference_copy(model)
    first, second = folded.layers[0], folded.layers[2]
    assert count == 1 and (first.lower, first.upper) == (0, 6)
    assert (second.lower, second.upper) == (-np.inf, np.inf)         # a linear bottleneck
    x = rng.normal(size=(1, 5, 6, 3))
    np.testing.assert_allclose(folded.forward(x), model.forward(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="for inference"):
        folded.forward(x, training=True)


def test_a_batch_norm_after_a_join_or_opening_a_branch_stays(rng):
    branch = Sequential(BatchNormalization(3), Conv2D(3, 3, 1, 1, "same", rng=rng))
    model = Sequential(Concatenate([branch, Identity()]), BatchNormalization(6))
    folded, count = inference_copy(model)
    assert count == 0
    assert isinstance(folded.layers[1], BatchNormalization)
    assert isinstance(folded.layers[0].layers[0].layers[0], BatchNormalization)


@pytest.mark.parametrize("name, args, folded_count", [
    ("mobilenet_unet", dict(alpha=0.35), 50 + 4),      # the stem 1, block 0 2, blocks 1-16 3 each
                                                        # but block_16_project_BN (after the tap); 4 up
    ("unet", dict(filters=(4, 8, 16)), 10),
])
def test_the_models_fold_every_batch_norm_after_a_convolution(name, args, folded_count, rng):
    model = create(name, input_size=(64, 64), seed=0, **args)
    trained_statistics(model, rng)
    norms = sum(isinstance(layer, BatchNormalization) for layer in walk(model))
    folded, count = inference_copy(model)
    assert count == folded_count == norms
    assert not any(isinstance(layer, BatchNormalization) for layer in walk(folded))
    x = rng.random((1, 64, 64, 3), dtype=np.float32)
    expected, got = model.forward(x), folded.forward(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)             # float32 rounding, 60 layers deep
    model64 = in_float64(model)
    np.testing.assert_allclose(inference_copy(model64)[0].forward(x.astype(np.float64)),
                               model64.forward(x.astype(np.float64)), atol=1e-10)


def test_the_caes_convolutions_take_their_bias_and_swish_in_one_pass(rng):
    from npcae.layers import Swish
    model = create("cae", input_size=(64, 32), seed=0, filters=(4, 8, 16))
    folded, count = inference_copy(model)
    epilogues = [layer for layer in walk(folded) if isinstance(layer, ConvEpilogue)]
    assert count == 0 and epilogues and all(e.swish for e in epilogues[:-1])
    swishes = sum(isinstance(layer, Swish) for layer in walk(model))
    assert sum(isinstance(layer, Swish) for layer in walk(folded)) == swishes - len(epilogues)
    x = rng.random((2, 64, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(folded.forward(x), model.forward(x), atol=1e-5)


@pytest.mark.parametrize("rows, channels", [(5, 6), (20000, 6), (4097, 4), (4096, 4), (3, 256)])
def test_the_swish_epilogue_is_bias_then_swish_in_place_within_an_ulp(rows, channels, rng):
    """Serial and parallel kernels, rows widened to whole vectors (4096 x 4) or not (4097 x 4):
    within 1.5e-7 of float64 everywhere (its own exp, kernels/elementwise.py), saturating and
    NaN values included."""
    from npcae.kernels.elementwise import bias_swish
    y = rng.normal(0, 4, (rows, channels)).astype(np.float32)
    y.flat[:6] = [0.0, -0.0, 200.0, -200.0, 1e30, np.nan]
    bias = rng.normal(size=channels).astype(np.float32)
    v = y.astype(np.float64) + bias
    with np.errstate(over="ignore", invalid="ignore"):
        expected = v / (1 + np.exp(-v))
    assert bias_swish(y, bias) is y
    assert np.isnan(y.flat[5]) and np.isnan(expected.flat[5])
    y.flat[5] = expected.flat[5] = 0
    np.testing.assert_allclose(y, expected, rtol=1.5e-7, atol=1e-37)


@pytest.mark.parametrize("rows", [5, (1 << 20) // 6 + 1])        # the serial and parallel kernels
def test_the_epilogue_kernel_is_bias_then_clamp_in_place(rows, rng):
    from npcae.kernels.elementwise import bias_clamp
    y = rng.normal(0, 4, (rows, 6)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    expected = np.clip(y + bias, 0, 6)
    out = bias_clamp(y, bias, 0, 6)
    assert out is y
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(bias_clamp(y.copy(), bias), y + bias)
