"""Names a container gives its children: shown in place of the stored index paths, checked when
the container is made, and never what the weights are stored under."""
import numpy as np
import pytest

from npcae.layers import Conv2D, Identity, ReLU, Sigmoid, UpConv2D, UpSampling2D
from npcae.models.containers import Concatenate, Sequential, display_name


def test_unnamed_containers_show_the_stored_names(rng):
    model = Sequential(Conv2D(3, 2, 3, rng=rng), ReLU(), Sequential(UpSampling2D(2), Conv2D(2, 1, 1, rng=rng)))
    stored = [name for name, _, _ in model.named_parameters()]
    assert stored == ["0.W", "0.b", "2.1.W", "2.1.b"]
    assert [display_name(model, name) for name in stored] == stored
    assert [path for path, _ in model.named_layers()] == ["0", "1", "2", "2.0", "2.1"]
    assert display_name(Conv2D(3, 2, 3, rng=rng), "W") == "W"          # not a container


def test_names_replace_indices_and_an_empty_name_adds_nothing(rng):
    inner = Sequential([Conv2D(2, 2, 3, 2, "same", rng=rng), UpConv2D(UpSampling2D(2), Conv2D(2, 2, 3, rng=rng))],
                       names=["down.conv", "up"])
    branch = Concatenate([inner, Identity()], names=["", "skip"])
    model = Sequential([Conv2D(3, 2, 3, rng=rng), branch, Conv2D(4, 1, 1, rng=rng), Sigmoid()],
                       names=["stem", "", "head.conv", "head.sigmoid"])
    stored = [name for name, _, _ in model.named_parameters()]
    assert stored == ["0.W", "0.b", "1.0.0.W", "1.0.0.b", "1.0.1.1.W", "1.0.1.1.b", "2.W", "2.b"]
    # A layer that is not a container (UpConv2D) keeps its own stored tail ("1.W").
    assert [display_name(model, name) for name in stored] == [
        "stem.W", "stem.b", "down.conv.W", "down.conv.b", "up.1.W", "up.1.b", "head.conv.W",
        "head.conv.b"]
    assert [path for path, _ in model.named_layers()] == [
        "stem", "down.conv", "up", "skip", "head.conv", "head.sigmoid"]
    assert display_name(model, "1.1") == "skip" and display_name(model, "9.W") == "9.W"
    x = rng.random((1, 8, 6, 3)).astype(np.float32)
    assert model.forward(x).shape == (1, 8, 6, 1)                     # names change nothing else


@pytest.mark.parametrize("layers, names, message", [
    (2, ["a"], "1 names for 2 layers"),
    (2, ["a", ""], r"non-empty string .* got '' for ReLU"),
    (2, ["a", 3], "got 3 for ReLU"),
    (2, ["a", "a"], "two layers would be shown as 'a'"),
    (1, ["x"], "two layers would be shown as 'x'"),          # beside a nameless container's 'x'
])
def test_names_that_would_show_two_layers_alike_are_refused(layers, names, message):
    children = [ReLU() for _ in range(layers)]
    if layers == 1:
        children.append(Sequential([ReLU()], names=["x"]))
        names = names + [""]
    with pytest.raises(ValueError, match=message):
        Sequential(children, names=names)
