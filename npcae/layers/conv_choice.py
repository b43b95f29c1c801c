"""Which algorithm a convolution runs when none is forced (Conv2D(algo=None)): a fixed table
of shapes, read off the kernel lab's measurements (benchmarks/bench_lab.py; the tables are in
benchmarks/README.md), not a timing taken at run time.

cuDNN's benchmark mode times every algorithm on the first call of each shape and keeps the
fastest; on a shared CPU that choice would change from run to run with the machine's load, and
with it the trained weights (Winograd and im2col round differently). A table keeps a run's
numbers a function of its seed.

What the lab showed on 2 cores with AVX-512 (OpenBLAS's own kernels):
  - Winograd F(4x4,3x3) beats im2col on 3x3 stride-1 layers with many channels on both sides:
    its GEMMs are 4x smaller, and its transforms cost little next to them once C and F are
    wide. With few channels (the CAE's 4, the U-Net's first 16-32) the transforms and the
    thin GEMMs cost more than im2col's one GEMM, and the direct kernels win there anyway.
  - In training the filter transform and its adjoint are paid every step; an inference copy
    (Conv2D.freeze) transforms the filters once, so Winograd pays off from fewer channels.
"""
from .conv_functions import winograd_takes

# The narrowest input and output channel counts at which F(4x4,3x3) wins, and the fewest
# output pixels (N * OH * OW) below which the transforms' fixed cost wins instead.
WINOGRAD_CHANNELS = {"training": 128, "frozen": 64}
WINOGRAD_MIN_PIXELS = 256


def choose_algo(geom, channels, filters, batch, training, frozen):
    """The algorithm (conv_functions.ALGOS) for a convolution of `channels` -> `filters` with
    geometry `geom` over `batch` images; None leaves the choice among im2col and direct roads
    to conv_plan."""
    if not winograd_takes(geom):
        return None
    wide = WINOGRAD_CHANNELS["frozen" if frozen and not training else "training"]
    if min(channels, filters) >= wide and batch * geom.out_h * geom.out_w >= WINOGRAD_MIN_PIXELS:
        return "winograd4"
    return None
