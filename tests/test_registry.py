"""The model registry: any registered model is rebuilt from the config stored with its weights."""
import numpy as np
import pytest

from npcae.layers import Conv2D, Sigmoid
from npcae.models import BUILDERS, Sequential, UnknownModel, build, cae, create, read_config, register


def test_create_records_every_argument_and_the_input_size(tmp_path, rng):
    model = create("cae", input_size=(32, 16), seed=3, filters=(2, 3, 4))
    assert model.config["builder"] == "cae" and model.config["input_size"] == [32, 16]
    args = model.config["args"]
    assert args["filters"] == [2, 3, 4] and args["dropout"] == [0.1, 0.25]   # defaults filled in
    assert "seed" not in args
    model.save(tmp_path / "w.npz")
    rebuilt = build(read_config(tmp_path / "w.npz")).load(tmp_path / "w.npz")
    x = rng.random((1, 32, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))
    assert rebuilt.config == model.config


def test_same_seed_builds_the_same_model_as_calling_the_builder():
    direct, registered = cae(filters=(2, 3, 4), seed=5), create("cae", seed=5, filters=(2, 3, 4))
    for (_, a, _), (_, b, _) in zip(direct.named_parameters(), registered.named_parameters()):
        np.testing.assert_array_equal(a, b)


def test_flat_configs_of_older_weights_files_still_build():
    flat = {"builder": "cae", "filters": [2, 3, 4], "kernel_size": 3, "dropout": [0.1, 0.25],
            "activation": "swish", "in_channels": 3, "input_size": [64, 32]}
    model = build(flat)
    assert model.config["input_size"] == [64, 32] and model.config["args"]["filters"] == [2, 3, 4]


def test_a_new_model_is_one_register_call():
    def tiny(channels=2, seed=None):
        rng = np.random.default_rng(seed)
        return Sequential(Conv2D(3, channels, 3, rng=rng), Conv2D(channels, 1, 1, rng=rng), Sigmoid())
    register("tiny-test", tiny)
    try:
        model = build(create("tiny-test", input_size=(8, 8), channels=4).config)
        assert model.layers[0].out_channels == 4
    finally:
        del BUILDERS["tiny-test"]


def test_unknown_builders_and_arguments_are_named():
    with pytest.raises(UnknownModel, match="unknown model 'resnet'; choose from .*cae"):
        create("resnet")
    with pytest.raises(UnknownModel, match="model 'cae'.*depth"):
        create("cae", depth=4)
    with pytest.raises(UnknownModel, match="names no builder"):
        build({"filters": [4]})


def test_build_keeps_the_task_and_sets_the_summary_size():
    model = create("cae", input_size=(64, 32), filters=(2, 3, 4))
    model.config["task"] = {"task": "binary", "loss": "dice", "threshold": 0.5}
    twin = build(model.config)
    assert twin.config == model.config
    assert twin.input_shape == (64, 32, 3) and "(1, 64, 32, 1)" in twin.summary(print_fn=None)
