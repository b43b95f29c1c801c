"""A trained model from its files, ready to predict.

    trained = load_model("runs/demo")           # weights.npz, checkpoint.npz or the run folder
    soft = trained.predict(photo)               # (H, W, 3) uint8 or float -> (H, W, 1) probabilities
    mask = soft[..., 0] > 0.5                   # (a multi-class model: (H, W) class ids)

The model is rebuilt by the registry from the config stored beside its weights, so any
registered model loads; the task (how its outputs become masks and pictures) is stored there
too (files from before tasks existed hold binary-mask models).
"""
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.folder import DataError
from ..models import UnknownModel, build, read_config
from ..models.folding import inference_copy
from ..models.tta import with_tta
from ..models.io import NPZ_ERRORS, load_arrays, not_npz, read_checkpoint_arrays
from ..tasks import make_task
from ..tasks.base import resize_output
from .sizing import model_input, plan_batches

WEIGHT_FILES = ("weights.npz", "checkpoint.npz")


class TrainedModel:
    """A model with the size it was trained at and its task. Unpacks as (model, size, task),
    the tuple npcae 0.1's load_model returned."""

    def __init__(self, model, size, task, path=None):
        self.model, self.size, self.task, self.path = model, tuple(size), task, path
        self._inference = None

    def __iter__(self):
        return iter((self.model, self.size, self.task))

    @property
    def inference_model(self):
        """The model with its batch norms folded into the convolutions before them and their
        bias and ReLU/ReLU6 in one pass (models/folding.py): the same function to float32
        rounding, faster. predict(), `npcae predict` and --video run it; `npcae evaluate` runs
        the model as trained, so that its figures are the training run's to the last digit."""
        if self._inference is None:
            self._inference = inference_copy(self.model)[0]
        return self._inference

    def predict(self, images, at="trained", batch=3, raw=False, tta=None):
        """The predictions for one image (H, W, 3) or a batch (N, H, W, 3), uint8 0-255 or
        float 0-1 (read as 8 bits, as photos are), at each image's own size: a binary model's
        probabilities (H, W, 1) or (N, H, W, 1) float32, a multi-class model's class ids
        (H, W) or (N, H, W) uint8 (raw=True: the outputs themselves, logits). The model runs
        at its trained size (at="own": at the image's, for a model that takes any size; see
        sizing.py). tta="flip": each output the mean of the image's and its mirror image's
        (models/tta.py; twice the time)."""
        array = np.asarray(images)
        if array.ndim not in (3, 4) or array.shape[-1] != 3 or 0 in array.shape:
            raise DataError(f"predict takes an (H, W, 3) image or an (N, H, W, 3) batch, got "
                            f"an array of shape {array.shape}")
        one = array.ndim == 3
        batch_of = array[None] if one else array
        if batch_of.dtype != np.uint8:
            if not np.all(np.isfinite(batch_of)) or batch_of.min() < 0 or batch_of.max() > 1:
                raise DataError("predict takes uint8 images (0-255) or floats in [0, 1]")
            batch_of = np.rint(255 * batch_of.astype(np.float64)).astype(np.uint8)
        photos = [Image.fromarray(image, "RGB") for image in batch_of]
        sizes = [photo.size[::-1] for photo in photos]
        outputs = [None] * len(photos)
        seen = with_tta(self.inference_model, tta)
        for run, chunk in plan_batches(self.inference_model, self.size, sizes, batch, at):
            forward = seen.forward(np.stack([model_input(photos[i], run) for i in chunk]))
            for i, output in zip(chunk, forward):
                outputs[i] = resize_output(output, photos[i].size)
        outputs = outputs[0] if one else np.stack(outputs)
        return outputs if raw else self.task.prediction(outputs)

    def __repr__(self):
        return (f"TrainedModel({self.model.config['builder']}, trained at "
                f"{self.size[0]}x{self.size[1]}, task {self.task.name})")


def load_model(weights):
    """A TrainedModel from weights.npz, checkpoint.npz or a run folder (its newer of the two;
    DataError, one line, for anything else)."""
    path = Path(weights).expanduser()
    if path.is_dir():
        path = latest_weights(path)
    if not path.exists():
        raise DataError(f"weights file not found: {path}")
    try:
        what = not_npz(path)
    except OSError as error:
        raise DataError(f"cannot read weights file {path}: {error.strerror or error}") from None
    if what:
        raise DataError(f"{path} is not a .npz weights file ({what}); give the weights.npz or "
                        "checkpoint.npz of an npcae run, or its folder")
    try:
        config = read_config(path)
    except NPZ_ERRORS as error:
        raise DataError(f"cannot read weights file {path} ({type(error).__name__}: {error}); "
                        "is it a weights.npz or checkpoint.npz written by npcae?") from None
    if config is None:
        raise DataError(f"{path} holds no model config; save it with model.save()")
    try:
        model = build(config)
    except UnknownModel as error:
        raise DataError(f"{path}: {error}") from None
    params, state = read_checkpoint_arrays(path)
    if params:                                   # a checkpoint: "model/<name>" keys
        load_arrays(model, params, state, f"weights in {path} are for a different architecture")
    else:
        try:
            model.load(path)
        except NPZ_ERRORS as error:
            raise DataError(f"cannot read weights file {path}: {type(error).__name__}: {error}") from None
    try:
        task = make_task(config.get("task", {"task": "binary"}))
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: the stored task cannot be used: {error}") from None
    size = tuple(config.get("input_size") or (1024, 512))
    return TrainedModel(model, size, task, path)


def latest_weights(folder):
    """The newer of a run folder's weights.npz and checkpoint.npz (weights.npz on a tie): a
    finished run resumed for more epochs and stopped holds a checkpoint newer than its weights."""
    found = [folder / name for name in WEIGHT_FILES if (folder / name).exists()]
    if not found:
        raise DataError(f"no weights.npz or checkpoint.npz in {folder}")
    return max(found, key=lambda file: file.stat().st_mtime_ns)   # max keeps the first on a tie
