"""npcae.diagnostics.memory: a step's memory, estimated before anything is allocated, and the check that
refuses a --size or --filters the machine cannot hold (one line, exit 2, no run folder)."""
import os
import tracemalloc

import numpy as np
import pytest

import npcae.layers
from npcae import models
from npcae.diagnostics import memory
from npcae.cli import main
from npcae.train.experiment import SettingsError, build_model, settings
from npcae.diagnostics.footprints import RULES, footprint
from npcae.kernels.workspace import KeptColumns
from npcae.layers import Conv2D, Layer, ReLU, Sigmoid
from npcae.layers.placeholder import ShapeOnly, shapes_only
from npcae.models import Add, Concatenate, Sequential
from npcae.optim import Adam
from npcae.tasks import make_task

GB = 10 ** 9


def tiny_model():
    """conv 3x3 (2 -> 3, thin: keeps its columns), ReLU, conv 1x1 (3 -> 1), sigmoid."""
    rng = np.random.default_rng(0)
    model = Sequential(Conv2D(2, 3, 3, rng=rng), ReLU(), Conv2D(3, 1, 1, rng=rng), Sigmoid())
    model.input_shape = (8, 4, 2)
    return model


def train_steps(model, x, y, steps=2):
    task = make_task({"task": "binary", "loss": "dice+focal"})
    optimizer = Adam(model.named_parameters())
    for _ in range(steps):
        task.loss.forward(model.forward(x, training=True), y)
        model.backward(task.loss.backward())
        optimizer.step()


def batch(shape, seed=0, channels=3):
    rng = np.random.default_rng(seed)
    return (rng.random((*shape, channels), dtype=np.float32),
            (rng.random((*shape, 1)) > 0.8).astype(np.float32))


def held_bytes(model):
    """Bytes of the distinct arrays the layers hold between calls: caches, kept columns."""
    owners = {}
    for layer in model.walk():
        for value in vars(layer).values():
            value = value.buffer if isinstance(value, KeptColumns) else value
            if isinstance(value, np.ndarray):
                while isinstance(value.base, np.ndarray):
                    value = value.base
                owners[id(value)] = value.nbytes
    return sum(owners.values())


def test_a_tiny_model_by_hand():
    """x (2, 8, 4, 2) float32: 128 values, 512 bytes; conv1's output 192 values; y 64 values."""
    estimate = memory.training_estimate(tiny_model(), (8, 4), batch_size=2)
    assert estimate.parameters == 4 * 4 * (3 * 3 * 2 * 3 + 3 + 3 * 1 + 1)    # W, dW, m, v
    assert estimate.kept == (2 * 8 * 4 * (3 * 3 * 2 + 1) * 4      # conv1's [cols | 1]: 64 x 19
                             + 192 * 4)                         # ReLU's output: its cache, conv2's x
    assert estimate.workspace == 2 * 8 * 4 * 3 * 3 * 3 * 4       # dx = im2col(dy) @ rot180(W)
    assert estimate.data == 512 + 2 * 64 * 4                     # x, the target, the loss's p
    # The most made and freed at once: the loss's 8 output-sized temporaries, more than ReLU's
    # backward (dy and dx, 2 x 192 values).
    assert estimate.working == memory.LOSS_ARRAYS * 64 * 4 == 2048 > 2 * 192 * 4
    assert estimate.total == 976 + 5632 + 6912 + 1024 + 2048


def small_cae():
    return models.cae(filters=(4, 8, 16), seed=0)


@pytest.mark.parametrize("make, shape", [(tiny_model, (2, 8, 4)), (small_cae, (3, 32, 16))])
def test_kept_bytes_are_exactly_the_arrays_the_layers_hold(make, shape):
    model = make()
    channels = model.input_shape[-1]
    x, y = batch(shape, channels=channels)
    train_steps(model, x, y)
    train = footprint(model, x.shape, 4, training=True)
    out_bytes = y.nbytes                    # the output: the model's (Sigmoid keeps it)
    assert held_bytes(model) == train.kept + x.nbytes + out_bytes
    # A validation batch afterwards: inference caches, beside the thin layers' own columns.
    x_eval, _ = batch((1, *shape[1:]), seed=1, channels=channels)
    model.forward(x_eval)
    infer = footprint(model, x_eval.shape, 4, training=False)
    assert held_bytes(model) == train.buffers + infer.kept + x_eval.nbytes + out_bytes // shape[0]


@pytest.mark.parametrize("size, batch_size, filters", [((128, 64), 2, (4, 8, 16)),
                                                       ((32, 16), 1, (16, 64, 256))])
def test_the_estimate_covers_the_peak_of_real_steps(size, batch_size, filters):
    """numpy reports its arrays to tracemalloc: the peak of two steps, model and data included."""
    warm = models.cae(filters=filters, seed=0)                   # load the kernels first
    train_steps(warm, *batch((1, 16, 8)), steps=1)
    tracemalloc.start()
    try:
        x, y = batch((batch_size, *size))
        model = models.create("cae", input_size=size, filters=filters)
        train_steps(model, x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = memory.training_bytes("cae", {"filters": filters}, size, batch_size)
    assert 0.95 <= estimate / peak <= 1.25, (estimate, peak)


def test_a_sketch_of_huge_filters_allocates_nothing():
    tracemalloc.start()
    try:
        sketch = memory.sketch("cae", {"filters": [4096, 8192, 16384]}, (64, 32))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2 ** 20                                     # the biases are real: 0.1 MB
    assert sketch.n_params() > 10 ** 10                           # 47 GB of float32 weights
    weights = [p for p, _ in sketch.parameters() if p.ndim == 4]
    assert all(isinstance(w, ShapeOnly) for w in weights)
    with pytest.raises((TypeError, AttributeError), match=r"built under shapes_only\(\)"):
        sketch.forward(np.zeros((1, 64, 32, 3), np.float32))
    real = models.create("cae", input_size=(64, 32), filters=[2, 3, 4])
    small = memory.sketch("cae", {"filters": [2, 3, 4]}, (64, 32))
    assert small.n_params() == real.n_params() and small.config == real.config
    with shapes_only():
        assert npcae.layers.he_normal(None, (3, 3, 2, 4), dtype=np.float64).dtype == np.float64


def test_every_layer_has_a_rule():
    """A new layer (the U-Net's batch norm, pooling, transposed conv) must say what it keeps."""
    layers = [getattr(npcae.layers, name) for name in npcae.layers.__all__]
    classes = [c for c in layers if isinstance(c, type) and issubclass(c, Layer) and c is not Layer]
    assert classes and all(any(k in RULES for k in c.__mro__) for c in classes), \
        [c.__name__ for c in classes if not any(k in RULES for k in c.__mro__)]
    assert Add in RULES and Concatenate in RULES and Sequential.chained


def test_check_says_both_figures_and_what_to_shrink(monkeypatch):
    with pytest.raises(memory.MemoryTooSmall) as refused:
        memory.check(3 * GB, "it needs about {needed} to run", "try less", available=2 * GB)
    assert str(refused.value) == ("it needs about 3.0 GB to run; this machine has 2.0 GB "
                                  "available (try less)")
    memory.check(2 * GB, "{needed}", "", available=2 * GB)
    monkeypatch.setattr(memory, "available_bytes", lambda: None)     # cannot tell: no refusal
    memory.check(10 ** 15, "{needed}", "")


def test_available_bytes_is_what_the_machine_has(monkeypatch):
    available = memory.available_bytes()
    if available is None:
        pytest.skip("this system reports no available memory")
    assert 0 < available <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    files = {"/sys/fs/cgroup/memory.max": 4 * GB, "/sys/fs/cgroup/memory.current": 3 * GB,
             ("/sys/fs/cgroup/memory.stat", "inactive_file"): GB // 2,
             ("/proc/meminfo", "MemAvailable"): 100 * GB // 1024}
    monkeypatch.setattr(memory, "_read_int",
                        lambda path, key=None: files.get((path, key) if key else path))
    assert memory.available_bytes() == GB + GB // 2      # the container's room, not the host's


def test_inference_at_a_huge_size_is_refused():
    model = models.create("cae", input_size=(64, 32), filters=[2, 3, 4])
    expected = (r"^--size 16384x16384 with filters 2,3,4 needs about [\d.]+ GB to run a batch "
                r"of 3; this machine has 16.0 GB available \(try a smaller --size\)$")
    with pytest.raises(memory.MemoryTooSmall, match=expected):
        memory.check_inference(model, (16384, 16384), 3, available=16 * GB)
    memory.check_inference(model, (64, 32), 3, available=16 * GB)


def test_build_model_checks_the_batch_it_will_train(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 ** 6)
    run = settings({"size": [64, 32]})
    with pytest.raises(SettingsError, match="to train a batch of 3;"):     # None: every frame
        build_model(run, (64, 32), frames=3)
    with pytest.raises(SettingsError, match="to train a batch of 3;"):     # capped like the loader
        build_model(settings({"size": [64, 32], "batch_size": 8}), (64, 32), frames=3)
    monkeypatch.setattr(memory, "available_bytes", lambda: 16 * GB)
    assert build_model(run, (64, 32), frames=3).n_params() > 0


@pytest.mark.parametrize("options", [["--data", "FRAMES", "--size", "16384x16384"],
                                     ["--data", "FRAMES", "--size", "64x32", "--filters", "4096,8192,16384"],
                                     ["--size", "16384x16384"]],       # synthetic: never rendered
                         ids=["size", "filters", "synthetic"])
def test_train_refuses_what_cannot_fit_before_making_anything(options, frames, tmp_path,
                                                              monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 16 * GB)   # the same on any machine
    out = tmp_path / "run"
    options = [str(frames) if option == "FRAMES" else option for option in options]
    assert main(["train", *options, "--out", str(out), "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npcae: error: --size "), lines
    assert "needs about" in lines[0] and "16.0 GB available" in lines[0]
    assert not out.exists()


def test_evaluate_refuses_a_size_that_cannot_fit(frames, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 16 * GB)
    model = models.create("cae", input_size=(64, 32), filters=[2, 3, 4])
    model.save(tmp_path / "weights.npz")
    assert main(["evaluate", "--weights", str(tmp_path / "weights.npz"), "--data", str(frames),
                 "--size", "16384x16384"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "needs about" in lines[0] and "to run a batch of 3" in lines[0], lines

