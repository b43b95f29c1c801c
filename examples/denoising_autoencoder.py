"""The same building blocks as a denoising autoencoder: a noisy frame in, the clean frame out.

    python examples/denoising_autoencoder.py                      # 128x64 frames, noise sigma 0.1
    python examples/denoising_autoencoder.py --sigma 0.2 --epochs 400

Nothing here is specific to masks. Conv2D, Swish, UpConv2D (nearest x2 upsampling + conv),
Sigmoid, Sequential and Adam are the CAE's own layers; only the loss changes, to the mean
squared error between the output and the clean frame (npcae.losses.MSELoss, whose gradient the
script checks by finite differences first).

    encoder: Conv 3x3 stride 2 (16), swish, Conv 3x3 stride 2 (32), swish   -> 1/4 of the frame
    decoder: UpConv (16), swish, UpConv (16), swish, Conv 3x3 (3), sigmoid  -> RGB in [0, 1]

Training frames get fresh Gaussian noise every epoch, so the network cannot learn the noise;
the held-out frames (other poses of the dancer) get one fixed draw. It prints the PSNR of the
noisy and of the denoised held-out frames against the clean ones, and that of a 3x3 mean
filter for comparison; the figure shows clean, noisy and denoised frames in rows.
Everything must pass the 1/4-resolution bottleneck, so fine detail comes out blurred: a skip
connection around it (npcae.models.Concatenate, as in a U-Net) is the usual cure.
"""
import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from npcae.train.options import parse_size
from npcae.data import DataError, synthetic_record
from npcae.gradcheck.core import check_loss
from npcae.layers import Conv2D, Sigmoid, Swish, UpConv2D, UpSampling2D
from npcae.losses.binary import MSELoss
from npcae.models import Sequential
from npcae.optim import Adam
from npcae.plots.figures import save_figure
from npcae.tasks import ImageToImage


# The image-to-image task: MSE as the loss, PSNR = 10 log10(1 / MSE) dB as the metric (images in
# [0, 1]). `npcae.train.trainer.Trainer` takes the same object; here the loop is written out.
TASK = ImageToImage(loss="mse")


def psnr(images, clean):
    """Peak signal-to-noise ratio of each image, in dB: the task's metric, image by image."""
    return np.array([TASK.tally().update(image, target).result()["psnr"]
                     for image, target in zip(images, clean)])


def mean_filter(images):
    """Each pixel replaced by the mean of its 3x3 neighbourhood (edges repeated): the baseline."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    height, width = images.shape[1:3]
    return sum(padded[:, i:i + height, j:j + width] for i in range(3) for j in range(3)) / 9


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=parse_size, default=(128, 64), help="HxW, divisible by 4")
parser.add_argument("--frames", type=int, default=12, help="frames rendered; every 4th is held out")
parser.add_argument("--sigma", type=float, default=0.1, help="standard deviation of the noise")
parser.add_argument("--epochs", type=int, default=500)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/denoising_autoencoder", help="folder for the figure")
parser.error = lambda message: parser.exit(2, f"denoising_autoencoder.py: error: {message}\n")
args = parser.parse_args()
if args.size[0] % 4 or args.size[1] % 4:
    parser.error(f"--size {args.size[0]}x{args.size[1]} must be divisible by 4 (two stride-2 convs)")
if args.frames < 4:
    parser.error(f"--frames must be at least 4 (every 4th frame is held out), got {args.frames}")
if args.epochs < 1:
    parser.error(f"--epochs must be a positive integer, got {args.epochs}")
if not (args.sigma > 0 and args.lr > 0):
    parser.error(f"--sigma and --lr must be positive, got {args.sigma} and {args.lr}")

# 1. Clean frames, split; noise is added to the held-out frames once, to the training frames
#    anew in every epoch. Noisy pixels are clipped to [0, 1] like a saved photo's.
try:
    record = synthetic_record(n_frames=args.frames, size=args.size)
except DataError as error:
    parser.error(str(error))
held = np.arange(args.frames) % 4 == 3
clean_train, clean_held = record.images[~held], record.images[held]
rng = np.random.default_rng(args.seed)


def noisy(images):
    return np.clip(images + rng.normal(0, args.sigma, images.shape).astype(np.float32), 0, 1)


noisy_held = noisy(clean_held)
print(f"{len(clean_train)} training frames, {len(clean_held)} held out "
      f"({', '.join(np.array(record.names)[held])}), {args.size[0]}x{args.size[1]}, noise sigma {args.sigma}")

# 2. The loss, checked like every npcae loss: its gradient against central differences.
probe = np.random.default_rng(1)
report = check_loss(MSELoss(), probe.random((2, 3, 4, 3)), probe.random((2, 3, 4, 3)))
print(f"MSELoss gradient check (float64, finite differences): max rel err {report.max_rel_error:.1e}")

# 3. The model: npcae's layers in a Sequential, seeded.
init = np.random.default_rng(args.seed)
model = Sequential(
    Conv2D(3, 16, 3, stride=2, rng=init), Swish(),
    Conv2D(16, 32, 3, stride=2, rng=init), Swish(),
    UpConv2D(UpSampling2D(2), Conv2D(32, 16, 3, rng=init)), Swish(),
    UpConv2D(UpSampling2D(2), Conv2D(16, 16, 3, rng=init)), Swish(),
    Conv2D(16, 3, 3, rng=init), Sigmoid())
model.summary(input_shape=(*args.size, 3))
loss, optimizer = TASK.loss, Adam(model.named_parameters(), lr=args.lr)

# 4. Training: the whole training set is one batch, with new noise each epoch.
start = time.perf_counter()
for epoch in range(1, args.epochs + 1):
    value = loss.forward(model.forward(noisy(clean_train), training=True), clean_train)
    model.backward(loss.backward())
    optimizer.step()
    if epoch % 50 == 0 or epoch == args.epochs:
        held_loss = loss.forward(model.forward(noisy_held), clean_held)
        print(f"epoch {epoch:4d}  train MSE {value:.5f}  held-out MSE {held_loss:.5f}  "
              f"({time.perf_counter() - start:.0f} s)")

# 5. PSNR on the held-out frames: denoised should be well above noisy.
denoised = model.forward(noisy_held)
scores = {"noisy": psnr(noisy_held, clean_held), "3x3 mean filter": psnr(mean_filter(noisy_held), clean_held),
          "denoised": psnr(denoised, clean_held)}
for name, values in scores.items():
    print(f"PSNR {name:<16} {values.mean():6.2f} dB  (per frame: {', '.join(f'{v:.2f}' for v in values)})")

# 6. The figure: a column per held-out frame, rows clean / noisy / denoised.
rows = [("clean", clean_held, None), ("noisy", noisy_held, scores["noisy"]),
        ("denoised", denoised, scores["denoised"])]
n = len(clean_held)
aspect = args.size[0] / args.size[1]
fig = Figure(figsize=(1.6 * n + 0.5, 3 * 1.6 * aspect + 0.4), layout="constrained")
axes = fig.subplots(3, n, squeeze=False)
for r, (name, images, values) in enumerate(rows):
    for k in range(n):
        axes[r, k].imshow(np.clip(images[k], 0, 1), interpolation="nearest")
        axes[r, k].set_xticks([])
        axes[r, k].set_yticks([])
        if values is not None:
            axes[r, k].text(2, 2, f"{values[k]:.1f} dB", fontsize=8, va="top",
                            bbox=dict(facecolor="white", alpha=0.8, lw=0, pad=1))
    axes[r, 0].set_ylabel(name)
fig.suptitle(f"Denoising held-out frames (noise sigma {args.sigma}); PSNR against the clean frame",
             fontsize=9)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
save_figure(fig, out / "denoising_autoencoder.png")
print(f"wrote {out / 'denoising_autoencoder.png'}")
