"""Layer state (non-trainable arrays and random generators): names, encoding, exact restores,
mismatches, astype, and weights files."""
import json

import numpy as np
import pytest

from npcae.layers import Conv2D, Dropout, Layer, Swish, UpConv2D, UpSampling2D
from npcae.layers.state import encode
from npcae.models import Sequential, WeightsMismatch, cae


class RunningMean(Layer):
    """y = x - mean; a training forward then moves mean towards the batch's per-channel mean
    (BatchNorm's moving mean) and counts its steps. The update does not change y, so dx = dy."""

    def __init__(self, channels, momentum=0.9):
        super().__init__()
        self.momentum = momentum
        self.add_state("mean", np.zeros(channels, np.float32))
        self.add_state("steps", np.zeros((), np.int64))

    def forward(self, x, training=False):
        y = x - self.state["mean"].astype(x.dtype)
        if training:
            batch_mean = x.mean(axis=(0, 1, 2))
            self.state["mean"][...] = (self.momentum * self.state["mean"]
                                       + (1 - self.momentum) * batch_mean)
            self.state["steps"][...] += 1
        return y

    def backward(self, grad_out):
        return grad_out


def stateful_model(seed=0):
    """conv, running mean, [dropout, running mean], upsample + conv (whose conv has state too)."""
    rng = np.random.default_rng(seed)
    up_conv = Conv2D(2, 1, 3, rng=rng)
    up_conv.add_state("scale", np.ones(1))
    return Sequential(Conv2D(3, 2, 3, rng=rng), RunningMean(2),
                      Sequential(Dropout(0.5, rng=seed), RunningMean(2)),
                      UpConv2D(UpSampling2D(2), up_conv))


def train_forwards(model, x, n):
    return [model.forward(x, training=True) for _ in range(n)]


def test_state_is_named_like_the_parameters(rng):
    model = stateful_model()
    assert [name for name, _ in model.named_state()] == [
        "1.mean", "1.steps", "2.0.rng", "2.1.mean", "2.1.steps", "3.1.scale"]
    assert [name for name, _, _ in model.named_parameters()] == ["0.W", "0.b", "3.1.W", "3.1.b"]
    assert model[2][0].rng is model[2][0].state["rng"]           # Dropout.rng is its state
    assert Sequential(Conv2D(3, 2, 3, rng=rng), Swish()).state_arrays() == {}


def test_state_arrays_copy_arrays_and_encode_generators_as_json():
    model = stateful_model()
    arrays = model.state_arrays()
    arrays["1.mean"][...] = 7
    assert not model[1].state["mean"].any()                      # a copy
    rng_array = arrays["2.0.rng"]
    assert rng_array.shape == () and rng_array.dtype.kind == "U"
    assert json.loads(rng_array.item()) == model[2][0].rng.bit_generator.state


def test_load_state_arrays_restores_every_entry_exactly_and_in_place(rng):
    model = stateful_model()
    x = rng.standard_normal((2, 4, 6, 3))
    train_forwards(model, x, 2)
    saved = model.state_arrays()
    held = dict(model.named_state())
    expected = train_forwards(model, x, 3)
    model.load_state_arrays(saved)
    for name, value in model.named_state():
        assert value is held[name]                                # the same objects, rewritten
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, saved[name])
    assert int(model[1].state["steps"]) == 2
    for y, again in zip(expected, train_forwards(model, x, 3)):
        np.testing.assert_array_equal(y, again)                   # the same masks and means


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox,
                                           np.random.SFC64], ids=lambda bg: bg.__name__)
def test_any_bit_generator_comes_back_exactly(bit_generator, rng):
    layer = Dropout(0.5, rng=np.random.Generator(bit_generator(3)))
    x = rng.standard_normal((1, 5, 7, 2))
    layer.forward(x, training=True)
    saved = layer.state_arrays()
    y = layer.forward(x, training=True)
    layer.load_state_arrays(saved)
    np.testing.assert_array_equal(layer.forward(x, training=True), y)


def mismatches(saved):
    """(stored arrays, the message they must raise) for each way stored state can misfit.
    Each keeps "1.mean" at other values, so a partial restore would show."""
    changed = dict(saved, **{"1.mean": saved["1.mean"] + 1})
    missing = {k: v for k, v in changed.items() if k != "2.1.steps"}
    other_generator = np.random.Generator(np.random.MT19937(0))
    return [
        (missing, r"missing \['2.1.steps'\], unexpected \[\]"),
        (dict(changed, **{"4.mean": np.zeros(2)}), r"missing \[\], unexpected \['4.mean'\]"),
        (dict(changed, **{"2.1.mean": np.zeros(3)}), r"2.1.mean is \(3,\), the model needs \(2,\)"),
        (dict(changed, **{"2.0.rng": encode(other_generator)}),
         "2.0.rng is a MT19937 generator, the model needs a PCG64 generator"),
        (dict(changed, **{"2.0.rng": np.zeros(())}), r"2.0.rng is \(\), the model needs a PCG64"),
        (dict(changed, **{"3.1.scale": np.array("not json")}), r"3.1.scale is text"),
    ]


def test_state_that_does_not_fit_raises_and_changes_nothing(rng):
    model = stateful_model()
    train_forwards(model, rng.standard_normal((2, 4, 6, 3)), 1)
    before = model.state_arrays()
    for stored, message in mismatches(before):
        with pytest.raises(WeightsMismatch, match=message):
            model.load_state_arrays(stored)
        after = model.state_arrays()
        for name in before:
            np.testing.assert_array_equal(after[name], before[name])


def test_astype_casts_floating_point_state_only():
    model = stateful_model().astype(np.float64)
    generator = model[2][0].rng
    assert model[1].state["mean"].dtype == np.float64 and model[3].conv.state["scale"].dtype == np.float64
    assert model[1].state["steps"].dtype == np.int64                 # a count stays an integer
    assert model[2][0].rng is generator                               # a generator is untouched
    with pytest.raises(TypeError, match="ndarray or a numpy Generator"):
        RunningMean(2).add_state("seed", 3)


# -- weights files ------------------------------------------------------------------------------
def test_weights_files_carry_the_state_beside_unchanged_parameter_keys(tmp_path, rng):
    model = stateful_model(seed=0)
    x = rng.standard_normal((2, 4, 6, 3))
    train_forwards(model, x, 2)
    model.save(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as data:
        assert sorted(data.files) == sorted(["0.W", "0.b", "3.1.W", "3.1.b"]
                                            + ["state/" + name for name, _ in model.named_state()])
    expected = train_forwards(model, x, 2)
    other = stateful_model(seed=1)                      # other weights, masks and means
    held = [value for _, value in other.named_state()]
    other.load(tmp_path / "w.npz")
    assert all(a is b for a, b in zip(held, (value for _, value in other.named_state())))
    for y, again in zip(expected, train_forwards(other, x, 2)):
        np.testing.assert_array_equal(y, again)


def params_only(model, path):
    """Write the model's parameters alone, as weights files were written before layer state."""
    np.savez(path, **{name: value for name, value, _ in model.named_parameters()})
    return path


def test_a_weights_file_without_state_loads_into_a_model_with_only_generators(tmp_path, rng):
    """Files written before layers had state: the CAE's dropout generators keep theirs."""
    old = cae(filters=(2, 3), seed=1)
    model = cae(filters=(2, 3), seed=2)
    generators = model.state_arrays()
    model.load(params_only(old, tmp_path / "old.npz"))
    x = rng.random((1, 8, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), old.forward(x))
    assert {k: v.item() for k, v in model.state_arrays().items()} == \
        {k: v.item() for k, v in generators.items()}
    with pytest.raises(WeightsMismatch, match=r"missing \['1.mean'"):     # arrays: strict
        stateful_model().load(params_only(stateful_model(), tmp_path / "params.npz"))


def test_a_weights_file_whose_state_does_not_fit_changes_nothing(tmp_path):
    saved = stateful_model(seed=0)
    saved[2][1].add_state("extra", np.zeros(1))
    saved.save(tmp_path / "w.npz")
    model = stateful_model(seed=1)
    before = [p.copy() for p, _ in model.parameters()], model.state_arrays()
    with pytest.raises(WeightsMismatch, match=r"different architecture \(missing \[\], "
                                              r"unexpected \['2.1.extra'\]\)"):
        model.load(tmp_path / "w.npz")
    for b, (p, _) in zip(before[0], model.parameters()):
        np.testing.assert_array_equal(b, p)                           # parameters untouched too
    assert model.state_arrays().keys() == before[1].keys()
    for name, value in model.state_arrays().items():
        np.testing.assert_array_equal(value, before[1][name])
