"""A trained model on new photos.

    trained = npcae.load_model("runs/demo")          # load.py: a TrainedModel
    soft = trained.predict(photo)                    # (H, W, 3) -> (H, W, C) at the photo's size
    predict_files(*trained, files, "masks/")         # files.py: `npcae predict`, PNGs per photo
    predict_clip("clip.mp4", "runs/demo", "cut.mp4") # video.py: `npcae predict --video`

photos.py lists and decodes the input photos, background.py reads --background, sizing.py
decides where the model runs (its trained size, or each photo's own) and in what batches, and
writers.py where each task's pictures (Task.render) go. A clip is read frame by frame by
video_in.py (a folder of frames, MP4/WebM/MOV, animated GIF/WebP/APNG), run and scored over
time by video.py, and written by video_out.py (MP4, animated image, or a folder of PNGs).
"""
from .background import Background, parse_background
from .files import predict_files
from .load import WEIGHT_FILES, TrainedModel, load_model
from .photos import list_images, read_photos
from .sizing import check_memory, plan_batches, takes_any_size
from .video import VideoScores, predict_clip, predict_video
from .video_in import open_source
from .video_out import open_writer
from .writers import PngFolder, save_png

__all__ = ["load_model", "TrainedModel", "predict_files", "list_images", "read_photos",
           "parse_background", "Background", "plan_batches", "check_memory", "takes_any_size",
           "PngFolder", "save_png", "WEIGHT_FILES", "predict_clip", "predict_video", "VideoScores",
           "open_source", "open_writer"]
