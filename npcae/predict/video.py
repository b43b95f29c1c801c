"""A trained model on a video (`npcae predict --video`): frame by frame, in a stream, into a
video, an animated image or a folder of PNGs, with how fast and how steady it was.

    source = open_source("clip.mp4")                       # video_in.py
    writer = open_writer("cut.mp4", fps=25, transparent=False)   # video_out.py
    report = predict_video(model, size, task, source, writer, background=parse_background("white"))
    report.fps, report.scores                              # frames per second; VideoScores

Each frame is run as predict runs a photo (at the trained size, sizing.model_input, the task's
render back at the frame's size), one frame at a time: memory holds one frame, never the clip.
A frame that fails (decoding, a size change, a missing truth mask) raises DataError naming it,
and the writer is aborted: no output is left, not even part of one.

--smooth s averages the probabilities over time, an exponential moving average at the model's
resolution: p'_t = s p_t + (1 - s) p'_{t-1}, p'_0 = p_0 (s = 1: no smoothing).
"""
import time
from itertools import islice

import numpy as np

from ..data.folder import DataError, open_mask
from ..models.tta import with_tta
from ..tasks.base import resize_output
from . import load
from .background import parse_background
from .photos import list_images
from .sizing import check_memory, model_input
from .video_in import open_source
from .video_out import VideoWriter, open_writer, shown
from .video_show import LiveWindow


class VideoScores:
    """How steady the masks are over time, and with the truth how right they are.

        stability  mean over t >= 1 of IoU(M_t, M_{t-1}), M the predicted mask (p > threshold);
                   1 for a mask that never changes (and for two empty masks)
        iou        mean over frames of IoU(M_t, G_t > 0.5), G the truth (0-255 read as [0, 1])
        dtssd      mean over t >= 1 of sqrt(mean(((a_t - a_{t-1}) - (g_t - g_{t-1}))^2)) x 100,
                   a the soft alpha (probabilities), g the truth, both in [0, 1]: Robust Video
                   Matting's dtSSD (its evaluation code; Lin et al. 2021), on its x 100 scale
    """

    def __init__(self, threshold=0.5):
        self.threshold = threshold
        self.pairs, self.stability_sum = 0, 0.0
        self.truths, self.iou_sum, self.dtssd_sum = 0, 0.0, 0.0
        self._mask = self._alpha = self._truth = None

    def update(self, alpha, truth=None):
        """alpha (H, W) float probabilities of one frame; truth (H, W) in [0, 1] or None."""
        mask = alpha > self.threshold
        if self._mask is not None:
            self.pairs += 1
            self.stability_sum += iou(mask, self._mask)
        if truth is not None:
            self.truths += 1
            self.iou_sum += iou(mask, truth > 0.5)
            if self._truth is not None:
                change = (alpha - self._alpha) - (truth - self._truth)
                self.dtssd_sum += 100 * float(np.sqrt(np.mean(np.square(change, dtype=np.float64))))
        self._mask, self._alpha, self._truth = mask, alpha, truth

    def result(self):
        """{stability, and with truth iou and dtssd}: floats (nan for one frame)."""
        out = {"stability": self.stability_sum / self.pairs if self.pairs else float("nan")}
        if self.truths:
            out["iou"] = self.iou_sum / self.truths
            out["dtssd"] = self.dtssd_sum / (self.truths - 1) if self.truths > 1 else float("nan")
        return out


def iou(a, b):
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


class TruthMasks:
    """Ground-truth masks for a clip: the mask images of a folder in sorted order, the t-th for
    frame t (DAVIS: 00000.png for 00000.jpg), each read as [0, 1] when its frame comes."""

    def __init__(self, folder):
        self.folder = folder
        self.files = list_images([folder])

    def at(self, index, hw):
        if index >= len(self.files):
            raise DataError(f"--truth {self.folder} has {len(self.files)} masks, no mask for "
                            f"frame {index}")
        path = self.files[index]
        truth = np.asarray(open_mask(path), np.float32) / 255.0
        if truth.shape != tuple(hw):
            raise DataError(f"--truth mask {path} is {truth.shape[0]}x{truth.shape[1]}, its "
                            f"frame {index} is {hw[0]}x{hw[1]} (height x width)")
        return truth


class VideoReport:
    def __init__(self, frames, seconds, scores):
        self.frames, self.seconds, self.scores = frames, seconds, scores

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def check_smooth(smooth):
    if smooth is not None and not 0 < smooth <= 1:
        raise DataError(f"--smooth {smooth}: give the weight of the new frame, in (0, 1] "
                        "(1: no smoothing, 0.5: half the new frame, half the past)")


def predict_video(model, size, task, source, writer, background=None, smooth=None, truth=None,
                  limit=None, window=None, tta=None):
    """Run the model on every frame of `source` (at most `limit`), write the task's pictures of
    each to `writer` and return a VideoReport (frames, seconds, VideoScores). The model runs at
    its trained `size`. Any error aborts the writer, which then leaves nothing behind; a live
    source (a camera) ends at Ctrl-C, or when `window` (a LiveWindow, --show) is closed, and
    keeps what it wrote. tta="flip": each frame's output the mean of the frame's and its mirror
    image's (models/tta.py)."""
    if not task.composites:
        raise DataError(f"--video needs a model that cuts something out; this one's task is "
                        f"{task.name!r}")
    check_smooth(smooth)
    if truth is not None and not isinstance(truth, TruthMasks):
        truth = TruthMasks(truth)
    check_memory(model, [(tuple(size), [0])], [source.describe()])
    scores = VideoScores(getattr(task, "threshold", 0.5))
    seen = with_tta(model, tta)
    extra = {} if background is None else {"background": background}
    writer.open()
    count, first_hw, previous = 0, None, None
    start = time.perf_counter()
    try:
        for index, (name, frame) in enumerate(stream(source, limit)):
            hw = frame.size[::-1]
            if first_hw is None:
                first_hw = hw
            elif hw != first_hw:
                raise DataError(f"frame {index} of {source.describe()} is {hw[0]}x{hw[1]}, the "
                                f"first frame {first_hw[0]}x{first_hw[1]}: a clip keeps one size")
            output = seen.forward(model_input(frame, size)[None])[0].astype(np.float32)
            if smooth is not None and smooth < 1 and previous is not None:
                output = smooth * output + (1 - smooth) * previous
            previous = output
            alpha = resize_output(output, frame.size)
            scores.update(alpha[..., 0], None if truth is None else truth.at(index, hw))
            pictures = task.render(frame, alpha, **extra)
            writer.write(name, pictures)
            count += 1
            if window is not None and not window.show(shown(pictures)[0],
                                                      count / (time.perf_counter() - start)):
                break                                # the user closed the window
        if count == 0:
            raise DataError(f"no frames in {source.describe()}")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return VideoReport(count, time.perf_counter() - start, scores)


def stream(source, limit):
    """The source's frames, at most `limit`; a live one ends quietly at Ctrl-C."""
    frames = islice(source.frames(), limit)
    if not getattr(source, "live", False):
        yield from frames
        return
    try:
        yield from frames
    except KeyboardInterrupt:
        return


def predict_clip(video, weights, out, background=None, smooth=None, truth=None, frames=None,
                 fps=None, show=False, tta=None):
    """`npcae predict --video`: everything that can be refused is refused before the model
    runs (the options, --background, --truth, the input opened, the weights); then
    predict_video. With no background a video shows the cut-out on white (it has no alpha),
    an animated image keeps it transparent and a folder holds what `npcae predict` writes. Returns the VideoReport."""
    if frames is not None and frames < 1:
        raise DataError(f"--frames {frames}: give a number of frames, 1 or more")
    if fps is not None and not fps > 0:
        raise DataError(f"--fps {fps}: give a positive frame rate")
    check_smooth(smooth)
    if isinstance(background, str):
        background = parse_background(background)
    truth = None if truth is None else TruthMasks(truth)
    source = open_source(video)
    trained = load.load_model(weights)
    model, size, task = trained.inference_model, trained.size, trained.task
    writer = open_writer(out, fps or source.fps or 25.0, transparent=background is None)
    if background is None and isinstance(writer, VideoWriter):
        background = parse_background("white")
    window = LiveWindow(source.describe()) if show else None
    try:
        return predict_video(model, size, task, source, writer, background, smooth, truth, frames,
                             window, tta)
    finally:
        if window is not None:
            window.close()
