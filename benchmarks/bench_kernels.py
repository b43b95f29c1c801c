"""im2col and col2im on the original CAE's layer shapes: Numba (what npcae runs) against a
pure-NumPy strided version and plain Python loops, in seconds and GB/s.

    python -m benchmarks.bench_kernels                  # 3 x 1024x512, as in training

GB/s counts the bytes a kernel must move: the columns written (im2col) or read (col2im) plus
the image read or written. Plain loops are too slow for full-size shapes, so they run on
one image cropped to 64 rows and their rate (GB/s) is what the table compares.
"""
import argparse
from pathlib import Path

import numpy as np

from npcae import kernels
from npcae.kernels import reference, subpixel
from npcae.layers import Conv2D, UpConv2D
from npcae.models import cae

from .common import RESULTS, bar_plot, best_time, markdown_table, write_results

LOOP_ROWS = 64


def kernel_shapes(model, input_shape):
    """(label, input shape, geometry of (H, W)) of every distinct non-pointwise im2col."""
    shape, seen = input_shape, set()
    for i, layer in enumerate(model.layers):
        if isinstance(layer, UpConv2D) and layer.fused:
            kind, geometry = "2x2 up", subpixel.window_geometry
        elif isinstance(layer, Conv2D):
            kind = f"3x3 s{layer.stride}"
            geometry = (lambda conv, c: lambda h, w: conv.geometry((1, h, w, c)))(layer, shape[3])
        else:
            kind = None
        if kind and not kernels.is_pointwise(geometry(*shape[1:3])) and (shape, kind) not in seen:
            seen.add((shape, kind))
            yield f"{i}: {kind} C={shape[3]} @{shape[1]}x{shape[2]}", shape, geometry
        shape = layer.output_shape(shape)


def traffic(x_shape, geom, itemsize=4):
    n, _, _, c = x_shape
    cols = n * geom.out_h * geom.out_w * geom.kh * geom.kw * c
    return (cols + int(np.prod(x_shape))) * itemsize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x512")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-loops", action="store_true", help="skip the plain-loop column")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    height, width = (int(v) for v in args.size.split("x"))
    rng, rows = np.random.default_rng(0), []
    for label, shape, geometry in kernel_shapes(cae(seed=0), (args.batch, height, width, 3)):
        geom = geometry(*shape[1:3])
        x = rng.standard_normal(shape, dtype=np.float32)
        cols = kernels.im2col(x, geom)
        nbytes = traffic(shape, geom)
        row = {"kernel": label, "columns": f"{cols.shape[0]}x{cols.shape[1]}", "mbytes": nbytes / 1e6}
        timings = {
            "im2col_numba": lambda: kernels.im2col(x, geom, out=cols),
            "im2col_numpy": lambda: reference.im2col_strided(x, geom),
            "col2im_numba": lambda: kernels.col2im(cols, shape, geom),
            "col2im_numpy": lambda: reference.col2im_strided(cols, shape, geom),
        }
        for name, fn in timings.items():
            row[f"{name}_s"] = best_time(fn, args.repeat)
            row[f"{name}_gbs"] = nbytes / row[f"{name}_s"] / 1e9
        if not args.no_loops:
            # One image, LOOP_ROWS rows: a shape plain loops finish in about a second.
            small_shape = (1, min(shape[1], LOOP_ROWS), shape[2], shape[3])
            small_geom = geometry(*small_shape[1:3])
            xs = np.ascontiguousarray(x[:1, :small_shape[1]])
            small_cols = kernels.im2col(xs, small_geom)
            small_bytes = traffic(small_shape, small_geom)
            row["im2col_loops_gbs"] = small_bytes / best_time(
                lambda: reference.im2col_loops(xs, small_geom), 1) / 1e9
            row["col2im_loops_gbs"] = small_bytes / best_time(
                lambda: reference.col2im_loops(small_cols, small_shape, small_geom), 1) / 1e9
        rows.append(row)
        print(f"{label:<26} im2col numba {row['im2col_numba_gbs']:5.1f} GB/s numpy "
              f"{row['im2col_numpy_gbs']:5.1f}  col2im numba {row['col2im_numba_gbs']:5.1f} numpy "
              f"{row['col2im_numpy_gbs']:5.1f}" + ("" if args.no_loops else
              f"  loops {row['im2col_loops_gbs']:.3f} / {row['col2im_loops_gbs']:.3f}"), flush=True)
    columns = [("kernel", "layer input", "{}"), ("columns", "columns", "{}"), ("mbytes", "MB moved", "{:.0f}"),
               ("im2col_numba_s", "im2col numba s", "{:.4f}"), ("im2col_numba_gbs", "GB/s", "{:.1f}"),
               ("im2col_numpy_gbs", "numpy GB/s", "{:.1f}"), ("im2col_loops_gbs", "loops GB/s", "{:.3f}"),
               ("col2im_numba_s", "col2im numba s", "{:.4f}"), ("col2im_numba_gbs", "GB/s", "{:.1f}"),
               ("col2im_numpy_gbs", "numpy GB/s", "{:.1f}"), ("col2im_loops_gbs", "loops GB/s", "{:.3f}")]
    json_path, md_path = write_results("bench_kernels", rows, markdown_table(columns, rows), args.out,
                                       {"size": [height, width], "batch": args.batch})
    bar_plot(Path(args.out) / "bench_kernels.png", [r["kernel"] for r in rows],
             {"im2col numba": [r["im2col_numba_gbs"] for r in rows],
              "im2col numpy": [r["im2col_numpy_gbs"] for r in rows],
              "col2im numba": [r["col2im_numba_gbs"] for r in rows],
              "col2im numpy": [r["col2im_numpy_gbs"] for r in rows]},
             "GB/s", f"im2col / col2im, {args.batch} x {height}x{width}")
    print(f"wrote {json_path}, {md_path} and bench_kernels.png")


if __name__ == "__main__":
    main()
