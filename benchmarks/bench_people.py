"""Person models side by side: held-out IoU on COCO photos of people against frames per second.

    python -m benchmarks.bench_people RUN_DIR [RUN_DIR ...] \\
        --coco ../shared/data/coco-tiny/annotations/instances_val2017.json

For each trained run (a folder of `npcae train`): its model, trainable parameters, multiply-adds
of one image at 224x224 and 512x512, frames per second of the model alone on one image at
each size (the batch-norm-folded inference `npcae predict` runs: the fastest of 5 forwards
after a warm-up, so decoding and drawing are not in it), its epochs and training time from its
history.csv, and its person IoU on the COCO file's photos of people (never trained on: give the
split the run held out), pooled over every pixel and averaged per image, at the size it was
trained at. The question the tutorial's author asked, whether a lighter encoder buys frames
per second for some accuracy, is this table.
"""
import argparse
import csv
import math
from pathlib import Path

from .common import RESULTS, best_time, markdown_table, write_results

SIZES = ((224, 224), (512, 512))


def describe(run_dir, coco, sizes=SIZES):
    import numpy as np

    from npcae.predict import load_model
    from npcae.train.evaluation import evaluate_saved
    trained = load_model(run_dir)
    model, fast = trained.model, trained.inference_model
    config = model.config
    name = config["builder"] + "".join(f" {k}={v}" for k, v in sorted(config.get("args", {}).items())
                                       if k in ("alpha", "filters"))
    history = list(csv.DictReader(open(Path(run_dir) / "history.csv")))
    row = {"model": name, "params_m": sum(p.size for _, p, _ in model.named_parameters()) / 1e6,
           "epochs": len(history), "train_min": sum(float(r["seconds"]) for r in history) / 60,
           "trained_at": "x".join(map(str, trained.size))}
    rng = np.random.default_rng(0)
    for h, w in sizes:
        x = rng.random((1, h, w, 3), dtype=np.float32)
        row[f"gmacs_{h}"] = model.forward_macs((1, h, w, 3)) / 1e9
        row[f"fps_{h}"] = 1.0 / best_time(lambda: fast.forward(x), repeat=5)
    for crowd, suffix in (("foreground", ""), ("ignore", "_no_crowds")):
        _, total, per_image = evaluate_saved(run_dir, f"coco:{coco}", category="person", crowd=crowd)
        row[f"iou_pooled{suffix}"] = total.result()["iou"]
        row[f"iou_per_image{suffix}"] = math.fsum(v["iou"] for v in per_image.values()) / len(per_image)
    row["photos"] = len(per_image)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--coco", required=True, help="the held-out COCO instances file")
    parser.add_argument("--out", default=None, help="folder for JSON and Markdown (default benchmarks/results)")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        rows.append(describe(run, Path(args.coco).resolve()))
        print("; ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in rows[-1].items()), flush=True)
    columns = [("model", "model", "{}"), ("params_m", "params (M)", "{:.2f}"),
               ("gmacs_224", "GMACs 224", "{:.2f}"), ("gmacs_512", "GMACs 512", "{:.2f}"),
               ("fps_224", "FPS 224", "{:.1f}"), ("fps_512", "FPS 512", "{:.1f}"),
               ("trained_at", "trained at", "{}"), ("epochs", "epochs", "{}"),
               ("train_min", "training min", "{:.1f}"),
               ("iou_per_image", "IoU per image", "{:.3f}"), ("iou_pooled", "IoU pooled", "{:.3f}"),
               ("iou_per_image_no_crowds", "IoU per image, crowds left out", "{:.3f}")]
    note = ("\n\nFPS: the model alone (batch-norm-folded), one image, fastest of 5 forwards. IoU "
            f"on the {rows[0]['photos']} photos with people of {Path(args.coco).name}, at each "
            "model's trained size, crowd regions counted as person (npcae's COCO masks, what training "
            "sees) and, in the last column, left out of the score (COCO's own evaluation).\n")
    json_path, md_path = write_results("bench_people", rows, markdown_table(columns, rows) + note,
                                       args.out or RESULTS, {"coco": str(args.coco)})
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
