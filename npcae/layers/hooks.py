"""Hooks: functions called with a layer's forward output or backward gradient, for experiments.

    handle = layer.register_forward_hook(fn)     # fn(layer, x, y) after every layer.forward(x)
    handle = layer.register_backward_hook(fn)    # fn(layer, grad_out, grad_in) after backward
    handle.remove()

Both kinds receive the arrays in the order they flow through the call: first what the method
was given, then what it returned. For backward that is grad_out = dL/dy (the upstream gradient
backward received) and then grad_in = dL/dx (the gradient it returned). PyTorch's
`register_full_backward_hook` passes the same two arrays the other way round,
fn(module, grad_input, grad_output).

A hook that returns an array replaces the result: the next layer (or the next hook) sees the
returned array instead of y, or instead of dL/dx. It must have the same shape. The layer's own
cache is untouched, so its backward still uses what its forward saw. A hook that returns None
only observes. Hooks receive the layer's own arrays (a layer may have cached y for backward):
never modify them in place, return a new array instead.

A hook fires only when its layer's method runs. A fused UpConv2D computes its UpSampling2D and
Conv2D children as one sub-pixel convolution and calls neither, so hook the UpConv2D itself
(summary() lists the layers that run as its leaf rows).

How they are dispatched. The hooks must fire whoever calls the method: `layer(x)`, a
Sequential calling `layer.forward` directly, or a subclass. Wrapping every subclass's forward in
the base class (`__init_subclass__`) would put a hook check on every call of every layer, and
would fire twice when a subclass's forward calls super().forward (as CAE does). So instead the
first hook of a kind shadows that one method with an instance attribute, a wrapper bound to the
layer; removing the last hook deletes the attribute again. A layer without hooks is exactly the
object it was: the same class method is found the same way, with no extra work per call.
"""
import types

import numpy as np

KINDS = ("forward", "backward")


class HookHandle:
    """What register_*_hook returns; `remove()` unregisters the hook (twice is harmless)."""

    def __init__(self, layer, kind, key):
        self.layer, self.kind, self.key = layer, kind, key

    def remove(self):
        hooks = _hooks(self.layer, self.kind)
        if hooks.pop(self.key, None) is not None and not hooks:
            _unshadow(self.layer, self.kind)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register(layer, kind, fn):
    """Add `fn` to `layer`'s hooks of `kind` ("forward" or "backward"); returns a HookHandle."""
    if kind not in KINDS:
        raise ValueError(f"hook kind must be one of {KINDS}, got {kind!r}")
    if not callable(fn):
        raise TypeError(f"a hook must be callable, got {type(fn).__name__}")
    state = layer.__dict__.setdefault("_hook_state", {"next_key": 0})
    hooks = _hooks(layer, kind)
    if not hooks:
        _shadow(layer, kind)
    key = state["next_key"]
    state["next_key"] += 1
    hooks[key] = fn                          # dicts keep insertion order: hooks run in that order
    return HookHandle(layer, kind, key)


def _hooks(layer, kind):
    return layer.__dict__.setdefault("_hook_state", {"next_key": 0}).setdefault(kind, {})


def _shadow(layer, kind):
    state = layer.__dict__["_hook_state"]
    # An instance may already carry its own method (a test's monkeypatch): wrap that one.
    state[f"inner_{kind}"] = layer.__dict__.get(kind)
    wrapper = _hooked_forward if kind == "forward" else _hooked_backward
    setattr(layer, kind, types.MethodType(wrapper, layer))


def _unshadow(layer, kind):
    inner = layer.__dict__["_hook_state"].pop(f"inner_{kind}", None)
    if inner is None:
        del layer.__dict__[kind]             # the class method is visible again
    else:
        layer.__dict__[kind] = inner


def _inner(layer, kind):
    inner = layer.__dict__["_hook_state"].get(f"inner_{kind}")
    return inner if inner is not None else getattr(type(layer), kind).__get__(layer)


def _apply(layer, kind, given, result):
    for fn in list(_hooks(layer, kind).values()):   # a hook may remove itself while running
        replaced = fn(layer, given, result)
        if replaced is not None:
            replaced = np.asarray(replaced)
            if replaced.shape != np.shape(result):
                raise ValueError(f"a {kind} hook on {layer!r} returned shape {replaced.shape}, "
                                 f"expected {np.shape(result)}")
            result = replaced
    return result


def _hooked_forward(layer, x, training=False):
    return _apply(layer, "forward", x, _inner(layer, "forward")(x, training))


def _hooked_backward(layer, grad_out):
    return _apply(layer, "backward", grad_out, _inner(layer, "backward")(grad_out))
