"""Shape-only parameters: build a model's layers without allocating their weights.

    with shapes_only():
        model = create("cae", filters=(4096, 8192, 16384))   # instant; no weight is drawn
    model.n_params(), model.output_shape((3, 1024, 512, 3))   # shapes, sizes, MACs still work

Inside the block every initialiser of layers/init.py returns a `ShapeOnly` (a shape and a dtype,
no data) instead of drawing the array; `Layer.add_param` makes its zeroed gradient with
np.zeros_like, which NumPy hands to `ShapeOnly.__array_function__`, so the gradient is a
ShapeOnly too. That is what npcae.diagnostics.memory needs to estimate a model too large to build (3x3
kernels of 8192 -> 16384 filters are 4.8 GB each, their float64 draw 9.7 GB). PyTorch's
"meta" device (`torch.device("meta")`) plays the same part there.

Small arrays a constructor makes with np.zeros/np.ones directly (a bias, batch-norm
statistics: C values each) are still real; a kernel (KH*KW*C_in*C_out values) goes through an
initialiser, and a new initialiser takes part by wearing `@shape_only_aware`. A model built this
way cannot compute: a NumPy function other than the *_like constructors raises TypeError, a
method (reshape, sum) AttributeError, both saying it was built under shapes_only().
"""
import contextlib
import contextvars
import functools
import inspect

import numpy as np

_ACTIVE = contextvars.ContextVar("npcae_shapes_only", default=False)
LIKE = (np.zeros_like, np.empty_like, np.ones_like, np.full_like)
NO_DATA = "the model was built under shapes_only() for estimates and holds no weights"


class ShapeOnly:
    """Stands in for an ndarray of `shape` and `dtype`: shape, dtype, size, nbytes, no memory."""

    def __init__(self, shape, dtype=np.float32):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    def astype(self, dtype, copy=True):
        return ShapeOnly(self.shape, dtype)

    def __array_function__(self, func, types, args, kwargs):
        if func in LIKE:
            return ShapeOnly(kwargs.get("shape") or self.shape, kwargs.get("dtype") or self.dtype)
        raise TypeError(f"np.{func.__name__} of {self!r}: {NO_DATA}")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self!r} as an array: {NO_DATA}")

    def __getattr__(self, name):            # reshape, sum, ...: whatever computing would need
        raise AttributeError(f"{self!r} has no {name!r}: {NO_DATA}")

    def __repr__(self):
        return f"ShapeOnly({self.shape}, {self.dtype})"


@contextlib.contextmanager
def shapes_only():
    """Within the block, initialisers return ShapeOnly placeholders instead of arrays."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def shape_only_aware(initialiser):
    """Decorate initialiser(rng, shape, ..., dtype=np.float32): under shapes_only() it returns
    ShapeOnly(shape, dtype) and draws nothing (the generator is not advanced)."""
    signature = inspect.signature(initialiser)

    @functools.wraps(initialiser)
    def initialise(rng, shape, *args, **kwargs):
        if _ACTIVE.get():
            given = signature.bind(rng, shape, *args, **kwargs)
            given.apply_defaults()
            return ShapeOnly(shape, given.arguments.get("dtype", np.float32))
        return initialiser(rng, shape, *args, **kwargs)
    return initialise
