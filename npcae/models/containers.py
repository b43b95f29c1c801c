"""Containers: layers made of layers. Each is itself a Layer, so they nest freely.

    Sequential(a, b, c)              y = c(b(a(x)))
    Add(branch_1, branch_2)          y = branch_1(x) + branch_2(x)          (a residual block)
    Concatenate(branch_1, branch_2)  y = [branch_1(x), branch_2(x)] on the channel axis

A U-Net level is `Sequential(conv_block, Concatenate(Identity(), Sequential(down, inner, up)),
conv_block)`: the skip connection is the Identity branch, and no layer needs to know about it.

Names. Parameters and state are stored (weights files, checkpoints, the optimiser) under their
path of child indices, "6.0.7.W" (layers/base.py). A container may also name its children for
people to read, `Sequential(layers, names=["enc.conv", "enc.relu", ...])`; display_name() turns
the stored path into those names ("6.0.7.W" -> "down2.conv1.W"), and the gradient-flow figure
and the step trace show them. A child named "" (only a container) adds no part to the path: its
children's names read as its parent's own, so a U-Net's nesting does not show in its names.
The stored names never change with the display names, so every weights file keeps loading.
"""
from contextlib import contextmanager

import numpy as np

from ..kernels.channels import add, concat_channels, split_channels
from ..layers import fused
from ..layers.base import Layer
from .io import load_weights, save_weights
from .summary import summary_text


class Container(Layer):
    """Shared plumbing: children's parameters and state are stored as "<index>.<name>", and
    may be shown under names given to the children (display_name); summary, save, load."""

    chained = False          # True when each child's output is the next child's input
    input_shape = None       # (H, W, C) used by summary() when no shape is given
    config = None            # how to rebuild the model (stored with the weights when set)

    def __init__(self, *layers, names=None):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"a container holds Layers, got {type(layer).__name__}")
        self.layers = list(layers)
        self.names = [str(i) for i in range(len(layers))] if names is None else list(names)
        self._check_names()

    def _check_names(self):
        """One name a child, "" only for a container, and no two layers shown under one name."""
        if len(self.names) != len(self.layers):
            raise ValueError(f"{len(self.names)} names for {len(self.layers)} layers")
        for name, layer in zip(self.names, self.layers):
            if not isinstance(name, str) or (name == "" and not isinstance(layer, Container)):
                raise ValueError(f"a layer's name is a non-empty string (\"\" only for a "
                                 f"container), got {name!r} for {type(layer).__name__}")
        seen = set()
        for path, _ in self.named_layers():
            if path in seen:
                raise ValueError(f"two layers would be shown as {path!r}")
            seen.add(path)

    def named_layers(self):
        """(display path, layer) for every layer inside, depth first, containers included
        except those named "": ("down1.conv1", Conv2D), ... (a model of unnamed containers:
        ("0", Conv2D), ("2", Sequential), ("2.1", Conv2D), ...)."""
        for name, layer in zip(self.names, self.layers):
            if name:
                yield name, layer
            if isinstance(layer, Container):
                for path, inner in layer.named_layers():
                    yield (f"{name}.{path}" if name else path), inner

    def sublayers(self):
        return self.layers          # Layer names their parameters and state "<index>.<name>"

    def summary(self, input_shape=None, print_fn=print):
        """Print each layer with its output shape, parameters, MACs and activation memory.

        input_shape is (N, H, W, C) or (H, W, C); it defaults to the model's own input_shape.
        """
        shape = input_shape or self.input_shape
        if shape is None:
            raise ValueError("summary() needs an input_shape, e.g. (1, 1024, 512, 3)")
        shape = tuple(shape) if len(shape) == 4 else (1, *shape)
        text = summary_text(self, shape)
        if print_fn is not None:
            print_fn(text)
        return text

    def save(self, path):
        """Write the named parameters and state (and the config, if any) to a .npz, atomically."""
        save_weights(self, path, self.config)

    def load(self, path):
        """Read parameters and state written by save(); raises WeightsMismatch for another
        architecture."""
        load_weights(self, path)
        return self

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self):
        inner = ",\n".join("  " + repr(layer).replace("\n", "\n  ") for layer in self.layers)
        return f"{type(self).__name__}(\n{inner}\n)"


def display_name(model, name):
    """The name a person reads for the parameter, state entry or layer path stored as `name`:
    each index through a container becomes the name it gives that child ("6.0.7.W" ->
    "down2.conv1.W" in the U-Net), a child named "" adds nothing, and what is left after the
    last container stays as stored. Containers without names show the stored name unchanged."""
    parts, shown, layer = name.split("."), [], model
    while parts and isinstance(layer, Container) and parts[0].isdigit() and int(parts[0]) < len(layer):
        index = int(parts.pop(0))
        shown += [layer.names[index]] if layer.names[index] else []
        layer = layer.layers[index]
    return ".".join(shown + parts)


class Sequential(Container):
    """Layers applied in order; backward runs them in reverse."""

    chained = True
    caches_forward = False        # backward uses only the layers' caches, and they check theirs

    def forward(self, x, training=False):
        self._fused = set()            # i: layers i, i + 1 ran as one (layers/fused.py)
        i = 0
        while i < len(self.layers):
            layer = self.layers[i]
            following = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if following is not None and fused.fuses(layer, following) and fused.takes_input(x):
                x = fused.forward_pair(layer, following, x, training)
                self._fused.add(i)
                i += 2
                continue
            x = layer.forward(x, training)
            i += 1
        return x

    def backward(self, grad_out):
        fused_pairs = getattr(self, "_fused", set())
        i = len(self.layers) - 1
        while i >= 0:
            # After a fused forward the layers' caches also serve two plain backwards (the
            # ReLU kept z): a hook registered since then is honoured.
            if i - 1 in fused_pairs and fused.fuses(self.layers[i - 1], self.layers[i]):
                grad_out = fused.backward_pair(self.layers[i - 1], self.layers[i], grad_out)
                i -= 2
                continue
            grad_out = self.layers[i].backward(grad_out)
            i -= 1
        return grad_out

    def output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.output_shape(input_shape)
        return input_shape

    def forward_macs(self, input_shape):
        total = 0
        for layer in self.layers:
            total += layer.forward_macs(input_shape)
            input_shape = layer.output_shape(input_shape)
        return total


class _Branches(Container):
    """Every branch sees the same input; dL/dx is the sum of the branches' input gradients."""

    def forward_macs(self, input_shape):
        return sum(branch.forward_macs(input_shape) for branch in self.layers)

    def backward_branches(self, grads):
        dx, owned = self.layers[0].backward(grads[0]), False
        for branch, grad in zip(self.layers[1:], grads[1:]):
            if owned:
                dx += branch.backward(grad)
            else:                     # never add into an array a branch may still own
                dx, owned = add(dx, branch.backward(grad)), True
        return dx if owned else np.array(dx, copy=True)


class Add(_Branches):
    """y = sum_k branch_k(x);  each branch receives dy unchanged."""

    def forward(self, x, training=False):
        outputs = [branch.forward(x, training) for branch in self.layers]
        return sum(outputs[1:], start=outputs[0].copy())

    def backward(self, grad_out):
        return self.backward_branches([grad_out] * len(self.layers))

    def output_shape(self, input_shape):
        shapes = {tuple(branch.output_shape(input_shape)) for branch in self.layers}
        if len(shapes) != 1:
            raise ValueError(f"Add needs branches of one output shape, got {sorted(shapes)}")
        return shapes.pop()


class Concatenate(_Branches):
    """y = concat_k branch_k(x) on channels;  branch k receives its own channel slice of dy."""

    def forward(self, x, training=False):
        outputs = [branch.forward(x, training) for branch in self.layers]
        self._widths = [out.shape[-1] for out in outputs]
        if len(outputs) == 2 and outputs[0].dtype == outputs[1].dtype:
            return concat_channels(*outputs)          # the U-Net's skip: one parallel pass
        return np.concatenate(outputs, axis=-1)

    def backward(self, grad_out):
        if len(self._widths) == 2 and min(self._widths) > 0:   # the U-Net's skip: one pass
            return self.backward_branches(split_channels(grad_out, self._widths[0]))
        edges = np.cumsum(self._widths)[:-1]
        return self.backward_branches(np.split(grad_out, edges, axis=-1))

    def output_shape(self, input_shape):
        shapes = [tuple(branch.output_shape(input_shape)) for branch in self.layers]
        if len({shape[:-1] for shape in shapes}) != 1:
            raise ValueError(f"Concatenate needs branches of one spatial shape, got {shapes}")
        return shapes[0][:-1] + (sum(shape[-1] for shape in shapes),)


@contextmanager
def no_input_gradient(model):
    """Within it, the model's first layer, when it is a convolution that reads the model's input
    alone (reached through Sequential containers only), returns None for dL/dx instead of
    computing it. A training step never uses the gradient of its input images, and PyTorch does
    not compute it either (the input needs no grad): for the U-Net's 3 -> 16 convolution at
    8 x 256x256 it was 60 ms of a 1.2-1.5 s step. Outside it, backward returns every gradient
    (the gradient checks, the trace and the study tools ask for dL/dx)."""
    first = model
    while isinstance(first, Sequential) and first.layers:
        first = first.layers[0]
    if getattr(first, "input_gradient", None) is not True:
        yield
        return
    first.input_gradient = False
    try:
        yield
    finally:
        first.input_gradient = True
