"""The same U-Net in PyTorch, timed as bench_unet.py times npcae's: the peer it compares against.

Run by bench_unet.py with whichever Python has torch (`--compare-torch PYTHON`); it imports only
torch, never npcae, and PyTorch is never a dependency of npcae.

    python -m benchmarks.torch_unet_peer --size 256x256 --batch 8 --steps 2 --photo 512x512

npcae.models.unet's defaults: filters 16-32-64-128-256, [3x3 conv (no bias) -> batch norm ->
ReLU] x 2 per level, 2x2 max pooling, 2x2 stride-2 transposed convolutions, [up, skip]
concatenated, 1x1 conv + sigmoid; Dice + focal, Adam 5e-4 (eps 1e-7); float32, 2 threads.
"""
import argparse
import json

import torch
from torch import nn

from .torch_peer import dice_focal   # the same loss as the CAE peer
from .peer_timing import measure


def double_conv(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out, momentum=0.01, eps=1e-3),
                         nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out, momentum=0.01, eps=1e-3), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, filters=(16, 32, 64, 128, 256)):
        super().__init__()
        self.down = nn.ModuleList()
        channels = 3
        for f in filters:
            self.down.append(double_conv(channels, f))
            channels = f
        self.up = nn.ModuleList(nn.ConvTranspose2d(filters[d + 1], filters[d], 2, 2)
                                for d in range(len(filters) - 1))
        self.merge = nn.ModuleList(double_conv(2 * f, f) for f in filters[:-1])
        self.head = nn.Conv2d(filters[0], 1, 1)

    def forward(self, x):
        height, width = x.shape[-2:]                  # padded to a multiple of 16, as npcae's
        factor = 2 ** (len(self.down) - 1)
        x = nn.functional.pad(x, (0, -width % factor, 0, -height % factor))
        skips = []
        for d, block in enumerate(self.down):
            x = block(x)
            if d < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for d in reversed(range(len(self.up))):
            x = self.merge[d](torch.cat([self.up[d](x), skips[d]], dim=1))
        return torch.sigmoid(self.head(x))[..., :height, :width]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--photo", default="512x512", help="HxW of the inference photo")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--photo-only", type=int, metavar="REPEATS", default=0,
                        help="time the photo alone, the fastest of REPEATS, in a process that trains nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet()
    result = measure(model, args, dice_focal)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
