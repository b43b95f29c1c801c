"""Where the pictures of a prediction go. A task renders each photo's pictures
({kind: (pixels, mode)}, Task.render); a writer decides where they are kept, so a new kind of
output (a video file per kind, say) is a new writer, not an edit of every task.

    writer = PngFolder("masks/").open()                     # created and proven writable
    writer.write("IMG_0001", task.render(photo, output))   # masks/IMG_0001_mask.png, ...
"""
from pathlib import Path

from PIL import Image

from ..system.files import atomic_write, ensure_writable


class PngFolder:
    """One PNG per picture, NAME_<kind>.png in a folder, each written atomically: a crash or a
    full disk leaves whole files, never half of one."""

    def __init__(self, folder):
        self.folder = Path(folder).expanduser()

    def open(self):
        """Create the folder and prove a file can be written there (FolderNotWritable), before
        any work; returns the writer."""
        ensure_writable(self.folder)
        return self

    def write(self, name, pictures):
        """Write one photo's pictures; returns the file names, in the task's order."""
        written = []
        for kind, (pixels, mode) in pictures.items():
            written.append(f"{name}_{kind}.png")
            save_png(pixels, self.folder / written[-1], mode)
        return written


def save_png(pixels, path, mode):
    """One (H, W) or (H, W, C) uint8 array as a PNG, atomically."""
    image = Image.fromarray(pixels, mode)
    atomic_write(path, lambda f: image.save(f, format="PNG"))
