"""One reusable scratch buffer for im2col columns, shared by every convolution.

Columns are the largest arrays of a training step (906 MB for the CAE's widest layer at
1024x512) and they live only inside one layer's call: forward needs them until its matrix
multiply returns, backward until col2im has read the column gradients written over them.
Allocating them afresh each time costs a page fault per 4 kB page, every call (the kernel
zeroes each page): measured here, a third of the time of the 256->256 layer's forward. One
buffer, grown to the largest request and reused, removes that.

Not thread-safe: two convolutions running at once in one process would share the buffer.
"""
import numpy as np

_buffers = {}


def scratch(shape, dtype):
    """An uninitialised C-contiguous array of `shape`, a view into the shared buffer."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    buffer = _buffers.get(dtype)
    if buffer is None or buffer.size < size:
        _buffers.pop(dtype, None)              # free the old one before allocating the new
        buffer = _buffers[dtype] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def release():
    """Free the buffers (they are re-created on the next convolution)."""
    _buffers.clear()
