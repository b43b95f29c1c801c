"""The one contract every layer follows.

    y = layer.forward(x, training=False)     # caches what backward needs
    dx = layer.backward(dy)                  # returns dL/dx, writes dL/dparam into layer.grads

`layer.params` maps a name to a trainable array, `layer.grads` the same names to arrays of the
same shape. Gradients are written in place into those arrays, so an optimiser may hold on to
them; backward never modifies `dy`. A layer computes in the dtype of its input.

Any layer, nested or not, takes hooks without being edited (see npcae/hooks.py):
`layer.register_forward_hook(fn)`, fn(layer, x, y), and `layer.register_backward_hook(fn)`,
fn(layer, grad_out, grad_in); each returns a handle with `.remove()`.
"""
import numpy as np

from .. import hooks


class Layer:
    """Base class: a parameter-free identity. Subclasses override forward and backward."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x, training=False):
        return x

    def backward(self, grad_out):
        return grad_out

    def __call__(self, x, training=False):
        return self.forward(x, training)

    def output_shape(self, input_shape):
        """The output shape for an input of `input_shape` (N, H, W, C), without computing."""
        return tuple(input_shape)

    def forward_macs(self, input_shape):
        """Multiply-accumulates one forward pass costs for this input shape."""
        return 0

    # -- hooks -------------------------------------------------------------------------------
    def register_forward_hook(self, fn):
        """Call fn(layer, x, y) after every forward; a returned array replaces y. -> handle."""
        return hooks.register(self, "forward", fn)

    def register_backward_hook(self, fn):
        """Call fn(layer, grad_out, grad_in) after every backward, grad_out = dL/dy received and
        grad_in = dL/dx returned; a returned array replaces grad_in. -> handle with .remove()."""
        return hooks.register(self, "backward", fn)

    # -- parameters -------------------------------------------------------------------------
    def add_param(self, name, value):
        """Register a trainable array and a zeroed gradient beside it."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def named_parameters(self, prefix=""):
        """Yield (name, param, grad) for every trainable array, recursively."""
        for name, value in self.params.items():
            yield prefix + name, value, self.grads[name]

    def parameters(self):
        """Yield (param, grad) pairs."""
        for _, value, grad in self.named_parameters():
            yield value, grad

    def n_params(self):
        return sum(p.size for p, _ in self.parameters())

    def sublayers(self):
        """Direct children (containers override this)."""
        return []

    def summary_children(self):
        """The children summary() lists under this layer: by default all of them."""
        return self.sublayers()

    def walk(self):
        """This layer and every layer inside it, depth first."""
        yield self
        for child in self.sublayers():
            yield from child.walk()

    def astype(self, dtype):
        """Cast parameters (and their gradients) to `dtype`, in place on the layer."""
        for layer in self.walk():
            for name in list(layer.params):
                layer.params[name] = layer.params[name].astype(dtype)
                layer.grads[name] = np.zeros_like(layer.params[name])
        return self

    def __repr__(self):
        return f"{type(self).__name__}()"


def as_float(x, name="input"):
    """Check that x is a floating-point NHWC array; return it unchanged."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be NHWC (4-D), got shape {x.shape}")
    return x
