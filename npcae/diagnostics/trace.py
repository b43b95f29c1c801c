"""A trace of one training step, layer by layer, built on the layer hooks (npcae/layers/hooks.py).

    trace = trace_step(model, loss, optimizer, x, y)      # performs one real training step
    print(trace.table());  trace.to_json("trace.json");  trace.to_csv("trace.csv")

For every leaf layer (the rows of `model.summary()`; a fused UpConv2D is one leaf):
    forward:   the output's shape, mean, standard deviation and fraction of exact zeros
    backward:  ||dL/dx||, the L2 norm of the gradient the layer returns for its input
    per parameter p:  ||dL/dp||,  ||p||,  ||dp||  and  ||dp|| / ||p||, where dp is the change
               the optimiser made (p after the step minus p before it). A healthy Adam run keeps
               the ratio near 1e-3; a parameter whose ||p|| is 0 (a fresh bias) has no ratio.
Norms and moments are computed in float64 whatever the model's dtype. Layers and parameters
appear under their display names (models/containers.py: "down2.conv1.W" in the U-Net), which
are the stored names ("3.W") for a model whose containers do not name their children.
"""
import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..models.containers import display_name
from ..system.files import atomic_write


def l2_norm(array):
    """sqrt(sum(a^2)), accumulated in float64."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    return math.sqrt(float(np.dot(flat, flat)))


def leaf_layers(model, path=""):
    """(path, layer) for every leaf, depth first, walking summary_children() as summary() does.

    The path is the chain of child indices ("3", "18", "2.1.0"), the prefix of the leaf's
    stored parameter names; the model itself has the path "". display_name(model, path) is the
    name to show.
    """
    children = model.summary_children()
    if not children:
        yield path, model
    for i, child in enumerate(children):
        yield from leaf_layers(child, f"{path}.{i}" if path else str(i))


@dataclass
class ParamTrace:
    name: str              # its display name: "3.W" (the optimiser's), "down2.conv1.W"
    grad_norm: float       # ||dL/dp||
    weight_norm: float     # ||p|| before the step
    update_norm: float     # ||p_after - p_before||
    update_ratio: float    # update_norm / weight_norm (nan when weight_norm is 0)


@dataclass
class LayerTrace:
    name: str                      # "<display path> <class>": "3 Conv2D", "down2.conv1 Conv2D"
    output_shape: tuple = None
    mean: float = math.nan
    std: float = math.nan
    zero_fraction: float = math.nan
    grad_input_norm: float = math.nan   # ||dL/dx||
    params: list = field(default_factory=list)
    plan: str = ""                 # the roads a convolution took (Conv2D.last_plan), else ""


def _finite_or_none(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


@dataclass
class StepTrace:
    layers: list
    loss: float = None
    epoch: int = None

    def table(self):
        """The trace as fixed-width text, one line per layer and parameter."""
        width = max([len(layer.name) for layer in self.layers] + [5]) + 2
        pwidth = max([len(p.name) for layer in self.layers for p in layer.params] + [8]) + 2
        header = (f"{'Layer':<{width}}{'Output shape':<20}{'mean':>10}{'std':>10}{'zeros':>7}"
                  f"{'|dL/dx|':>11}  {'param':<{pwidth}}{'|dL/dp|':>10}{'|p|':>10}{'|dp|':>10}{'|dp|/|p|':>10}"
                  f"  plan (forward / dW / dx)")
        title = "One training step" + (f", epoch {self.epoch}" if self.epoch is not None else "")
        title += f", loss {self.loss:.6g}" if self.loss is not None else ""
        lines = [title, header, "-" * len(header)]
        blank = " " * (width + 20 + 10 + 10 + 7 + 11)
        for layer in self.layers:
            shape = str(tuple(layer.output_shape)) if layer.output_shape is not None else "-"
            start = (f"{layer.name:<{width}}{shape:<20}{layer.mean:>10.3g}{layer.std:>10.3g}"
                     f"{layer.zero_fraction:>7.3f}{layer.grad_input_norm:>11.3e}")
            plan = f"  {layer.plan}" if layer.plan else ""     # a convolution's roads, at the end
            if not layer.params:
                lines.append(start + plan)
            for k, p in enumerate(layer.params):
                ratio = f"{p.update_ratio:.2e}" if math.isfinite(p.update_ratio) else "n/a"
                lines.append(f"{start if k == 0 else blank}  {p.name:<{pwidth}}{p.grad_norm:>10.2e}"
                             f"{p.weight_norm:>10.2e}{p.update_norm:>10.2e}{ratio:>10}"
                             + (plan if k == 0 else ""))
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready dict; non-finite numbers (a ratio with ||p|| = 0) become None."""
        layers = []
        for layer in self.layers:
            row = {k: _finite_or_none(v) for k, v in asdict(layer).items() if k != "params"}
            row["output_shape"] = list(layer.output_shape) if layer.output_shape is not None else None
            row["params"] = [{k: _finite_or_none(v) for k, v in asdict(p).items()} for p in layer.params]
            layers.append(row)
        return {"epoch": self.epoch, "loss": self.loss, "layers": layers}

    def to_json(self, path=None):
        """The trace as JSON text; written atomically to `path` when one is given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            atomic_write(path, lambda f: f.write(text.encode()))
        return text

    CSV_FIELDS = ["layer", "output_shape", "mean", "std", "zero_fraction", "grad_input_norm",
                  "param", "grad_norm", "weight_norm", "update_norm", "update_ratio"]

    def to_csv(self, path=None):
        """One row per layer and parameter (a layer without parameters has one row with the
        parameter columns empty); written atomically to `path` when one is given."""
        text = io.StringIO()
        writer = csv.DictWriter(text, self.CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for layer in self.layers:
            base = {"layer": layer.name, "mean": layer.mean, "std": layer.std,
                    "zero_fraction": layer.zero_fraction, "grad_input_norm": layer.grad_input_norm,
                    "output_shape": "x".join(map(str, layer.output_shape or ()))}
            for p in layer.params or [None]:
                row = dict(base)
                if p is not None:
                    row.update(param=p.name, grad_norm=p.grad_norm, weight_norm=p.weight_norm,
                               update_norm=p.update_norm, update_ratio=p.update_ratio)
                writer.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v)
                                     else f"{v:.8g}" if isinstance(v, float) else v)
                                 for k, v in row.items()})
        if path is not None:
            atomic_write(path, lambda f: f.write(text.getvalue().encode()))
        return text.getvalue()


class Tracer:
    """Within the block, record every leaf's forward and backward; on a clean exit, the change
    of every parameter too. The hooks are removed on leaving, however the block ends.

        with Tracer(model) as tracer:
            ...forward, loss, backward, optimizer.step()...
        tracer.trace          # a StepTrace (loss and epoch are for the caller to fill in)

    A leaf called more than once in the block keeps the numbers of its last call.
    """

    def __init__(self, model):
        self.model, self.trace = model, None

    def __enter__(self):
        self._names = {id(p): name for name, p, _ in self.model.named_parameters()}
        self._rows, self._handles = [], []
        for path, layer in leaf_layers(self.model):
            row = LayerTrace(f"{display_name(self.model, path)} {type(layer).__name__}".strip())
            self._rows.append((row, layer))
            self._handles.append(layer.register_forward_hook(self._forward_hook(row)))
            self._handles.append(layer.register_backward_hook(self._backward_hook(row)))
        self._before = {name: p.copy() for name, p, _ in self.model.named_parameters()}
        return self

    def __exit__(self, exc_type, exc, tb):
        for handle in self._handles:
            handle.remove()
        if exc_type is None:
            self.trace = StepTrace([self._finish(row, layer) for row, layer in self._rows])
        return False

    @staticmethod
    def _forward_hook(row):
        def record(layer, x, y):
            # Reduced at once: y may be a buffer that a later layer reuses.
            y64 = np.asarray(y, dtype=np.float64)
            row.output_shape = tuple(y.shape)
            row.mean, row.std = float(y64.mean()), float(y64.std())
            row.zero_fraction = float(np.count_nonzero(y64 == 0) / y64.size)
            row.plan = str(getattr(layer, "last_plan", None) or "")
        return record

    @staticmethod
    def _backward_hook(row):
        def record(layer, grad_out, grad_in):
            row.grad_input_norm = l2_norm(grad_in)
        return record

    def _finish(self, row, layer):
        for short, param in layer.params.items():
            name = self._names[id(param)]
            before = self._before[name]
            weight, update = l2_norm(before), l2_norm(param.astype(np.float64) - before)
            ratio = update / weight if weight > 0 else math.nan
            row.params.append(ParamTrace(display_name(self.model, name), l2_norm(layer.grads[short]),
                                         weight, update, ratio))
        return row


def trace_step(model, loss, optimizer, x, y, training=True):
    """Run one training step (forward, loss, backward, optimizer.step()) and trace it.

    The step is real: the model's weights and the optimiser's state advance as in training.
    """
    with Tracer(model) as tracer:
        pred = model.forward(x, training)
        value = loss.forward(pred, y)
        model.backward(loss.backward())
        optimizer.step()
    tracer.trace.loss = float(value)
    return tracer.trace


def write_trace(trace, folder, stem="trace"):
    """Write <stem>.txt, .json and .csv into `folder`; returns the three paths."""
    paths = [os.path.join(folder, f"{stem}.{ext}") for ext in ("txt", "json", "csv")]
    text = trace.table() + "\n"
    atomic_write(paths[0], lambda f: f.write(text.encode()))
    trace.to_json(paths[1])
    trace.to_csv(paths[2])
    return paths
