"""What the encoder sees: the feature maps after each encoder block, and the latent space, of one frame.

    python examples/feature_maps.py                          # trains a small CAE first (~1 min)
    python examples/feature_maps.py --weights runs/demo      # a model from `npcae train`
    python examples/feature_maps.py --weights seed_cae_weights.npz --frame synth_07

The CAE is a Sequential, so running its layers one by one is the forward pass: the output of
each encoder block (strided conv, swish, dropout, conv, swish, dropout) is taken on the way,
and the last layer's output is the predicted mask. No layer is changed or hooked.

Each block's channels are drawn as a grid of tiles, every tile scaled to its own range and
upsampled back to the frame's size. The latent space (256 channels at 1/8 of the frame in the
original) is too many to draw: the `--tiles` channels with the most energy, mean(a^2), are
shown, strongest first. For each block it prints the channels that follow the dancer's mask
most closely (correlation with the mask averaged down to the block's resolution).
Without --weights it trains the original CAE on the synthetic record's three training frames,
at a higher learning rate than the original's so that a minute is enough.
"""
import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from npcae import metrics
from npcae.train.options import parse_size
from npcae.data import SYNTHETIC_TRAIN, DataError, split, synthetic_record
from npcae.layers import Conv2D, UpConv2D, UpSampling2D
from npcae.losses.binary import DiceLoss, FocalLoss
from npcae.models import WeightsMismatch, cae
from npcae.system.files import atomic_write
from npcae.optim import Adam
from npcae.plots.figures import save_figure
from npcae.predict import load_model
from npcae.train.evaluation import forward_batches as predict

GAP = 2               # pixels between tiles
TILES_PER_ROW = 8

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--weights", help="weights.npz, checkpoint.npz or a run folder (default: train one)")
parser.add_argument("--size", type=parse_size, help="HxW to train at without --weights (default 128x64)")
parser.add_argument("--epochs", type=int, default=60, help="training epochs without --weights")
parser.add_argument("--lr", type=float, default=2e-3)
parser.add_argument("--frame", default="synth_05", help="the synthetic frame to look at (held out)")
parser.add_argument("--tiles", type=int, default=32, help="at most this many channels per block")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/feature_maps", help="folder for the PNGs")
parser.error = lambda message: parser.exit(2, f"feature_maps.py: error: {message}\n")
args = parser.parse_args()
if args.weights and args.size:
    parser.error("--size is for training; a loaded model runs at the size it was trained at")
for name in ("epochs", "tiles"):
    if getattr(args, name) < 1:
        parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
if not args.lr > 0:
    parser.error(f"--lr must be positive, got {args.lr}")

# 1. The model: loaded with the size stored beside its weights, or trained here.
if args.weights:
    try:
        model, size, _ = load_model(args.weights)
    except (DataError, WeightsMismatch) as error:
        parser.error(str(error))
    print(f"loaded {args.weights}: trained at {size[0]}x{size[1]}")
else:
    size = args.size or (128, 64)
    if size[0] % 8 or size[1] % 8:
        parser.error(f"--size {size[0]}x{size[1]} must be divisible by 8 (three stride-2 blocks)")
try:
    record = synthetic_record(size=size)
    frame = record.subset([args.frame])
except DataError as error:
    parser.error(str(error))
if not args.weights:
    train, heldout = split(record, train_names=SYNTHETIC_TRAIN)
    model = cae(seed=args.seed)
    loss, optimizer = DiceLoss() + FocalLoss(), Adam(model.named_parameters(), lr=args.lr)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        value = loss.forward(model.forward(train.images, training=True), train.masks)
        model.backward(loss.backward())
        optimizer.step()
        if epoch % 20 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  loss {value:.4f}  ({time.perf_counter() - start:.0f} s)")
    print(f"trained {args.epochs} epochs at {size[0]}x{size[1]} on {train.names}; held-out IoU "
          f"{metrics.iou(predict(model, heldout.images), heldout.masks):.3f}")

# 2. Where the encoder blocks end: each block begins with a strided Conv2D, and the encoder
#    ends where the first upsampling layer begins the decoder.
layers = model.layers
starts = [i for i, layer in enumerate(layers) if isinstance(layer, Conv2D) and layer.stride > 1]
decoder = next(i for i, layer in enumerate(layers) if isinstance(layer, (UpConv2D, UpSampling2D)))
ends = [start - 1 for start in starts[1:]] + [decoder - 1]

# 3. One forward pass, layer by layer, keeping the output of each block's last layer.
x, blocks = frame.images, []
for i, layer in enumerate(layers):
    x = layer.forward(x, training=False)
    if i in ends:
        blocks.append(x[0])
prediction = x[0, ..., 0]
print(f"layer by layer = model.forward: max difference "
      f"{np.abs(prediction - model.forward(frame.images)[0, ..., 0]).max():.1e}")


def mask_at(resolution):
    """The true mask averaged over (H / h) x (W / w) cells: what each feature pixel covers."""
    h, w = resolution
    mask = frame.masks[0, ..., 0]
    return mask.reshape(h, mask.shape[0] // h, w, mask.shape[1] // w).mean(axis=(1, 3))


def mask_correlation(maps):
    """Pearson r of each channel of maps (h, w, C) with the mask at that resolution; 0 if flat."""
    h, w, n_channels = maps.shape
    a = maps.reshape(-1, n_channels).astype(np.float64)
    a -= a.mean(axis=0)
    t = mask_at((h, w)).ravel()
    t -= t.mean()
    norms = np.linalg.norm(a, axis=0) * np.linalg.norm(t)
    return np.divide(a.T @ t, norms, out=np.zeros(n_channels), where=norms > 0)


def tile_grid(maps, channels):
    """RGB uint8 grid of the chosen channels of maps (h, w, C), each upsampled to the frame."""
    height, width = size
    rows = -(-len(channels) // TILES_PER_ROW)
    columns = min(len(channels), TILES_PER_ROW)
    grid = np.full((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP, 3), 255, np.uint8)
    for k, c in enumerate(channels):
        tile = maps[..., c]
        span = tile.max() - tile.min()
        tile = (tile - tile.min()) / span if span > 0 else np.zeros_like(tile)
        tile = np.repeat(np.repeat(tile, height // tile.shape[0], 0), width // tile.shape[1], 1)
        r, q = divmod(k, TILES_PER_ROW)
        rgb = colormaps["viridis"](tile)[..., :3]
        grid[r * (height + GAP):r * (height + GAP) + height,
             q * (width + GAP):q * (width + GAP) + width] = (rgb * 255).round().astype(np.uint8)
    return grid


# 4. Per block: the channels by energy, the ones that follow the mask, and the grid.
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
panels = []
for b, maps in enumerate(blocks, start=1):
    h, w, n_channels = maps.shape
    energy = (maps.astype(np.float64) ** 2).mean(axis=(0, 1))
    chosen = np.argsort(energy)[::-1][:args.tiles]
    corr = mask_correlation(maps)
    best = np.argsort(-np.abs(corr))[:3]
    name = "latent space" if b == len(blocks) else f"encoder block {b}"
    print(f"{name}: {n_channels} channels at {h}x{w}; energy mean(a^2) from {energy.min():.2e} to "
          f"{energy.max():.2e}; drawn: {len(chosen)} tiles; most mask-like channels: "
          + ", ".join(f"{c} (r = {corr[c]:+.2f})" for c in best))
    grid = tile_grid(maps, chosen)
    atomic_write(out / f"block{b}.png", lambda f: Image.fromarray(grid).save(f, format="png"))
    panels.append((name, grid, chosen, (h, w, n_channels)))

# 5. The overview: the frame, the predicted mask, and every block's grid.
iou = metrics.iou(prediction[None, ..., None], frame.masks)
height, width = size
fig = Figure(figsize=(10, 7.2), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[1, 2])
ax_frame, ax_mask, ax_first = top.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 4.5]})
ax_frame.imshow(frame.images[0])
ax_frame.set_title(f"{args.frame}\n{height}x{width}", fontsize=9)
ax_mask.imshow(prediction, cmap="gray", vmin=0, vmax=1)
ax_mask.set_title(f"predicted mask\nIoU {iou:.2f}", fontsize=9)
axes = [ax_first, *np.atleast_1d(bottom.subplots(1, max(len(panels) - 1, 1)))]
for ax, (name, grid, chosen, (h, w, n_channels)) in zip(axes, panels):
    ax.imshow(grid, interpolation="nearest")
    for k, c in enumerate(chosen):           # the channel number at each tile's corner
        r, q = divmod(k, TILES_PER_ROW)
        ax.text(q * (width + GAP) + 1, r * (height + GAP) + 1, str(c), color="white", fontsize=6,
                va="top", bbox=dict(facecolor="black", alpha=0.5, lw=0, pad=0.5))
    which = (f"the {len(chosen)} of {n_channels} channels with most energy" if len(chosen) < n_channels
             else f"all {n_channels} channels, by energy")
    ax.set_title(f"{name}: {h}x{w}x{n_channels}\n{which}", fontsize=9)
for ax in [ax_frame, ax_mask, *axes]:
    ax.axis("off")
fig.suptitle("Each tile is one channel on its own colour scale, upsampled to the frame; "
             "its number in the corner", fontsize=9)
save_figure(fig, out / "feature_maps.png")
print(f"wrote {', '.join(f'block{b}.png' for b in range(1, len(blocks) + 1))} and feature_maps.png to {out}")
