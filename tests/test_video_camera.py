"""A camera as a --video source (read through ffmpeg's device input, the code path of a file:
tested by reading an MP4 as a camera), a live stream ending at Ctrl-C with its output kept, and
--show's window (refused in one line without a display; drawn each frame; closing it stops)."""
import warnings

import numpy as np

from npcae.cli import main
from npcae.predict import load, parse_background
from npcae.predict.video import predict_video
from npcae.predict.video_in import Camera, VideoFile
from npcae.predict.video_out import open_writer
from npcae.predict.video_show import LiveWindow, has_display
from test_video import N, cae_weights, clip, frames_of, one_error_line, run  # noqa: F401 (fixtures)


def test_a_file_read_as_a_camera_gives_the_frames_the_file_gives(clip):
    camera = Camera(f"camera:{clip / 'clip.mp4'}", input_format="mov")
    assert camera.live and camera.input_params == ["-f", "mov"] and camera.expected is None
    seen = [np.asarray(frame) for _, frame in camera.frames()]
    reference = [np.asarray(frame) for _, frame in VideoFile(clip / "clip.mp4").frames()]
    assert len(seen) == N
    np.testing.assert_array_equal(np.stack(seen), np.stack(reference))


def test_a_missing_camera_is_one_line_naming_it_and_its_device(tmp_path, cae_weights, capsys):
    assert run(cae_weights, "camera:7", tmp_path / "cut.mp4") == 2
    line = one_error_line(capsys)
    assert line.startswith("npcae: error: cannot open camera:7 (/dev/video7)"), line
    assert list(tmp_path.iterdir()) == []


class Live:
    """A live source that the user stops (Ctrl-C) after `count` frames."""
    live, fps = True, 10

    def __init__(self, clip, count):
        self.source, self.count = VideoFile(clip / "clip.mp4"), count

    def describe(self):
        return "a live source"

    def frames(self):
        for index, item in enumerate(self.source.frames()):
            if index == self.count:
                raise KeyboardInterrupt
            yield item


def test_ctrl_c_ends_a_live_source_and_keeps_what_was_written(tmp_path, cae_weights, clip):
    model, size, task = load.load_model(cae_weights)
    out = tmp_path / "camera.mp4"
    report = predict_video(model, size, task, Live(clip, 3), open_writer(out, 10, False),
                           background=parse_background("white"))
    assert report.frames == 3 and frames_of(out).shape[0] == 3


def test_show_without_a_display_is_one_line_and_writes_nothing(tmp_path, cae_weights, clip, capsys):
    assert not has_display()                       # the tests run matplotlib on Agg
    assert run(cae_weights, clip / "frames", tmp_path / "cut.mp4", "--show") == 2
    assert "--show needs a display" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
    assert main(["predict", "photo.png", "--weights", str(cae_weights), "--out",
                 str(tmp_path / "o"), "--show"]) == 2
    assert "--show go with --video" in one_error_line(capsys)


class Closing:
    """A window the user closes after `count` frames; it keeps what it was shown."""

    def __init__(self, count):
        self.count, self.shown = count, []

    def show(self, picture, fps):
        self.shown.append((picture.copy(), fps))
        return len(self.shown) < self.count


def test_the_window_is_drawn_each_frame_and_closing_it_stops_the_clip(tmp_path, cae_weights, clip):
    model, size, task = load.load_model(cae_weights)
    window = Closing(2)
    out = tmp_path / "cut.mp4"
    report = predict_video(model, size, task, Live(clip, N), open_writer(out, 10, False),
                           background=parse_background("black"), window=window)
    assert report.frames == 2 and len(window.shown) == 2 and frames_of(out).shape[0] == 2
    assert window.shown[0][0].shape == (40, 24, 3) and window.shown[0][1] > 0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)       # Agg: "cannot be shown"
        live = LiveWindow("clip", backend="tkagg")         # drawn on Agg as if on a screen
        picture = window.shown[1][0]
        assert live.show(picture, 12.5)
        np.testing.assert_array_equal(live.image.get_array(), picture)
        assert "12.5 frames/s" in live.figure._suptitle.get_text()
        live.close()
        assert not live.show(picture, 1.0)
