"""Video out: where the frames of a predicted clip go, chosen by --out's name.

    writer = open_writer("out.mp4", fps=25, transparent=False).open()
    writer.write("00000", pictures)          # a task's pictures of one frame (Task.render)
    writer.close()                           # the whole output appears, under its own name
    writer.abort()                           # or nothing does

    out.mp4 / .mov / .m4v / .webm   the composite (the person over --background, white by
                                    default), H.264 (VP9 for WebM) through imageio-ffmpeg
    out.gif / .webp / .apng         an animated image through Pillow; with no --background the
                                    cut-out, transparent around the person (GIF: 1-bit alpha)
    any other name                  a folder of PNGs per frame, NAME_<kind>.png (PngFolder)

Everything is written under a temporary name beside --out and renamed at close(): a broken frame
or a crash leaves no half-written output.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.folder import DataError
from ..system.files import atomic_write, ensure_writable
from .video_in import ffmpeg
from .writers import PngFolder

VIDEO_OUT = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".webm": "libvpx-vp9"}
ANIMATED_OUT = {".gif": "GIF", ".webp": "WEBP", ".apng": "PNG"}


def open_writer(out, fps, transparent):
    """The writer for --out (see the module docstring); `transparent`: no --background."""
    out = Path(out).expanduser()
    suffix = out.suffix.lower()
    if suffix in VIDEO_OUT:
        return VideoWriter(out, fps)
    if suffix in ANIMATED_OUT:
        return AnimatedWriter(out, fps, transparent)
    return FolderWriter(out)


def shown(pictures):
    """The picture a video shows: the composite when there is one, else the cut-out."""
    return pictures["composite"] if "composite" in pictures else pictures["cutout"]


class VideoWriter:
    """H.264 (yuv420p, which players expect) or VP9 through imageio-ffmpeg's write_frames, one
    frame at a time into a temporary file beside `path`. yuv420p needs an even width and
    height: an odd frame is padded by repeating its last row or column."""

    def __init__(self, path, fps):
        self.path, self.fps = Path(path), fps
        self._ffmpeg = ffmpeg(f"writing the video {self.path}")
        self._tmp = self._gen = None

    def open(self):
        ensure_writable(self.path.parent)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                         suffix=self.path.suffix)
        os.close(fd)
        return self

    def write(self, name, pictures):
        pixels, mode = shown(pictures)
        if mode != "RGB":                       # no background: the cut-out over white
            pixels = np.asarray(Image.alpha_composite(
                Image.new("RGBA", pixels.shape[1::-1], "white"),
                Image.fromarray(pixels, "RGBA")).convert("RGB"))
        height, width = pixels.shape[:2]
        pixels = np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        if self._gen is None:
            self._gen = self._ffmpeg.write_frames(
                self._tmp, pixels.shape[1::-1], fps=self.fps, codec=VIDEO_OUT[self.path.suffix.lower()],
                pix_fmt_in="rgb24", pix_fmt_out="yuv420p", macro_block_size=1, quality=7)
            self._gen.send(None)
        self._gen.send(np.ascontiguousarray(pixels))
        return [self.path.name]

    def close(self):
        if self._gen is None:
            raise DataError(f"no frames to write to {self.path}")
        self._gen.close()                       # ffmpeg finishes the file (its index, the moov)
        self._gen = None
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)

    def abort(self):
        if self._gen is not None:
            try:
                self._gen.close()
            except Exception:                   # ffmpeg already gone: the file goes anyway
                pass
            self._gen = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)


class AnimatedWriter:
    """An animated GIF/WebP/APNG through Pillow, which writes all frames in one save: the frames
    are kept (as Pillow images) until close(), so this output suits short clips; a long one
    belongs in an MP4. Saved through atomic_write."""

    def __init__(self, path, fps, transparent):
        self.path, self.fps, self.transparent = Path(path), fps, transparent
        self.images = []

    def open(self):
        ensure_writable(self.path.parent)
        return self

    def write(self, name, pictures):
        pixels, mode = shown(pictures) if not self.transparent else pictures["cutout"]
        if mode == "RGBA" and ANIMATED_OUT[self.path.suffix.lower()] == "GIF":
            # a GIF pixel is opaque or transparent: the mask (alpha >= 128, p > 0.5) decides
            pixels = pixels.copy()
            pixels[..., 3] = np.where(pixels[..., 3] >= 128, 255, 0)
        self.images.append(Image.fromarray(pixels, mode))
        return [self.path.name]

    def close(self):
        if not self.images:
            raise DataError(f"no frames to write to {self.path}")
        first, rest = self.images[0], self.images[1:]
        options = {"save_all": True, "append_images": rest, "loop": 0,
                   "duration": int(round(1000 / self.fps))}
        fmt = ANIMATED_OUT[self.path.suffix.lower()]
        if fmt == "GIF" and first.mode == "RGBA":
            options["disposal"] = 2             # clear each frame: the transparent parts stay so
        if fmt == "WEBP":
            options["lossless"] = False
        atomic_write(self.path, lambda f: first.save(f, format=fmt, **options))
        self.images = []

    def abort(self):
        self.images = []


class FolderWriter:
    """A folder of PNGs per frame (PngFolder) written into a temporary folder beside --out, its
    files moved into --out at close(); --out must not already hold files."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._tmp = None

    def open(self):
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise DataError(f"--out {self.folder} already exists and is not an empty folder; "
                            "give a new folder, or a name ending in .mp4, .gif or .webp")
        ensure_writable(self.folder.parent)
        self._tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=f".{self.folder.name}."))
        self._pngs = PngFolder(self._tmp).open()
        return self

    def write(self, name, pictures):
        return self._pngs.write(name, pictures)

    def close(self):
        if self.folder.is_dir():
            self.folder.rmdir()                 # empty (checked at open)
        os.replace(self._tmp, self.folder)
        self.folder.chmod(0o777 & ~_umask())

    def abort(self):
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
