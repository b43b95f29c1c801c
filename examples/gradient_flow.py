"""Vanishing gradients, measured: the same CAE trained with swish, ReLU and sigmoid activations.

    python examples/gradient_flow.py                          # synthetic 64x32, 40 epochs each, ~1 min
    python examples/gradient_flow.py --size 32x16 --epochs 4 --every 2

Every `--every` epochs the L2 norm of each convolution's weight gradient, ||dL/dW||, is recorded.
The backward pass multiplies the gradient by the activation's derivative once per activation
layer (12 of them between the first convolution and the head). Swish's derivative is around 1
for positive inputs and ReLU's is exactly 1 there, but the sigmoid's is at most 1/4: through 12
of them, and the convolutions between, the first layer's gradient ends up some eight orders of
magnitude below the head's, and the sigmoid network barely learns. The script prints that ratio,
first layer over last, per activation.

Writes into --out (default out/gradient_flow): gradient_flow.png (the norms per layer and the
ratio per epoch, one line per activation) and gradient_flow_<activation>.png (the heat map
`npcae train` draws as gradient_flow.png).
"""
import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from npcae.data import DEFAULT_TRAIN, load_dataset, split
from npcae.layers import ACTIVATIONS
from npcae.losses.binary import DiceLoss, FocalLoss
from npcae.models import cae
from npcae.optim import Adam
from npcae.plots.figures import plot_gradient_flow, save_figure
from npcae.diagnostics.trace import l2_norm

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", default="64x32", help="HxW of the synthetic frames, divisible by 8")
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--every", type=int, default=5, help="record the gradient norms every N epochs")
parser.add_argument("--filters", default="4,32,256", help="filters of the 3 encoder blocks")
parser.add_argument("--activations", default="swish,relu,sigmoid")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/gradient_flow", help="folder for the PNGs")
args = parser.parse_args()
try:
    size = tuple(int(v) for v in args.size.lower().split("x"))
    filters = tuple(int(v) for v in args.filters.split(","))
except ValueError:
    parser.error(f"--size must look like 64x32 and --filters like 4,32,256, "
                 f"got {args.size!r} and {args.filters!r}")
factor = 2 ** len(filters)
if len(size) != 2 or min(size) < 1 or size[0] % factor or size[1] % factor:
    parser.error(f"--size {args.size} must be HxW with both divisible by {factor}")
if args.epochs < 1 or args.every < 1 or min(filters) < 1:
    parser.error("--epochs, --every and every filter count must be at least 1")
activations = args.activations.split(",")
unknown = [name for name in activations if name not in ACTIVATIONS]
if unknown:
    parser.error(f"unknown activation {unknown[0]!r}; choose from {', '.join(sorted(ACTIVATIONS))}")

record = load_dataset("synthetic", size)
train, _ = split(record, train_names=DEFAULT_TRAIN["synthetic"])
x, y = train.images, train.masks
recorded_epochs = sorted({1, args.epochs, *range(args.every, args.epochs + 1, args.every)})
print(f"{len(train)} synthetic frames at {size[0]}x{size[1]}, filters {filters}, "
      f"{args.epochs} epochs, gradient norms at epochs {recorded_epochs}")

# norms[activation]: (recorded epochs, convolutions) array of ||dL/dW||, input side first.
norms, rows, layer_names = {}, {}, None
for activation in activations:
    start = time.perf_counter()
    model = cae(filters=filters, activation=activation, seed=args.seed)  # same seed: same weights
    loss = DiceLoss() + FocalLoss()
    optimizer = Adam(model.named_parameters(), lr=5e-4)
    per_epoch, rows[activation] = [], []
    for epoch in range(1, args.epochs + 1):
        value = loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        if epoch in recorded_epochs:                 # the grads are final until the next backward
            weights = [(name, l2_norm(grad)) for name, _, grad in model.named_parameters()
                       if name.endswith(".W")]
            per_epoch.append([norm for _, norm in weights])
            rows[activation] += [{"epoch": epoch, "name": n, "norm": v} for n, v in weights]
            layer_names = [name for name, _ in weights]
        optimizer.step()
    norms[activation] = np.array(per_epoch)
    ratios = norms[activation][:, 0] / norms[activation][:, -1]
    print(f"{activation:>8}: ||dL/dW|| first layer {np.exp(np.log(norms[activation][:, 0]).mean()):.2e}, "
          f"last layer {np.exp(np.log(norms[activation][:, -1]).mean()):.2e}, "
          f"first/last {np.exp(np.log(ratios).mean()):.2e} (geometric mean over "
          f"{len(ratios)} epochs); final loss {value:.4f}  ({time.perf_counter() - start:.1f} s)")

# Left: ||dL/dW|| per convolution (geometric mean over the recorded epochs), one line per
# activation. Right: the first layer's norm over the last's, per recorded epoch.
fig = Figure(figsize=(12, 4.5))
per_layer_ax, ratio_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
for activation in activations:
    logs = np.log10(norms[activation])
    per_layer_ax.plot(logs.mean(axis=0), marker="o", label=activation)
    ratio_ax.plot(recorded_epochs, logs[:, 0] - logs[:, -1], marker=".", label=activation)
per_layer_ax.set_xticks(range(len(layer_names)), layer_names, rotation=60, fontsize=7)
per_layer_ax.set_xlabel("convolution weight (input on the left, head on the right)")
per_layer_ax.set_ylabel("log10 ||dL/dW||")
per_layer_ax.set_title("Gradient norm per layer")
ratio_ax.set_xlabel("epoch")
ratio_ax.set_ylabel("log10 (first layer / last layer)")
ratio_ax.set_title("First over last layer")
for ax in (per_layer_ax, ratio_ax):
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"Gradient flow in the CAE {filters}, synthetic {size[0]}x{size[1]}")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
save_figure(fig, out / "gradient_flow.png")
for activation in activations:
    plot_gradient_flow(rows[activation], out / f"gradient_flow_{activation}.png",
                       title=f"Gradient flow with {activation}: ||dL/dW|| per convolution")
written = [str(out / "gradient_flow.png")] + [str(out / f"gradient_flow_{a}.png") for a in activations]
print(f"wrote {', '.join(written)}")
