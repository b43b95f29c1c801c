"""The U-Net: any input size, its layers and plan in summary(), and a run with batch norm that
stops between two batches and resumes bit for bit (moving statistics included)."""
import numpy as np
import pytest

from npcae.train.checkpoint import read_checkpoint, restore_trainer
from npcae.train.experiment import assemble
from npcae.layers import BatchNormalization, Conv2DTranspose, MaxPool2D
from npcae.models import build, create
from npcae.models.containers import display_name
from npcae.models.summary import summary_text
from test_training import StopAfter, assert_same_run

UNET_RUN = dict(data="synthetic", size=[24, 20], n_train=7, batch_size=4, epochs=2, seed=3,
                val_every=1, checkpoint_every=100, snapshot_every=0, grad_every=0,
                model="unet", model_args={"filters": [2, 3, 4], "dropout": 0.2})


@pytest.mark.parametrize("size", [(37, 53), (32, 32), (1, 1)])
def test_any_size_comes_out_at_its_own_size(size, rng):
    model = create("unet", seed=0, filters=(2, 3, 4))
    x = rng.random((2, *size, 3), dtype=np.float32)
    y = model.forward(x)
    assert y.shape == (2, *size, 1) == model.output_shape(x.shape)
    assert ((0 < y) & (y < 1)).all()
    model.forward(x, training=True)
    assert model.backward(np.ones_like(y)).shape == x.shape


def test_its_parts_and_options(rng):
    model = create("unet", input_size=(64, 48), seed=0, filters=(4, 8, 16), upsampling="transpose")
    kinds = [type(layer) for layer in model.walk()]
    assert kinds.count(MaxPool2D) == 2 and kinds.count(Conv2DTranspose) == 2
    assert kinds.count(BatchNormalization) == 10                  # 5 double convolutions
    text = summary_text(model, (1, 64, 48, 3))
    assert "MaxPool2D" in text and "Conv2DTranspose(16, 8, (2, 2), stride=2" in text
    assert "use_bias=False) [kept columns / kept columns / flipped kernel]" in text
    twin = build(model.config)
    assert twin.n_params() == model.n_params()
    plain = create("unet", seed=0, filters=(4, 8, 16), batch_norm=False, upsampling="nearest",
                   classes=3)
    assert BatchNormalization not in [type(layer) for layer in plain.walk()]
    assert plain.output_shape((1, 10, 6, 3)) == (1, 10, 6, 3)       # 3 logits, no sigmoid
    with pytest.raises(ValueError, match="NaN or infinite"):
        plain.forward(np.full((1, 8, 8, 3), np.nan, np.float32))


def test_a_run_with_batch_norm_stopped_between_batches_resumes_bit_for_bit(tmp_path):
    quiet = dict(progress=False, log=lambda *_: None)
    straight = assemble(UNET_RUN, tmp_path / "a", **quiet)
    assert straight.trainer.fit() == "finished"
    out = tmp_path / "b"
    first = assemble(UNET_RUN, out, **quiet)
    first.trainer.callbacks.insert(0, StopAfter(3))                  # mid-epoch 2
    assert first.trainer.fit() == "stopped"
    state = read_checkpoint(out / "checkpoint.npz")
    assert any(name.endswith("moving_mean") for name in state["state"])
    resumed = assemble(state["run"], out, **quiet)
    restore_trainer(state, resumed.trainer)
    assert resumed.trainer.fit() == "finished"
    assert_same_run(straight.trainer, resumed.trainer)                # weights, state, Adam


def test_npcae_train_model_unet_runs_offline_on_synthetic_people(tmp_path, capsys):
    from npcae.cli import main
    from npcae.train.experiment import settings
    run = settings({"model": "unet"})
    assert (run["data"], run["batch_size"]) == ("synthetic-people", 8)
    assert settings({"model": "unet", "batch_size": 2})["batch_size"] == 2      # given wins
    assert settings({})["data"] == "synthetic"                                  # the CAE's
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--filters", "2,3", "--size", "24x24", "--epochs", "1",
                 "--out", str(out), "--no-progress"]) == 0
    assert "400 frames" in capsys.readouterr().err and (out / "weights.npz").exists()


def test_predict_writes_the_unets_outputs_at_each_photos_own_size_run_either_way(tmp_path, rng):
    from PIL import Image

    from npcae.cli import main
    model = create("unet", input_size=(32, 32), seed=0, filters=(2, 3, 4))
    model.config["task"] = {"task": "binary", "loss": "dice+focal"}
    model.save(tmp_path / "weights.npz")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray((rng.random((37, 53, 3)) * 255).astype(np.uint8)).save(photos / "wide.png")
    Image.fromarray((rng.random((21, 19)) * 255).astype(np.uint8)).save(photos / "gray.png")
    for at in ("trained", "own"):                  # at 32x32 and resized back, or at 37x53 and 21x19
        out = tmp_path / at
        assert main(["predict", "--weights", str(tmp_path / "weights.npz"), str(photos),
                     "--out", str(out), "--at", at]) == 0
        for name, size in (("wide", (53, 37)), ("gray", (19, 21))):
            for kind in ("mask", "cutout", "overlay"):
                assert Image.open(out / f"{name}_{kind}.png").size == size


def test_the_unets_augmentation_can_be_turned_off_on_the_command_line():
    from npcae.cli import build_parser, given_settings
    from npcae.train.experiment import settings
    parse = lambda *args: settings(given_settings(build_parser().parse_args(["train", *args])))
    assert parse("--model", "unet")["augment"] is True
    assert parse("--model", "unet", "--no-augment")["augment"] is False
    assert parse("--augment")["augment"] is True and parse()["augment"] is False   # the CAE


def test_augment_args_reach_the_augmenter_and_unknown_amounts_are_one_line(tmp_path):
    from npcae.train.experiment import SettingsError, settings
    run = {**UNET_RUN, "augment": True, "augment_args": {"scale": 0.3, "shift": 0.15}}
    augmenter = assemble(run, tmp_path, progress=False, log=lambda *_: None).trainer.loader.augmenter
    assert (augmenter.scale, augmenter.shift, augmenter.brightness) == (0.3, 0.15, 0.2)
    assert settings({"model": "unet"})["augment_args"]["scale"] == 0.3        # the U-Net's default
    assert settings({})["augment_args"] == {}                                 # the CAE's: Augmenter's
    with pytest.raises(SettingsError, match=r"augment_args must be a dict of Augmenter amounts "
                                            r"\(blur, brightness, contrast, flip, jpeg, noise, paste, scale, shift\), got \{'zoom': 2\}"):
        settings({"augment_args": {"zoom": 2}})


# The stored names of the default U-Net as npcae wrote them before its layers had display names
# (weights.npz and checkpoint keys, the optimiser's slots): they must not change.
STORED = {"0.W": "down1.conv1.W", "1.gamma": "down1.bn1.gamma", "6.0.1.W": "down2.conv1.W",
          "6.0.7.0.7.0.7.0.5.gamma": "bottom.bn2.gamma", "6.0.7.0.7.0.7.0.7.b": "up4.upconv.b",
          "6.0.14.W": "up1.upconv.W", "11.beta": "up1.bn2.beta", "13.W": "head.conv.W",
          "13.b": "head.conv.b"}


def test_the_layers_are_shown_by_their_place_in_the_u_and_stored_as_before(tmp_path):
    model = create("unet", seed=0)
    stored = [name for name, _, _ in model.named_parameters()]
    shown = [display_name(model, name) for name in stored]
    assert {name: display_name(model, name) for name in STORED} == STORED
    assert len(stored) == 64 and len(set(shown)) == 64
    assert shown[:3] == ["down1.conv1.W", "down1.bn1.gamma", "down1.bn1.beta"]
    assert shown[-8:] == ["up1.conv1.W", "up1.bn1.gamma", "up1.bn1.beta", "up1.conv2.W",
                          "up1.bn2.gamma", "up1.bn2.beta", "head.conv.W", "head.conv.b"]
    # Input to output along the U: down1..down4, the bottom, then up4..up1 and the head.
    levels = list(dict.fromkeys(name.split(".")[0] for name in shown))
    assert levels == ["down1", "down2", "down3", "down4", "bottom", "up4", "up3", "up2", "up1", "head"]
    assert display_name(model, "1.moving_mean") == "down1.bn1.moving_mean"        # state too
    # The files keep the stored names, so weights written before the display names still load.
    model.save(tmp_path / "weights.npz")
    with np.load(tmp_path / "weights.npz") as data:
        assert set(STORED) <= set(data.files)
        assert sorted(data.files) == sorted(["__config__", *stored,
                                             *(f"state/{name}" for name, _ in model.named_state())])
        old = {name: data[name] for name in data.files}
    old["13.b"] = np.full_like(old["13.b"], 0.25)
    np.savez(tmp_path / "old.npz", **old)
    twin = create("unet", seed=1).load(tmp_path / "old.npz")
    assert twin.layers[13].params["b"] == 0.25


@pytest.mark.parametrize("options", [dict(), dict(upsampling="nearest", batch_norm=False, dropout=0.5,
                                                  classes=3, activation="swish")],
                         ids=["default", "nearest-plain-dropout"])
def test_every_layer_has_its_own_name_whatever_the_options(options):
    model = create("unet", seed=0, filters=(2, 3, 4), **options)
    layers = list(model.named_layers())
    assert len({path for path, _ in layers}) == len(layers)
    leaves = {path: type(layer).__name__ for path, layer in layers if not layer.sublayers()}
    assert len(leaves) == sum(1 for layer in model.walk() if not layer.sublayers())
    assert leaves["down2.pool"] == leaves["bottom.pool"] == "MaxPool2D"
    assert leaves["skip1"] == leaves["skip2"] == "Identity"
    shown = [display_name(model, name) for name, _, _ in model.named_parameters()]
    assert len(set(shown)) == len(shown) and not any(part.isdigit() for name in shown
                                                     for part in name.split("."))
    if options:
        assert leaves["bottom.dropout"] == "Dropout" and leaves["up1.upsample"] == "UpSampling2D"
        assert leaves["up2.upconv"] == "Conv2D" and "head.sigmoid" not in leaves
        assert {"down1.conv1.b", "up1.upconv.W", "head.conv.b"} <= set(shown)
    else:
        assert leaves["up2.upconv"] == "Conv2DTranspose" and leaves["head.sigmoid"] == "Sigmoid"
        assert "down1.conv1.b" not in shown and "bottom.bn2.gamma" in shown

