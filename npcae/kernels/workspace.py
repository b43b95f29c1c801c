"""One reusable scratch buffer for im2col columns, shared by every convolution.

Columns are the largest arrays of a training step (906 MB for the CAE's widest layer at
1024x512) and they live only inside one layer's call: forward needs them until its matrix
multiply returns, backward until col2im has read the column gradients written over them.
Allocating them afresh each time costs a page fault per 4 kB page, every call (the kernel
zeroes each page): measured here, a third of the time of the 256->256 layer's forward. One
buffer, grown to the largest request and reused, removes that; and the stride-1 layers ask
for their columns in blocks of im2col.BLOCK_BYTES (im2col_blocks), so it stays small.

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


class KeptColumns:
    """A layer's own im2col buffer, kept from forward to backward, with a last column of ones.

    For a thin GEMM (few output channels) re-running im2col in backward costs a third of the
    multiply itself, so a thin layer keeps its forward columns instead; and the column of ones
    makes the bias one more row of the weight matrix, so the forward GEMM adds the bias and
    the backward GEMM  cols.T @ dy  yields db as its last row:

        [cols | 1] @ [[W], [b]] = cols @ W + b          [cols | 1].T @ dy = [[dW], [db]]

    The buffer is allocated once and refilled by every training forward (a fresh buffer would
    cost a page fault per 4 kB page, every step), a block of rows at a time, each block
    multiplied while it is still in cache; it belongs to one layer, so no other convolution
    can overwrite it between that layer's forward and its backward.
    """

    def __init__(self):
        self.buffer = None
        self.valid = False          # True from a training forward until the next forward

    def prepare(self, x, geom):
        """The (N*OH*OW, KH*KW*C + 1) buffer for x, its last column ones; marks it valid (the
        caller fills the leading columns, e.g. im2col_blocks(x, geom, into=buffer))."""
        n, _, _, channels = x.shape
        shape = (n * geom.out_h * geom.out_w, geom.kh * geom.kw * channels + 1)
        if self.buffer is None or self.buffer.shape != shape or self.buffer.dtype != x.dtype:
            self.buffer = None
            self.buffer = np.empty(shape, x.dtype)
            self.buffer[:, -1] = 1
        self.valid = True
        return self.buffer
