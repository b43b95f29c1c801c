"""Forward and backward hooks: what they see, in which order, removal, replacement, nesting."""
import numpy as np
import pytest

from npcae.layers import Conv2D, Identity, ReLU, UpConv2D
from npcae.models import Add, Sequential, cae


@pytest.fixture
def model():
    return cae((2, 3, 4), activation="relu", dropout=(0.2, 0.2), seed=3)


@pytest.fixture
def x(rng):
    return rng.random((2, 16, 8, 3)).astype(np.float32)


def run_step(model, x, seed=0):
    """One forward (dropout on) and a backward of a fixed random upstream gradient."""
    y = model.forward(x, training=True)
    upstream = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    return y, upstream, model.backward(upstream)


def snapshot(model, x):
    """Output, input gradient and every parameter gradient of one step, as copies."""
    y, _, dx = run_step(model, x)
    return [y.copy(), dx.copy()] + [g.copy() for _, _, g in model.named_parameters()]


def test_hooks_fire_in_order_with_the_arrays_flowing_through(model, x):
    forward, backward = [], []
    for layer in model.layers:
        layer.register_forward_hook(lambda layer, a, b: forward.append((layer, a, b)))
        layer.register_backward_hook(lambda layer, a, b: backward.append((layer, a, b)))
    y, upstream, dx = run_step(model, x)

    assert [layer for layer, _, _ in forward] == model.layers
    assert forward[0][1] is x and forward[-1][2] is y
    for (_, _, out), (_, given, _) in zip(forward, forward[1:]):
        assert given is out                       # each layer's y is the next layer's x

    assert [layer for layer, _, _ in backward] == model.layers[::-1]
    assert backward[0][1] is upstream and backward[-1][2] is dx
    for (_, _, grad_in), (_, grad_out, _) in zip(backward, backward[1:]):
        assert grad_out is grad_in                # each dL/dx is the previous layer's dL/dy
    shapes = [(layer, a.shape, b.shape) for layer, a, b in forward]
    assert [(layer, b, a) for layer, a, b in shapes] == \
        [(layer, g_out.shape, g_in.shape) for layer, g_out, g_in in backward[::-1]]


def test_results_are_bit_identical_with_observing_hooks_and_after_removal(x):
    plain = snapshot(cae((2, 3, 4), seed=3), x)
    model = cae((2, 3, 4), seed=3)
    handles = [layer.register_forward_hook(lambda *a: None) for layer in model.walk()]
    handles += [layer.register_backward_hook(lambda *a: None) for layer in model.walk()]
    hooked = snapshot(model, x)
    for handle in handles:
        handle.remove()
    # The dropout generators have moved on in `model`; a fresh twin replays the same masks.
    removed_model = cae((2, 3, 4), seed=3)
    for layer in removed_model.walk():
        layer.register_forward_hook(lambda *a: None).remove()
    after = snapshot(removed_model, x)
    for a, b, c in zip(plain, hooked, after):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # Without hooks a layer is the object it was: no instance attribute shadows its methods.
    for layer in [*model.walk(), *removed_model.walk()]:
        assert "forward" not in vars(layer) and "backward" not in vars(layer)


def test_several_hooks_on_one_layer_run_in_order_and_remove_one_by_one(model, x):
    calls = []
    conv = model.layers[0]
    first = conv.register_forward_hook(lambda *a: calls.append("first"))
    second = conv.register_forward_hook(lambda *a: calls.append("second"))
    third = conv.register_backward_hook(lambda *a: calls.append("backward"))
    run_step(model, x)
    assert calls == ["first", "second", "backward"]
    first.remove()
    first.remove()                                # a second remove is harmless
    calls.clear()
    run_step(model, x)
    assert calls == ["second", "backward"]
    second.remove()
    third.remove()
    calls.clear()
    run_step(model, x)
    assert calls == [] and "forward" not in vars(conv) and "backward" not in vars(conv)


def test_hooks_on_nested_children_fire_whoever_calls_them(rng):
    first_conv, inner_conv, final = (Conv2D(3, 3, 3, rng=rng), Conv2D(3, 3, 3, rng=rng),
                                     Conv2D(3, 1, 1, rng=rng))
    model = Sequential(Sequential(first_conv, Add(Identity(), Sequential(inner_conv, ReLU()))), final)
    model.astype(np.float64)
    x = rng.standard_normal((2, 6, 5, 3))
    inner_x = first_conv.forward(x)                       # what the hooks should see, computed
    inner_y = inner_conv.forward(inner_x)                 # before any hook is registered
    seen = {}
    with inner_conv.register_forward_hook(lambda layer, a, b: seen.update(x=a, y=b)), \
            inner_conv.register_backward_hook(lambda layer, a, b: seen.update(dy=a, dx=b)):
        model(x, training=True)                           # through __call__ and two containers
        np.testing.assert_array_equal(seen["x"], inner_x)
        np.testing.assert_array_equal(seen["y"], inner_y)
        upstream = rng.standard_normal((2, 6, 5, 1))
        model.backward(upstream)
        # The inner conv's dL/dy is the final conv's input gradient through the ReLU's mask.
        expected_dy = final.backward(upstream) * (inner_y > 0)
        np.testing.assert_allclose(seen["dy"], expected_dy, rtol=1e-12)
        hooked_dx = seen["dx"]
    np.testing.assert_allclose(hooked_dx, inner_conv.backward(expected_dy), rtol=1e-12)
    assert "forward" not in vars(inner_conv) and "backward" not in vars(inner_conv)


def test_a_cae_hook_fires_once_although_its_forward_calls_super(model, x):
    calls = []
    model.register_forward_hook(lambda *a: calls.append("CAE"))
    model.forward(x)
    assert calls == ["CAE"]


def test_fused_upconv_takes_hooks_as_one_layer(model, x):
    up = next(layer for layer in model.layers if isinstance(layer, UpConv2D))
    assert up.fused
    seen = []
    up.register_forward_hook(lambda layer, a, b: seen.append((a.shape, b.shape)))
    model.forward(x)
    (shape_in, shape_out), = seen
    assert shape_out == (2, shape_in[1] * 2, shape_in[2] * 2, up.conv.out_channels)


def test_a_returned_array_replaces_the_output_and_the_gradient(model, x):
    head = model.layers[-1]
    with head.register_forward_hook(lambda layer, a, b: np.full_like(b, 0.25)):
        np.testing.assert_array_equal(model.forward(x), np.full((2, 16, 8, 1), 0.25, np.float32))
    # Zeroing dL/dx of layer k cuts the gradient of everything before it, nothing after it.
    reference = snapshot(cae((2, 3, 4), activation="relu", dropout=(0.2, 0.2), seed=3), x)
    k = 12
    model.layers[k].register_backward_hook(lambda layer, a, b: np.zeros_like(b))
    y, dx, *grads = snapshot(model, x)
    names = [name for name, _, _ in model.named_parameters()]
    np.testing.assert_array_equal(y, reference[0])
    assert not dx.any()
    for name, grad, expected in zip(names, grads, reference[2:]):
        if int(name.split(".")[0]) < k:
            assert not grad.any(), name
        else:
            np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_hooks_that_return_a_wrong_shape_or_are_not_callable_are_refused(model, x):
    with pytest.raises(TypeError, match="callable"):
        model.layers[0].register_forward_hook("not a function")
    with pytest.raises(ValueError, match="returned shape"):
        with model.layers[0].register_forward_hook(lambda layer, a, b: b[:1]):
            model.forward(x)


def test_a_hook_can_remove_itself_while_running(model, x):
    calls = []

    def once(layer, a, b):
        calls.append(1)
        handle.remove()

    handle = model.layers[0].register_forward_hook(once)
    model.forward(x)
    model.forward(x)
    assert calls == [1] and "forward" not in vars(model.layers[0])
