"""Output sizes and padding of a 2-D convolution, following Keras/TensorFlow exactly.

"same":  out = ceil(n / s)
         pad_total = max((out - 1) * s + k - n, 0), pad_before = pad_total // 2,
         pad_after = pad_total - pad_before   (the extra row/column goes to the bottom/right)
"valid": out = floor((n - k) / s) + 1, no padding.
"""
from typing import NamedTuple

PADDINGS = ("same", "valid")


class ConvGeometry(NamedTuple):
    """Everything a kernel needs to know about one spatial convolution."""

    kh: int
    kw: int
    stride: int
    pad_top: int
    pad_left: int
    out_h: int
    out_w: int


def padding_1d(n, k, s, padding):
    """(out, pad_before) along one axis of size n for kernel k and stride s."""
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2
    if padding == "valid":
        if n < k:
            raise ValueError(f"input size {n} is smaller than the kernel {k} with padding 'valid'")
        return (n - k) // s + 1, 0
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


def conv_geometry(height, width, kh, kw, stride, padding):
    """The ConvGeometry of a (kh, kw) kernel with `stride` on a height x width input."""
    out_h, pad_top = padding_1d(height, kh, stride, padding)
    out_w, pad_left = padding_1d(width, kw, stride, padding)
    return ConvGeometry(kh, kw, stride, pad_top, pad_left, out_h, out_w)
