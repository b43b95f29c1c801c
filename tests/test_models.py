"""The CAE builder, Sequential's summary, save and load."""
import numpy as np
import pytest

from npcae.layers import Conv2D, Sigmoid, Swish, UpConv2D, UpSampling2D
from npcae.models import Sequential, WeightsMismatch, build, cae, read_config


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def test_cae_has_the_original_architecture():
    model = cae()
    kinds = [type(layer).__name__ for layer in model.layers]
    encoder_block = ["Conv2D", "Swish", "Dropout", "Conv2D", "Swish", "Dropout"]
    decoder_block = ["UpConv2D"] + encoder_block[1:]     # UpSampling2D(2) + Conv2D, fused
    assert kinds == 3 * encoder_block + 3 * decoder_block + ["Conv2D", "Sigmoid"]
    ups = [layer.upsample for layer in model.layers if isinstance(layer, UpConv2D)]
    assert [(u.size, u.interpolation) for u in ups] == [(2, "nearest")] * 3
    convs = [layer for layer in model.walk() if isinstance(layer, Conv2D)]
    assert [c.stride for c in convs] == [2, 1, 2, 1, 2, 1] + [1] * 7
    assert [c.out_channels for c in convs] == [4, 4, 32, 32, 256, 256, 256, 256, 32, 32, 4, 4, 1]
    rates = [layer.rate for layer, kind in zip(model.layers, kinds) if kind == "Dropout"]
    assert rates == [0.1, 0.25] * 6
    assert convs[-1].kernel_size == (1, 1)
    channels = [3, 4, 4, 32, 32, 256, 256, 256, 256, 32, 32, 4, 4]
    expected = sum(conv_params(3, c_in, c.out_channels) for c_in, c in zip(channels, convs[:-1]))
    assert model.n_params() == expected + conv_params(1, 4, 1) == 1_939_233
    assert model.output_shape((3, 1024, 512, 3)) == (3, 1024, 512, 1)


def test_cae_variants_and_input_checks(rng):
    model = cae(filters=(2, 3, 4), activation="relu", dropout=(0.0, 0.5), seed=0)
    x = rng.random((2, 16, 8, 3)).astype(np.float32)
    y = model.forward(x, training=True)
    assert y.shape == (2, 16, 8, 1) and y.dtype == np.float32 and ((y > 0) & (y < 1)).all()
    assert model.backward(np.ones_like(y)).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 8, got 20x8"):
        model.forward(np.zeros((1, 20, 8, 3), np.float32))
    with pytest.raises(ValueError, match="NHWC"):
        model.forward(np.zeros((20, 8, 3), np.float32))


def test_same_seed_same_model_and_masks(rng):
    x = rng.random((2, 16, 16, 3)).astype(np.float32)
    a, b, c = cae((2, 3, 4), seed=5), cae((2, 3, 4), seed=5), cae((2, 3, 4), seed=6)
    for (na, pa, _), (nb, pb, _) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))
    assert not np.array_equal(a.forward(x, training=True), c.forward(x, training=True))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))     # inference has no randomness


def test_save_load_round_trip_in_place(tmp_path, rng):
    model = cae((2, 3, 4), seed=1)
    path = tmp_path / "weights.npz"
    model.save(path)
    other = cae((2, 3, 4), seed=2)
    held = [p for p, _ in other.parameters()]                     # an optimiser's references
    other.load(path)
    x = rng.random((1, 16, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(other.forward(x), model.forward(x))
    for before, (after, _) in zip(held, other.parameters()):
        assert before is after
    assert read_config(path)["filters"] == [2, 3, 4]
    rebuilt = build(read_config(path)).load(path)
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]  # no temporary left behind


def test_loading_another_architecture_fails_clearly(tmp_path):
    path = tmp_path / "w.npz"
    cae((2, 3, 4)).save(path)
    model = cae((2, 3, 5))
    before = [p.copy() for p, _ in model.parameters()]
    with pytest.raises(WeightsMismatch, match="different architecture: 12.W is"):
        model.load(path)
    for b, (p, _) in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p)                        # untouched
    with pytest.raises(WeightsMismatch, match="missing"):
        cae((2, 3)).load(path)


def test_summary_lists_layers_shapes_and_totals():
    text = cae().summary(print_fn=None)
    assert "Conv2D(3, 4, (3, 3), stride=2, padding='same')" in text
    assert "(1, 512, 256, 4)" in text and "(1, 1024, 512, 1)" in text
    assert "Parameters: 1,939,233" in text
    macs = cae().forward_macs((1, 1024, 512, 3))
    assert f"Forward multiply-accumulates: {macs:,}" in text
    # A 3-image step is 3 images x 2 FLOP x 3 passes (backward = 2 forwards): 1008 GFLOP
    # upsampling then convolving, 712 GFLOP with the decoder's sub-pixel convolutions.
    plain_macs = cae(fast=False).forward_macs((1, 1024, 512, 3))
    assert 2 * 3 * plain_macs * 3 == pytest.approx(1008e9, rel=0.01)
    assert 2 * 3 * macs * 3 == pytest.approx(712e9, rel=0.01)


def test_nested_containers_name_parameters_uniquely():
    model = Sequential(Conv2D(3, 2, 3), Swish(), Sequential(UpSampling2D(2), Conv2D(2, 1, 1)), Sigmoid())
    names = [name for name, _, _ in model.named_parameters()]
    assert names == ["0.W", "0.b", "2.1.W", "2.1.b"]
    assert "UpSampling2D" in model.summary((1, 4, 4, 3), print_fn=None)
    with pytest.raises(TypeError, match="holds Layers"):
        Sequential(Conv2D(3, 2, 3), "relu")


@pytest.mark.parametrize("fast", [True, False])
def test_summary_rows_add_up_to_the_totals(fast):
    model = cae(fast=fast)
    text = model.summary((1, 64, 32, 3), print_fn=None)
    rows = [line for line in text.splitlines()[2:] if line.startswith("  ")]
    # Fixed-width columns, right-aligned: params (10), MACs (16), activation MB (10).
    macs = [int(r[-26:-10].replace(",", "")) for r in rows if r[-26:-10].strip()]
    params = [int(r[-36:-26]) for r in rows if r[-36:-26].strip()]
    assert sum(macs) == model.forward_macs((1, 64, 32, 3))
    assert sum(params) == model.n_params() == 1_939_233
    assert ("sub-pixel" in text) == fast


def test_saved_files_get_the_usual_permissions(tmp_path):
    # mkstemp creates private (0600) files; a saved model must be readable like any other file.
    import os
    previous = os.umask(0o022)
    try:
        cae(filters=(2, 2, 2), seed=0).save(tmp_path / "w.npz")
    finally:
        os.umask(previous)
    assert (tmp_path / "w.npz").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_cae_refuses_an_input_with_nan_or_infinity(bad):
    model = cae(filters=(2, 3, 4), seed=0)
    x = np.zeros((1, 16, 8, 3), np.float32)
    x[0, 3, 2, 1] = bad
    before = [p.copy() for p, _ in model.parameters()]
    with pytest.raises(ValueError, match="the input holds 1 NaN or infinite values"):
        model.forward(x, training=True)
    for b, (p, _) in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p)


@pytest.mark.parametrize("name", ["cae", "unet", "mobilenet_unet"])
def test_a_training_step_skips_only_the_input_gradient(name, rng):
    """no_input_gradient (what npcae train's step runs under): the first convolution returns
    None for dL/dx, every parameter's gradient is what a full backward gives, and afterwards
    backward returns dL/dx again."""
    from npcae.models import create
    from npcae.models.containers import no_input_gradient
    args = {"dropout": (0.0, 0.0)} if name == "cae" else {}      # the same masks both times
    model = create(name, seed=0, **args).astype(np.float64)
    x = rng.random((2, 32, 32, 3))
    dy = rng.standard_normal(model.output_shape(x.shape))
    model.forward(x, training=True)
    dx = model.backward(dy)
    full = {key: grad.copy() for key, _, grad in model.named_parameters()}
    model.forward(x, training=True)
    with no_input_gradient(model):
        assert model.backward(dy) is None
    for key, _, grad in model.named_parameters():
        np.testing.assert_allclose(grad, full[key], rtol=1e-12, atol=1e-14)
    model.forward(x, training=True)
    np.testing.assert_allclose(model.backward(dy), dx, rtol=1e-12, atol=1e-14)
