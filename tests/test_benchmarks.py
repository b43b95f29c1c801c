"""The benchmarks run end to end at a tiny size and write their JSON, table and plot.

Nothing here asserts a speed: speed is what the benchmarks measure, on a quiet machine.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from npcae.cli import main

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = {"kernels": ["--size", "32x16", "--repeat", "1"],
        "conv": ["--size", "32x16", "--repeat", "1"],
        "step": ["--sizes", "32x16,64x32", "--steps", "1", "--rounds", "1"],
        "memory": ["--counts", "10,20", "--size", "32x32", "--batch", "4"],
        "unet": ["--size", "32x32", "--batch", "2", "--photo", "40x24", "--steps", "1", "--rounds", "1"]}


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_writes_json_table_and_plot(name, tmp_path):
    done = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}", *TINY[name],
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=240,
                          cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / f"bench_{name}.json").read_text())
    assert record["rows"] and record["machine"]["cpus"] >= 1
    table = (tmp_path / f"bench_{name}.md").read_text()
    assert table.count("\n|") >= 1 + len(record["rows"])
    assert (tmp_path / f"bench_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in record["rows"]:
        seconds = [v for k, v in row.items() if k.endswith("_s")]
        assert seconds and all(v > 0 for v in seconds)


def test_conv_benchmark_covers_every_convolution(tmp_path):
    subprocess.run([sys.executable, "-m", "benchmarks.bench_conv", *TINY["conv"], "--out",
                    str(tmp_path)], check=True, capture_output=True, timeout=240, cwd=BENCHMARKS.parent)
    rows = json.loads((tmp_path / "bench_conv.json").read_text())["rows"]
    assert len(rows) == 13                       # 6 encoder, 3 up+conv, 3 decoder, the 1x1 head
    assert sum("up+conv" in r["layer"] for r in rows) == 3


def test_bench_command_refuses_an_unknown_benchmark(capsys):
    assert main(["bench", "everything"]) == 2
    assert "no benchmark called 'everything'" in capsys.readouterr().err


def test_the_kernel_lab_runs_every_convolution_by_every_algorithm_that_takes_it(tmp_path, capsys):
    """npcae bench conv --algo ... --model unet: one row per (convolution, algorithm that can run
    it): Winograd only on the 3x3 layers, direct only on the thin ones; every pass timed, its
    float32 error against float64 small, its workspace counted."""
    from npcae.layers import Conv2D
    from npcae.models import create
    subprocess.run([sys.executable, "-m", "benchmarks.bench_lab", "--algo", "im2col,winograd4,direct",
                    "--model", "unet", "--size", "16x16", "--batch", "1", "--repeat", "1", "--out",
                    str(tmp_path)], check=True, capture_output=True, timeout=240, cwd=BENCHMARKS.parent)
    rows = json.loads((tmp_path / "bench_lab_unet.json").read_text())["rows"]
    model = create("unet", seed=0)
    convs = [layer for layer in walk(model) if isinstance(layer, Conv2D)]
    by_algo = {algo: [r for r in rows if r["algo"] == algo] for algo in ("im2col", "winograd4", "direct")}
    assert len(by_algo["im2col"]) == len(convs)
    assert len(by_algo["winograd4"]) == sum(c.kernel_size == (3, 3) and c.stride == 1 for c in convs)
    assert all("kh3kw3sh1" in r["layer"] for r in by_algo["winograd4"])
    assert by_algo["direct"] and all(r["workspace_mb"] == 0 for r in by_algo["direct"])
    for row in rows:
        assert all(row[f"{p}_s"] > 0 and row[f"{p}_error"] < 1e-4 for p in ("forward", "weights", "data"))
    assert (tmp_path / "bench_lab_unet.png").exists()


def test_npcae_bench_conv_with_algo_runs_the_lab(monkeypatch, capsys):
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: commands.append(command) or
                        subprocess.CompletedProcess(command, 0))
    assert main(["bench", "conv", "--algo", "im2col,winograd4", "--model", "unet", "--size", "64x64"]) == 0
    assert commands[0][1:] == ["-m", "benchmarks.bench_lab", "--model", "unet", "--algo",
                               "im2col,winograd4", "--size", "64x64"]
    assert main(["bench", "step", "--algo", "winograd4"]) == 2
    assert "--algo and --model go with npcae bench conv" in capsys.readouterr().err


def walk(layer):
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from walk(child)


def test_people_outside_scores_coco_and_human_seg_at_their_own_size(tmp_path, monkeypatch):
    """bench_people_outside on a tiny run: every figure an IoU, flipping scored beside plain."""
    from conftest import shared_data
    coco = shared_data("coco-tiny", inside="annotations") / "annotations/instances_val2017.json"
    monkeypatch.setenv("NPCAE_DATA", str(shared_data("human-seg-290").parent))
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--size", "32x32", "--no-progress",
                 "--out", str(run)]) == 0
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_people_outside", str(run),
                           "--coco", str(coco), "--human-seg", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=240, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    row, = json.loads((tmp_path / "bench_people_outside.json").read_text())["rows"]
    assert row["coco_photos"] == 49 and row["epochs"] == 1
    for key in ("coco", "coco_tta", "hs", "hs_tta", "hs_per_image", "hs_per_image_tta"):
        assert 0.0 <= row[key] <= 1.0, key
    assert row["coco_s_tta"] > 0 and row["coco_s"] > 0
