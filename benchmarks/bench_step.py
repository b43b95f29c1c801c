"""The full training step of the original CAE (forward, backward, Adam on 3 images) at three
sizes: seconds per step, effective GFLOP/s, peak RSS, and inference time per image.

    python -m benchmarks.bench_step                                  # 256x128, 512x256, 1024x512
    python -m benchmarks.bench_step --compare-torch /path/to/venv-with-torch/bin/python

Each measurement runs in its own process, so each peak RSS is that size's own. With
--compare-torch the same model in PyTorch (torch_peer.py) is timed in the same run,
alternating npcae, torch, npcae, torch, ... so a slow minute on a shared machine hits both.
"Effective GFLOP/s" counts the original formulation's arithmetic (1008 GFLOP per step at
1024x512: upsample, then 3x3 convolution), whatever shortcut an implementation takes.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from .common import RESULTS, bar_plot, best_time, markdown_table, run_json, write_results

SIZES = ("256x128", "512x256", "1024x512")


def worker(size, batch, steps):
    """Time npcae's training step in this process and print one JSON line (what the parent reads)."""
    import resource

    import numpy as np

    from npcae.losses.binary import DiceFocalLoss
    from npcae.models import cae
    from npcae.models.containers import no_input_gradient
    from npcae.optim import Adam
    height, width = (int(v) for v in size.split("x"))
    rng = np.random.default_rng(0)
    x = rng.random((batch, height, width, 3), dtype=np.float32)
    y = (rng.random((batch, height, width, 1)) > 0.9).astype(np.float32)
    model, loss = cae(seed=0), DiceFocalLoss()
    optimizer = Adam(model.named_parameters(), lr=5e-4)
    times = []
    for _ in range(steps + 1):                           # the first is the warm-up
        start = time.perf_counter()
        loss.forward(model.forward(x, training=True), y)
        with no_input_gradient(model):         # as npcae train's step
            model.backward(loss.backward())
        optimizer.step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"impl": "npcae", "size": [height, width], "batch": batch,
                      "steps_s": times[1:],
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def inference_worker(size):
    """Time one image through npcae's inference copy (what `npcae predict` runs), in a process
    of its own as predict's is, and print one JSON line."""
    import numpy as np

    from npcae.models import cae
    from npcae.models.folding import inference_copy
    height, width = (int(v) for v in size.split("x"))
    one = np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32)
    fast = inference_copy(cae(seed=0))[0]
    print(json.dumps({"impl": "npcae", "inference_s": best_time(lambda: fast.forward(one),
                                                                 repeat=INFERENCE_REPEATS)}))


INFERENCE_REPEATS = 7


def nominal_gflop(size, batch):
    """Convolution FLOP of one step in the original formulation (backward = 2 x forward)."""
    from npcae.models import cae
    height, width = (int(v) for v in size.split("x"))
    return 2 * 3 * batch * cae(fast=False).forward_macs((1, height, width, 3)) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per size")
    parser.add_argument("--compare-torch", metavar="PYTHON", help="a Python that has torch")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", metavar="HxW", help=argparse.SUPPRESS)
    parser.add_argument("--inference-worker", metavar="HxW", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.batch, args.steps)
    if args.inference_worker:
        return inference_worker(args.inference_worker)
    rows = []
    for size in args.sizes.split(","):
        npcae_cmd = [sys.executable, "-m", "benchmarks.bench_step", "--worker", size,
                     "--batch", str(args.batch), "--steps", str(args.steps)]
        torch_cmd = [args.compare_torch, "-m", "benchmarks.torch_peer", "--size", size,
                     "--batch", str(args.batch), "--steps", str(args.steps)]
        results = {"npcae": [], "torch": []}
        inference = {"npcae": [], "torch": []}
        for _ in range(args.rounds):
            results["npcae"].append(run_json("bench_step", npcae_cmd))
            if args.compare_torch:
                results["torch"].append(run_json("bench_step", torch_cmd))
            inference["npcae"].append(run_json("bench_step", [
                sys.executable, "-m", "benchmarks.bench_step", "--inference-worker", size]))
            if args.compare_torch:
                inference["torch"].append(run_json("bench_step", [
                    args.compare_torch, "-m", "benchmarks.torch_peer", "--size", size,
                    "--inference-only", "--repeats", str(INFERENCE_REPEATS)]))
        flop = nominal_gflop(size, args.batch)
        row = {"size": size, "nominal_gflop": flop}
        for impl, runs in results.items():
            if not runs:
                continue
            steps = [t for r in runs for t in r["steps_s"]]
            row[f"{impl}_step_s"] = statistics.median(steps)
            row[f"{impl}_step_min_s"] = min(steps)
            row[f"{impl}_gflops"] = flop / row[f"{impl}_step_s"]
            row[f"{impl}_peak_rss_gb"] = max(r["peak_rss_gb"] for r in runs)
            row[f"{impl}_inference_s"] = min(r["inference_s"] for r in inference[impl])
            row[f"{impl}_version"] = runs[0]["impl"]
        if "torch_step_s" in row:
            row["ratio"] = row["npcae_step_s"] / row["torch_step_s"]
            row["inference_ratio"] = row["npcae_inference_s"] / row["torch_inference_s"]
        rows.append(row)
        print(f"{size}: npcae {row['npcae_step_s']:.3f} s/step ({row['npcae_gflops']:.0f} GFLOP/s, "
              f"peak {row['npcae_peak_rss_gb']:.2f} GB)" + (
                  f"; torch {row['torch_step_s']:.3f} s/step (peak {row['torch_peak_rss_gb']:.2f} GB);"
                  f" npcae / torch = {row['ratio']:.2f}" if "ratio" in row else ""), flush=True)
    columns = [("size", "3 x size", "{}"), ("nominal_gflop", "GFLOP/step", "{:.0f}"),
               ("npcae_step_s", "npcae s/step", "{:.3f}"), ("npcae_gflops", "npcae GFLOP/s", "{:.0f}"),
               ("npcae_peak_rss_gb", "npcae peak GB", "{:.2f}"),
               ("npcae_inference_s", "npcae s/image (inference)", "{:.3f}")]
    if args.compare_torch:
        columns += [("torch_step_s", "torch s/step", "{:.3f}"), ("torch_gflops", "torch GFLOP/s", "{:.0f}"),
                    ("torch_peak_rss_gb", "torch peak GB", "{:.2f}"),
                    ("torch_inference_s", "torch s/image", "{:.3f}"), ("ratio", "step npcae / torch", "{:.2f}"),
                    ("inference_ratio", "inference npcae / torch", "{:.2f}")]
    note = (f"\n\nMedian of {args.rounds} x {args.steps} steps per implementation, each process "
            f"after one warm-up step; runs alternate between implementations. Peak: the training "
            f"process's resident peak. Inference: one image in a process of its own (as `npcae "
            f"predict` runs), the fastest of {INFERENCE_REPEATS} forwards after a warm-up, best "
            f"over the rounds; npcae's inference copy (batch norms folded, each convolution's "
            f"bias and Swish in one pass, filters transformed once: models/folding.py), PyTorch "
            f"in eval mode under no_grad.\n")
    json_path, md_path = write_results("bench_step", rows, markdown_table(columns, rows) + note,
                                       args.out, {"batch": args.batch})
    series = {"npcae": [r["npcae_gflops"] for r in rows]}
    if args.compare_torch:
        series["torch"] = [r["torch_gflops"] for r in rows]
    bar_plot(Path(args.out) / "bench_step.png", [r["size"] for r in rows], series,
             "effective GFLOP/s (original arithmetic)", "CAE training step, 3 images")
    print(f"wrote {json_path}, {md_path} and bench_step.png")


if __name__ == "__main__":
    main()
