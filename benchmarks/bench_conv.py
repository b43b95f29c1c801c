"""Every convolution of the original CAE, forward, backward-data and backward-weights, against
numpy's matmul on the same GEMM shapes timed in the same run (the roofline).

    python -m benchmarks.bench_conv                   # 3 x 1024x512, as in training
    python -m benchmarks.bench_conv --size 256x128    # quicker

For each layer and pass: seconds, GFLOP/s (2 FLOP per multiply-add of the GEMM the pass
performs), and "roofline" = matmul time / pass time, the share of the bare matrix multiply's
rate that the pass reaches once im2col, col2im, interleaving and bias are paid for. Each pass
and its GEMM are timed in turn, best of --repeat rounds, so a slow spell of a shared machine
falls on both.
"""
import argparse
from pathlib import Path

import numpy as np

from npcae.layers import Conv2D, UpConv2D
from npcae.models import cae

from .common import (RESULTS, alternating_best, bar_plot, gflops, markdown_table, matmul_fn,
                     write_results)


def conv_layers(model, input_shape):
    """(index, layer, input shape) of every Conv2D / UpConv2D, following the shapes."""
    shape = input_shape
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (Conv2D, UpConv2D)):
            yield i, layer, shape
        shape = layer.output_shape(shape)


def gemm_shapes(layer, shape):
    """(M, K, N) of the forward GEMM, and what the two backward GEMMs are made of."""
    n, h, w, c = shape
    if isinstance(layer, UpConv2D) and layer.fused:
        return n * (h + 1) * (w + 1), 4 * c, 4 * layer.conv.out_channels
    _, oh, ow, f = layer.output_shape(shape)
    kh, kw = layer.kernel_size
    return n * oh * ow, kh * kw * c, f


def label(index, layer, shape):
    conv = layer.conv if isinstance(layer, UpConv2D) else layer
    kind = "up+conv" if isinstance(layer, UpConv2D) else f"conv s{conv.stride}"
    return f"{index}: {kind} {conv.in_channels}->{conv.out_channels} @{shape[1]}x{shape[2]}"


def time_layer(layer, shape, rng, repeat):
    """Best seconds of forward, backward-weights, backward-data and the whole backward, and of
    the three roofline GEMMs, each pass timed in turn with its GEMM (alternating_best)."""
    x = rng.standard_normal(shape, dtype=np.float32)
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    layer.backward(dy)
    if isinstance(layer, UpConv2D) and layer.fused:
        dy_matrix = layer.phase_gradient(dy)
    else:
        dy_matrix = dy.reshape(-1, dy.shape[-1])
    cols = layer.backward_weights(dy_matrix)
    m, k, n = gemm_shapes(layer, shape)
    # The three GEMMs: forward (M,K)@(K,N); weights (K,M)@(M,N); data (M,N)@(N,K).
    times = alternating_best([lambda: layer.forward(x, training=True), matmul_fn(m, k, n),
                              lambda: layer.backward_weights(dy_matrix), matmul_fn(k, m, n),
                              lambda: layer.backward_data(dy_matrix, cols), matmul_fn(m, n, k),
                              lambda: layer.backward(dy)], repeat)
    forward, roof_forward, weights, roof_weights, data, roof_data, total = times
    return (forward, weights, data, total), (roof_forward, roof_weights, roof_data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x512", help="HxW of the input (1024x512)")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings (5)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    height, width = (int(v) for v in args.size.split("x"))
    model, rng = cae(seed=0), np.random.default_rng(0)
    rows = []
    for index, layer, shape in conv_layers(model, (args.batch, height, width, 3)):
        m, k, n = gemm_shapes(layer, shape)
        (forward, weights, data, total), roof = time_layer(layer, shape, rng, args.repeat)
        flop = 2 * m * k * n
        row = dict(layer=label(index, layer, shape), in_channels=shape[-1], gemm=f"{m}x{k}x{n}",
                   forward_s=forward, backward_weights_s=weights, backward_data_s=data,
                   backward_s=total, forward_gflops=gflops(flop, forward),
                   backward_weights_gflops=gflops(flop, weights),
                   backward_data_gflops=gflops(flop, data), matmul_gflops=gflops(flop, roof[0]),
                   forward_roofline=roof[0] / forward, backward_weights_roofline=roof[1] / weights,
                   backward_data_roofline=roof[2] / data,
                   layer_roofline=sum(roof) / (forward + total))
        rows.append(row)
        print(f"{row['layer']:<34} fwd {forward:6.3f} s {row['forward_roofline']:5.0%}  "
              f"bwd-w {weights:6.3f} s {row['backward_weights_roofline']:5.0%}  "
              f"bwd-d {data:6.3f} s {row['backward_data_roofline']:5.0%}  "
              f"layer {row['layer_roofline']:5.0%} of matmul", flush=True)
    columns = [("layer", "layer", "{}"), ("gemm", "GEMM M x K x N", "{}"),
               ("forward_s", "fwd s", "{:.3f}"), ("forward_roofline", "fwd / matmul", "{:.0%}"),
               ("backward_weights_s", "bwd-W s", "{:.3f}"),
               ("backward_weights_roofline", "bwd-W / matmul", "{:.0%}"),
               ("backward_data_s", "bwd-x s", "{:.3f}"),
               ("backward_data_roofline", "bwd-x / matmul", "{:.0%}"),
               ("matmul_gflops", "matmul GFLOP/s", "{:.0f}"),
               ("layer_roofline", "layer / matmul", "{:.0%}")]
    heavy = [r for r in rows if r["in_channels"] >= 32]
    heavy_s = sum(r["forward_s"] + r["backward_s"] for r in heavy)
    heavy_matmul_s = sum(r[f"{p}_s"] * r[f"{p}_roofline"] for r in heavy
                         for p in ("forward", "backward_weights", "backward_data"))
    summary = (f"\n\nLayers with 32 or more input channels: {heavy_s:.2f} s per step; their "
               f"matmuls alone {heavy_matmul_s:.2f} s; lowest layer / matmul "
               f"{min(r['layer_roofline'] for r in heavy):.0%}.\n")
    json_path, md_path = write_results("bench_conv", rows, markdown_table(columns, rows) + summary,
                                       args.out, {"size": [height, width], "batch": args.batch})
    bar_plot(Path(args.out) / "bench_conv.png", [r["layer"] for r in rows],
             {"forward": [r["forward_roofline"] for r in rows],
              "backward-weights": [r["backward_weights_roofline"] for r in rows],
              "backward-data": [r["backward_data_roofline"] for r in rows]},
             "share of numpy matmul's rate", f"CAE convolutions, {args.batch} x {height}x{width}",
             reference=("70% of matmul", 0.7))
    print(summary.strip())
    print(f"wrote {json_path}, {md_path} and bench_conv.png")


if __name__ == "__main__":
    main()
