"""The original experiment in one script: learn a dancer's mask from 3 frames, predict 7 more.

    python examples/train_seed_cae.py                          # tiktok-136 at 1024x512, 500 epochs
    python examples/train_seed_cae.py --size 256x128           # a quarter per side, ~10 min
    python examples/train_seed_cae.py --data synthetic --size 128x64 --epochs 100

The loop is written out here instead of calling npcae.train.trainer.Trainer (which adds
checkpoints, resume and Ctrl-C handling) so that every step of the experiment is visible.
The data: tiktok-136 is read from $NPCAE_TIKTOK_DIR, or downloaded once (`npcae fetch-data`).
"""
import argparse
import time
from pathlib import Path

import numpy as np

from npcae import metrics
from npcae.data import DEFAULT_TRAIN, load_dataset, split
from npcae.losses.binary import DiceLoss, FocalLoss
from npcae.models import cae
from npcae.optim import Adam
from npcae.tasks import BinaryMask
from npcae.plots.figures import plot_evolution, plot_loss, plot_overlays
from npcae.train.evaluation import forward_batches as predict  # inference 3 images at a time, to bound memory

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="tiktok-136", help="tiktok-136, synthetic or a folder")
parser.add_argument("--size", default="1024x512", help="HxW, divisible by 8")
parser.add_argument("--epochs", type=int, default=500)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="out/train_seed_cae", help="folder for the figures and weights")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
size = tuple(int(v) for v in args.size.split("x"))

# 1. Data: 10 frames resized with area interpolation, /255; masks binarised > 0.
#    Three frames train, the other seven are never seen.
record = load_dataset(args.data, size)
if args.data in DEFAULT_TRAIN:
    train, heldout = split(record, train_names=DEFAULT_TRAIN[args.data])
else:
    train, heldout = split(record, n_train=3)
print(f"train on {train.names}, hold out {heldout.names}; images {train.images.shape[1:]}")

# 2. The model: 3 strided encoder blocks (4, 32, 256 filters), 3 upsampling decoder blocks,
#    a 1x1 convolution to one channel and a sigmoid.
model = cae(filters=(4, 32, 256), seed=args.seed)
model.summary(input_shape=(*size, 3))

# 3. Dice + focal loss and Adam at 5e-4, as in the original.
loss = DiceLoss() + FocalLoss()
optimizer = Adam(model.named_parameters(), lr=5e-4)

# 4. One batch of all three frames per epoch; validate on all ten frames every 10 epochs.
history, snapshots = [], {0: predict(model, train.images)}
x, y = train.images, train.masks
for epoch in range(1, args.epochs + 1):
    start = time.perf_counter()
    pred = model.forward(x, training=True)           # dropout on
    value = loss.forward(pred, y)
    model.backward(loss.backward())                  # fills every layer's grads
    optimizer.step()                                 # Adam reads those grads in place
    row = {"epoch": epoch, "train_loss": value, "train_accuracy": metrics.pixel_accuracy(pred, y)}
    if epoch % 10 == 0 or epoch == args.epochs:
        held = predict(model, heldout.images)        # dropout off
        row.update(heldout_loss=loss.forward(held, heldout.masks),
                   heldout_accuracy=metrics.pixel_accuracy(held, heldout.masks),
                   heldout_iou=metrics.iou(held, heldout.masks))
        print(f"epoch {epoch:4d}  loss {value:.4f}  held-out loss {row['heldout_loss']:.4f}  "
              f"accuracy {row['heldout_accuracy']:.4f}  IoU {row['heldout_iou']:.4f}  "
              f"({time.perf_counter() - start:.2f} s)")
    if epoch % 50 == 0 or epoch == args.epochs:
        snapshots[epoch] = predict(model, train.images)
    history.append(row)

# 5. The figures of the original: loss curves, the evolution of the training predictions,
#    and true-vs-predicted overlays of every frame.
pred_train, pred_held = predict(model, train.images), predict(model, heldout.images)
plot_loss(history, out / "loss.png", ylabel="Dice + focal loss")
masks = BinaryMask()                      # how a binary mask is drawn: truth green, prediction magenta
plot_evolution(snapshots, train, out / "evolution.png", draw=masks.draw)
images = np.concatenate([train.images, heldout.images])
plot_overlays(images, np.concatenate([train.masks, heldout.masks]),
              np.concatenate([pred_train, pred_held]), train.names + heldout.names,
              set(heldout.names), out / "overlays.png", draw=masks.draw, title=masks.caption)

# 6. The numbers: held-out frames alone, and all ten (the original reported 0.9931 accuracy).
for name, pred, true in (("train", pred_train, train.masks), ("held-out", pred_held, heldout.masks),
                         ("all 10", np.concatenate([pred_train, pred_held]),
                          np.concatenate([train.masks, heldout.masks]))):
    print(f"{name:>9}: accuracy {metrics.pixel_accuracy(pred, true):.4f}  "
          f"IoU {metrics.iou(pred, true):.4f}  Dice {metrics.dice(pred, true):.4f}")
model.config["input_size"] = list(size)   # so `npcae predict` resizes frames to it
model.save(out / "weights.npz")
print(f"wrote loss.png, evolution.png, overlays.png and weights.npz to {out}")
