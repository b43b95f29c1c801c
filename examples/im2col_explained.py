"""im2col, drawn and checked: a convolution is one matrix multiply once the patches are rows.

    python examples/im2col_explained.py                                # a 5x4 RGB frame, 3x3 kernel
    python examples/im2col_explained.py --size 6x5 --stride 2 --kernel 3x2

The column layout, as npcae.kernels.im2col defines it:

    cols[(n*OH + oh)*OW + ow, (i*KW + j)*C + c] = x_padded[n, oh*s + i, ow*s + j, c]

so cols is (N*OH*OW, KH*KW*C): one row per output pixel holding the patch under its window, the
channel fastest. A Keras kernel W (KH, KW, C, OUT) reshaped to (KH*KW*C, OUT) lists its weights
in the same order, hence

    conv(x) = (cols @ W.reshape(KH*KW*C, OUT) + b).reshape(N, OH, OW, OUT)

It draws the matrix of a small synthetic frame, each entry labelled with the input pixel it was
copied from, and prints how far that product is from Conv2D.forward and from the plain loops.
"""
import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from npcae.train.options import parse_size
from npcae.data import synthetic_record
from npcae.kernels import col2im, conv_geometry, im2col, reference
from npcae.layers import Conv2D
from npcae.plots.figures import save_figure

MAX_DRAWN = (64, 75)     # rows, columns of the largest matrix drawn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=parse_size, default=(5, 4), help="image HxW (default 5x4)")
parser.add_argument("--batch", type=int, default=1, help="frames N")
parser.add_argument("--kernel", type=parse_size, default=(3, 3), help="KHxKW (default 3x3)")
parser.add_argument("--stride", type=int, default=1)
parser.add_argument("--padding", choices=("same", "valid"), default="same")
parser.add_argument("--filters", type=int, default=4, help="output channels OUT")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/im2col_explained", help="folder for the figure")
parser.error = lambda message: parser.exit(2, f"im2col_explained.py: error: {message}\n")
args = parser.parse_args()
for name in ("batch", "stride", "filters"):
    if getattr(args, name) < 1:
        parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")

# 1. The image: N synthetic frames (RGB, in [0, 1]) at a tiny size, in float64.
x = synthetic_record(n_frames=args.batch, size=args.size).images.astype(np.float64)
n_images, height, width, channels = x.shape
(kh, kw), s = args.kernel, args.stride
try:
    geom = conv_geometry(height, width, kh, kw, s, args.padding)
except ValueError as error:                          # e.g. a kernel larger than a "valid" input
    parser.error(str(error))
matrix_shape = (n_images * geom.out_h * geom.out_w, kh * kw * channels)
if matrix_shape[0] > MAX_DRAWN[0] or matrix_shape[1] > MAX_DRAWN[1]:   # one labelled cell per entry
    parser.error(f"the im2col matrix would be {matrix_shape[0]} x {matrix_shape[1]}; the picture is for "
                 f"small ones (at most {MAX_DRAWN[0]} x {MAX_DRAWN[1]}): use a smaller --size, --kernel or --batch")
print(f"x {x.shape} (N, H, W, C), kernel {kh}x{kw}, stride {s}, padding {args.padding!r}")
print(f"output {geom.out_h}x{geom.out_w}; zero padding: {geom.pad_top} row(s) on top, "
      f"{geom.pad_left} column(s) on the left, the rest (if any) at the bottom and right")

# 2. The columns, and the same columns by plain loops.
cols = im2col(x, geom)
print(f"cols = im2col(x): {cols.shape} = (N*OH*OW, KH*KW*C) = "
      f"({n_images}*{geom.out_h}*{geom.out_w}, {kh}*{kw}*{channels})")
print(f"max |im2col(x) - reference.im2col_loops(x)| = {np.abs(cols - reference.im2col_loops(x, geom)).max():.1e}")

# Where each entry comes from: im2col of an image whose value is its pixel number + 1
# (zero padding stays 0), so the columns of that image are the source map of the columns.
pixel_number = np.arange(n_images * height * width, dtype=np.float64).reshape(n_images, height, width, 1)
source = im2col(np.repeat(pixel_number + 1, channels, axis=3), geom).astype(int) - 1   # -1: padding

# One output pixel, followed through: its row of cols is the patch under its window.
n0, oh0, ow0 = 0, geom.out_h // 2, geom.out_w // 2
row = (n0 * geom.out_h + oh0) * geom.out_w + ow0
x_pad = np.pad(x, ((0, 0), (geom.pad_top, kh), (geom.pad_left, kw), (0, 0)))   # ample at the bottom/right
patch = x_pad[n0, oh0 * s:oh0 * s + kh, ow0 * s:ow0 * s + kw, :]
print(f"output pixel (n, oh, ow) = ({n0}, {oh0}, {ow0}) is row {row} = (n*OH + oh)*OW + ow; "
      f"that row equals its {kh}x{kw}x{channels} patch flattened: {np.array_equal(cols[row], patch.reshape(-1))}")

# 3. The convolution as one matrix multiply, against the layer and the loops.
rng = np.random.default_rng(args.seed)
weights = rng.standard_normal((kh, kw, channels, args.filters))
bias = rng.standard_normal(args.filters)
y_gemm = (cols @ weights.reshape(-1, args.filters) + bias).reshape(n_images, geom.out_h, geom.out_w,
                                                                   args.filters)
layer = Conv2D(channels, args.filters, (kh, kw), s, args.padding).astype(np.float64)
layer.params["W"][...], layer.params["b"][...] = weights, bias
y_layer = layer.forward(x)
y_loops = reference.conv2d_forward(x, weights, bias, s, args.padding)
print(f"W {weights.shape} -> W.reshape(KH*KW*C, OUT) {weights.reshape(-1, args.filters).shape}; "
      f"cols @ W + b {y_gemm.reshape(-1, args.filters).shape} -> reshape {y_gemm.shape} (NHWC)")
print(f"max |conv - im2col@W|, Conv2D.forward:           {np.abs(y_layer - y_gemm).max():.1e}")
print(f"max |conv - im2col@W|, reference.conv2d_forward: {np.abs(y_loops - y_gemm).max():.1e}")

# 4. The backward pass runs im2col in reverse: col2im is its adjoint, <im2col(x), c> == <x, col2im(c)>.
c = rng.standard_normal(cols.shape)
print(f"adjoint: <im2col(x), c> = {np.sum(cols * c):.12f},  <x, col2im(c)> = "
      f"{np.sum(x * col2im(c, x.shape, geom)):.12f}")

# 5. The figure: the input with its padding and one window (left), the matrix (right).
rows_total, cols_total = cols.shape
fig = Figure(figsize=(2.6 + 0.34 * cols_total, 1.8 + 0.3 * max(rows_total, 2 * height)),
             layout="constrained")
left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2 * max(width + 2, 4), cols_total]})
left.imshow(x[n0], extent=(-0.5, width - 0.5, height - 0.5, -0.5))
for h in range(height):
    for w in range(width):
        left.text(w, h, str(h * width + w + n0 * height * width), ha="center", va="center",
                  fontsize=8, color="white", bbox=dict(facecolor="black", alpha=0.35, lw=0, pad=1))
pad_h = (geom.out_h - 1) * s + kh            # the padded extent the windows cover
pad_w = (geom.out_w - 1) * s + kw
left.add_patch(Rectangle((-geom.pad_left - 0.5, -geom.pad_top - 0.5), pad_w, pad_h, fill=False,
                         ls=":", ec="gray", lw=1))
left.add_patch(Rectangle((ow0 * s - geom.pad_left - 0.5, oh0 * s - geom.pad_top - 0.5), kw, kh,
                         fill=False, ec="red", lw=2.5))
left.set_xlim(-geom.pad_left - 0.7, max(width, pad_w - geom.pad_left) - 0.3)
left.set_ylim(max(height, pad_h - geom.pad_top) - 0.3, -geom.pad_top - 0.7)
numbering = "(n*H + h)*W + w" if n_images > 1 else "h*W + w"
left.set_title(f"frame {n0}, {height}x{width}x{channels}, numbered {numbering}\nred: the window of "
               f"output ({oh0}, {ow0})\ndotted: the zero padding", fontsize=9)
left.set_xticks(range(width))
left.set_yticks(range(height))

shown = np.ma.masked_where(source < 0, cols)  # padding entries left white
right.imshow(shown, cmap="viridis", vmin=0, vmax=1, aspect="auto")
for r in range(rows_total):
    for k in range(cols_total):
        label = "·" if source[r, k] < 0 else str(source[r, k])
        right.text(k, r, label, ha="center", va="center", fontsize=9 if label == "·" else 6,
                   color="black" if source[r, k] < 0 or cols[r, k] > 0.55 else "white")
for k in range(channels, cols_total, channels):   # separate the kernel taps (i, j)
    right.axvline(k - 0.5, color="black", lw=0.6)
right.add_patch(Rectangle((-0.5, row - 0.5), cols_total, 1, fill=False, ec="red", lw=2.5))
taps = [(i, j, ch) for i in range(kh) for j in range(kw) for ch in range(channels)]
right.set_xticks(range(cols_total), [f"{i},{j},{'RGB'[ch] if channels == 3 else ch}"
                                     for i, j, ch in taps], rotation=90, fontsize=7)
positions = [(n, oh, ow) for n in range(n_images) for oh in range(geom.out_h) for ow in range(geom.out_w)]
right.set_yticks(range(rows_total), [f"{n},{oh},{ow}" if n_images > 1 else f"{oh},{ow}"
                                     for n, oh, ow in positions], fontsize=7)
right.set_xlabel("column (i*KW + j)*C + c:  kernel tap i, j and channel c (channel fastest)")
right.set_ylabel("row (n*OH + oh)*OW + ow:  output pixel " + ("n, oh, ow" if n_images > 1 else "oh, ow"))
right.set_title(f"cols = im2col(x), {rows_total} x {cols_total}: colour = value, number = the source "
                "pixel, · = zero padding", fontsize=9)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
save_figure(fig, out / "im2col_explained.png")
print(f"wrote {out / 'im2col_explained.png'}")
