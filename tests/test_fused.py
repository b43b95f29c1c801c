"""Batch norm + ReLU run as one by a Sequential (npcae.layers.fused): the same numbers as the
two layers run apart, in every mode; apart whenever a hook, the NumPy road or the dtype asks."""
import numpy as np
import pytest

from npcae.layers import BatchNormalization, Conv2D, ReLU
from npcae.layers import fused
from npcae.models import Sequential


def pair(rng, dtype, frozen=False, channels=5):
    bn = BatchNormalization(channels, frozen=frozen)
    bn.params["gamma"][...] = rng.uniform(-2.0, 2.0, channels)        # negative scales too
    bn.params["beta"][...] = rng.standard_normal(channels)
    bn.state["moving_mean"][...] = rng.standard_normal(channels)
    bn.state["moving_variance"][...] = rng.uniform(0.5, 2.0, channels)
    return Sequential(Conv2D(3, channels, 3, rng=rng), bn, ReLU()).astype(dtype)


def run(model, x, dz, training):
    z = model.forward(x, training=training)
    dx = model.backward(dz) if training else None
    return z, dx, {name: grad.copy() for name, _, grad in model.named_parameters()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("size", [(2, 9, 7), (4, 64, 48)])      # serial and parallel kernels
def test_the_fused_pair_gives_the_numbers_of_the_two_layers_apart(dtype, frozen, size, rng):
    x = rng.standard_normal((*size, 3)).astype(dtype)
    dz = rng.standard_normal((*size, 5)).astype(dtype)
    together = pair(np.random.default_rng(1), dtype, frozen)
    apart = pair(np.random.default_rng(1), dtype, frozen)
    apart[2].register_forward_hook(lambda layer, x, y: None)       # an observer keeps them apart
    assert fused.fuses(together[1], together[2]) and not fused.fuses(apart[1], apart[2])
    for training in (True, False):
        z, dx, grads = run(together, x, dz, training)
        z_apart, dx_apart, grads_apart = run(apart, x, dz, training)
        assert together._fused == {1} and apart._fused == set()   # the pair ran as one
        assert 0 < np.count_nonzero(z) < z.size                    # the mask has both sides
        np.testing.assert_array_equal(z, z_apart)
        if training:
            np.testing.assert_array_equal(dx, dx_apart)
            for name in grads:
                np.testing.assert_array_equal(grads[name], grads_apart[name], err_msg=name)
    np.testing.assert_array_equal(together[1].state["moving_mean"], apart[1].state["moving_mean"])


def test_a_hook_registered_between_forward_and_backward_still_fires(rng):
    """After a fused forward, the two plain backwards run when a hook has come since: the
    same dx as the fused backward's."""
    x = rng.standard_normal((2, 6, 5, 3))
    dz = rng.standard_normal((2, 6, 5, 5))
    plain = pair(np.random.default_rng(2), np.float64)
    plain.forward(x, training=True)
    expected = plain.backward(dz)
    model = pair(np.random.default_rng(2), np.float64)
    model.forward(x, training=True)                               # fused
    seen = []
    model[2].register_backward_hook(lambda layer, g_out, g_in: seen.append(("relu", g_in.shape)))
    model[1].register_backward_hook(lambda layer, g_out, g_in: seen.append(("bn", g_in.shape)))
    dx = model.backward(dz)
    assert seen == [("relu", (2, 6, 5, 5)), ("bn", (2, 6, 5, 5))]
    np.testing.assert_array_equal(dx, expected)


def test_backward_after_a_fused_inference_forward_is_refused(rng):
    from npcae.layers.base import BackwardOrderError
    model = pair(rng, np.float32)
    model.forward(rng.standard_normal((1, 4, 4, 3)).astype(np.float32), training=False)
    with pytest.raises(BackwardOrderError, match="inference forward"):
        model.backward(np.ones((1, 4, 4, 5), np.float32))
    with pytest.raises(BackwardOrderError):
        model[1].backward_relu(np.ones((1, 4, 4, 5), np.float32))


def test_pairs_that_stay_apart(rng):
    bn, relu = BatchNormalization(4), ReLU()
    assert fused.fuses(bn, relu)
    assert not fused.fuses(relu, bn)
    assert not fused.fuses(BatchNormalization(4, fast=False), relu)
    assert not fused.fuses(bn, ReLU(fast=False))
    with pytest.raises(ValueError, match="fast road only"):
        BatchNormalization(4, fast=False).forward_relu(np.zeros((1, 2, 2, 4), np.float32))
    assert not fused.takes_input(np.zeros(3, np.int32))
    handle = bn.register_backward_hook(lambda *args: None)
    assert not fused.fuses(bn, relu)
    handle.remove()
    assert fused.fuses(bn, relu)
