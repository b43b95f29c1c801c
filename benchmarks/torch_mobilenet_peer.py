"""The MobileNetV2 U-Net in PyTorch, timed as bench_unet.py times npcae's (`--model
mobilenet_unet`): the peer it compares against. Imports only torch, never npcae.

    python -m benchmarks.torch_mobilenet_peer --size 224x224 --batch 8 --steps 2 --photo 512x512

npcae.models.mobilenet_unet, layer for layer: MobileNetV2 (Keras's widths at --alpha, 3x3 s2
stem, 17 inverted residual blocks, ReLU6, batch norm eps 1e-3) to block_16_project, the five
taps, pix2pix's decoder (3x3 s2 transposed convolutions, 512-256-128-64, batch norm, ReLU,
[up, tap] concatenated), a last 3x3 s2 transposed convolution to one class and a sigmoid;
Dice + focal, Adam 5e-4 (eps 1e-7); float32, 2 threads. "same" padding of a stride-2 3x3
convolution on even sizes is TensorFlow's (0 before, 1 after): padded explicitly here.
"""
import argparse
import json

import torch
from torch import nn

from .torch_peer import dice_focal
from .peer_timing import measure

SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))
TAPS = (1, 3, 6, 13)           # block_k_expand_relu; the fifth is block_16_project


def make_divisible(value, divisor=8):
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.1)


class SamePad(nn.Module):
    """TensorFlow's "same" for a 3x3 stride-2 convolution: (0, 1) on even sizes, (1, 1) on odd."""

    def forward(self, x):
        height, width = x.shape[-2:]
        return nn.functional.pad(x, (1 - width % 2, 1, 1 - height % 2, 1))


def conv3(c_in, c_out, stride, groups=1, bias=False):
    if stride == 1:
        return nn.Conv2d(c_in, c_out, 3, 1, 1, groups=groups, bias=bias)
    return nn.Sequential(SamePad(), nn.Conv2d(c_in, c_out, 3, 2, 0, groups=groups, bias=bias))


class Block(nn.Module):
    def __init__(self, c_in, t, c_out, stride):
        super().__init__()
        hidden = t * c_in
        self.expand = (nn.Sequential(nn.Conv2d(c_in, hidden, 1, bias=False), bn(hidden), nn.ReLU6())
                       if t != 1 else nn.Identity())
        self.depthwise = nn.Sequential(conv3(hidden, hidden, stride, groups=hidden), bn(hidden), nn.ReLU6())
        self.project = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.project_bn = bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x, taps=None):
        e = self.expand(x)
        if taps is not None:
            taps.append(e)
        p = self.project(self.depthwise(e))
        out = self.project_bn(p)
        return (x + out if self.residual else out), p


class MobileNetUNet(nn.Module):
    def __init__(self, alpha=1.0, decoder=(512, 256, 128, 64)):
        super().__init__()
        first = make_divisible(32 * alpha)
        self.stem = nn.Sequential(conv3(3, first, 2), bn(first), nn.ReLU6())
        self.blocks, channels, widths = nn.ModuleList(), first, []
        for t, c, n, s in SETTINGS:
            out = make_divisible(c * alpha)
            for r in range(n):
                if len(self.blocks) in TAPS:
                    widths.append(t * channels)
                self.blocks.append(Block(channels, t, out, s if r == 0 else 1))
                channels = out
        widths.append(channels)                       # block_16_project
        self.ups, c_in = nn.ModuleList(), widths[-1]
        for filters, skip in zip(decoder, reversed(widths[:-1])):
            self.ups.append(nn.Sequential(nn.ConvTranspose2d(c_in, filters, 3, 2, 1, output_padding=1, bias=False),
                                          bn(filters), nn.ReLU()))
            c_in = filters + skip
        self.head = nn.ConvTranspose2d(c_in, 1, 3, 2, 1, output_padding=1)

    def forward(self, x):
        height, width = x.shape[-2:]
        x = nn.functional.pad(x, (0, -width % 32, 0, -height % 32))
        x, taps = self.stem(x), []
        for k, block in enumerate(self.blocks):
            x, projected = block(x, taps if k in TAPS else None)
        x = projected                                 # block_16_project, before its batch norm
        for up, skip in zip(self.ups, reversed(taps)):
            x = torch.cat([up(x), skip], dim=1)
        return torch.sigmoid(self.head(x))[..., :height, :width]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="224x224")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--photo", default="512x512", help="HxW of the inference photo")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--photo-only", type=int, metavar="REPEATS", default=0,
                        help="time the photo alone, the fastest of REPEATS, in a process that trains nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MobileNetUNet(args.alpha)
    result = measure(model, args, dice_focal)
    if not args.photo_only:
        result["params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
