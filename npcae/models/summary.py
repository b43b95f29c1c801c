"""Keras-style model summary with the arithmetic added: output shape, parameters, MACs, memory."""
from ..layers.base import Layer


def _rows(layer: Layer, input_shape, depth):
    """(indented name, output shape, params, MACs, is_leaf) for a layer, then its children."""
    output_shape = layer.output_shape(input_shape)
    # A convolution's roads depend on its input's size (layers/conv_choice.py): show this one's.
    text = layer.describe(input_shape) if hasattr(layer, "describe") else repr(layer)
    yield ("  " * depth + text.split("\n")[0].rstrip("("), output_shape,
           layer.n_params(), layer.forward_macs(input_shape), not layer.summary_children())
    for child in layer.summary_children():
        yield from _rows(child, input_shape, depth + 1)
        if getattr(layer, "chained", False):       # Sequential: each child feeds the next
            input_shape = child.output_shape(input_shape)


def summary_text(model: Layer, input_shape, itemsize=4):
    """The summary as a string; activation memory counts one output array per leaf layer."""
    rows = list(_rows(model, tuple(input_shape), 0))
    width = max(len(row[0]) for row in rows[1:]) + 2 if len(rows) > 1 else 8
    header = f"{'Layer':<{width}}{'Output shape':<24}{'Params':>10}{'MACs':>16}{'Act. MB':>10}"
    lines = [header, "-" * len(header)]
    total_bytes = 0
    for name, shape, n_params, macs, leaf in rows[1:]:
        size = 1
        for d in shape:
            size *= d
        act_bytes = size * itemsize if leaf else 0
        total_bytes += act_bytes
        lines.append(f"{name:<{width}}{str(shape):<24}{(n_params if leaf else ''):>10}"
                     f"{(f'{macs:,}' if leaf else ''):>16}{(f'{act_bytes / 2**20:.1f}' if leaf else ''):>10}")
    _, out_shape, n_params, macs, _ = rows[0]
    lines += ["-" * len(header),
              f"Input {tuple(input_shape)} -> output {out_shape}",
              f"Parameters: {n_params:,}",
              f"Forward multiply-accumulates: {macs:,} ({2 * macs / 1e9:.2f} GFLOP)",
              f"Activation memory (one output per layer, {itemsize}-byte floats): "
              f"{total_bytes / 2**20:.1f} MB"]
    return "\n".join(lines)
