"""Does memory grow with the number of images? One epoch of `npcae train` on folders of
different sizes, each in its own process: its peak resident memory and seconds per step.

    python -m benchmarks.bench_memory                         # 200 and 2,000 images, 256x256, batch 8
    python -m benchmarks.bench_memory --counts 20,200 --size 64x64

The folders are copies of a few synthetic frames written to a temporary folder (the files are
what is read; their content does not change the memory). Frames are read as batches need them
and kept in memory only while they fit the cache budget (`--cache-mb`, default 256 MB of
decoded uint8 pixels): the 200-image folder (52 MB at 256x256) is cached, the 2,000-image one
(524 MB) is streamed. Either way memory is bounded, and the large folder's peak should stay
within 15% of the small one's (the cache it may hold is at most the budget).
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import RESULTS, bar_plot, markdown_table, write_results

DISTINCT_FRAMES = 20


def write_folder(root, count, size):
    """root/images/NNNNN.png and root/masks/NNNNN.png: `count` copies of 20 synthetic frames."""
    from npcae.data import save_record, synthetic_record
    source = save_record(synthetic_record(n_frames=DISTINCT_FRAMES, size=size, seed=0),
                         root / "source")
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
        originals = sorted((source / sub).iterdir())
        for i in range(count):
            shutil.copyfile(originals[i % len(originals)], root / sub / f"{i:05d}.png")
    shutil.rmtree(source)
    return root


def train_one_epoch(folder, size, batch, out):
    """`npcae train` for one epoch in a child process; returns (peak RSS GB, seconds, steps)."""
    script = ("import resource, sys, time\n"
              "from npcae.cli import main\n"
              "start = time.perf_counter()\n"
              "code = main(sys.argv[1:])\n"
              "print('RESULT', time.perf_counter() - start,\n"
              "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)\n"
              "sys.exit(code)\n")
    command = [sys.executable, "-c", script, "train", "--data", str(folder), "--size", size,
               "--batch-size", str(batch), "--epochs", "1", "--val-split", "0.1",
               "--no-progress", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_memory: training failed:\n{done.stderr[-3000:]}")
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    seconds, peak = (float(v) for v in line.split()[1:])
    history = (out / "history.csv").read_text().splitlines()
    return peak, seconds, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="200,2000", help="folder sizes, comma-separated")
    parser.add_argument("--size", default="256x256", help="HxW of the frames and of training")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    height, width = (int(v) for v in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="npcae-bench-memory-") as tmp:
        for count in counts:
            folder = write_folder(Path(tmp) / f"frames-{count}", count, (height, width))
            start = time.perf_counter()
            peak, seconds, _ = train_one_epoch(folder, args.size, args.batch,
                                               Path(tmp) / f"run-{count}")
            train_frames = count - max(1, round(0.1 * count))
            steps = -(-train_frames // args.batch)
            rows.append({"images": count, "train_frames": train_frames, "steps": steps,
                         "peak_rss_gb": peak, "run_s": seconds,
                         "step_s": seconds / steps, "wall_s": time.perf_counter() - start})
            shutil.rmtree(folder)
            print(json.dumps(rows[-1]), flush=True)
    smallest = rows[0]["peak_rss_gb"]
    for row in rows:
        row["peak_vs_smallest"] = row["peak_rss_gb"] / smallest
    columns = [("images", "images", "{:,}"), ("steps", "steps of batch " + str(args.batch), "{}"),
               ("peak_rss_gb", "peak RSS (GB)", "{:.2f}"),
               ("peak_vs_smallest", f"peak / peak at {counts[0]}", "{:.3f}"),
               ("run_s", "whole run (s)", "{:.0f}"), ("step_s", "s per step (incl. validation)", "{:.2f}")]
    write_results("bench_memory", rows, markdown_table(columns, rows), args.out,
                  extra={"size": [height, width], "batch": args.batch})
    bar_plot(Path(args.out) / "bench_memory.png", [f"{r['images']:,} images" for r in rows],
             {"peak RSS (GB)": [r["peak_rss_gb"] for r in rows]}, "GB",
             f"Peak memory of one epoch at {args.size}, batch {args.batch}",
             reference=("+15% of the smallest", 1.15 * smallest))
    print(markdown_table(columns, rows))


if __name__ == "__main__":
    main()
