"""A depthwise convolution and an inverted residual block, backward by hand beside the library's.

    python examples/depthwise_by_hand.py                     # 2 x 8x8x3, 3x3 depthwise, stride 1
    python examples/depthwise_by_hand.py --stride 2 --multiplier 2

1. DepthwiseConv2D: dW, db and dx from plain Python loops over every output (the formulas of
   docs/backprop.md, "Depthwise convolution"), from the layer's backward (the Numba kernels) and
   from finite differences of <y, g>, g a random upstream gradient.
2. MobileNetV2's inverted residual block without its batch norms (they have their own section):
   y = x + P(relu6(D(relu6(E(x)))))  with E a 1x1 expansion to t*C channels, D the depthwise
   3x3, P the 1x1 projection back to C. Backward by hand, layer by layer in reverse:
       dP_in = P^T g;  dD_out = dP_in [0 < D_out < 6];  dE_out' = D^T dD_out;  ...
       dx = g + E^T (dE_out' [0 < E_out < 6])       (the residual adds g itself)
   against the library's Sequential + Add backward and finite differences.

It prints the largest relative errors and draws dW of the depthwise layer by the three methods.
"""
import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from npcae.gradcheck.core import numerical_gradient, relative_error
from npcae.layers import Conv2D, DepthwiseConv2D, Identity, ReLU6
from npcae.models import Add, Sequential
from npcae.plots.figures import save_figure

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=8, help="input height and width (default 8)")
parser.add_argument("--channels", type=int, default=3)
parser.add_argument("--multiplier", type=int, default=1, help="filters per channel M")
parser.add_argument("--stride", type=int, default=1, choices=(1, 2))
parser.add_argument("--expansion", type=int, default=6, help="the block's t")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/depthwise_by_hand", help="folder for the figure")
parser.error = lambda message: parser.exit(2, f"depthwise_by_hand.py: error: {message}\n")
args = parser.parse_args()
for name in ("size", "channels", "multiplier", "expansion"):
    if getattr(args, name) < 1:
        parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
rng = np.random.default_rng(args.seed)
C, M, s = args.channels, args.multiplier, args.stride

# 1. The depthwise layer, float64 (finite differences divide by a small step).
layer = DepthwiseConv2D(C, 3, s, "same", M, rng=rng).astype(np.float64)
layer.params["b"][...] = rng.standard_normal(C * M)
x = rng.standard_normal((2, args.size, args.size, C))
y = layer.forward(x, training=True)
g = rng.standard_normal(y.shape)
dx_layer = layer.backward(g)
dW_layer, db_layer = layer.grads["W"].copy(), layer.grads["b"].copy()

# By hand: every output (n, p, q, k = c*M + m) reads the 3x3 window of channel c around it.
W, (pt, pl) = layer.params["W"], (layer.geometry(x.shape).pad_top, layer.geometry(x.shape).pad_left)
dW, db, dx = np.zeros_like(W), np.zeros(C * M), np.zeros_like(x)
for n, p, q, k in np.ndindex(*y.shape):
    c, m = divmod(k, M)
    db[k] += g[n, p, q, k]
    for i in range(3):
        for j in range(3):
            h, w = p * s + i - pt, q * s + j - pl
            if 0 <= h < x.shape[1] and 0 <= w < x.shape[2]:
                dW[i, j, c, m] += x[n, h, w, c] * g[n, p, q, k]         # dL/dW: input times dy
                dx[n, h, w, c] += W[i, j, c, m] * g[n, p, q, k]        # dL/dx: weight times dy


def inner(f):
    return lambda: float(np.sum(f() * g))


dW_numeric = numerical_gradient(inner(lambda: layer.forward(x, training=True)), layer.params["W"])
print("DepthwiseConv2D", repr(layer))
for name, by_hand, library in (("dW", dW, dW_layer), ("db", db, db_layer), ("dx", dx, dx_layer)):
    print(f"  {name}: library vs loops, max relative error {relative_error(library, by_hand)[1]:.1e}")
print(f"  dW: finite differences vs loops, max relative error {relative_error(dW_numeric, dW)[1]:.1e}")

# 2. The inverted residual block (stride 1, so the residual applies).
t = args.expansion
expand = Conv2D(C, t * C, 1, 1, "same", rng=rng, use_bias=False)
depth = DepthwiseConv2D(t * C, 3, 1, "same", use_bias=False, rng=rng)
project = Conv2D(t * C, C, 1, 1, "same", rng=rng, use_bias=False)
block = Add([Sequential([expand, ReLU6(), depth, ReLU6(), project]), Identity()]).astype(np.float64)
x2 = 3 * rng.standard_normal((2, args.size, args.size, C))
y2 = block.forward(x2, training=True)
g2 = rng.standard_normal(y2.shape)
dx_library = block.backward(g2)

E, D, P = (layer.params["W"] for layer in (expand, depth, project))
e = np.einsum("nhwc,cd->nhwd", x2, E[0, 0])                         # forward, kept for backward
a = np.clip(e, 0, 6)
d = depth.forward(a)
b = np.clip(d, 0, 6)
d_b = np.einsum("nhwd,cd->nhwc", g2, P[0, 0])                       # P^T g: back through P
d_d = d_b * ((d > 0) & (d < 6))                                     # ReLU6: 1 strictly inside
geom = depth.geometry(a.shape)
d_a = np.zeros_like(a)
for n, p, q, k in np.ndindex(*d_d.shape):                           # D^T: the depthwise's dx
    for i in range(3):
        for j in range(3):
            h, w = p + i - geom.pad_top, q + j - geom.pad_left
            if 0 <= h < a.shape[1] and 0 <= w < a.shape[2]:
                d_a[n, h, w, k] += D[i, j, k, 0] * d_d[n, p, q, k]
d_e = d_a * ((e > 0) & (e < 6))
dx_hand = g2 + np.einsum("nhwd,cd->nhwc", d_e, E[0, 0])             # the residual adds g itself
# A step of 1e-5, not the default 1e-3: ReLU6 has kinks at 0 and 6, and among its thousands of
# pre-activations a few lie within 2e-3 of one (the stencil reaches 2 steps), where a finite
# difference straddles the kink; within 2e-5, almost surely none does.
dx_numeric = numerical_gradient(lambda: float(np.sum(block.forward(x2, training=True) * g2)), x2,
                                step=1e-5)
print(f"inverted residual block, t={t}: dx library vs by hand {relative_error(dx_library, dx_hand)[1]:.1e}, "
      f"finite differences vs by hand {relative_error(dx_numeric, dx_hand)[1]:.1e}")

# 3. The figure: the depthwise dW of channel 0, filter 0, three ways, and their differences.
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
fig = Figure(figsize=(10, 2.6))
panels = [("loops", dW[..., 0, 0]), ("library (Numba)", dW_layer[..., 0, 0]),
          ("finite differences", dW_numeric[..., 0, 0]),
          ("library - loops", dW_layer[..., 0, 0] - dW[..., 0, 0])]
for k, (title, values) in enumerate(panels):
    ax = fig.add_subplot(1, 4, k + 1)
    image = ax.imshow(values, cmap="coolwarm")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("dL/dW of a depthwise 3x3 filter (channel 0)")
save_figure(fig, out / "depthwise_by_hand.png")
print(f"wrote {out / 'depthwise_by_hand.png'}")
