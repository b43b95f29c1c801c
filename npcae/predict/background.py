"""What `--background` names: an opaque colour or an image, at any photo's size, for the tasks
that cut something out (a person over a new background: Task.render(..., background=))."""
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageOps

from ..data.folder import IMAGE_SUFFIXES, DataError, open_image

COLOUR_HELP = "a colour name such as white, #00ff00, or R,G,B with each 0-255"


class Background:
    """What --background names, an opaque colour or an image, at any photo's size.

    An image covers the photo as CSS's `background-size: cover; background-position: center`:
    scaled by the larger of the two ratios, so it fills the photo with no bars, and its centre
    cropped to the photo's aspect ratio (ImageOps.fit, Lanczos); an image of the photo's size is
    used as it is. Any mode Pillow reads, as its RGB (alpha dropped, as for the photos).
    """

    def __init__(self, text, colour=None, image=None):
        self.text, self.colour, self.image = text, colour, image
        self._sized = {}

    def at(self, height, width):
        """The background at (height, width): (H, W, 3) uint8."""
        if self.colour is not None:
            return np.broadcast_to(np.array(self.colour, np.uint8), (height, width, 3))
        if (height, width) not in self._sized:     # the last size only: one camera's photos
            self._sized = {(height, width): np.asarray(   # are fitted once, and memory stays flat
                ImageOps.fit(self.image, (width, height), Image.LANCZOS))}
        return self._sized[(height, width)]

    def __repr__(self):
        return f"Background({self.text!r})"


def parse_colour(text):
    """(r, g, b) from "white", "#00ff00", "#0f0", "rgb(0,255,0)", "0,255,0"; None if none of these."""
    numbers = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
    if numbers:
        rgb = tuple(int(v) for v in numbers.groups())
        if max(rgb) > 255:
            raise DataError(f"--background {text!r}: each of R,G,B must be 0-255")
        return rgb
    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        return None
    if len(rgb) == 4:
        raise DataError(f"--background {text!r} has an alpha channel; a background is opaque: "
                        "give its colour without one")
    return rgb


def parse_background(text):
    """A Background from --background's value: an existing image file, else a colour
    (DataError, one line, when it is neither). An image is decoded now, before any work."""
    if not text.strip():
        raise DataError(f"--background is empty; give an image file or {COLOUR_HELP}")
    path = Path(text).expanduser()
    if path.is_file():
        try:
            return Background(text, image=open_image(path))
        except DataError as error:
            raise DataError(f"--background: {error}") from None
    if path.is_dir():
        raise DataError(f"--background {text} is a folder; give one image file or a colour")
    colour = parse_colour(text)
    if colour is not None:
        return Background(text, colour=colour)
    if path.suffix.lower() in IMAGE_SUFFIXES or os.sep in text:
        raise DataError(f"--background image not found: {path}")
    raise DataError(f"--background {text!r} is neither an image file nor a colour ({COLOUR_HELP})")
