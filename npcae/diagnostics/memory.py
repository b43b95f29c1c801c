"""How much memory training or running a model takes, estimated before anything is allocated,
and checked against what the machine has.

    training_bytes("cae", {"filters": [4, 32, 256]}, (1024, 512), batch_size=3)   # 2.91e9
    check_training(sketch("cae", {}, (16384, 16384)), (16384, 16384), batch_size=3)
        # MemoryTooSmall: --size 16384x16384 with filters 4,32,256 needs about 1.5 TB to
        # train a batch of 3; this machine has 24.8 GB available (try a smaller --size, ...)
    check_inference(model, (4096, 2048), batch_size=3)    # before `npcae evaluate` runs
    available_bytes()                                       # what this process can still get

The peak of a training step, at the end of forward or during backward, is

    parameters  4 x the weights: weights, gradients, Adam's m and v
  + kept        every layer's caches for backward, over the batch (npcae/diagnostics/footprints.py)
  + workspace   the shared im2col buffer, grown to the largest request (kernels/workspace.py)
  + data        the batch (images and targets) and the loss's cache of the output
  + working     the most that one layer's forward or backward, the loss or Adam's update
                makes and frees again

and a run that validates with another batch (eval_batch) also needs its inference pass, whose
caches replace the training ones layer by layer. Inference alone (`inference_estimate`) is
the weights and their (zero) gradients, the forward caches, the workspace and the batch.
The model is sketched under layers.placeholder.shapes_only(): --filters 4096,8192,16384 (47 GB
of weights) are counted, never allocated.

Measured (benchmarks/calibrate_memory.py; 2 cores, 23 GB): the CAE with dice+focal and Adam,
three training steps and a validation batch of 3, each in a fresh process after the kernels
were loaded. "RSS" is the growth of the peak resident memory over the RSS before the model
was built (what MemAvailable is compared with); "numpy" the peak of the bytes numpy allocated
(tracemalloc), which is what the estimate models. Small sizes grow RSS less than numpy
allocates: the process reuses memory it had already freed.

    size      batch  filters        estimate   RSS       numpy     est/RSS  est/numpy
    256x128     3    4,32,256       0.24 GB    0.18 GB   0.24 GB   1.33     1.00
    512x256     3    4,32,256       0.76 GB    0.77 GB   0.75 GB   0.99     1.01
    1024x512    3    4,32,256       2.91 GB    2.91 GB   2.85 GB   1.00     1.02
    512x256     8    4,32,256       1.95 GB    1.97 GB   1.91 GB   0.99     1.02
    1024x512    8    4,32,256       7.71 GB    7.57 GB   7.54 GB   1.02     1.02
    512x256     1    4,32,256       0.44 GB    0.42 GB   0.41 GB   1.06     1.08
    512x256     3    16,64,512      1.44 GB    1.32 GB   1.42 GB   1.09     1.01
    512x256     3    8,8,8          0.43 GB    0.42 GB   0.42 GB   1.02     1.02
    64x32       3    256,512,1024   0.99 GB    0.91 GB   0.99 GB   1.09     1.00

And `npcae train` itself at 2048x1024, batch 5: estimate 19.2 GB, peak RSS of the whole
process 19.1 GB.
"""
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .. import models
from .footprints import footprint, nbytes
from ..layers.placeholder import shapes_only

LOSS_ARRAYS = 8        # output-sized temporaries of the loss's forward and backward
ADAM_ARRAYS = 3        # temporaries of Adam's update of the largest parameter (g^2, sqrt v, m / .)
NO_LIMIT = 2 ** 60     # a cgroup limit at least this large is "no limit"


class MemoryTooSmall(InputError):
    """Training or running the model at this size needs more memory than the machine has."""


@dataclass(frozen=True)
class Estimate:
    """Bytes at the peak of a step, by where they go; `total` is what a check compares."""

    parameters: int
    kept: int
    workspace: int
    data: int
    working: int

    @property
    def total(self):
        return self.parameters + self.kept + self.workspace + self.data + self.working


def sketch(model_name, model_args, input_size):
    """The registered model `model_name`, built with shape-only weights (nothing allocated)."""
    with shapes_only():
        return models.create(model_name, input_size=input_size, seed=0, **dict(model_args))


def _input_shape(model, input_size, batch_size):
    channels = model.input_shape[-1] if getattr(model, "input_shape", None) else 3
    return (int(batch_size), *input_size, channels)


def _weights_bytes(model, itemsize):
    return sum(param.size for param, _ in model.parameters()) * itemsize


def _step(model, input_shape, itemsize, training):
    """(Estimate without the parameters, the model's Footprint) of one step on input_shape."""
    fp = footprint(model, input_shape, itemsize, training)
    out = nbytes(model.output_shape(input_shape), itemsize)
    held_output = 0 if fp.keeps_output else out          # the loss (or the caller) holds it
    # The images, the targets, the loss's clipped copy of the output, and the output itself.
    data = nbytes(input_shape, itemsize) + 2 * out + held_output
    working = max(fp.forward, fp.backward if training else 0, LOSS_ARRAYS * out)
    return Estimate(0, fp.kept, fp.workspace, data, working), fp


def training_estimate(model, input_size, batch_size, dtype=np.float32, eval_batch=None):
    """The Estimate of training `model` (real or sketched) on batches of batch_size at
    input_size (H, W), in `dtype`; with eval_batch, the larger of that and its validation."""
    itemsize = np.dtype(dtype).itemsize
    weights = _weights_bytes(model, itemsize)
    step, fp = _step(model, _input_shape(model, input_size, batch_size), itemsize, True)
    largest = max((param.size for param, _ in model.parameters()), default=0) * itemsize
    train = Estimate(4 * weights, step.kept, step.workspace, step.data,
                     max(step.working, ADAM_ARRAYS * largest))
    if eval_batch is None:
        return train
    infer, _ = _step(model, _input_shape(model, input_size, eval_batch), itemsize, False)
    # Validating: the thin layers' own columns stay; other caches are replaced by inference's.
    validate = Estimate(4 * weights, fp.buffers + max(fp.kept - fp.buffers, infer.kept),
                        max(step.workspace, infer.workspace), infer.data + step.data,
                        infer.working)
    return max(train, validate, key=lambda e: e.total)


def training_bytes(model_name, model_args, input_size, batch_size, dtype=np.float32,
                   eval_batch=None):
    """Bytes a training step of the registered model needs at its peak (see the module)."""
    model = sketch(model_name, model_args, input_size)
    return training_estimate(model, input_size, batch_size, dtype, eval_batch).total


def inference_estimate(model, input_size, batch_size, dtype=np.float32):
    """The Estimate of inference-mode forwards of batch_size frames at input_size (H, W)."""
    itemsize = np.dtype(dtype).itemsize
    step, _ = _step(model, _input_shape(model, input_size, batch_size), itemsize, False)
    return Estimate(2 * _weights_bytes(model, itemsize), step.kept, step.workspace, step.data,
                    step.working)


def inference_bytes(model, input_size, batch_size, dtype=np.float32):
    return inference_estimate(model, input_size, batch_size, dtype).total


# -- what the machine has ----------------------------------------------------------------------
def _read_int(path, key=None):
    """An integer from a /proc or /sys file: its only value, or the value after `key`."""
    try:
        with open(path) as f:
            for line in f:
                fields = line.replace(":", " ").split()
                if key is None:
                    return int(fields[0]) if fields and fields[0].isdigit() else None
                if fields and fields[0] == key:
                    return int(fields[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room():
    """Bytes left under this container's memory limit (cgroup v2, else v1), or None when
    unlimited. Reclaimable page cache (inactive files) counts as room, as `docker stats` does."""
    for limit_file, usage_file, stat_file, inactive in (
            ("memory.max", "memory.current", "memory.stat", "inactive_file"),
            ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat",
             "total_inactive_file")):
        root = "/sys/fs/cgroup/"
        limit = _read_int(root + limit_file)       # "max" (v2, no limit) reads as None
        usage = _read_int(root + usage_file)
        if limit is not None and usage is not None and limit < NO_LIMIT:
            return max(0, limit - usage + (_read_int(root + stat_file, inactive) or 0))
    return None


def available_bytes():
    """Bytes this process can still allocate without swapping, or None if it cannot be told.

    Linux: MemAvailable of /proc/meminfo (free memory and the cache the kernel can reclaim),
    lowered to the room under a container's cgroup limit. Elsewhere: the free physical pages
    (os.sysconf), else all of them.
    """
    kib = _read_int("/proc/meminfo", "MemAvailable")
    room = kib * 1024 if kib is not None else None
    if room is None:
        for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
            try:
                room = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
                break
            except (AttributeError, ValueError, OSError):
                continue
    known = [value for value in (room, _cgroup_room()) if value is not None]
    return min(known) if known else None


def human(n_bytes):
    """1.3 TB, 41.3 GB, 512 MB (decimal units, as disks and `free --si` count them)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes / 1e6:.0f} MB"


# -- the checks --------------------------------------------------------------------------------
def check(needed, doing, hint, available=None):
    """Raise MemoryTooSmall "<doing> needs about N GB; this machine has M GB available (hint)"
    when `needed` bytes exceed `available` (default available_bytes(); None: no check)."""
    available = available_bytes() if available is None else available
    if available is not None and needed > available:
        raise MemoryTooSmall(f"{doing.format(needed=human(needed))}; this machine has "
                             f"{human(available)} available ({hint})")


def _described(model, input_size):
    args = (getattr(model, "config", None) or {}).get("args", {})
    filters = f" with filters {','.join(map(str, args['filters']))}" if "filters" in args else ""
    return f"--size {input_size[0]}x{input_size[1]}{filters}"


def check_training(model, input_size, batch_size, eval_batch=None, available=None):
    """MemoryTooSmall if training `model` (sketch() it: nothing is allocated) on batches of
    batch_size at input_size cannot fit; the message gives both figures and what to shrink."""
    needed = training_estimate(model, input_size, batch_size, eval_batch=eval_batch).total
    check(needed, f"{_described(model, input_size)} needs about {{needed}} to train a batch of "
                  f"{batch_size}", "try a smaller --size, --filters or --batch-size", available)


def check_inference(model, input_size, batch_size=3, available=None):
    """MemoryTooSmall if inference on batches of batch_size at input_size cannot fit."""
    needed = inference_bytes(model, input_size, batch_size)
    check(needed, f"{_described(model, input_size)} needs about {{needed}} to run a batch of "
                  f"{batch_size}", "try a smaller --size", available)


__all__ = ["MemoryTooSmall", "Estimate", "sketch", "training_estimate", "training_bytes",
           "inference_estimate", "inference_bytes", "available_bytes", "check",
           "check_training", "check_inference", "human"]
