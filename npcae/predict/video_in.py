"""Video in: the frames of a clip, decoded one at a time (a stream: never all of them up front).

    source = open_source("clip.mp4")           # or a folder of frames, or an animated GIF/WebP/APNG
    source = open_source("camera:0")           # or a camera: camera:/dev/video0, camera:"FaceTime HD"
    source.fps, source.describe()              # frames per second (None: the files record none)
    for name, frame in source.frames():        # ("00000", RGB PIL image), in order
        ...

A frame that cannot be decoded raises DataError naming the frame (number and file) when the
stream reaches it. MP4/WebM/MOV/MKV/AVI go through imageio-ffmpeg (the optional extra
`pip install -e ".[video]"`, which bundles a static ffmpeg); folders and animated images
through Pillow alone. A camera is read as a video file is, through ffmpeg's device input
(Camera: v4l2 on Linux, avfoundation on macOS, dshow on Windows), so the code that reads it is
the code the tests run on files; it streams until --frames N or Ctrl-C (`live`).
"""
import struct
import sys
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
    header gives (a file cut off) is refused too, as ffmpeg itself only warns.
    `input_params`: ffmpeg options before the input (a camera's -f DEVICE_FORMAT)."""

    live = False                # a file ends; a camera streams until stopped

    def __init__(self, path, input_params=()):
        self.path = Path(path)
        self.input_params = list(input_params)
        self._ffmpeg = ffmpeg(f"reading the video {self.path}")
        self._reader, meta = self._open()
        width, height = meta["size"]
        self.size = (height, width)
        self.fps = meta.get("fps") or None
        duration = meta.get("duration") or 0
        self.expected = int(round(duration * self.fps)) if duration and self.fps else None

    def _open(self):
        try:
            reader = self._ffmpeg.read_frames(str(self.path), input_params=self.input_params)
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


# ffmpeg's camera input on each platform, and what it calls the first camera.
CAMERA_FORMATS = {"linux": ("v4l2", "/dev/video{}"), "darwin": ("avfoundation", "{}"),
                  "win32": ("dshow", "video={}")}
CAMERA = "camera:"


class Camera(VideoFile):
    """A camera through ffmpeg's device input: "camera:0" is the platform's first camera
    (/dev/video0 on Linux), "camera:NAME" a device by its name or path. `input_format` forces
    ffmpeg's demuxer (tests read a file as a camera with "mov"). It has no length: it streams
    until the frames asked for are read or the user stops it."""

    live = True

    def __init__(self, spec, input_format=None, platform=sys.platform):
        device = spec[len(CAMERA):]
        known = CAMERA_FORMATS.get(platform if platform in CAMERA_FORMATS else platform[:5])
        if input_format is None and known is None:
            raise DataError(f"--video {spec}: no camera input is known for this platform "
                            f"({platform}); ffmpeg reads cameras on Linux, macOS and Windows")
        fmt, pattern = known or (input_format, "{}")
        if device.isdigit():
            device = pattern.format(device)
        if not device:
            raise DataError(f"--video {spec}: name a camera, e.g. camera:0")
        self.spec = spec
        super().__init__(device, input_params=["-f", input_format or fmt])
        self.expected = None            # a stream has no length to fall short of

    def describe(self):
        return f"camera {self.path} ({self.size[1]}x{self.size[0]})"

    def _open(self):
        try:
            return super()._open()
        except DataError as error:
            raise DataError(f"cannot open {self.spec} ({self.path}): "
                            f"{str(error).rpartition(': ')[2]}") from None


def open_source(path):
    """The source for --video PATH: a folder of frames, a video file, an animated image, or a
    camera (camera:0)."""
    if isinstance(path, str) and path.startswith(CAMERA):
        return Camera(path)
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
