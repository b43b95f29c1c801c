"""One Conv2D's gradients three ways: plain loops, im2col (the layer's backward), finite differences.

    python examples/backprop_by_hand.py                             # 2 x 7x6x3 input, 3x3 kernel, stride 2
    python examples/backprop_by_hand.py --stride 1 --kernel 3x2     # any shape: the three must agree

For y = conv(x; W, b) and a random upstream gradient g = dL/dy (float64), the three methods are

    loops       npcae.kernels.reference.conv2d_backward: every output pixel's patch, one at a time
                dW[i, j, c, o] = sum_{n, oh, ow} x_pad[n, oh*s + i, ow*s + j, c] g[n, oh, ow, o]
    im2col      Conv2D.backward: dW = im2col(x).T @ g,  db = sum g,  dx = col2im(g @ W.T)
                (stride 1 with a centred odd kernel: dx is a convolution of g with W rotated 180)
    finite      npcae.gradcheck.numerical_gradient of the scalar <conv(x; W, b), g>, one entry
    differences at a time, by a fourth-order central stencil: no backward code involved at all

It prints a few entries of dW, db and dx from each, the largest relative error of im2col and of
finite differences against the loops, and draws dW from all three with their differences.
"""
import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from npcae.train.options import parse_size
from npcae.gradcheck.core import numerical_gradient, relative_error
from npcae.kernels import reference
from npcae.layers import Conv2D
from npcae.plots.figures import save_figure

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=parse_size, default=(7, 6), help="input HxW (default 7x6)")
parser.add_argument("--batch", type=int, default=2)
parser.add_argument("--channels", type=int, default=3, help="input channels C")
parser.add_argument("--filters", type=int, default=4, help="output channels OUT")
parser.add_argument("--kernel", type=parse_size, default=(3, 3), help="KHxKW (default 3x3)")
parser.add_argument("--stride", type=int, default=2)
parser.add_argument("--padding", choices=("same", "valid"), default="same")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/backprop_by_hand", help="folder for the figure")
parser.error = lambda message: parser.exit(2, f"backprop_by_hand.py: error: {message}\n")
args = parser.parse_args()
for name in ("batch", "channels", "filters", "stride"):
    if getattr(args, name) < 1:
        parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")

# 1. A float64 layer, input and upstream gradient. Float64 because finite differences divide
#    by a small step: in float32 their rounding noise alone would be ~1e-3.
rng = np.random.default_rng(args.seed)
try:
    layer = Conv2D(args.channels, args.filters, args.kernel, args.stride, args.padding,
                   rng=rng).astype(np.float64)
    x = rng.standard_normal((args.batch, *args.size, args.channels))
    out_shape = layer.output_shape(x.shape)
except ValueError as error:                          # e.g. a kernel larger than a "valid" input
    parser.error(str(error))
layer.params["b"][...] = rng.standard_normal(args.filters)
g = rng.standard_normal(out_shape)
W, b = layer.params["W"], layer.params["b"]
print(f"x {x.shape}  W {W.shape}  b {b.shape}  ->  y {out_shape}  "
      f"(stride {args.stride}, padding {args.padding!r}, float64)")

# 2. Loops: the reference convolution's own backward.
dx_loops, dW_loops, db_loops = reference.conv2d_backward(g, x, W, args.stride, args.padding)

# 3. im2col: a training forward caches x, backward returns dx and fills layer.grads.
layer.forward(x, training=True)
dx_im2col = layer.backward(g)
dW_im2col, db_im2col = layer.grads["W"].copy(), layer.grads["b"].copy()


# 4. Finite differences of F = <conv(x; W, b), g>, whose gradient is exactly (dx, dW, db).
def F():
    return float(np.sum(layer.forward(x) * g))


dx_finite = numerical_gradient(F, x)
dW_finite = numerical_gradient(F, W)
db_finite = numerical_gradient(F, b)

# 5. A few entries side by side, then the worst relative error of each method over every entry.
results = {"dW": (dW_loops, dW_im2col, dW_finite), "db": (db_loops, db_im2col, db_finite),
           "dx": (dx_loops, dx_im2col, dx_finite)}
print(f"\n{'entry':<18}{'loops':>22}{'im2col':>22}{'finite differences':>22}")
for name, (loops, im2col, finite) in results.items():
    for flat in sorted(rng.choice(loops.size, size=min(3, loops.size), replace=False)):
        index = np.unravel_index(flat, loops.shape)
        label = f"{name}[{', '.join(str(int(i)) for i in index)}]"
        print(f"{label:<18}{loops[index]:>22.15f}{im2col[index]:>22.15f}{finite[index]:>22.15f}")

print("\nlargest relative error against the loops, |a - b| / max(|a|, |b|, 1e-3 max|b|), all entries:")
errors = {}
for name, (loops, im2col, finite) in results.items():
    errors[name] = relative_error(im2col, loops)[1], relative_error(finite, loops)[1]
    print(f"max rel err {name}: im2col {errors[name][0]:.2e}, finite differences {errors[name][1]:.2e}"
          f"   ({loops.size} entries)")
print("im2col adds the same products as the loops in another order: they differ by rounding only.\n"
      "Finite differences see F to ~1e-16 |F|, divided by the step h = 1e-3: ~1e-10. The\n"
      "convolution is linear in each of x, W and b, so the stencil adds no truncation error here.")

# 6. The figure: dW as the (OUT, KH*KW*C) matrix the im2col GEMM produces (transposed, so it is
#    wide), from each method, and the two differences on their own scale.
kh, kw, channels, filters = W.shape
columns = [f"{i},{j},{c}" for i in range(kh) for j in range(kw) for c in range(channels)]
panels = [("loops (reference.conv2d_backward)", dW_loops, False),
          ("im2col (Conv2D.backward: im2col(x).T @ g)", dW_im2col, False),
          ("finite differences (numerical_gradient)", dW_finite, False),
          ("im2col - loops", dW_im2col - dW_loops, True),
          ("finite differences - loops", dW_finite - dW_loops, True)]
limit = np.abs(dW_loops).max()
fig = Figure(figsize=(max(7.0, 0.32 * len(columns) + 2), 0.6 + 5 * (0.25 * filters + 0.9)),
             layout="constrained")
axes = fig.subplots(len(panels), 1)
for ax, (title, values, difference) in zip(axes, panels):
    matrix = values.reshape(-1, filters).T
    largest = np.abs(matrix).max()
    scale = max(largest, 1e-300) if difference else limit      # a difference gets its own scale
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-scale, vmax=scale, aspect="auto")
    ax.set_title(title + (f"   max |diff| = {largest:.1e}" if difference else ""), fontsize=9)
    ax.set_yticks(range(filters), [f"o={o}" for o in range(filters)], fontsize=7)
    ax.set_xticks(range(len(columns)), columns if ax is axes[-1] else [""] * len(columns),
                  rotation=90, fontsize=7)
    fig.colorbar(image, ax=ax, pad=0.01, format="%.0e" if difference else None)
axes[-1].set_xlabel("row of W.reshape(KH*KW*C, OUT): kernel tap i, j and input channel c")
fig.suptitle(f"dL/dW of Conv2D {tuple(W.shape)}, stride {args.stride}, input {x.shape}, "
             "random upstream gradient (float64)", fontsize=10)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
save_figure(fig, out / "backprop_by_hand.png")
print(f"wrote {out / 'backprop_by_hand.png'}")
