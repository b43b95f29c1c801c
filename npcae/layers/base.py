"""The one contract every layer follows.

    y = layer.forward(x, training=False)     # caches what backward needs
    dx = layer.backward(dy)                  # returns dL/dx, writes dL/dparam into layer.grads

`layer.params` maps a name to a trainable array, `layer.grads` the same names to arrays of the
same shape. Gradients are written in place into those arrays, so an optimiser may hold on to
them; backward never modifies `dy`. A layer computes in the dtype of its input.

`layer.state` holds what a layer keeps but does not train (Keras's non-trainable weights,
PyTorch's buffers): arrays such as a running mean, and random generators such as Dropout's.
It is saved beside the parameters and restored exactly (`state_arrays`, `load_state_arrays`).
Layers read their parameters and state through those dicts on every call, since `astype`
replaces the arrays (loading writes into them).

Children's parameters and state are named "<index>.<name>", the index in `sublayers()`:
"3.W" in a Sequential, "2.1.b" one level deeper.

Any layer, nested or not, takes hooks without being edited (see npcae/layers/hooks.py):
`layer.register_forward_hook(fn)`, fn(layer, x, y), and `layer.register_backward_hook(fn)`,
fn(layer, grad_out, grad_in); each returns a handle with `.remove()`.
"""
import abc
import functools

import numpy as np

from ..errors import InputError, NpcaeError
from . import hooks
from .state import encode, fit, restore


class Layer(abc.ABC):
    """Base class. A subclass must write forward and backward: one without either cannot be
    created (TypeError naming the missing method), so a forgotten backward cannot silently
    pass the gradient through. `Identity` (layers/identity.py) is y = x.

    backward raises BackwardOrderError unless a training forward came just before it, and
    BadInput unless dy has the shape that forward returned (see `_needs_training_forward`); a
    layer whose backward uses no cache of its own, only its children's (Sequential), sets
    `caches_forward = False`, and its children check."""

    caches_forward = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.state = {}

    def __init_subclass__(cls, **kwargs):
        """Guard every subclass's own forward and backward (see `_remembers_mode`)."""
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _remembers_mode(cls.__dict__["forward"])
        if "backward" in cls.__dict__ and cls.caches_forward:
            cls.backward = _needs_training_forward(cls.__dict__["backward"])

    @abc.abstractmethod
    def forward(self, x, training=False):
        """x (N, H, W, C) -> y; in training, cache what backward needs."""

    @abc.abstractmethod
    def backward(self, grad_out):
        """dL/dy (y's shape) -> dL/dx (x's shape); write dL/dparam into self.grads."""

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
        """Yield (name, param, grad) for every trainable array: the layer's own, then each
        child's under "<index>.". (UpConv2D, whose arrays are its conv's, overrides this.)"""
        for name, value in self.params.items():
            yield prefix + name, value, self.grads[name]
        for i, child in enumerate(self.sublayers()):
            yield from child.named_parameters(f"{prefix}{i}.")

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
        """Cast parameters (and their gradients) and floating-point state arrays to `dtype`, in
        place on the layer. Generators and integer state (a counter) stay as they are.

        A cast makes new arrays, so an optimiser created before it would update arrays the
        model no longer uses: the replaced ones are made read-only, and the optimiser's next
        step says so. Create the optimiser after astype. (The same dtype changes nothing.)
        """
        for layer in self.walk():
            for name in list(layer.params):
                cast = layer.params[name].astype(dtype, copy=False)
                if cast is not layer.params[name]:
                    layer.params[name].flags.writeable = False
                    layer.grads[name].flags.writeable = False
                    layer.params[name], layer.grads[name] = cast, np.zeros_like(cast)
            for name, value in list(layer.state.items()):
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    layer.state[name] = value.astype(dtype)
        return self

    # -- state ------------------------------------------------------------------------------
    def add_state(self, name, value):
        """Register a non-trainable ndarray or np.random.Generator under `name`; returns it."""
        if not isinstance(value, (np.ndarray, np.random.Generator)):
            raise TypeError(f"state {name!r} must be an ndarray or a numpy Generator, "
                            f"got {type(value).__name__}")
        self.state[name] = value
        return value

    def named_state(self, prefix=""):
        """Yield (name, value) for every state entry: the layer's own, then each child's under
        "<index>." (the names named_parameters gives)."""
        for name, value in self.state.items():
            yield prefix + name, value
        for i, child in enumerate(self.sublayers()):
            yield from child.named_state(f"{prefix}{i}.")

    def state_arrays(self):
        """{dotted name: array} of every state entry: arrays copied, a generator as its state
        in JSON (a 0-d unicode array; see layers/state.py). {} for a layer without state."""
        return {name: encode(value) for name, value in self.named_state()}

    def load_state_arrays(self, arrays):
        """Restore every state entry, in place and exactly, from arrays as state_arrays() gave.

        Raises WeightsMismatch naming the first missing or unexpected name, or the first entry
        of another shape or kind of generator; nothing is changed then.
        """
        entries = dict(self.named_state())
        decoded = fit(entries, arrays, "the state does not fit the model")
        for name, value in entries.items():
            restore(value, decoded[name])

    def __repr__(self):
        return f"{type(self).__name__}()"


# -- the order of calls, and dy's shape -------------------------------------------------------
# backward uses what the last forward cached; an inference forward caches too (or clears what
# backward needs), so a backward after one would compute the gradient of something else
# without a word. Every subclass's forward and backward are wrapped, once, when the class is
# made (a wrapper costs ~0.2 us a call, nothing beside a layer's work): forward notes its
# mode and its output's shape, and backward runs only after a training forward and only on a
# dy of that shape (a tuple compare: dy is neither copied nor converted). Without the shape
# check a wrong dy met NumPy deep inside (a matmul's "core dimension", a failed reshape), or
# broadcast into a gradient of the wrong size without a word.

class BackwardOrderError(NpcaeError, RuntimeError):
    """backward() without a training forward() just before it."""


class BadInput(InputError):
    """A value npcae cannot compute with, named with what it should be: an input array (its
    type, shape, size or values), a dy that is not of the forward output's shape, a loss's
    prediction, a builder's argument. An InputError, so a ValueError too (exit status 2)."""


def _remembers_mode(forward):
    @functools.wraps(forward)
    def remembering_forward(self, x, training=False):
        self._backward_ready = None              # a forward that raises leaves nothing to use
        y = forward(self, x, training)
        remember_forward(self, y, training)
        return y
    return remembering_forward


def remember_forward(layer, y, training):
    """Record, as every guarded forward does, that `layer` returned y in this mode; for a
    caller that runs a layer's forward by another road (layers/fused.py)."""
    layer._backward_ready = bool(training)
    layer._forward_shape = getattr(y, "shape", None)


def check_backward(layer, grad_out):
    """What every guarded backward checks first: a training forward just before, and dy of
    the shape it returned. BackwardOrderError or BadInput otherwise."""
    ready = getattr(layer, "_backward_ready", None)
    if ready is not True:
        last = {None: "there was no forward before it",
                False: "the last forward was an inference forward (training=False), which "
                       "replaced what backward needs"}[ready]
        raise BackwardOrderError(f"{type(layer).__name__}.backward needs forward(x, "
                                 f"training=True) just before it; {last}")
    if getattr(grad_out, "shape", None) != layer._forward_shape:
        raise _wrong_gradient(layer, grad_out)


def _needs_training_forward(backward):
    @functools.wraps(backward)
    def checked_backward(self, grad_out):
        check_backward(self, grad_out)
        return backward(self, grad_out)
    return checked_backward


def _wrong_gradient(layer, grad_out):
    """The BadInput for a dy that is not of the shape the layer's forward returned."""
    name, expected = type(layer).__name__, layer._forward_shape
    if not hasattr(grad_out, "shape"):
        return BadInput(f"{name}.backward takes dy as an array of shape {expected}, got "
                        f"{type(grad_out).__name__}")
    return BadInput(f"{name}.backward got dy of shape {tuple(grad_out.shape)}, but its forward "
                    f"returned {expected}: dy = dL/dy has y's shape")


def as_float(x, name="input"):
    """Check that x is a float32 or float64 NHWC array with at least one pixel (np.asarray(x):
    a nested list is read as NumPy reads it); return it. An empty batch (N = 0) passes: a
    forward of no images is an empty output (batch norm refuses one to train on)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        # float16 (and longdouble) pass for floats but have no Numba kernels: say so here.
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {x.dtype}"
                        + ("; cast it with x.astype(np.float32)" if x.dtype.kind == "f" else ""))
    if x.ndim != 4:
        raise BadInput(f"{name} must be NHWC (4-D), got shape {x.shape}")
    if not (x.shape[1] and x.shape[2]):          # the convolution's geometry divides by them
        raise BadInput(f"{name} has no pixels: height and width must be at least 1, got "
                       f"{x.shape[1]}x{x.shape[2]} (shape {x.shape})")
    return x


def check_finite(x):
    """Raise BadInput if x holds NaN or infinity: one pass over it (1.1 ms at 3 x 1024x512,
    0.015% of a CAE step). Models check their input, since one NaN let through makes every
    parameter NaN after a single step."""
    if not np.isfinite(x).all():
        raise BadInput(f"the input holds {np.count_nonzero(~np.isfinite(x))} NaN or infinite values")


def model_input(x, training, model="the model"):
    """A whole model's check of its input, once a forward, before any layer: x as an array
    (a nested list is read by np.asarray, as the layers read it), float32 or float64, NHWC,
    with pixels, finite, and in training at least one image. -> the array.

    An empty batch is refused in training only: batch norm's statistics and a loss's mean over
    no values are NaN (they made every moving statistic NaN, saved into weights.npz without a
    word). An inference forward of no images is an empty prediction, as NumPy and PyTorch
    give: no statistic is updated, and a caller that splits its images into chunks needs no
    special case for an empty one."""
    x = as_float(x, f"{model}'s input")
    if training and x.shape[0] == 0:
        raise BadInput(f"{model} cannot train on an empty batch (shape {x.shape}): batch "
                       f"statistics and the loss need at least one image")
    check_finite(x)
    return x
