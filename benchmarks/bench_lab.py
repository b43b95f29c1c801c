"""The kernel lab: every convolution of a model with each algorithm, each pass timed, counted,
checked against float64 and set against numpy's matmul measured in the same run.

    npcae bench conv --algo im2col,winograd2,winograd4,direct --model unet --size 256x256
    python -m benchmarks.bench_lab --model mobilenet_unet --size 224x224 --batch 8

For each Conv2D of the model (its input shape found by running the model once at --size) and
each algorithm that can run it (Conv2D(algo=...): Winograd only 3x3 stride 1, direct only up to
64 filters in whole vectors): seconds of the forward, backward-weights and backward-data passes
(best of --repeat, taken in turn with the matmul they are measured against, so a slow spell of
the shared machine falls on both); effective GFLOP/s counting the direct convolution's
multiply-adds (2 N OH OW KH KW C F per pass, so Winograd, which does fewer, may pass 100% of
the roofline); the forward of a frozen twin (an inference copy's layer, whose Winograd filter
transform is made once); the share of numpy's matmul rate on the im2col GEMM of the same shape; the
workspace each algorithm allocates beyond x, W and y (im2col: its columns, a thin layer's kept
[cols | 1]; Winograd: V, U and M; direct: none); and the largest error of each pass in float32
against the same pass in float64, relative to the largest float64 value. Layers are named by
benchdnn's descriptors (mb8ic32ih128iw128oc32oh128ow128kh3kw3sh1ph1), so the figures compare
with other libraries'. Writes results/bench_lab_<model>.{json,md,png}.
"""
import argparse
import re
from pathlib import Path

import numpy as np

from npcae.layers import Conv2D
from npcae.models import create

from .common import RESULTS, alternating_best, bar_plot, gflops, markdown_table, matmul_fn, write_results

ALGOS = ("im2col", "winograd2", "winograd4", "direct")
PASSES = ("forward", "weights", "data")


def conv_inputs(model, shape):
    """[(Conv2D, its input shape)] in the order a forward meets them (each layer once)."""
    found, original = {}, Conv2D.forward

    def recording(layer, x, training=False):
        found.setdefault(id(layer), (layer, x.shape))
        return original(layer, x, training)
    Conv2D.forward = recording
    try:
        model.forward(np.zeros(shape, np.float32))
    finally:
        Conv2D.forward = original
    return list(found.values())


def descriptor(layer, shape):
    n, h, w, c = shape
    _, oh, ow, f = layer.output_shape(shape)
    kh, kw = layer.kernel_size
    geom = layer.geometry(shape)
    return (f"mb{n}ic{c}ih{h}iw{w}oc{f}oh{oh}ow{ow}kh{kh}kw{kw}sh{layer.stride}"
            f"ph{geom.pad_top}")


def twin(layer, algo):
    """A Conv2D like `layer` (same weights, a non-zero bias) forced to `algo`."""
    copy = Conv2D(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                  layer.padding, rng=np.random.default_rng(0), algo=algo)
    copy.params["W"][...] = layer.params["W"]
    copy.params["b"][...] = np.random.default_rng(1).standard_normal(layer.out_channels) * 0.1
    return copy


def workspace_bytes(layer, shape, plan, itemsize=4):
    n, h, w, c = shape
    _, oh, ow, f = layer.output_shape(shape)
    kh, kw = layer.kernel_size
    if plan.forward.startswith("winograd"):
        m = 2 if "2x2" in plan.forward else 4
        tiles = n * -(-oh // m) * -(-ow // m)
        alpha2 = (m + 2) ** 2
        return alpha2 * (tiles * c + c * f + tiles * f) * itemsize
    if plan.forward == "direct":
        return 0
    if plan.forward == "kept columns":
        return n * oh * ow * (kh * kw * c + 1) * itemsize
    return n * oh * ow * kh * kw * c * itemsize                        # whole columns, backward


def passes(layer, x, dy):
    """(forward, weights, data) of a layer as functions of nothing, after one training forward."""
    layer.forward(x, training=True)
    dy_matrix = dy.reshape(-1, dy.shape[-1])
    cols = layer.backward_weights(dy_matrix)
    return (lambda: layer.forward(x, training=True), lambda: layer.backward_weights(dy_matrix),
            lambda: layer.backward_data(dy_matrix, cols))


def outputs(layer, x, dy):
    """(y, dW, dx) of one forward and backward in x's dtype."""
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    return y, layer.grads["W"].copy(), dx


def relative_max_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def measure(layer, shape, algos, repeat, rng):
    x64 = rng.standard_normal(shape)
    out_shape = layer.output_shape(shape)
    dy64 = rng.standard_normal(out_shape)
    x, dy = x64.astype(np.float32), dy64.astype(np.float32)
    n, oh, ow, f = out_shape
    kh, kw = layer.kernel_size
    macs = n * oh * ow * kh * kw * shape[3] * f
    m, k = n * oh * ow, kh * kw * shape[3]
    rows = []
    for algo in algos:
        candidate = twin(layer, algo)
        try:
            plan = candidate.plan(dtype=np.float32, input_shape=shape)
        except ValueError:
            continue
        fns = passes(candidate, x, dy)
        roofs = (matmul_fn(m, k, f), matmul_fn(k, m, f), matmul_fn(m, f, k))
        frozen = twin(layer, algo)          # an inference copy's layer: filters transformed once
        frozen.freeze()
        times = alternating_best([fn for pair in zip(fns, roofs) for fn in pair]
                                 + [lambda: frozen.forward(x)], repeat)
        frozen_s = times.pop()
        exact = outputs(twin(layer, algo), x64, dy64)
        got = outputs(candidate, x, dy)
        row = dict(layer=descriptor(layer, shape), algo=algo, plan=str(plan),
                   workspace_mb=workspace_bytes(layer, shape, plan) / 2**20, macs=macs,
                   frozen_forward_s=frozen_s)
        for p, (pass_s, roof_s), a, b in zip(PASSES, zip(times[::2], times[1::2]), got, exact):
            row[f"{p}_s"] = pass_s
            row[f"{p}_gflops"] = gflops(2 * macs, pass_s)
            row[f"{p}_roofline"] = roof_s / pass_s
            row[f"{p}_error"] = relative_max_error(a, b)
        rows.append(row)
        print(f"{row['layer']:<48} {algo:<10} fwd {row['forward_s'] * 1e3:7.2f} ms "
              f"{row['forward_roofline']:5.0%}  W {row['weights_s'] * 1e3:7.2f} ms "
              f"{row['weights_roofline']:5.0%}  x {row['data_s'] * 1e3:7.2f} ms "
              f"{row['data_roofline']:5.0%}  frozen fwd {frozen_s * 1e3:7.2f} ms  "
              f"err {max(row[f'{p}_error'] for p in PASSES):.1e}",
              flush=True)
    return rows


def side_by_side(rows, algos):
    """Markdown: one row per 3x3 stride-1 layer, each algorithm's fwd / bwd-W / bwd-x ms, its
    frozen forward and its largest error side by side, and the road conv_choice picks."""
    layers = {}
    for r in rows:
        if "kh3kw3sh1" in r["layer"]:
            layers.setdefault(r["layer"], {})[r["algo"]] = r
    if not layers:
        return "No 3x3 stride-1 convolution: Winograd takes none of this model's layers.\n"
    present = [a for a in algos if any(a in v for v in layers.values())]
    head = ["layer (benchdnn)"] + [f"{a}: fwd / W / x ms (frozen fwd)" for a in present] + \
        ["max error " + " / ".join(present), "chosen: training, frozen"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, by_algo in layers.items():
        cells = [name]
        for a in present:
            r = by_algo.get(a)
            cells.append("" if r is None else
                         f"{r['forward_s'] * 1e3:.2f} / {r['weights_s'] * 1e3:.2f} / {r['data_s'] * 1e3:.2f}"
                         f" ({r['frozen_forward_s'] * 1e3:.2f})")
        cells.append(" / ".join("" if a not in by_algo else
                                f"{max(by_algo[a][f'{p}_error'] for p in PASSES):.0e}" for a in present))
        cells.append(", ".join(chosen(name, training, frozen) for training, frozen in ((True, False), (False, True))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chosen(descriptor, training, frozen):
    """The algorithm Conv2D(algo=None) takes for a benchdnn-described layer (conv_choice.py)."""
    n, c, h, w, f = (int(v) for v in re.match(r"mb(\d+)ic(\d+)ih(\d+)iw(\d+)oc(\d+)", descriptor).groups())
    padding = "same" if descriptor.endswith("ph1") else "valid"
    layer = Conv2D(c, f, 3, 1, padding, rng=np.random.default_rng(0))
    if frozen:
        layer.freeze()
    road = layer.plan(training, input_shape=(n, h, w, c)).forward
    return "winograd4" if road.startswith("winograd") else "direct" if road == "direct" else "im2col"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cae", help="cae, unet or mobilenet_unet (any registered)")
    parser.add_argument("--size", default=None, help="HxW (default: cae 256x128, unet 256x256, "
                                                     "mobilenet_unet 224x224)")
    parser.add_argument("--batch", type=int, default=None, help="images (default: cae 3, else 8)")
    parser.add_argument("--algo", default=",".join(ALGOS), help="comma-separated, of " + ", ".join(ALGOS))
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings (3)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    algos = args.algo.split(",")
    unknown = [a for a in algos if a not in ALGOS]
    if unknown:
        parser.error(f"unknown algorithm {unknown[0]!r}; choose from {', '.join(ALGOS)}")
    size = args.size or {"cae": "256x128", "mobilenet_unet": "224x224"}.get(args.model, "256x256")
    height, width = (int(v) for v in size.split("x"))
    batch = args.batch or (3 if args.model == "cae" else 8)
    model = create(args.model, input_size=(height, width), seed=0)
    rng, rows = np.random.default_rng(0), []
    for layer, shape in conv_inputs(model, (batch, height, width, model.input_shape[-1]
                                            if hasattr(model, "input_shape") else 3)):
        rows += measure(layer, shape, algos, args.repeat, rng)
    columns = [("layer", "layer (benchdnn)", "{}"), ("algo", "algo", "{}"),
               ("forward_s", "fwd ms", "{:.2f}"), ("forward_gflops", "fwd GFLOP/s", "{:.0f}"),
               ("forward_roofline", "fwd / matmul", "{:.0%}"),
               ("frozen_forward_s", "fwd ms, frozen", "{:.2f}"),
               ("weights_s", "bwd-W ms", "{:.2f}"), ("weights_roofline", "bwd-W / matmul", "{:.0%}"),
               ("data_s", "bwd-x ms", "{:.2f}"), ("data_roofline", "bwd-x / matmul", "{:.0%}"),
               ("workspace_mb", "workspace MB", "{:.1f}"),
               ("forward_error", "fwd err", "{:.1e}"), ("weights_error", "bwd-W err", "{:.1e}"),
               ("data_error", "bwd-x err", "{:.1e}")]
    table_rows = [{**r, **{f"{p}_s": r[f"{p}_s"] * 1e3 for p in (*PASSES, "frozen_forward")}}
                  for r in rows]
    note = (f"\n\n{batch} x {height}x{width}. GFLOP/s count the direct convolution's 2 N OH OW KH KW "
            "C F FLOP per pass; '/ matmul' is numpy's matmul time on the im2col GEMM of the same "
            "shape over the pass's (Winograd can exceed 100%). 'fwd ms, frozen': an inference copy's "
            "forward (Conv2D.freeze: Winograd's filter transform made once). Errors: max "
            "|float32 - float64| over max |float64| of each pass's output.\n")
    name = f"bench_lab_{args.model}"
    sbs = ("\n\n## 3x3 stride-1 layers, every algorithm side by side\n\n" + side_by_side(rows, algos)
           + "\nms of forward / backward-weights / backward-data, (the frozen forward); errors as "
             "above, the largest of the three passes; 'chosen': what Conv2D(algo=None) takes "
             "(layers/conv_choice.py) in training and in an inference copy.\n")
    json_path, md_path = write_results(name, rows, markdown_table(columns, table_rows) + note + sbs, args.out,
                                       {"model": args.model, "size": [height, width], "batch": batch})
    labels = list(dict.fromkeys(r["layer"] for r in rows))
    rate = {(r["layer"], r["algo"]): sum(r[f"{p}_gflops"] for p in PASSES) / 3 for r in rows}
    series = {algo: [rate.get((layer, algo), 0.0) for layer in labels] for algo in algos}
    bar_plot(Path(args.out) / f"{name}.png", labels, series, "GFLOP/s (direct count), mean of 3 passes",
             f"{args.model}: each convolution by each algorithm, {batch} x {height}x{width}")
    print(f"wrote {json_path}, {md_path} and {name}.png")


if __name__ == "__main__":
    main()
