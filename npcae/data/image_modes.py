"""Any image Pillow opens, as the 8-bit RGB the network reads or as a mask's 8-bit gray.

Every image file npcae reads goes through to_rgb() or to_mask() (by way of
npcae.data.folder.open_image and open_mask: training and evaluation folders, predict's inputs),
so each pixel mode is handled once, here. Pillow's convert() alone gets three of them wrong:

  mode                            as RGB                                as a mask (0: background)
  RGB, L, 1, CMYK, YCbCr          convert("RGB"); 1 is 0 or 255;        L as is; a colour's
                                  CMYK without a colour profile         brightest channel
  P (palette), PA                 the palette colours                   their brightest channel
  LA, RGBA (also 16-bit PNGs)     alpha dropped, not composited         the colour, not alpha
  I;16 (16-bit gray), I           v -> ceil(v / 257)                    the same
  F (32-bit float, from TIFF)     refused (ValueError)                  refused

What convert() gets wrong:
  * 16-bit gray: it clips at 255, so a 16-bit photo becomes white. Scaled instead by
    ceil(v / 257): 65535 -> 255, 257 k -> k, and a nonzero value stays nonzero (a mask is
    "not black"). Pillow opens a 16-bit gray PNG as I;16 (older Pillow: as I, 32-bit), which is
    scaled alike; an I image from another source whose values all fit 0..255 (a
    32-bit TIFF of 8-bit data) is taken as 8-bit.
  * A palette with a transparency table (PNG tRNS, one alpha per entry): convert("RGB") warns
    on stderr each time. The palette goes through RGBA, so it gives the same colours quietly.
  * F: floats hold 0..1 or 0..255 or anything else, and the file does not say which;
    convert() clips them, so a 0..1 image reads as black. Refused with the reason instead.

Alpha is dropped, not composited over a background: the colour stored under a transparent
pixel is kept, as cv2.imread (the original preprocessing) and Keras' load_img do, so a photo
saved with an alpha channel reads as the same photo, and its opaque pixels are never changed.
A mask's alpha is not its mask either: annotation tools write opaque label colours, and a
colour mask saved as RGBA must read as its colours.

A mask pixel is foreground when it is not black: its gray is the brightest of its R, G, B
(gray masks are unchanged). Luminance would lose dark labels: RGB (1, 0, 0), an index mask
written in the red channel, or (0, 0, 4) have luminance 0.
"""
import numpy as np
from PIL import Image

# Pillow's names for 16-bit gray (by byte order) and 32-bit integer gray.
WIDE_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
PALETTE_MODES = ("P", "PA")


def _to_8_bit(im):
    """16-bit (or 32-bit integer) gray as 8-bit "L": v -> ceil(v / 257), clipped to 0..65535.

    An "I" image not read from a PNG whose values all fit 0..255 is 8-bit data and kept as is;
    a PNG's "I" is always 16-bit (older Pillow), however dark it is.
    """
    wide = np.asarray(im, dtype=np.int64)
    if im.mode == "I" and im.format != "PNG" and 0 <= wide.min(initial=0) and wide.max(initial=0) <= 255:
        return Image.fromarray(wide.astype(np.uint8))
    return Image.fromarray(((np.clip(wide, 0, 65535) + 256) // 257).astype(np.uint8))


def _refuse_float(im):
    if im.mode.startswith("F"):
        raise ValueError(f"its pixels are 32-bit floats (mode {im.mode}), whose range the file does "
                         "not state; save it as an 8- or 16-bit PNG")


def to_rgb(im):
    """A PIL image of any mode as an 8-bit "RGB" image of the same size (see the table above)."""
    _refuse_float(im)
    if im.mode in WIDE_GRAY_MODES:
        im = _to_8_bit(im)
    elif im.mode in PALETTE_MODES:
        im = im.convert("RGBA")        # quietly, even with a per-entry transparency table
    return im if im.mode == "RGB" else im.convert("RGB")


def to_mask(im):
    """A PIL image of any mode as an 8-bit "L" image whose pixel is 0 where the mask is
    background (black) and the brightest of its R, G, B elsewhere; alpha is ignored."""
    _refuse_float(im)
    if im.mode in WIDE_GRAY_MODES:
        return _to_8_bit(im)
    if im.mode in ("1", "L", "LA"):
        return im.convert("L")         # 1: 0 or 255; LA: its gray
    return Image.fromarray(np.asarray(to_rgb(im)).max(axis=2))
