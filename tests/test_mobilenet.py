"""The MobileNetV2 encoder and its U-Net (models/mobilenet.py): Keras's widths, taps, parameter
and multiply-add counts; save and load; a run stopped mid-epoch resumes bit for bit. Its
gradient check is in the catalogue (gradcheck/cases.py: mobilenet_unet_case)."""
import numpy as np
import pytest

from npcae.layers import DepthwiseConv2D, ReLU6
from npcae.models import build, create, mobilenet_unet, mobilenet_v2_encoder
from npcae.models.mobilenet import make_divisible
from npcae.train.checkpoint import read_checkpoint, restore_trainer
from npcae.train.experiment import assemble
from test_training import StopAfter, assert_same_run


def test_make_divisible_is_keras_s():
    assert [make_divisible(v) for v in (32 * 0.35, 16 * 0.35, 24 * 0.5, 320 * 0.35, 96 * 0.75, 4)] \
        == [16, 8, 16, 112, 72, 8]


def test_the_encoder_s_taps_are_the_tutorial_s():
    """block_1_expand_relu ... block_16_project at alpha 1: 1/2 to 1/32, 96 to 320 channels."""
    encoder = mobilenet_v2_encoder(1.0, seed=0)
    assert encoder.output_shape((1, 224, 224, 3)) == [(1, 112, 112, 96), (1, 56, 56, 144),
                                                      (1, 28, 28, 192), (1, 14, 14, 576),
                                                      (1, 7, 7, 320)]
    maps = encoder.forward(np.random.default_rng(0).random((1, 64, 64, 3), np.float32))
    assert [m.shape for m in maps] == encoder.output_shape((1, 64, 64, 3))


def test_parameters_and_multiply_adds_match_keras():
    """Keras's MobileNetV2 1.0 without its top has 2,257,984 parameters, 2,223,872 trainable;
    up to block_16_project (what the U-Net taps) that is Conv_1 (320 x 1280 and its batch norm)
    and block 16's projection batch norm fewer. Its multiply-adds at 224x224: about 300 M with
    the classifier (Sandler et al.'s Table 3), 279 M here, and at 128x128 (the issue) ~99 M
    with Conv_1 and the classifier; 91 M here."""
    encoder = mobilenet_v2_encoder(1.0, seed=0)
    conv_1 = 320 * 1280 + 2 * 1280
    assert encoder.n_params() + conv_1 + 2 * 320 == 2_223_872
    macs = encoder.forward_macs((1, 224, 224, 3))
    assert 279e6 < macs < 280e6
    assert 299e6 < macs + 7 * 7 * 320 * 1280 + 1280 * 1000 < 301e6
    kinds = [type(layer) for layer in encoder.walk()]
    assert kinds.count(DepthwiseConv2D) == 17 and ReLU6 in kinds


@pytest.mark.parametrize("alpha", [0.35, 0.5, 1.0])
def test_the_unet_takes_any_size_and_saves_and_loads(tmp_path, alpha):
    model = create("mobilenet_unet", input_size=(64, 64), seed=0, alpha=alpha)
    assert model.output_shape((2, 100, 70, 3)) == (2, 100, 70, 1)
    x = np.random.default_rng(1).random((1, 40, 72, 3), np.float32)
    y = model.forward(x)
    model.save(tmp_path / "w.npz")
    twin = build(model.config)
    twin.load(tmp_path / "w.npz")
    assert np.array_equal(twin.forward(x), y)


def test_classes_give_logits_and_bad_arguments_are_one_message():
    assert mobilenet_unet(classes=3, alpha=0.35, seed=0).output_shape((1, 32, 32, 3)) == (1, 32, 32, 3)
    for bad, phrase in [(dict(alpha=0), "alpha"), (dict(classes=0), "classes"),
                        (dict(decoder=(8, 8)), "decoder"), (dict(alpha=True), "alpha")]:
        with pytest.raises(ValueError, match=phrase):
            mobilenet_unet(**bad)


RUN = dict(data="synthetic", model="mobilenet_unet", model_args={"alpha": 0.35}, size=[32, 32],
           n_train=7, batch_size=4, epochs=2, seed=3, augment=True)


def test_a_run_stopped_between_batches_resumes_bit_for_bit(tmp_path):
    quiet = dict(progress=False, log=lambda *_: None)
    straight = assemble(RUN, tmp_path / "a", **quiet)
    assert straight.trainer.fit() == "finished"
    out = tmp_path / "b"
    first = assemble(RUN, out, **quiet)
    first.trainer.callbacks.insert(0, StopAfter(3))                  # mid-epoch 2
    assert first.trainer.fit() == "stopped"
    state = read_checkpoint(out / "checkpoint.npz")
    resumed = assemble(state["run"], out, **quiet)
    restore_trainer(state, resumed.trainer)
    assert resumed.trainer.fit() == "finished"
    assert_same_run(straight.trainer, resumed.trainer)
