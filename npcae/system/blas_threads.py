"""Let OpenBLAS's threads sleep as soon as a matrix product ends, so Numba's can have the cores.

OpenBLAS keeps its worker threads spinning for 2^28 cycles (about 0.1 s here) after each
product, in case another follows at once. In npcae a product is followed by Numba kernels
(direct convolutions, batch norm, activations) that want every core, and on a 2-core machine
the spinning thread takes one of them. Measured on one 512x512 U-Net photo: 358 ms of wall
time and 673 ms of CPU with the default, 257 ms and 403 ms with OPENBLAS_THREAD_TIMEOUT=4
(2^4 cycles, the least OpenBLAS accepts); the training steps, whose products are large, lose
nothing (benchmarks/README.md).

OpenBLAS reads the variable once, when numpy loads it, so npcae sets it on import, before it
imports numpy. It does nothing when numpy was imported first (set the variable yourself before
starting Python) or when the variable is already set.
"""
import os
import sys

VARIABLE, TIMEOUT = "OPENBLAS_THREAD_TIMEOUT", "4"
_GIVEN = os.environ.get(VARIABLE)          # before npcae sets it


def let_blas_threads_sleep():
    """Set OPENBLAS_THREAD_TIMEOUT if it can still take effect; True if it is in effect."""
    if "numpy" not in sys.modules:
        os.environ.setdefault(VARIABLE, TIMEOUT)
    return os.environ.get(VARIABLE) == TIMEOUT


def environment_as_given():
    """A copy of os.environ with the variable as the user gave it (or unset): for processes,
    such as the PyTorch peers of the benchmarks, that should not inherit npcae's setting."""
    env = dict(os.environ)
    if _GIVEN is None:
        env.pop(VARIABLE, None)
    else:
        env[VARIABLE] = _GIVEN
    return env
