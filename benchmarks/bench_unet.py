"""The U-Net's training step (batch 8 at 256x256: forward, backward, Adam) and its inference on
one 512x512 photo, against the same U-Net in PyTorch on the same cores; `--model
mobilenet_unet` times the MobileNetV2 U-Net the same way (at `--alpha`), against its twin.

    python -m benchmarks.bench_unet --compare-torch /path/to/venv-with-torch/bin/python
    python -m benchmarks.bench_unet --model mobilenet_unet --size 224x224 --compare-torch ...

npcae.models.unet with its defaults (the background-removal configuration), Dice + focal, Adam.
Each measurement runs in its own process; with --compare-torch the runs alternate npcae,
torch, npcae, torch, so a slow minute on a shared machine hits both. Reports s/step,
s/photo, peak RSS, and the ratios npcae / torch.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from .common import RESULTS, bar_plot, best_time, markdown_table, run_json, write_results


PEERS = {"unet": "benchmarks.torch_unet_peer", "mobilenet_unet": "benchmarks.torch_mobilenet_peer"}


def model_args(model, alpha):
    return {"alpha": alpha} if model == "mobilenet_unet" else {}


def worker(size, batch, steps, photo, model_name="unet", alpha=1.0):
    """Time npcae in this process and print one JSON line (what the parent reads)."""
    import resource

    import numpy as np

    from npcae.losses.binary import DiceFocalLoss
    from npcae.models import create
    from npcae.models.containers import no_input_gradient
    from npcae.models.folding import inference_copy
    from npcae.optim import Adam
    height, width = (int(v) for v in size.split("x"))
    rng = np.random.default_rng(0)
    x = rng.random((batch, height, width, 3), dtype=np.float32)
    y = (rng.random((batch, height, width, 1)) > 0.7).astype(np.float32)
    model, loss = create(model_name, seed=0, **model_args(model_name, alpha)), DiceFocalLoss()
    optimizer = Adam(model.named_parameters(), lr=5e-4)
    times = []
    for _ in range(steps + 1):                           # the first is the warm-up
        start = time.perf_counter()
        loss.forward(model.forward(x, training=True), y)
        with no_input_gradient(model):         # as npcae train's step
            model.backward(loss.backward())
        optimizer.step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"impl": "npcae", "steps_s": times[1:],
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def photo_worker(photo, model_name, alpha):
    """Time one photo through npcae's inference copy (what `npcae predict` runs) in a process
    of its own, as predict's is: the fastest of PHOTO_REPEATS forwards."""
    import numpy as np

    from npcae.models import create
    from npcae.models.folding import inference_copy
    one = np.random.default_rng(0).random((1, *(int(v) for v in photo.split("x")), 3), dtype=np.float32)
    fast = inference_copy(create(model_name, seed=0, **model_args(model_name, alpha)))[0]
    print(json.dumps({"impl": "npcae", "inference_s": best_time(lambda: fast.forward(one),
                                                                 repeat=PHOTO_REPEATS)}))


PHOTO_REPEATS = 7


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PEERS), default="unet")
    parser.add_argument("--alpha", type=float, default=1.0, help="mobilenet_unet's width multiplier")
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--photo", default="512x512", help="HxW of the inference photo")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per process")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--compare-torch", metavar="PYTHON", help="a Python that has torch")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photo-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.size, args.batch, args.steps, args.photo, args.model, args.alpha)
    if args.photo_worker:
        return photo_worker(args.photo, args.model, args.alpha)
    common = ["--size", args.size, "--batch", str(args.batch), "--steps", str(args.steps),
              "--photo", args.photo]
    if args.model == "mobilenet_unet":
        common += ["--alpha", str(args.alpha)]
    commands = {"npcae": [sys.executable, "-m", "benchmarks.bench_unet", "--worker",
                          "--model", args.model, *common]}
    photo_commands = {"npcae": [sys.executable, "-m", "benchmarks.bench_unet", "--photo-worker",
                                "--model", args.model, *common]}
    if args.compare_torch:
        commands["torch"] = [args.compare_torch, "-m", PEERS[args.model], *common]
        photo_commands["torch"] = [*commands["torch"], "--photo-only", str(PHOTO_REPEATS)]
    name = "bench_unet" if args.model == "unet" else f"bench_{args.model}"
    results = {impl: [] for impl in commands}
    photos = {impl: [] for impl in commands}
    for _ in range(args.rounds):
        for impl, command in commands.items():
            results[impl].append(run_json(name, command))
        for impl, command in photo_commands.items():
            photos[impl].append(run_json(name, command))
    what = "" if args.model == "unet" else f"alpha {args.alpha:g}, "
    row = {"config": f"{what}{args.batch} x {args.size}, photo {args.photo}"}
    for impl, runs in results.items():
        row[f"{impl}_step_s"] = statistics.median(t for r in runs for t in r["steps_s"])
        row[f"{impl}_steps_by_round"] = [r["steps_s"] for r in runs]
        row[f"{impl}_photo_s"] = min(r["inference_s"] for r in photos[impl])
        row[f"{impl}_peak_rss_gb"] = max(r["peak_rss_gb"] for r in runs)
        row[f"{impl}_version"] = runs[0]["impl"]
        if "inference_frozen_s" in photos[impl][0]:
            row[f"{impl}_frozen_photo_s"] = min(r["inference_frozen_s"] for r in photos[impl])
    columns = [("config", args.model, "{}"), ("npcae_step_s", "npcae s/step", "{:.3f}"),
               ("npcae_photo_s", "npcae s/photo", "{:.3f}"), ("npcae_peak_rss_gb", "npcae peak GB", "{:.2f}")]
    if args.compare_torch:
        row["step_ratio"] = row["npcae_step_s"] / row["torch_step_s"]
        # Each round's npcae process ran right before its torch process: the ratio within a
        # round sees the same minute of a shared machine, whose speed drifts between rounds.
        row["round_step_ratios"] = [statistics.median(mine["steps_s"]) / statistics.median(theirs["steps_s"])
                                    for mine, theirs in zip(results["npcae"], results["torch"])]
        row["median_round_ratio"] = statistics.median(row["round_step_ratios"])
        row["photo_ratio"] = row["npcae_photo_s"] / row["torch_photo_s"]
        columns += [("torch_step_s", "torch s/step", "{:.3f}"), ("torch_photo_s", "torch s/photo", "{:.3f}"),
                    ("torch_peak_rss_gb", "torch peak GB", "{:.2f}"),
                    ("step_ratio", "step npcae / torch", "{:.2f}"),
                    ("median_round_ratio", "median of the rounds' step ratios", "{:.2f}"),
                    ("photo_ratio", "photo npcae / torch", "{:.2f}")]
        if "torch_frozen_photo_s" in row:
            row["frozen_ratio"] = row["npcae_photo_s"] / row["torch_frozen_photo_s"]
            columns += [("torch_frozen_photo_s", "torch frozen s/photo", "{:.3f}"),
                        ("frozen_ratio", "photo npcae / frozen torch", "{:.2f}")]
    print("; ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                    if not k.endswith("_by_round")), flush=True)
    rounds = (" The median of the rounds' ratios divides each round's npcae median by the torch "
              "median measured right after it (the per-round ratios are in the JSON)."
              if args.compare_torch else "")
    note = (f"\n\nMedian of {args.rounds} x {args.steps} steps per implementation, each process "
            f"after one warm-up step; runs alternate between implementations.{rounds} A photo: in a "
            f"process of its own that trains nothing (as `npcae predict` runs), the fastest of "
            f"{PHOTO_REPEATS} forwards after a warm-up, best over the rounds; npcae's inference "
            f"copy (batch norms folded into the convolutions, filters transformed once: "
            f"models/folding.py), torch's in eval mode and, as 'frozen', through "
            f"torch.jit.freeze, which folds them too.\n")
    json_path, md_path = write_results(name, [row], markdown_table(columns, [row]) + note,
                                       args.out, {"batch": args.batch, "size": args.size,
                                                  "model": args.model, "alpha": args.alpha})
    series = {impl: [row[f"{impl}_step_s"], row[f"{impl}_photo_s"]] for impl in commands}
    bar_plot(Path(args.out) / f"{name}.png", ["training step", "one photo"], series,
             "seconds", f"{args.model}: training step and inference")
    print(f"wrote {json_path}, {md_path} and {name}.png")


if __name__ == "__main__":
    main()
