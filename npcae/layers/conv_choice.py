"""Which algorithm a convolution runs when none is forced (Conv2D(algo=None)): a fixed table
of shapes, read off the kernel lab's measurements (benchmarks/bench_lab.py; the tables are in
benchmarks/README.md), not a timing taken at run time.

cuDNN's benchmark mode times every algorithm on the first call of each shape and keeps the
fastest; on a shared CPU that choice would change from run to run with the machine's load, and
with it the trained weights (Winograd and im2col round differently). A table keeps a run's
numbers a function of its seed.

What the lab showed (benchmarks/README.md, "The kernel lab"; 2 cores, AVX-512, OpenBLAS's own
kernels), forward + both backward passes against the best of im2col and direct:
  - F(4x4,3x3) wins on 3x3 stride-1 layers with 64 or more channels on both sides: the U-Net's
    128 -> 64 at 8 x 64x64 takes 56 ms against im2col's 79 and direct's 88, the CAE's
    256 -> 256 at 3 x 64x32 47 ms against im2col's 129 (results/bench_lab_unet.md,
    bench_lab_cae.md, 2026-12-02). Its GEMMs are 4x smaller, and the transforms cost little
    next to them once C and F are wide.
  - With fewer channels (the CAE's 4 and 32, the U-Net's 16 and 32 levels) the transforms and
    thin GEMMs cost more than im2col's one GEMM, and the direct kernels win by 2-3x anyway.
  - On few output pixels its fixed costs catch up: 256 -> 256 on 3 x 32x16 (1,536 pixels) is
    within the noise of im2col (18.4 ms against 20.0; 18.9 against 18.5 in an earlier run), on
    8 x 16x16 (2,048) it is ahead (23.2 against 27.4).
  - In training the filter transform and its adjoint are paid every step; an inference copy
    (Conv2D.freeze) transforms the filters once, and then Winograd is ahead from 512 pixels
    (the CAE's 256 -> 256 on one 16x32 image: 2.4 ms against 2.9; on 3 x 32x16, 3.3 against
    6.4).
F(2x2,3x3) never came first by enough to keep: its GEMMs are only 2.25x smaller. Nor did
F(2x2,2x2) on UpConv2D's shared 2x2 phase windows (kernels/winograd.py has it, tested): 1.78x
fewer multiplies, eaten by the transforms (the CAE's 256 -> 256 phases on 3 x 64x32: 134 ms
forward and backward against the GEMM's 121; frozen, 40 against 44 at best).
"""
from .conv_functions import winograd_takes

WINOGRAD_CHANNELS = 64                            # both C_in and C_out at least this
# The fewest output pixels (N * OH * OW) at which F(4x4,3x3) is ahead.
WINOGRAD_MIN_PIXELS = {"training": 2048, "frozen": 256}


def choose_algo(geom, channels, filters, batch, training, frozen):
    """The algorithm (conv_functions.ALGOS) for a convolution of `channels` -> `filters` with
    geometry `geom` over `batch` images; None leaves the choice among im2col and direct roads
    to conv_plan."""
    if not winograd_takes(geom) or min(channels, filters) < WINOGRAD_CHANNELS:
        return None
    pixels = WINOGRAD_MIN_PIXELS["frozen" if frozen and not training else "training"]
    return "winograd4" if batch * geom.out_h * geom.out_w >= pixels else None

