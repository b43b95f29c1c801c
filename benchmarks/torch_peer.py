"""The same CAE in PyTorch, timed the same way: the peer that bench_step.py compares against.

Run by bench_step.py with whichever Python has torch (`--compare-torch PYTHON`); it imports
only torch and numpy, never npcae, and PyTorch is never a dependency of npcae.

    python -m benchmarks.torch_peer --size 1024x512 --steps 3     # prints one JSON line

Model, loss and optimiser as the original: 3 strided encoder blocks and 3 upsampling decoder
blocks (filters 4, 32, 256), swish (SiLU), dropout 0.1 / 0.25, 1x1 conv + sigmoid, Dice +
focal loss, Adam 5e-4; float32, PyTorch's default NCHW layout (--channels-last for NHWC), 2 intra-op threads.
"""
import argparse
import json
import resource

import torch
from torch import nn

from .peer_timing import best_of, train_steps


def block(c_in, c_out, stride):
    return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.SiLU(), nn.Dropout(0.1),
            nn.Conv2d(c_out, c_out, 3, 1, 1), nn.SiLU(), nn.Dropout(0.25)]


def cae(filters=(4, 32, 256)):
    layers, channels = [], 3
    for f in filters:
        layers += block(channels, f, 2)
        channels = f
    for f in reversed(filters):
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), *block(channels, f, 1)]
        channels = f
    return nn.Sequential(*layers, nn.Conv2d(channels, 1, 1), nn.Sigmoid())


def dice_focal(pred, target, eps=1e-7, gamma=2.0, alpha=0.25):
    inter = (pred * target).sum()
    dice = 1 - (2 * inter + eps) / (pred.sum() + target.sum() + eps)
    p = pred.clamp(eps, 1 - eps)
    focal = -(alpha * target * (1 - p) ** gamma * torch.log(p)).mean()
    return dice + focal


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x512")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    parser.add_argument("--inference-only", action="store_true",
                        help="time one image's forward in eval mode, nothing else")
    parser.add_argument("--repeats", type=int, default=3, help="forwards to take the fastest of")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    height, width = (int(v) for v in args.size.split("x"))
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    model = cae().to(memory_format=layout)
    x = torch.rand(args.batch, 3, height, width).contiguous(memory_format=layout)
    y = (torch.rand(args.batch, 1, height, width) > 0.9).float()
    if args.inference_only:
        model.eval()
        with torch.no_grad():
            inference = best_of(args.repeats, model, x[:1])       # the fastest, as npcae's
        print(json.dumps({"impl": f"torch {torch.__version__}", "inference_s": inference}))
        return
    steps = train_steps(model, x, y, dice_focal, args.steps)
    print(json.dumps({"impl": f"torch {torch.__version__}", "size": [height, width],
                      "batch": args.batch, "steps_s": steps,
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


if __name__ == "__main__":
    main()
