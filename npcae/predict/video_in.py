"""Video in: the frames of a clip, decoded one at a time (a stream: never all of them up front).

    source = open_source("clip.mp4")           # or a folder of frames, or an animated GIF/WebP/APNG
    source.fps, source.describe()              # frames per second (None: the files record none)
    for name, frame in source.frames():        # ("00000", RGB PIL image), in order
        ...

A frame that cannot be decoded raises DataError naming the frame (number and file) when the
stream reaches it. MP4/WebM/MOV/MKV/AVI go through imageio-ffmpeg (the optional extra
`pip install -e ".[video]"`, which bundles a static ffmpeg); folders and animated images
through Pillow alone.
"""
import struct
from pathlib import Path

from PIL import Image

from ..data.folder import DataError, open_image
from .photos import list_images

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
ANIMATED_SUFFIXES = (".gif", ".webp", ".png", ".apng")
EXTRA = 'pip install -e ".[video]"'


def ffmpeg(what):
    """The imageio_ffmpeg module, or DataError (one line) naming the extra that brings it."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DataError(f"{what} needs imageio-ffmpeg, the optional extra: {EXTRA} "
                        "(folders of frames and GIF/WebP/APNG work without it)") from None
    return imageio_ffmpeg


def frame_name(index):
    return f"{index:05d}"


class FrameFolder:
    """A folder of PNG/JPEG frames, in sorted order, each decoded when its turn comes."""

    fps = None

    def __init__(self, folder):
        self.path = Path(folder)
        self.files = list_images([self.path])

    def describe(self):
        return f"{len(self.files)} frames in {self.path}"

    def frames(self):
        for index, path in enumerate(self.files):
            try:
                yield frame_name(index), open_image(path)
            except DataError as error:
                raise DataError(f"frame {index} of {self.path}: {error}") from None


class AnimatedImage:
    """An animated GIF, WebP or APNG (or a still one: one frame), frame by frame through
    Pillow's seek, as RGB (a GIF's transparency is dropped, as for the photos). The frames are
    not counted up front (for a GIF that reads the whole file): a damaged one is named when
    the stream reaches it."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            with Image.open(self.path) as im:
                duration = im.info.get("duration") or 0
        except DECODE_ERRORS as error:
            raise DataError(f"cannot read animated image {self.path}: {reason(error)}") from None
        self.fps = 1000.0 / duration if duration else None

    def describe(self):
        return str(self.path)

    def frames(self):
        with Image.open(self.path) as im:
            index = 0
            while True:
                try:
                    im.seek(index)
                except EOFError:                # the end of the animation
                    return
                except DECODE_ERRORS as error:
                    raise DataError(f"frame {index} of {self.path} cannot be decoded: "
                                    f"{reason(error)}") from None
                try:
                    im.load()
                    frame = im.convert("RGB")
                except DECODE_ERRORS as error:
                    raise DataError(f"frame {index} of {self.path} cannot be decoded: "
                                    f"{reason(error)}") from None
                yield frame_name(index), frame
                index += 1


# Pillow's plugins fail on a damaged file with more than its documented OSError: a GIF cut off
# mid-frame raises IndexError from its block reader, others struct.error or EOFError mid-frame.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, IndexError, struct.error,
                 Image.DecompressionBombError)


def reason(error):
    return (str(error).splitlines() or [""])[0] or type(error).__name__


class VideoFile:
    """An MP4/WebM/MOV/... file through imageio-ffmpeg's read_frames: ffmpeg decodes to RGB24 and
    hands over one frame at a time. Opened (its header read) when made, so a file ffmpeg cannot
    open is refused before the model loads. A stream that ends well short of the length its
    header gives (a file cut off) is refused too, as ffmpeg itself only warns."""

    def __init__(self, path):
        self.path = Path(path)
        self._ffmpeg = ffmpeg(f"reading the video {self.path}")
        self._reader, meta = self._open()
        width, height = meta["size"]
        self.size = (height, width)
        self.fps = meta.get("fps") or None
        duration = meta.get("duration") or 0
        self.expected = int(round(duration * self.fps)) if duration and self.fps else None

    def _open(self):
        try:
            reader = self._ffmpeg.read_frames(str(self.path))
            return reader, next(reader)
        except (OSError, RuntimeError, StopIteration) as error:
            raise DataError(f"cannot read video {self.path}: {last_line(error)}") from None

    def describe(self):
        about = f"about {self.expected} frames, " if self.expected else ""
        return f"{self.path} ({about}{self.size[1]}x{self.size[0]})"

    def frames(self):
        reader, self._reader = self._reader or self._open()[0], None
        height, width = self.size
        index = 0
        try:
            while True:
                try:
                    data = next(reader)
                except StopIteration:
                    break
                except (OSError, RuntimeError) as error:
                    raise DataError(f"frame {index} of {self.path} cannot be decoded: "
                                    f"{last_line(error)}") from None
                if len(data) != width * height * 3:
                    raise DataError(f"frame {index} of {self.path} is incomplete (the file is "
                                    "cut off)")
                yield frame_name(index), Image.frombuffer("RGB", (width, height), data, "raw",
                                                          "RGB", 0, 1).copy()
                index += 1
        finally:
            reader.close()
        # a cut-off file: ffmpeg stops at the damage with a warning, not an error (2 frames of
        # slack for the rounding of duration * fps)
        if self.expected and index < self.expected - 2:
            raise DataError(f"{self.path} ended after {index} frames where its header gives "
                            f"{self.expected}: the file is cut off or damaged at frame {index}")


def last_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def open_source(path):
    """The source for --video PATH: a folder of frames, a video file, or an animated image."""
    path = Path(path).expanduser()
    if path.is_dir():
        return FrameFolder(path)
    if not path.is_file():
        raise DataError(f"--video input not found: {path}")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoFile(path)
    if suffix in ANIMATED_SUFFIXES:
        return AnimatedImage(path)
    raise DataError(f"--video {path}: give a folder of frames, a video "
                    f"({', '.join(VIDEO_SUFFIXES)}) or an animated GIF/WebP/APNG")
