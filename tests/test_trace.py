"""The one-step trace: its numbers against ones computed directly, its names, its files."""
import copy
import csv
import io
import json
import math

import numpy as np
import pytest

from npcae.layers import Conv2D, ReLU, Sigmoid
from npcae.losses.binary import get_loss
from npcae.models import Sequential, cae, create
from npcae.models.containers import display_name
from npcae.optim import Adam
from npcae.diagnostics.trace import leaf_layers, trace_step
from npcae.train.callbacks import History, TraceFirstStep
from npcae.train.experiment import assemble

LR = 1e-3


@pytest.fixture
def tiny(rng):
    """A conv -> ReLU -> 1x1 conv -> sigmoid model in float64 with a nonzero bias, and a batch."""
    model = Sequential(Conv2D(3, 5, 3, rng=rng), ReLU(), Conv2D(5, 1, 1, rng=rng), Sigmoid())
    model.astype(np.float64)
    model.layers[0].params["b"][...] = rng.standard_normal(5) * 0.1
    x = rng.standard_normal((2, 8, 6, 3))
    y = (rng.random((2, 8, 6, 1)) > 0.5).astype(np.float64)
    return model, x, y


def test_trace_numbers_equal_direct_computation(tiny):
    model, x, y = tiny
    twin = copy.deepcopy(model)
    loss = get_loss("dice+focal")
    trace = trace_step(model, loss, Adam(model.named_parameters(), lr=LR), x, y)

    # The same step by hand on the twin: outputs layer by layer, then the backward pass.
    outputs, h = [], x
    for layer in twin.layers:
        h = layer.forward(h, training=True)
        outputs.append(h)
    value = loss.forward(h, y)
    dx = twin.backward(loss.backward())

    assert [row.name for row in trace.layers] == ["0 Conv2D", "1 ReLU", "2 Conv2D", "3 Sigmoid"]
    assert trace.loss == pytest.approx(value, rel=1e-12)
    assert trace.layers[0].grad_input_norm == pytest.approx(np.linalg.norm(dx), rel=1e-12)
    for row, out in zip(trace.layers, outputs):
        assert row.output_shape == out.shape
        assert row.mean == pytest.approx(out.mean(), rel=1e-12)
        assert row.std == pytest.approx(out.std(), rel=1e-12)
        assert row.zero_fraction == np.mean(out == 0)
    relu_zeros = trace.layers[1].zero_fraction
    assert relu_zeros == np.mean(outputs[0] <= 0) and 0.2 < relu_zeros < 0.8
    grads = {name: grad for name, _, grad in twin.named_parameters()}
    traced = {p.name: p for row in trace.layers for p in row.params}
    assert sorted(traced) == sorted(grads) == ["0.W", "0.b", "2.W", "2.b"]
    for name, p in traced.items():
        assert p.grad_norm == pytest.approx(np.linalg.norm(grads[name]), rel=1e-12), name


def test_update_ratio_of_adams_first_step(tiny):
    """Step 1 of Adam moves each weight by lr * g / (|g| + eps / sqrt(1 - b2)), so about lr."""
    model, x, y = tiny
    before = {name: p.copy() for name, p, _ in model.named_parameters()}
    optimizer = Adam(model.named_parameters(), lr=LR)
    trace = trace_step(model, get_loss("dice+focal"), optimizer, x, y)
    grads = {name: g for name, _, g in model.named_parameters()}
    eps_hat = optimizer.eps / math.sqrt(1 - optimizer.beta2)
    for p in (p for row in trace.layers for p in row.params):
        w, g = before[p.name], grads[p.name]
        exact = np.linalg.norm(LR * g / (np.abs(g) + eps_hat))
        assert p.update_norm == pytest.approx(exact, rel=1e-9), p.name
        assert p.update_norm == pytest.approx(LR * math.sqrt(w.size), rel=1e-2), p.name
        assert p.weight_norm == pytest.approx(np.linalg.norm(w), rel=1e-12), p.name
        if p.name != "2.b":                       # the head's bias starts at 0: no ratio
            assert p.update_ratio == pytest.approx(LR * math.sqrt(w.size) / np.linalg.norm(w),
                                                   rel=1e-2), p.name


def test_a_zero_bias_has_no_ratio_and_the_files_say_so(tiny):
    model, x, y = tiny
    trace = trace_step(model, get_loss("bce"), Adam(model.named_parameters(), lr=LR), x, y)
    head_bias = trace.layers[2].params[1]
    assert head_bias.name == "2.b" and head_bias.weight_norm == 0 and math.isnan(head_bias.update_ratio)
    assert head_bias.update_norm > 0

    data = json.loads(trace.to_json())
    assert [layer["name"] for layer in data["layers"]] == [row.name for row in trace.layers]
    assert data["layers"][2]["params"][1]["update_ratio"] is None
    assert data["layers"][0]["output_shape"] == [2, 8, 6, 5]

    rows = list(csv.DictReader(io.StringIO(trace.to_csv())))
    assert [(r["layer"], r["param"]) for r in rows] == [
        ("0 Conv2D", "0.W"), ("0 Conv2D", "0.b"), ("1 ReLU", ""), ("2 Conv2D", "2.W"),
        ("2 Conv2D", "2.b"), ("3 Sigmoid", "")]
    assert rows[4]["update_ratio"] == "" and float(rows[0]["grad_norm"]) == pytest.approx(
        trace.layers[0].params[0].grad_norm, rel=1e-7)

    table = trace.table().splitlines()
    assert table[0].startswith("One training step, loss")
    assert len(table) == 3 + len(rows)
    assert "2.b" in table[-2] and table[-2].rstrip().endswith("n/a")


@pytest.mark.parametrize("fast", [True, False], ids=["fused", "unfused"])
def test_cae_rows_follow_the_summary_and_cover_every_parameter(rng, fast):
    model = cae((2, 3, 4), seed=0, fast=fast)
    x = rng.random((1, 16, 8, 3)).astype(np.float32)
    y = (rng.random((1, 16, 8, 1)) > 0.5).astype(np.float32)
    trace = trace_step(model, get_loss("dice+focal"), Adam(model.named_parameters()), x, y)
    names = [row.name for row in trace.layers]
    if fast:                                      # a fused UpConv2D is one leaf, as in summary()
        assert names == [f"{name} {type(layer).__name__}" for name, layer in zip(model.names, model.layers)]
        assert names[18] == "dec3.upconv1 UpConv2D"
        assert [p.name for p in trace.layers[18].params] == ["dec3.upconv1.1.W", "dec3.upconv1.1.b"]
    else:
        assert names[18:20] == ["dec3.upconv1.0 UpSampling2D", "dec3.upconv1.1 Conv2D"]
        assert [p.name for p in trace.layers[19].params] == ["dec3.upconv1.1.W", "dec3.upconv1.1.b"]
    leaves = len(list(leaf_layers(model)))
    summary_leaves = sum(1 for line in model.summary((1, 16, 8, 3), print_fn=None).splitlines()
                         if line.startswith(" ") and line.split()[-1].replace(".", "").isdigit())
    assert len(names) == leaves == summary_leaves
    traced = [p.name for row in trace.layers for p in row.params]
    assert traced == [display_name(model, name) for name, _, _ in model.named_parameters()]
    assert all(row.output_shape is not None and math.isfinite(row.grad_input_norm)
               for row in trace.layers)
    for layer in model.walk():                    # every hook was removed
        assert "forward" not in vars(layer) and "backward" not in vars(layer)


def trace_norm(trace, name):
    return next(p.grad_norm for row in trace.layers for p in row.params if p.name == name)


def test_unet_rows_and_parameters_carry_the_names_shown(rng):
    model = create("unet", seed=0, filters=(2, 3, 4))
    x = rng.random((1, 8, 8, 3)).astype(np.float32)
    y = (rng.random((1, 8, 8, 1)) > 0.5).astype(np.float32)
    trace = trace_step(model, get_loss("dice+focal"), Adam(model.named_parameters()), x, y)
    names = [row.name for row in trace.layers]
    assert names[:7] == ["down1.conv1 Conv2D", "down1.bn1 BatchNormalization", "down1.act1 ReLU",
                         "down1.conv2 Conv2D", "down1.bn2 BatchNormalization", "down1.act2 ReLU",
                         "down2.pool MaxPool2D"]
    assert "bottom.conv2 Conv2D" in names and "skip1 Identity" in names
    assert names[-2:] == ["head.conv Conv2D", "head.sigmoid Sigmoid"]
    traced = [p.name for row in trace.layers for p in row.params]
    assert traced[:3] == ["down1.conv1.W", "down1.bn1.gamma", "down1.bn1.beta"]
    assert len(traced) == len(set(traced)) == len(list(model.named_parameters()))
    lines = trace.table().splitlines()
    gamma = next(line for line in lines if "bottom.bn2.gamma" in line)
    beta = next(line for line in lines if "bottom.bn2.beta" in line)
    # The parameter column is as wide as its longest name: the numbers stay in their columns.
    assert gamma.index("bottom.bn2.gamma") == beta.index("bottom.bn2.beta")
    end = lines[1].index("|dL/dp|") + len("|dL/dp|")           # right-aligned under the header
    assert gamma[end - 8:end + 1] == f"{trace_norm(trace, 'bottom.bn2.gamma'):.2e} "


def test_tracing_does_not_change_the_step(rng):
    x = rng.random((2, 16, 8, 3)).astype(np.float32)
    y = (rng.random((2, 16, 8, 1)) > 0.5).astype(np.float32)
    traced, plain = cae((2, 3, 4), seed=4), cae((2, 3, 4), seed=4)
    loss = get_loss("dice+focal")
    trace_step(traced, loss, Adam(traced.named_parameters()), x, y)
    optimizer = Adam(plain.named_parameters())
    loss.forward(plain.forward(x, training=True), y)
    plain.backward(loss.backward())
    optimizer.step()
    for (name, a, _), (_, b, _) in zip(traced.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_trainer_traces_the_first_step_of_fit(tmp_path):
    run = dict(data="synthetic", size=[16, 8], n_train=2, epochs=2, model_args={"filters": [2, 3, 4]},
               val_every=2, snapshot_every=0, checkpoint_every=10)
    logged = []
    exp = assemble(run, tmp_path, progress=False, trace=True, log=logged.append)
    exp.trainer.fit()
    trace = exp.trainer.callback(TraceFirstStep).trace
    assert trace.epoch == 1
    assert trace.loss == pytest.approx(exp.trainer.callback(History).rows[0]["train_loss"], rel=1e-12)
    text = (tmp_path / "trace.txt").read_text()
    assert text.startswith("One training step, epoch 1, loss") and text in logged[0] + "\n"
    data = json.loads((tmp_path / "trace.json").read_text())
    assert data["epoch"] == 1 and len(data["layers"]) == len(exp.trainer.model.layers)
    assert (tmp_path / "trace.csv").read_text().startswith("layer,output_shape,mean")
