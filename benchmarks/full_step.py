"""One training step of the original CAE: forward, backward and (optionally) Adam, timed.

    python benchmarks/full_step.py --size 1024x512 --batch 3
    /usr/bin/time -v python benchmarks/full_step.py      # adds peak RSS ("Maximum resident set size")

Prints seconds per phase and the peak resident memory the process reached.
"""
import argparse
import resource
import time

import numpy as np

from npcae.losses import DiceFocalLoss
from npcae.models import cae
from npcae.optim import Adam


def parse_size(text):
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(1024, 512), help="HxW (1024x512)")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--filters", default="4,32,256")
    parser.add_argument("--steps", type=int, default=2, help="steps after one warm-up step")
    args = parser.parse_args(argv)
    filters = tuple(int(f) for f in args.filters.split(","))
    rng = np.random.default_rng(0)
    height, width = args.size
    x = rng.random((args.batch, height, width, 3), dtype=np.float32)
    y = (rng.random((args.batch, height, width, 1)) > 0.9).astype(np.float32)
    model = cae(filters, seed=0)
    loss = DiceFocalLoss()
    opt = Adam(model.named_parameters(), lr=5e-4)
    for step in range(args.steps + 1):
        t0 = time.perf_counter()
        pred = model.forward(x, training=True)
        value = loss.forward(pred, y)
        t1 = time.perf_counter()
        model.backward(loss.backward())
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        label = "warm-up" if step == 0 else f"step {step}"
        print(f"{label:>8}: forward {t1 - t0:6.2f} s  backward {t2 - t1:6.2f} s  "
              f"adam {t3 - t2:5.3f} s  total {t3 - t0:6.2f} s  loss {value:.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS {peak:.2f} GB ({args.batch} x {height}x{width}, filters {filters}, float32)")


if __name__ == "__main__":
    main()
