"""Test-time augmentation (npcae.models.tta, --tta flip): the output is the mean of the model's
on the image and, mirrored back, on its mirror image; `npcae predict`, `--video` and
`npcae evaluate` take it for every model and task."""
import numpy as np
import pytest

from npcae.cli import main
from npcae.layers import Conv2D
from npcae.models import Sequential, create
from npcae.models.tta import FlipAveraged, with_tta
from npcae.predict import TrainedModel
from npcae.tasks import make_task


@pytest.mark.parametrize("name, args", [("cae", dict(filters=(2, 4, 8))), ("unet", dict(filters=(2, 4))),
                                        ("mobilenet_unet", dict(alpha=0.35))])
def test_flip_averages_the_output_and_the_mirrored_output_of_the_mirror_image(name, args, rng):
    model = create(name, input_size=(32, 32), seed=0, **args)
    x = rng.random((2, 32, 32, 3), dtype=np.float32)
    expected = (model.forward(x) + model.forward(x[:, :, ::-1].copy())[:, :, ::-1]) / 2
    seen = with_tta(model, "flip")
    assert isinstance(seen, FlipAveraged) and with_tta(model, None) is model
    np.testing.assert_allclose(seen.forward(x), expected, rtol=1e-6, atol=1e-7)
    assert not np.allclose(expected, model.forward(x), atol=1e-4)          # it changed something
    assert seen.output_shape(x.shape) == model.output_shape(x.shape)
    assert seen.forward_macs(x.shape) == 2 * model.forward_macs(x.shape)
    with pytest.raises(ValueError, match="must be one of flip"):
        with_tta(model, "rotate")


def test_a_model_that_commutes_with_mirroring_is_unchanged(rng):
    conv = Conv2D(3, 2, 1, 1, "same", rng=rng)
    model = Sequential(conv)
    x = rng.random((1, 5, 7, 3), dtype=np.float32)
    np.testing.assert_allclose(with_tta(model, "flip").forward(x), model.forward(x), rtol=1e-6)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_trained_model_predict_takes_tta_for_each_task(task, rng):
    classes = 3 if task == "multiclass" else 1
    model = create("unet", input_size=(16, 16), seed=0, filters=(2, 4), classes=classes)
    config = {"task": "binary", "loss": "dice+focal"} if task == "binary" else {
        "task": "multiclass", "loss": "ce", "names": ["a", "b", "c"],
        "colours": [[0, 0, 0], [255, 0, 0], [0, 255, 0]], "void": [], "class_weights": None}
    trained = TrainedModel(model, (16, 16), make_task(config))
    photo = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    raw = trained.predict(photo, raw=True, tta="flip")
    mirrored = trained.predict(photo[:, ::-1].copy(), raw=True)[:, ::-1]
    np.testing.assert_allclose(raw, (trained.predict(photo, raw=True) + mirrored) / 2, atol=1e-5)
    assert trained.predict(photo, tta="flip").shape[:2] == (16, 16)


def test_the_commands_take_tta_flip(tmp_path, capsys):
    """predict (photos and --video) and evaluate, a binary and a multi-class model."""
    from npcae.data import save_record, synthetic_record
    frames = tmp_path / "frames"
    save_record(synthetic_record(n_frames=4, size=(32, 16), seed=1), frames)
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--size", "32x16", "--filters", "2,4,8", "--no-progress",
                 "--out", str(run)]) == 0
    assert main(["predict", "--weights", str(run), str(frames / "images"), "--out",
                 str(tmp_path / "cut"), "--tta", "flip"]) == 0
    assert len(list((tmp_path / "cut").glob("*_mask.png"))) == 4
    assert main(["predict", "--weights", str(run), "--video", str(frames / "images"), "--out",
                 str(tmp_path / "cut.gif"), "--tta", "flip"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(run), "--data", str(frames), "--tta", "flip"]) == 0
    plain_out = capsys.readouterr().out
    assert main(["evaluate", "--weights", str(run), "--data", str(frames)]) == 0
    assert capsys.readouterr().out != plain_out
    streets = tmp_path / "streets"
    assert main(["train", "--data", "synthetic-streets", "--n-train", "4", "--size", "32x32",
                 "--filters", "4,8", "--epochs", "1", "--no-progress", "--out", str(streets)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(streets), "--data", "synthetic-streets", "--size",
                 "32x32", "--tta", "flip"]) == 0
    assert "mIoU" in capsys.readouterr().out
